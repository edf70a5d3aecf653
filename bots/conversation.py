"""Where each user is in the main flow (telebot custom states), and what their results were made from.

No state: the bot waits for a content photo. `Flow.style`: it has the photo and waits for a style.
`Flow.backbone`: it has both and waits for the network (bots with several). The draft's pictures are
kept as Telegram file ids in the state's data, so nothing is stored on disk between messages.

Buttons under a result ("new style", "compare", "upscale") need the request that made it (a Gatys
`PaintRequest` or an `InstantRequest`): `ResultMemory` keeps the most recent ones under a number their
buttons carry. The number is given before the result is sent, so a button pressed at once already finds
its request.
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from telebot.states import State, StatesGroup
from telebot.types import Message

from bots.engines import Backbone
from bots.workflow import InstantRequest, PaintRequest

__all__ = ["Flow", "Remembered", "ResultMemory"]


class Flow(StatesGroup):
    style = State()  # data: content
    backbone = State()  # data: content, style (a workflow.Style)


@dataclass(frozen=True)
class Remembered:
    """A result: its chat, the request that made it and, for a comparison, the file id of each picture
    (a single result's picture is the message its buttons are on)."""

    chat_id: int
    request: PaintRequest | InstantRequest
    pictures: Mapping[Backbone, str] = field(default_factory=dict)

    def picture(self, backbone: Backbone | None, message: Message) -> str | None:
        """The file id of the picture painted with `backbone`: from a comparison, or the single result
        `message` (the one whose button was pressed) carries."""
        if backbone in self.pictures:
            return self.pictures[backbone]
        return message.photo[-1].file_id if message.photo else None


class ResultMemory:
    """The last `capacity` results, by number."""

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Remembered] = OrderedDict()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def remember(self, result: Remembered) -> int:
        """Keep `result`; returns the number its buttons carry."""
        with self._lock:
            number = next(self._numbers)
            self._items[number] = result
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return number

    def recall(self, number: int, chat_id: int) -> Remembered | None:
        """The result with this number, if it is still kept and belongs to this chat."""
        with self._lock:
            result = self._items.get(number)
        return result if result is not None and result.chat_id == chat_id else None
