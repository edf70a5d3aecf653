"""telebot custom filters the handlers are registered with (as in pyTelegramBotAPI's examples)."""
from __future__ import annotations

from typing import Any

from telebot.custom_filters import AdvancedCustomFilter, StateFilter
from telebot.types import CallbackQuery, Message

from bots.store import StoreError

__all__ = ["StateFilterWithoutStore", "CallbackDataFilter"]


class StateFilterWithoutStore(StateFilter):
    """telebot's state filter, except that a state store that cannot answer (Redis down) matches no state:
    the update then reaches a handler that tells the user to try again, instead of vanishing."""

    def check(self, message: Message | CallbackQuery, text: Any) -> bool:
        try:
            return super().check(message, text)
        except StoreError:
            return False


class CallbackDataFilter(AdvancedCustomFilter):
    """`config=FACTORY.filter(...)` on a callback handler: the button's data fits a `CallbackData` factory
    (`bots.botapi.keyboards`)."""

    key = "config"

    def check(self, call: CallbackQuery, config: object) -> bool:
        return config.check(query=call)  # type: ignore[attr-defined]
