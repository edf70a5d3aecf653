"""Where each user is in the main flow (telebot custom states), and what their results were made from.

No state: the bot waits for a content photo. `Flow.style`: it has the photo and waits for a style (then
a quick version comes, with buttons to paint it fully with each network). The draft's picture is kept
as a Telegram file id in the state's data (JSON in the store, which keeps it across restarts).

Buttons under a result ("new style", "compare", "upscale") need the request that made it (a Gatys
`PaintRequest` or an `InstantRequest`): the store's results keep a `Remembered` for each under a number
their buttons carry. The number is given before the result is sent, so a button pressed at once already
finds its request.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from telebot.states import State, StatesGroup
from telebot.types import Message

from bots.backbone import Backbone
from bots.workflow import InstantRequest, PaintRequest

__all__ = ["Flow", "Remembered"]


class Flow(StatesGroup):
    style = State()  # data: content


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
