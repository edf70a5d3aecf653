"""The bots users and operators start: `StyleBot` is the chat (`bots.chat.bot.ChatBot`) on the parts the
configuration chooses (`bots.assembly`); each variant only declares the networks it offers and whether it
can upscale."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bots.assembly import assemble
from bots.chat.bot import ChatBot
from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.store import Store

if TYPE_CHECKING:  # the chat process never loads the engines (and torch): its workers do
    from bots.jobs.engines import Engines

__all__ = ["StyleBot", "VggBot", "ResNetBot", "FullBot"]


class StyleBot(ChatBot):
    """A bot of this class's networks, wired by configuration."""

    def __init__(self, config: BotConfig, engines: Engines | None = None, store: Store | None = None) -> None:
        """`engines` (`bots.jobs.engines.Engines`): compute in this process with them (tests, debugging);
        None: in worker processes, each loading its own (embedded), or on Celery workers (distributed).
        `store` None: the one the configuration names (raises bots.store.StoreError when it cannot be used)."""
        super().__init__(assemble(config, self.backbones, self.upscaling, engines, store))

    @classmethod
    def from_config(cls, config: BotConfig) -> StyleBot:
        """The bot on its data folder, its networks to be loaded by its workers (raises StoreError)."""
        return cls(config)


class VggBot(StyleBot):
    """Style transfer with VGG19, the classic Gatys network."""

    backbones = (Backbone.VGG19,)


class ResNetBot(StyleBot):
    """Style transfer with ResNet50."""

    backbones = (Backbone.RESNET50,)


class FullBot(StyleBot):
    """Both networks, side-by-side comparison, and x4 upscaling of results."""

    backbones = (Backbone.VGG19, Backbone.RESNET50)
    upscaling = True
