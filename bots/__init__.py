"""Telegram bots that repaint a user's photo in the style of a painting (no tensors here: see `bots.engines`).

Names are imported on first use (PEP 562): the chat process imports the bots without loading torch,
which only its worker processes load (`bots.engines`).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["StyleBot", "VggBot", "ResNetBot", "FullBot", "BotConfig", "ConfigError", "Backbone", "Engines",
           "load_engines"]
_HOMES = {"StyleBot": "bots.base", "VggBot": "bots.variants", "ResNetBot": "bots.variants",
          "FullBot": "bots.variants", "BotConfig": "bots.config", "ConfigError": "bots.config",
          "Backbone": "bots.backbone", "Engines": "bots.engines", "load_engines": "bots.engines"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bots' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
