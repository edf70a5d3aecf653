"""What the chat's handlers work with, wired by `bots.assembly`: the Bot API client, the store, the job
runner and its admission, and what the bot offers."""
from __future__ import annotations

from dataclasses import dataclass

from telebot import TeleBot
from telebot.types import User

from bots.botapi.calls import PollingGuard
from bots.botapi.delivery import Delivery
from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.common.i18n import language_for
from bots.jobs.admission import Admission
from bots.jobs.runner import JobRunner
from bots.store import SettingsStorage, Store, StoreError
from bots.store.originals import Originals

__all__ = ["ChatParts"]


@dataclass(frozen=True)
class ChatParts:
    """A bot's parts; `guard` handles polling's errors, `delivery` retries what users wait for."""

    config: BotConfig
    store: Store
    telegram: TeleBot
    guard: PollingGuard
    delivery: Delivery
    runner: JobRunner
    admission: Admission
    backbones: tuple[Backbone, ...]
    upscaling: bool

    @property
    def originals(self) -> Originals:
        return Originals.of(self.config)

    @property
    def settings(self) -> SettingsStorage:
        return self.store.settings

    def language(self, user: User) -> str:
        """The language to speak to `user`: their /language choice, else their Telegram's."""
        try:
            chosen = self.settings.get(user.id).language
        except StoreError:  # Redis down: their Telegram's language is still right for most
            chosen = None
        return chosen or language_for(user.language_code)
