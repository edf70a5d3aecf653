"""A job's status message: one chat message edited in place (queue place, progress bar, outcome).

Telegram limits edits (about one per second per chat, fewer in bursts), so progress edits are spaced
by `interval` seconds; a 429 answer pushes the next edit past its retry-after. A failed progress edit
never fails or blocks the job: the picture matters more than the bar. The final status ("done", "not
finished") is what the user waits for, so `final` retries it through the delivery policy.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException, ApiTelegramException

from bots.botapi.delivery import Delivery

__all__ = ["progress_bar", "StatusMessage"]

log = logging.getLogger(__name__)
BAR_WIDTH = 10


def progress_bar(fraction: float) -> str:
    """A text bar with the percentage, e.g. ``▓▓▓▓░░░░░░ 40%``."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(fraction * BAR_WIDTH + 1e-9)
    return f"{'▓' * filled}{'░' * (BAR_WIDTH - filled)} {int(fraction * 100)}%"


class StatusMessage:
    """Edits message `message_id` in `chat_id` (None: sends one on the first `final`, e.g. when the
    queued notice could not be sent); thread-safe (workers and the queue both update it)."""

    def __init__(self, bot: TeleBot, chat_id: int, message_id: int | None, interval: float,
                 clock: Callable[[], float] = time.monotonic, delivery: Delivery | None = None) -> None:
        self.bot, self.chat_id, self.message_id = bot, chat_id, message_id
        self.interval, self.clock = interval, clock
        self.delivery = delivery or Delivery()
        self._lock = threading.Lock()
        self._text = ""
        self._next_edit = 0.0  # clock time before which throttled edits are skipped
        self._gone = False  # the user deleted it: stop editing

    def show(self, text: str, force: bool = True) -> None:
        """Replace the text; unless `force`, skipped while the last edit is under `interval` old."""
        with self._lock:
            now = self.clock()
            if self._gone or self.message_id is None or text == self._text or (not force and now < self._next_edit):
                return
            try:
                self.bot.edit_message_text(text, self.chat_id, self.message_id)
            except ApiTelegramException as exc:
                self._edit_failed(exc, now)
                return
            except (ApiException, RequestException) as exc:
                log.warning("could not edit the status message in chat %d: %s", self.chat_id, exc)
                return
            self._text = text
            self._next_edit = now + self.interval

    def final(self, text: str) -> None:
        """The outcome, retried until Telegram takes it (a new message if there is none to edit)."""
        with self._lock:
            if text == self._text:
                return
            try:
                if self.message_id is None or self._gone:
                    self.message_id = self.delivery.call("a status message", lambda: self.bot.send_message(
                        self.chat_id, text)).message_id
                    self._gone = False
                else:
                    self.delivery.call("a status message", lambda: self.bot.edit_message_text(
                        text, self.chat_id, self.message_id))
            except ApiTelegramException as exc:
                if "message is not modified" not in (exc.description or ""):
                    log.warning("could not show the outcome in chat %d: %s", self.chat_id, exc.description)
                return
            except (ApiException, RequestException) as exc:
                log.warning("could not show the outcome in chat %d: %s", self.chat_id, exc)
                return
            self._text = text

    def progress(self, title: str, fraction: float) -> None:
        """`title` over a progress bar, throttled."""
        self.show(f"{title}\n{progress_bar(fraction)}", force=False)

    def _edit_failed(self, exc: ApiTelegramException, now: float) -> None:
        description = exc.description or ""
        if "message is not modified" in description:
            return
        if exc.error_code == 429:
            retry_after = (exc.result_json or {}).get("parameters", {}).get("retry_after", self.interval)
            self._next_edit = now + max(float(retry_after), self.interval)
            log.info("Telegram asked to slow down edits in chat %d for %s s", self.chat_id, retry_after)
        elif "message to edit not found" in description:
            self._gone = True
        else:
            log.warning("could not edit the status message in chat %d: %s", self.chat_id, description)
