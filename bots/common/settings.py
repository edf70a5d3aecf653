"""Per-user preferences (/settings): how strong the style is, how big the result, how big the brush, whose
colours, which network; and (/language) the language the bot speaks to them.

Kept apart from the conversation state, so /cancel and /start, which reset the conversation, keep them.
They live in the store (`bots.store`), so a restart keeps them too.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bots.common.backbone import Backbone
from transfer.resolution import BRUSHES, DEFAULT_BRUSH

__all__ = ["UserSettings", "STRENGTHS", "INSTANT_STRENGTHS", "ASK", "PHOTO_SIZE", "button_change"]

# The user picks a word; the engine gets a multiplier of its preset's style weight.
STRENGTHS = {"soft": 0.3, "normal": 1.0, "strong": 3.0}
# An instant network paints exactly as strongly as it was trained to: "soft" mixes some of the photo back
# in (a share of the painting, from 0 to 1), and "strong" cannot go further than "normal".
INSTANT_STRENGTHS = {"soft": 0.6, "normal": 1.0, "strong": 1.0}
ASK = "ask"  # the network setting's value for "ask each time (buttons under the quick version)"
PHOTO_SIZE = 0  # the size setting's value for "the photo's own size" (its long side capped by STYLEBOT_MAX_SIDE)


@dataclass(frozen=True)
class UserSettings:
    strength: str = "normal"
    size: int = PHOTO_SIZE  # the result's long side in px; PHOTO_SIZE: the photo's own
    brush: str = DEFAULT_BRUSH  # fine, medium or bold: the working size the engines paint at
    keep_colors: bool = False
    backbone: Backbone | None = None  # paints fully right after the quick version; None: ask each time
    language: str | None = None  # a code of bots.common.i18n.LANGUAGES; None: from the user's Telegram language

    @property
    def style_strength(self) -> float:
        """The multiplier of the Gatys preset's style weight."""
        return STRENGTHS[self.strength]

    @property
    def instant_strength(self) -> float:
        """The share of the painting in an instant style's result."""
        return INSTANT_STRENGTHS[self.strength]

    def long_side(self, max_side: int) -> int:
        """The most px the result's long side may have: the chosen size, or the photo's own up to `max_side`."""
        return min(self.size, max_side) if self.size else max_side


def button_change(name: str, value: str, sizes: Sequence[int],
                  backbones: Sequence[Backbone]) -> dict[str, object] | None:
    """The UserSettings fields a /settings button (`name`, `value`) changes; None for a button this bot
    does not offer (an old keyboard, or data it never sent)."""
    if name == "strength" and value in STRENGTHS:
        return {"strength": value}
    if name == "size" and value.isdigit() and (int(value) in sizes or int(value) == PHOTO_SIZE):
        return {"size": int(value)}
    if name == "brush" and value in BRUSHES:
        return {"brush": value}
    if name == "colors" and value in ("photo", "painting"):
        return {"keep_colors": value == "photo"}
    if name == "network" and (value == ASK or value in {b.value for b in backbones}):
        return {"backbone": None if value == ASK else Backbone(value)}
    return None
