"""Albums: several pictures sent as one message, which Telegram delivers as one update per picture.

The parts share a `media_group_id` and come at the same moment, so the bot's update threads would handle
them at once and race (two "got your photo" answers, the painting taken for a second photo). They are
gathered here instead, and the whole album is handed on once no part has come for `settle` seconds
(parts usually come in one batch of updates; a second batch follows within a fraction of a second).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from telebot.types import Chat, Message, User

__all__ = ["Album", "AlbumCollector", "SETTLE_SECONDS"]

SETTLE_SECONDS = 1.0


@dataclass
class Album:
    """The messages of one album, in the order the user sent them (by message id)."""

    messages: list[Message]

    @property
    def chat(self) -> Chat:
        return self.messages[0].chat

    @property
    def from_user(self) -> User:
        return self.messages[0].from_user


@dataclass
class _Gathering:
    messages: list[Message] = field(default_factory=list)
    timer: threading.Timer | None = None


class AlbumCollector:
    """Gathers albums' parts and calls `on_album(album)` once for each whole album, from a timer thread."""

    def __init__(self, on_album: Callable[[Album], None], settle: float = SETTLE_SECONDS) -> None:
        self.on_album, self.settle = on_album, settle
        self._lock = threading.Lock()
        self._gathering: dict[tuple[int, str], _Gathering] = {}

    def add(self, message: Message) -> None:
        """One part of an album (a message with a `media_group_id`)."""
        key = (message.chat.id, message.media_group_id)
        with self._lock:
            gathering = self._gathering.setdefault(key, _Gathering())
            gathering.messages.append(message)
            if gathering.timer is not None:
                gathering.timer.cancel()
            gathering.timer = threading.Timer(self.settle, self._complete, args=(key,))
            gathering.timer.daemon = True
            gathering.timer.start()

    def flush(self) -> None:
        """Hand on every album being gathered now (on stop: the updates are already confirmed to Telegram,
        so an album dropped here would be lost)."""
        with self._lock:
            keys = list(self._gathering)
        for key in keys:
            self._complete(key)

    def _complete(self, key: tuple[int, str]) -> None:
        with self._lock:
            gathering = self._gathering.pop(key, None)
        if gathering is None:  # handed on already (flushed, or a timer replaced as it fired)
            return
        if gathering.timer is not None:
            gathering.timer.cancel()
        self.on_album(Album(sorted(gathering.messages, key=lambda m: m.message_id)))
