"""Per-user preferences (/settings): how strong the style is, how big the result, whose colours, which network.

Kept apart from the conversation state, so /cancel and /start, which reset the conversation, keep them.
They live in memory: a restart brings everyone back to the defaults.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bots.engines import Backbone
from transfer import TransferSettings

__all__ = ["UserSettings", "SettingsStore", "STRENGTHS", "INSTANT_STRENGTHS", "ASK", "button_change"]

# The user picks a word; the engine gets a multiplier of its preset's style weight.
STRENGTHS = {"soft": 0.3, "normal": 1.0, "strong": 3.0}
# An instant network paints exactly as strongly as it was trained to: "soft" mixes some of the photo back
# in (a share of the painting, from 0 to 1), and "strong" cannot go further than "normal".
INSTANT_STRENGTHS = {"soft": 0.6, "normal": 1.0, "strong": 1.0}
ASK = "ask"  # the network setting's value for "no default, ask each time"


@dataclass(frozen=True)
class UserSettings:
    strength: str = "normal"
    size: int = 384
    keep_colors: bool = False
    backbone: Backbone | None = None  # None: ask each time (bots with several backbones)

    def transfer_settings(self, steps: int | None) -> TransferSettings:
        """What the engine gets; `steps` is the bot's setting (None: the backbone's preset)."""
        return TransferSettings(size=self.size, steps=steps, style_strength=STRENGTHS[self.strength],
                                keep_colors=self.keep_colors)

    @property
    def instant_strength(self) -> float:
        """The share of the painting in an instant style's result."""
        return INSTANT_STRENGTHS[self.strength]


class SettingsStore:
    """Every user's settings, starting from `defaults`; safe to use from any thread."""

    def __init__(self, defaults: UserSettings) -> None:
        self.defaults = defaults
        self._settings: dict[int, UserSettings] = {}
        self._lock = threading.Lock()

    def get(self, user_id: int) -> UserSettings:
        with self._lock:
            return self._settings.get(user_id, self.defaults)

    def change(self, user_id: int, **changes: object) -> UserSettings:
        """Store `changes` (fields of UserSettings) for the user and return the new settings."""
        with self._lock:
            updated = replace(self._settings.get(user_id, self.defaults), **changes)
            self._settings[user_id] = updated
            return updated


def button_change(name: str, value: str, sizes: Sequence[int],
                  backbones: Sequence[Backbone]) -> dict[str, object] | None:
    """The UserSettings fields a /settings button (`name`, `value`) changes; None for a button this bot
    does not offer (an old keyboard, or data it never sent)."""
    if name == "strength" and value in STRENGTHS:
        return {"strength": value}
    if name == "size" and value.isdigit() and int(value) in sizes:
        return {"size": int(value)}
    if name == "colors" and value in ("photo", "painting"):
        return {"keep_colors": value == "photo"}
    if name == "network" and (value == ASK or value in {b.value for b in backbones}):
        return {"backbone": None if value == ASK else Backbone(value)}
    return None
