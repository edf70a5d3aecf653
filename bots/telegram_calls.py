"""Telegram calls made on the side of the real work, whose failure is logged, never raised: the caller
has nothing better to do, and one lost reply must not cost the user their answer or the bot its polling."""
from __future__ import annotations

import logging

from requests import RequestException
from telebot import ExceptionHandler, TeleBot
from telebot.apihelper import ApiException
from telebot.types import CallbackQuery

__all__ = ["LogPollingErrors", "say", "ack", "close_prompt"]

log = logging.getLogger(__name__)


class LogPollingErrors(ExceptionHandler):
    """Polling errors (network, Telegram) are logged and polling goes on."""

    def handle(self, exception: Exception) -> bool:
        log.error("polling error: %s", exception)
        return True


def say(telegram: TeleBot, chat: int, text: str) -> None:
    """Send a message."""
    try:
        telegram.send_message(chat, text)
    except (ApiException, RequestException) as exc:
        log.warning("could not send a message to chat %d: %s", chat, exc)


def ack(telegram: TeleBot, call: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (stops its spinner); an expired query is not worth more than a log line."""
    try:
        telegram.answer_callback_query(call.id, text)
    except (ApiException, RequestException) as exc:
        log.info("could not answer a button press: %s", exc)


def close_prompt(telegram: TeleBot, call: CallbackQuery, text: str) -> None:
    """Replace a question's keyboard by the answer, so it cannot be pressed twice."""
    try:
        telegram.edit_message_text(text, call.message.chat.id, call.message.message_id)
    except (ApiException, RequestException) as exc:
        log.info("could not close a prompt: %s", exc)
