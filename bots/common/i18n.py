"""The language the bots speak to each user: English or Russian, with gettext catalogues.

Texts are written in English in the code (`bots.common.texts`, `bots.common.styles`, marked with `_`, `N_` and
`ngettext`) and translated in ``bots/locales/<language>/LC_MESSAGES/stylebot.po``, which Babel reads at
first use: no compiled ``.mo`` file to keep in step with its source. The language of what is being said
is a context variable, as in pyTelegramBotAPI's i18n middleware example: a handler speaks the user's
(`bots.chat.bot.ChatBot._guard`), a job the one recorded in its payload when the user asked for it (`job_language`),
so a text needs no language argument and a worker thread never speaks another user's language.
"""
from __future__ import annotations

import functools
import gettext as gettext_module
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "RUSSIAN_READERS", "DOMAIN", "LOCALES_DIR", "language_for",
           "PAYLOAD_KEY", "catalogue", "current", "speaking", "job_language", "gettext", "ngettext", "N_"]

LANGUAGES = {"en": "English", "ru": "Русский"}  # code: its own name, as the /language buttons show it
DEFAULT_LANGUAGE = "en"
# Telegram's language_code of users who mostly read Russian: Ukrainian, Belarusian and Kazakh interfaces.
RUSSIAN_READERS = frozenset({"ru", "uk", "be", "kk"})
DOMAIN = "stylebot"
LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
PAYLOAD_KEY = "language"  # a job payload's field: the language of its user when it was taken

_current: ContextVar[str] = ContextVar("stylebot_language", default=DEFAULT_LANGUAGE)


def language_for(language_code: str | None) -> str:
    """The language for a Telegram `language_code` (an IETF tag such as ``ru`` or ``pt-br``, or None)."""
    primary = (language_code or "").split("-")[0].lower()
    return "ru" if primary in RUSSIAN_READERS else DEFAULT_LANGUAGE


@functools.cache
def catalogue(language: str) -> gettext_module.NullTranslations:
    """The translations into `language`: English, the language of the code, needs none."""
    if language == DEFAULT_LANGUAGE:
        return gettext_module.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as source:
        messages = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def current() -> str:
    """The language being spoken in this thread (or task) now."""
    return _current.get()


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Say what follows in `language` (None or an unknown one: English)."""
    token = _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def job_language(payload: Mapping[str, Any]) -> str | None:
    """The language a job speaks: its user's when they asked for it (None for a job journalled before the
    bots spoke several: English)."""
    language = payload.get(PAYLOAD_KEY)
    return language if isinstance(language, str) else None


def gettext(message: str) -> str:
    """`message` in the current language."""
    return catalogue(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the number `n` in the current language (Russian has three)."""
    return catalogue(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for translation where it is defined; `gettext` translates it where it is said."""
    return message
