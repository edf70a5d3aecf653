"""Telegram calls made on the side of the real work, whose failure is logged, never raised: the caller
has nothing better to do, and one lost reply must not cost the user their answer or the bot its polling.
And the two polling failures that are not passing weather: a refused token, another process polling."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from requests import RequestException
from telebot import ExceptionHandler, TeleBot
from telebot.apihelper import ApiException, ApiTelegramException
from telebot.types import BotCommand, BotCommandScopeChat, CallbackQuery

from bots.common import texts
from bots.common.i18n import RUSSIAN_READERS, language_for, speaking

__all__ = ["PollingGuard", "TokenRefused", "check_token", "say", "ack", "close_prompt", "set_command_menus",
           "set_command_menu", "EXIT_CONFLICT"]

log = logging.getLogger(__name__)
EXIT_CONFLICT = 3  # the exit code when another process kept polling with the same token


class TokenRefused(Exception):
    """Telegram answered 401: the token is wrong or was revoked."""


def check_token(telegram: TeleBot) -> None:
    """Ask Telegram who we are: a 401 raises TokenRefused; network trouble is only logged (polling
    waits for the network to come back)."""
    try:
        me = telegram.get_me()
    except ApiTelegramException as exc:
        if exc.error_code == 401:
            raise TokenRefused("Telegram refused the bot token (401 Unauthorized): check BOT_TOKEN, or ask "
                               "@BotFather for the current one") from None
        log.warning("could not check the token: %s", exc)
    except (ApiException, RequestException) as exc:
        log.warning("could not reach Telegram to check the token (will keep trying): %s", exc)
    else:
        log.info("logged in as @%s", me.username)


class PollingGuard(ExceptionHandler):
    """Polling errors (network, Telegram) are logged and polling goes on, except a 409 Conflict that
    lasts: another process is polling with the same token, and each would steal the other's updates.
    It is said in one log line; if it goes on for `patience` seconds, `on_give_up` stops polling and
    `exit_code` becomes EXIT_CONFLICT."""

    def __init__(self, patience: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.patience, self.clock = patience, clock
        self.on_give_up: Callable[[], None] | None = None
        self.exit_code = 0
        self._conflict_since: float | None = None
        self._last_conflict = 0.0

    def handle(self, exception: Exception) -> bool:
        if not (isinstance(exception, ApiTelegramException) and exception.error_code == 409):
            log.error("polling error: %s", exception)
            return True
        now = self.clock()
        if self._conflict_since is None or now - self._last_conflict > self.patience:
            self._conflict_since = now
            log.error("another process is polling for updates with this bot's token (409 Conflict): stop it "
                      "(or delete its webhook); I exit if this goes on for %.0f s", self.patience)
        self._last_conflict = now
        if now - self._conflict_since >= self.patience and not self.exit_code:
            log.error("still in conflict with another process after %.0f s: exiting", self.patience)
            self.exit_code = EXIT_CONFLICT
            if self.on_give_up is not None:
                self.on_give_up()
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


def set_command_menus(telegram: TeleBot) -> None:
    """The command menu in English for everyone, and in Russian for the interfaces whose users read it."""
    set_command_menu(telegram)
    for code in sorted(RUSSIAN_READERS):
        with speaking(language_for(code)):
            set_command_menu(telegram, language_code=code)


def set_command_menu(telegram: TeleBot, scope: BotCommandScopeChat | None = None,
                     language_code: str | None = None) -> None:
    """The menu in the current language, for `scope` (None: every chat) and users of `language_code`."""
    try:
        telegram.set_my_commands([BotCommand(name, what) for name, what in texts.commands().items()],
                                 scope=scope, language_code=language_code)
    except (ApiException, RequestException) as exc:
        log.warning("could not set the command menu: %s", exc)
