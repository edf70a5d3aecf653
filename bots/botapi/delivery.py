"""Bot API calls that deliver what a user waits for, retried until Telegram takes them.

Telegram answers 429 (with `retry_after`), 5xx, resets and timeouts routinely under load. A result
that minutes of computing produced must not be lost to one of them, so the calls that deliver it (the
picture, album or file, the final status, the "not finished" notice) go through `Delivery.call`:
retried with capped exponential backoff (waiting at least `retry_after` on a 429) until a total patience
runs out. The computation is never repeated for a delivery retry: the caller keeps the bytes and only
the call is made again. Anything else (a 400: a deleted chat, a blocked bot) is not retried.
telebot and requests offer timeouts and sessions but no such policy: `apihelper.RETRY_ON_ERROR`
retries connection errors only, a fixed number of times, and never honours `retry_after`.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from requests import ConnectionError as RequestsConnectionError
from requests import RequestException, Timeout
from telebot import TeleBot
from telebot.apihelper import ApiException, ApiHTTPException, ApiTelegramException

from bots.common import metrics

__all__ = ["Delivery", "retry_delay", "retry_labels"]

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_BACKOFF = 1.0  # seconds before the first retry of a 5xx, a reset or a timeout
MAX_BACKOFF = 30.0  # the backoff doubles up to this


def retry_delay(exc: BaseException) -> float | None:
    """Seconds Telegram asks us to wait before trying `exc`'s call again (0: as soon as the backoff
    allows), or None when trying again cannot help (a 4xx other than 429, a bug)."""
    if isinstance(exc, ApiTelegramException):
        if exc.error_code == 429:
            return float(((exc.result_json or {}).get("parameters") or {}).get("retry_after", 1))
        return 0.0 if exc.error_code >= 500 else None
    if isinstance(exc, ApiHTTPException):  # a non-JSON answer, e.g. the front end's HTML 502 page
        return 0.0 if exc.result.status_code >= 500 or exc.result.status_code == 429 else None
    if isinstance(exc, (RequestsConnectionError, Timeout)):
        return 0.0
    return None


def retry_labels(exc: BaseException) -> tuple[str, str]:
    """(Bot API method, kind of error) of a failed call, for the retry counter: the method from telebot's
    exception or the request's URL (its last part: the token is before it), the error as 429, 5xx,
    connection or timeout."""
    method = getattr(exc, "function_name", None)
    request = getattr(exc, "request", None)
    if not method and request is not None and getattr(request, "url", None):
        method = str(request.url).split("?")[0].rsplit("/", 1)[-1]
    if isinstance(exc, Timeout):
        error = "timeout"
    elif isinstance(exc, RequestsConnectionError):
        error = "connection"
    elif isinstance(exc, ApiTelegramException):
        error = "429" if exc.error_code == 429 else "5xx"
    elif isinstance(exc, ApiHTTPException):
        error = "429" if exc.result.status_code == 429 else "5xx"
    else:
        error = type(exc).__name__
    return method or "unknown", error


@dataclass
class Delivery:
    """The retry policy: `patience` seconds in all for one delivery (from its first attempt)."""

    patience: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def call(self, what: str, send: Callable[[], T]) -> T:
        """`send()`'s result, retrying it on 429, 5xx, resets and timeouts; the last error is raised when
        it is not retryable or the patience is spent (`what` names the delivery in the log)."""
        deadline = self.clock() + self.patience
        backoff = FIRST_BACKOFF
        attempt = 1
        while True:
            try:
                return send()
            except Exception as exc:
                asked = retry_delay(exc)
                if asked is None:
                    raise
                pause = max(asked, backoff)
                if self.clock() + pause > deadline:
                    log.error("gave up delivering %s after %d attempts: %s", what, attempt, exc)
                    metrics.count_given_up()
                    raise
                metrics.count_retry(*retry_labels(exc))
                log.warning("delivering %s failed (attempt %d: %s); trying again in %.1f s", what, attempt,
                            exc, pause)
                self.sleep(pause)
                backoff = min(MAX_BACKOFF, backoff * 2)
                attempt += 1

    def tell(self, telegram: TeleBot, chat_id: int, text: str) -> None:
        """A message the user must get (a restart, a crash, a failure): retried like a delivery, and only
        logged if Telegram never takes it (the caller has nothing better to do)."""
        try:
            self.call(f"a notice to chat {chat_id}", lambda: telegram.send_message(chat_id, text))
        except (ApiException, RequestException) as exc:
            log.warning("could not send a notice to chat %d: %s", chat_id, exc)
