"""Telegram bots that repaint a user's photo in the style of a painting (no tensors here: see `bots.engines`)."""
from bots.base import StyleBot
from bots.config import BotConfig, ConfigError
from bots.engines import Backbone, Engines, load_engines
from bots.variants import FullBot, ResNetBot, VggBot

__all__ = ["StyleBot", "VggBot", "ResNetBot", "FullBot", "BotConfig", "ConfigError", "Backbone", "Engines",
           "load_engines"]
