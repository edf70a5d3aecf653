"""The commands and their buttons: /start, /help, /language, /cancel, /settings and the admins' /stats.

Handlers are thin: they read the chat event, answer from the store or the runner, and return in
milliseconds, so they are answered while jobs run. /cancel and /start reset the conversation, never the
user's settings or language.
"""
from __future__ import annotations

import time

from telebot.apihelper import ApiTelegramException
from telebot.types import BotCommandScopeChat, CallbackQuery, InlineKeyboardMarkup, Message

from bots.botapi.calls import ack, close_prompt, say, set_command_menu
from bots.botapi.keyboards import LANGUAGE, SETTING, language_keyboard, settings_keyboard
from bots.chat.conversation import step
from bots.chat.groups import in_group
from bots.chat.parts import ChatParts
from bots.chat.stats import stats_text
from bots.common import texts
from bots.common.i18n import LANGUAGES, speaking
from bots.common.settings import UserSettings, button_change
from bots.jobs.runner import JobState

__all__ = ["Commands"]


class Commands:
    """The handlers of the commands (registered by `bots.chat.bot.ChatBot`)."""

    def __init__(self, parts: ChatParts) -> None:
        self.parts, self.telegram = parts, parts.telegram
        self.started_at = time.time()

    def on_start(self, message: Message) -> None:
        self.telegram.delete_state(message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help(message))

    def on_help(self, message: Message) -> None:
        where = step(self.telegram, message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help(message) + texts.help_step(where))

    def on_language(self, message: Message) -> None:
        self.telegram.send_message(message.chat.id, texts.ASK_LANGUAGE,
                                   reply_markup=language_keyboard(self.parts.language(message.from_user)))

    def on_language_choice(self, call: CallbackQuery) -> None:
        """Keep the choice with the user's settings, say so in the new language and, in a private chat, give
        the chat the command menu in it too."""
        code = LANGUAGE.parse(call.data)["code"]
        if code not in LANGUAGES:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        self.parts.settings.change(call.from_user.id, language=code)
        with speaking(code):
            ack(self.telegram, call)
            close_prompt(self.telegram, call, texts.LANGUAGE_CHOSEN)
            if call.message.chat.type == "private":
                set_command_menu(self.telegram, BotCommandScopeChat(call.message.chat.id))

    def on_cancel(self, message: Message) -> None:
        user, chat = message.from_user.id, message.chat.id
        had_draft = self.telegram.delete_state(user, chat)
        job = self.parts.runner.cancel(user)
        if job is None:
            say(self.telegram, chat, texts.CANCELLED_DRAFT if had_draft else texts.NOTHING_TO_CANCEL)
        elif job.state is JobState.DROPPED:
            say(self.telegram, chat, texts.CANCELLED_QUEUED)
        else:
            say(self.telegram, chat, texts.CANCELLING_RUNNING)

    def on_stats(self, message: Message) -> None:
        """For admins only (others get the unknown-command answer): the state of the queue and workers."""
        say(self.telegram, message.chat.id,
            stats_text(self.parts.runner.stats(), self.parts.store.journal, self.started_at))

    def on_settings(self, message: Message) -> None:
        settings = self.parts.settings.get(message.from_user.id)
        self.telegram.send_message(message.chat.id, self._settings_text(settings),
                                   reply_markup=self._settings_keyboard(settings))

    def on_setting(self, call: CallbackQuery) -> None:
        choice = SETTING.parse(call.data)
        changes = button_change(choice["name"], choice["value"], self.parts.config.sizes, self.parts.backbones)
        if changes is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        settings = self.parts.settings.change(call.from_user.id, **changes)
        try:
            self.telegram.edit_message_text(self._settings_text(settings), call.message.chat.id,
                                            call.message.message_id, reply_markup=self._settings_keyboard(settings))
        except ApiTelegramException as exc:
            if "message is not modified" not in (exc.description or ""):
                raise

    def _help(self, message: Message) -> str:
        return texts.help_text([b.label for b in self.parts.backbones], self.parts.upscaling, in_group(message))

    def _settings_text(self, settings: UserSettings) -> str:
        backbones = self.parts.backbones
        full = settings.backbone if settings.backbone in backbones else None
        full_with = None if full is None else full.label if len(backbones) > 1 else ""
        return texts.settings_text(settings.strength, settings.size, self.parts.config.max_side, settings.brush,
                                   settings.keep_colors, full_with)

    def _settings_keyboard(self, settings: UserSettings) -> InlineKeyboardMarkup:
        return settings_keyboard(settings, self.parts.config.sizes, self.parts.backbones)
