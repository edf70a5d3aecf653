"""Where each user is in the main flow (telebot custom states).

No state: the bot waits for a content photo. `Flow.style`: it has the photo and waits for a style (then
a quick version comes, with buttons to paint it fully with each network). The draft's picture is kept
as a Telegram file id in the state's data (JSON in the store, which keeps it across restarts).
"""
from __future__ import annotations

from telebot import TeleBot
from telebot.states import State, StatesGroup

from bots.common import texts
from bots.store import StoreError

__all__ = ["Flow", "step"]


class Flow(StatesGroup):
    style = State()  # data: content (a file id), clip (what `PaintingFlow` found of a clip; None for a photo)


STEPS = {Flow.style.name: texts.Step.STYLE}


def step(telegram: TeleBot, user: int, chat: int) -> str:
    """Where the user is (`texts.Step`), for the hints of /help and of a wrong input."""
    try:
        return STEPS.get(telegram.get_state(user, chat), texts.Step.CONTENT)
    except StoreError:  # Redis down: /help still answers, without the step
        return texts.Step.CONTENT
