"""The instant styles' gallery: names and keys only, no torch (the chat process lists them without
loading a network; `transfer.instant` paints them)."""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weights import Weights

__all__ = ["InstantStyle"]


class InstantStyle(Enum):
    """The built-in gallery, in display order: the value is the name shown to users."""

    WAVE = "Wave"
    SCREAM = "The Scream"
    UDNIE = "Udnie"
    LA_MUSE = "La Muse"
    RAIN_PRINCESS = "Rain Princess"
    WRECK = "The Shipwreck"

    @property
    def key(self) -> str:
        """The short name used in commands and file names, e.g. ``rain_princess``."""
        return self.name.lower()

    @property
    def title(self) -> str:
        return self.value

    @property
    def weights(self) -> Weights:
        from weights import Weights  # imports torch: only the engines need it, not the chat

        return Weights[f"FAST_STYLE_{self.name}"]

    @classmethod
    def parse(cls, name: str | InstantStyle) -> InstantStyle:
        """The style called `name` (key or title, any case, ``-`` or ``_``), or a ValueError listing them."""
        if isinstance(name, InstantStyle):
            return name
        wanted = name.strip().lower().replace("-", "_").replace(" ", "_")
        for style in cls:
            if wanted in (style.key, style.title.lower().replace(" ", "_")):
                return style
        raise ValueError(f"unknown instant style {name!r}; choose one of: {', '.join(s.key for s in cls)}")
