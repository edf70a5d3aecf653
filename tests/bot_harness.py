"""Whole conversations with a real bot: a StyleBot polling the fake Bot API server, and users that talk to it.

`BotUnderTest` starts a bot (real telebot client, real engines at a tiny size) in a thread and stops it
cleanly; `User` sends what a person would send (in a private chat, or in a group chat as one of its members)
and waits for what the bot answers. Nothing is mocked:
every step goes through HTTP, telebot, the handlers, the job queue and the engines.
"""
from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bots import Backbone, BotConfig, Engines, StyleBot
from bots.common import texts
from fake_bot_api import FakeBotApi

TOKEN = "123:TEST-TOKEN"
RESULT_TIMEOUT = 60.0  # a few optimisation steps at 64 px, on a busy 2-core machine


def photo_bytes(size: tuple[int, int] = (120, 90), seed: int = 0, fmt: str = "JPEG") -> bytes:
    """A small photo-like picture: a smooth gradient with some noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], axis=-1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def reaped(pid: int) -> bool:
    """The process ended and was reaped (no zombie left either): what a killed worker must be."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def bot_config(api: FakeBotApi, temp_dir: Path, **overrides: Any) -> BotConfig:
    """Tiny, fast settings: 64 px results, 3 steps, the fake server as a self-hosted Bot API server, the
    data folder beside the jobs' folder, delivery retries that give up after 20 s."""
    config = BotConfig(token=TOKEN, api_url=f"http://127.0.0.1:{api.port}", sizes=(64, 96), default_size=64,
                       steps=3, progress_interval=0.0, temp_dir=temp_dir, data_dir=temp_dir.parent / "data",
                       workers=1, queue_limit=5, delivery_patience=20.0, telegram_timeout=10.0)
    return replace(config, **overrides)


def engines_for(bot_class: type[StyleBot], every: Engines) -> Engines:
    """The subset of the session's engines a bot class declares."""
    return Engines({b: every.styles[b] for b in bot_class.backbones}, every.instant,
                   every.upscaler if bot_class.upscaling else None, every.universal, every.enlarger)


class BotUnderTest:
    """A bot polling the fake server in a thread, with the folder its jobs keep their files in."""

    def __init__(self, bot: StyleBot, api: FakeBotApi, engines: Engines | None) -> None:
        self.bot, self.api, self.engines = bot, api, engines
        self.temp_dir = bot.config.temp_dir
        self._thread = threading.Thread(target=bot.run, name="bot-under-test", daemon=True)
        self._stopped = False
        self._groups: set[int] = set()  # group chats registered with the fake server

    @classmethod
    def start(cls, bot_class: type[StyleBot], api: FakeBotApi, engines: Engines | None, temp_dir: Path,
              **overrides: Any) -> BotUnderTest:
        """`engines` None: the bot's own worker processes (slower to start: each loads its networks)."""
        running = cls(bot_class(bot_config(api, temp_dir, **overrides), engines), api, engines)
        running.bot.start()
        running._thread.start()
        return running

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.bot.stop(timeout=30)
        self.api.end_long_polls()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the bot did not stop polling"
        self.bot.store.close()

    def restart(self) -> BotUnderTest:
        """Stop this bot and start the same one again on the same data folder (a deploy, a reboot)."""
        self.stop()
        running = BotUnderTest(type(self.bot)(self.bot.config, self.engines), self.api, self.engines)
        running._groups = self._groups  # the fake server still knows them
        running.bot.start()
        running._thread.start()
        return running

    @property
    def asks_backbone(self) -> bool:
        return len(self.bot.backbones) > 1

    def user(self, chat_id: int, language_code: str | None = "en") -> User:
        """A person in a private chat, whose Telegram app speaks `language_code` (None: Telegram sends none)."""
        if language_code != "en":
            self.api.set_user_language(chat_id, language_code)
        return User(self, chat_id)

    def group_member(self, group_id: int, user_id: int, language_code: str | None = "en") -> User:
        """`user_id` writing in the group chat `group_id` (negative, as in Telegram; registered on first use)."""
        if group_id not in self._groups:
            self.api.add_group(group_id)
            self._groups.add(group_id)
        if language_code != "en":
            self.api.set_user_language(user_id, language_code)
        return User(self, group_id, user_id)

    def job_files(self) -> list[Path]:
        """What jobs left in the temporary folder (should be nothing once they ended)."""
        return sorted(self.temp_dir.rglob("*"))


class User:
    """One person talking to the bot in a chat: a private one (chat id = user id, the default), or a group chat
    as user_id.  What it sends and waits for is in that chat; reply_to is a message id in it."""

    def __init__(self, running: BotUnderTest, chat_id: int, user_id: int | None = None) -> None:
        self.running, self.api, self.chat_id = running, running.api, chat_id
        self.user_id = chat_id if user_id is None else user_id

    # ---- saying things ----------------------------------------------------------------------------------
    def says(self, text: str, reply_to: int | None = None) -> int:
        """Send a text; returns the call-log mark to wait for the answer from."""
        since = self.api.mark()
        self.api.send_text(self.chat_id, text, user_id=self.user_id, reply_to=reply_to)
        return since

    def sends_photo(self, data: bytes | None = None, caption: str | None = None, reply_to: int | None = None) -> int:
        since = self.api.mark()
        self.api.send_photo(self.chat_id, data or photo_bytes(), caption, user_id=self.user_id, reply_to=reply_to)
        return since

    def sends_album(self, pictures: list[bytes], caption: str | None = None, as_documents: bool = False,
                    gap: float = 0.0) -> int:
        """Send 2-10 pictures as one album (see FakeBotApi.send_album)."""
        since = self.api.mark()
        self.api.send_album(self.chat_id, pictures, self.user_id, caption, as_documents, gap)
        return since

    def sends_file(self, data: bytes, name: str, mime: str | None = None, size: int | None = None) -> int:
        since = self.api.mark()
        self.api.send_document(self.chat_id, data, name, mime, file_size=size, user_id=self.user_id)
        return since

    def presses(self, message: dict, data: str) -> int:
        since = self.api.mark()
        self.api.press_button(self.chat_id, message["message_id"], data, self.user_id)
        return since

    def taps(self, message: dict, text: str) -> int:
        """Press the inline button labelled `text` under `message`."""
        data = dict(self.api.inline_buttons(message)).get(text)
        assert data is not None, f"no button {text!r} under {message.get('text') or message.get('caption')!r}"
        return self.presses(message, data)

    # ---- waiting for the bot --------------------------------------------------------------------------
    def gets(self, text: str, since: int = 0, timeout: float | None = None) -> dict:
        return self.api.wait_for_message(self.chat_id, text, since=since, timeout=timeout)

    def gets_photo(self, since: int = 0, timeout: float = RESULT_TIMEOUT) -> dict:
        return self.api.wait_for_photo(self.chat_id, since=since, timeout=timeout)

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.api.messages(self.chat_id)]

    def waits_for_job_end(self, timeout: float = 30.0) -> None:
        """Until the user has no job in the queue (its task, temporary folder included, is over)."""
        wait_until(lambda: self.running.bot.runner.active(self.user_id) is None, timeout)

    # ---- the main flow, step by step --------------------------------------------------------------------
    def starts_with_photo(self, data: bytes | None = None) -> dict:
        """Send the content photo; returns the bot's question for the style (with its keyboard)."""
        return self.gets(texts.ASK_STYLE, self.sends_photo(data))

    def picks_style(self, prompt: dict, key: str = "mosaic", backbone: str = "vgg19") -> int:
        """Pick a gallery painting, wait for its quick version and ask for the full painting with `backbone`
        ("compare": both side by side); returns a mark for what follows."""
        return self.paints_fully(self.gets_quick(self.presses(prompt, f"style:{key}")), backbone)

    def gets_quick(self, since: int, timeout: float = RESULT_TIMEOUT) -> dict:
        """The quick (universal) version of a painting, with its buttons (tapped at once, they work: the
        runner lets a delivered job settle)."""
        return self.api.wait_for_message(self.chat_id, "⚡ Quick version", since=since, timeout=timeout)

    def paints_fully(self, quick: dict, backbone: str = "vgg19") -> int:
        """Press the button under a quick version that paints it fully with `backbone` (or "compare")."""
        if not self.running.asks_backbone:
            return self.taps(quick, texts.PAINT_FULLY)
        label = texts.COMPARE_BOTH if backbone == "compare" else texts.paint_with(Backbone(backbone).label)
        return self.taps(quick, label)

    def paints(self, style_key: str = "mosaic", backbone: str = "vgg19") -> dict:
        """The whole main flow with a built-in style; returns the result photo once the job is over."""
        since = self.picks_style(self.starts_with_photo(), style_key, backbone)
        result = self.gets_photo(since)
        self.waits_for_job_end()
        return result

    def status_messages(self) -> list[dict]:
        """The bot's job status messages in this chat (queue place, progress, outcome), oldest first."""
        starts = ("⏳", "🎨 Painting", "⚡", "🔍 Upscaling", "✅", "🛑", "❌")
        return [m for m in self.api.messages(self.chat_id) if (m.get("text") or "").startswith(starts)]

    def status_edits(self, message_id: int) -> list[tuple[float, str]]:
        """(time, text) of every successful edit of one status message."""
        return [(c.time, c.params["text"]) for c in self.api.calls
                if c.method == "editMessageText" and c.ok and c.chat_id == self.chat_id
                and int(c.params["message_id"]) == message_id]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
