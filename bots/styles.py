"""The built-in styles users can pick from a keyboard instead of sending a painting of their own.

Two galleries: paintings for the Gatys optimisation (original procedural images made by
`docs/make_gallery.py`, shipped in `bots/styles/`), and the instant styles, each a trained network
(`transfer.instant`) that paints a photo in seconds, named here as users see them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transfer.instant_styles import InstantStyle

__all__ = ["BuiltinStyle", "BUILTIN_STYLES", "INSTANT_STYLES", "builtin_style", "instant_title"]

STYLES_DIR = Path(__file__).resolve().parent / "styles"


@dataclass(frozen=True)
class BuiltinStyle:
    key: str  # in callback data and file names
    title: str  # on the button

    @property
    def path(self) -> Path:
        return STYLES_DIR / f"{self.key}.jpg"


BUILTIN_STYLES = (
    BuiltinStyle("mosaic", "🪟 Mosaic"),
    BuiltinStyle("swirls", "🌌 Swirls"),
    BuiltinStyle("waves", "🌊 Waves"),
    BuiltinStyle("cubist", "🔶 Cubist"),
)


INSTANT_STYLES = tuple(style.key for style in InstantStyle)  # in display order


def builtin_style(key: str) -> BuiltinStyle | None:
    """The style with this key, or None (an old button, or a style since removed)."""
    return next((style for style in BUILTIN_STYLES if style.key == key), None)


def instant_title(key: str) -> str:
    """An instant style's name on buttons and captions, e.g. "⚡ Wave" (the ⚡ tells it takes seconds)."""
    return f"⚡ {InstantStyle.parse(key).title}"
