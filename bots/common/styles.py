"""The built-in styles users can pick from a keyboard instead of sending a painting of their own.

Two galleries: paintings for the Gatys optimisation (original procedural images made by
`docs/make_gallery.py`, shipped in `bots/styles/`), and the instant styles, each a trained network
(`transfer.instant`) that paints a photo in seconds, named here as users see them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bots.common.i18n import LANGUAGES, N_, catalogue
from bots.common.i18n import gettext as _
from transfer.instant_styles import InstantStyle

__all__ = ["BuiltinStyle", "BUILTIN_STYLES", "INSTANT_STYLES", "builtin_style", "instant_title", "NamedStyle",
           "style_named"]

STYLES_DIR = Path(__file__).resolve().parents[1] / "styles"


@dataclass(frozen=True)
class BuiltinStyle:
    key: str  # in callback data and file names
    name: str  # in English (translated on the button)

    @property
    def title(self) -> str:
        """The name on the button, in the current language."""
        return _(self.name)

    @property
    def path(self) -> Path:
        return STYLES_DIR / f"{self.key}.jpg"


BUILTIN_STYLES = (
    BuiltinStyle("mosaic", N_("🪟 Mosaic")),
    BuiltinStyle("swirls", N_("🌌 Swirls")),
    BuiltinStyle("waves", N_("🌊 Waves")),
    BuiltinStyle("cubist", N_("🔶 Cubist")),
)

# The instant styles' names as users read them (`InstantStyle`'s values, marked here for translation).
INSTANT_NAMES = {
    InstantStyle.WAVE: N_("Wave"),
    InstantStyle.SCREAM: N_("The Scream"),
    InstantStyle.UDNIE: N_("Udnie"),
    InstantStyle.LA_MUSE: N_("La Muse"),
    InstantStyle.RAIN_PRINCESS: N_("Rain Princess"),
    InstantStyle.WRECK: N_("The Shipwreck"),
}


INSTANT_STYLES = tuple(style.key for style in InstantStyle)  # in display order


def builtin_style(key: str) -> BuiltinStyle | None:
    """The style with this key, or None (an old button, or a style since removed)."""
    return next((style for style in BUILTIN_STYLES if style.key == key), None)


def instant_title(key: str) -> str:
    """An instant style's name on buttons and captions, e.g. "⚡ Wave" (the ⚡ tells it takes seconds)."""
    return f"⚡ {_(INSTANT_NAMES[InstantStyle.parse(key)])}"


@dataclass(frozen=True)
class NamedStyle:
    """A style a caption names: an instant style's key (`instant`) or a gallery painting's (not `instant`)."""

    key: str
    instant: bool


# Russian names change their ending with their case ("волна", "в стиле волны", "волной"): a name word's last
# vowel is dropped and a caption's word may end in up to three letters of the case endings instead.
_VOWELS = "аеиоуыэюяйь"
_CASE_ENDING = re.compile("[аеиоуыэюяйьмхв]{0,3}")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower().replace("ё", "е").replace("_", " "))


def _names() -> list[tuple[list[str], NamedStyle]]:
    """Every style's names as words: its key, and its name in each language (without "the")."""
    named = [(InstantStyle.parse(key).name.lower(), INSTANT_NAMES[InstantStyle.parse(key)], NamedStyle(key, True))
             for key in INSTANT_STYLES]
    named += [(style.key, style.name, NamedStyle(style.key, False)) for style in BUILTIN_STYLES]
    found = []
    for key, name, style in named:
        spellings = {key, *(catalogue(language).gettext(name) for language in LANGUAGES)}
        for spelling in spellings:
            words = [w for w in _words(spelling) if w != "the"]
            if words:
                found.append((words, style))
    return found


def _same_word(word: str, name_word: str, exact: bool) -> bool:
    if exact or len(name_word) < 4 or not re.match("[а-я]", name_word):
        return word == name_word
    stem = name_word[:-1] if name_word[-1] in _VOWELS else name_word
    return word.startswith(stem) and bool(_CASE_ENDING.fullmatch(word[len(stem):]))


def style_named(caption: str | None) -> NamedStyle | None:
    """The style a photo's caption names ("wave", "Удни", "как Крик"), or None. Whole words only; an exact name
    first, then a Russian one in another case ending."""
    words = _words(caption or "")
    for exact in (True, False):
        for name, style in _names():
            for start in range(len(words) - len(name) + 1):
                if all(_same_word(w, n, exact) for w, n in zip(words[start:], name)):
                    return style
    return None
