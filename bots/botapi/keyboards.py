"""Inline keyboards and the callback data their buttons carry (telebot's CallbackData factories)."""
from __future__ import annotations

from collections.abc import Sequence

from telebot.callback_data import CallbackData
from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

from bots.common import texts
from bots.common.backbone import Backbone
from bots.common.i18n import LANGUAGES
from bots.common.settings import ASK, PHOTO_SIZE, STRENGTHS, UserSettings
from bots.common.styles import BUILTIN_STYLES, instant_title
from transfer.resolution import BRUSHES

__all__ = ["STYLE", "INSTANT", "RESULT", "SETTING", "LANGUAGE", "ALBUM", "COMPARE", "ORIGINAL", "PREVIEW_ALL",
           "style_keyboard", "album_keyboard", "quick_keyboard", "result_keyboard", "compared_keyboard",
           "settings_keyboard", "language_keyboard"]

STYLE = CallbackData("key", prefix="style")  # a built-in style for the Gatys optimisation
INSTANT = CallbackData("key", prefix="instant")  # an instant style's key, or PREVIEW_ALL
RESULT = CallbackData("action", "backbone", "result", prefix="res")  # what to do next with a result
SETTING = CallbackData("name", "value", prefix="set")
LANGUAGE = CallbackData("code", prefix="lang")
ALBUM = CallbackData("index", prefix="album")  # which of an album's other pictures is the painting
COMPARE = "compare"
ORIGINAL = "original"  # the result as a PNG file, untouched by Telegram's photo compression
PREVIEW_ALL = "all"


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _row_of(keyboard: InlineKeyboardMarkup, *buttons: InlineKeyboardButton | None) -> None:
    """A row of the buttons given (None: one this picture does not get); no row when none is left."""
    present = [button for button in buttons if button is not None]
    if present:
        keyboard.row(*present)


def _ticked(text: str, current: bool) -> str:
    return f"✓ {text}" if current else text


def style_keyboard(instant_styles: Sequence[str], preview: bool = True) -> InlineKeyboardMarkup:
    """The instant styles first (seconds), then `preview` of them all, then the Gatys gallery (minutes)."""
    keyboard = InlineKeyboardMarkup(row_width=2)
    keyboard.add(*(_button(instant_title(key), INSTANT.new(key=key)) for key in instant_styles))
    if preview:
        keyboard.row(_button(texts.PREVIEW_ALL, INSTANT.new(key=PREVIEW_ALL)))
    keyboard.add(*(_button(style.title, STYLE.new(key=style.key)) for style in BUILTIN_STYLES))
    return keyboard


def album_keyboard(pictures: int, instant_styles: Sequence[str]) -> InlineKeyboardMarkup:
    """After an album of `pictures` (more than two): its pictures but the first (the photo) to pick the
    painting from, then the usual styles."""
    keyboard = InlineKeyboardMarkup(row_width=3)
    keyboard.add(*(_button(texts.album_choice(n), ALBUM.new(index=n - 2)) for n in range(2, pictures + 1)))
    keyboard.inline_keyboard += style_keyboard(instant_styles, preview=False).inline_keyboard
    return keyboard


def quick_keyboard(result: int, backbones: Sequence[Backbone], upscaling: bool,
                   original: bool) -> InlineKeyboardMarkup:
    """Under a quick version (number `result`): paint it fully (with each network, or both side by side,
    on bots with several), upscale it where the bot can, its `original` file where one is kept, or a new style."""
    def button(text: str, action: str, backbone: Backbone | None) -> InlineKeyboardButton:
        return _button(text, RESULT.new(action=action, backbone=backbone.value if backbone else "", result=result))

    keyboard = InlineKeyboardMarkup()
    if len(backbones) == 1:
        keyboard.row(button(texts.PAINT_FULLY, "paint", backbones[0]))
    else:
        keyboard.row(*(button(texts.paint_with(b.label), "paint", b) for b in backbones))
        keyboard.row(button(texts.COMPARE_BOTH, COMPARE, backbones[0]))
    _row_of(keyboard, button(texts.UPSCALE, "upscale", None) if upscaling else None,
            button(texts.FULL_QUALITY, ORIGINAL, None) if original else None)
    keyboard.row(button(texts.NEW_STYLE, "again", None))
    return keyboard


def result_keyboard(result: int, painted: Backbone | None, backbones: Sequence[Backbone],
                    upscaling: bool, original: bool) -> InlineKeyboardMarkup:
    """Under a single result (number `result` in the store's results): a new style; for a Gatys result
    (`painted` with a backbone) on bots with several, the others and a comparison; upscaling where the
    bot has it; its `original` file where one is kept. An instant result (`painted` None) has no style
    picture to paint again."""
    def button(text: str, action: str, backbone: Backbone | None = painted) -> InlineKeyboardButton:
        return _button(text, RESULT.new(action=action, backbone=backbone.value if backbone else "", result=result))

    keyboard = InlineKeyboardMarkup()
    keyboard.row(button(texts.NEW_STYLE, "again"))
    others = [b for b in backbones if b is not painted]
    if painted and others:
        keyboard.row(*(button(texts.try_backbone(b.label), "paint", b) for b in others),
                     button(texts.COMPARE_BOTH, COMPARE))
    _row_of(keyboard, button(texts.UPSCALE, "upscale") if upscaling else None,
            button(texts.FULL_QUALITY, ORIGINAL) if original else None)
    return keyboard


def compared_keyboard(result: int, backbones: Sequence[Backbone], upscaling: bool) -> InlineKeyboardMarkup:
    """Under a comparison (an album cannot carry buttons, so a message after it does)."""
    keyboard = InlineKeyboardMarkup()
    keyboard.row(_button(texts.NEW_STYLE, RESULT.new(action="again", backbone=backbones[0].value, result=result)))
    if upscaling:
        keyboard.row(*(_button(texts.upscale_one(b.label), RESULT.new(action="upscale", backbone=b.value,
                                                                      result=result)) for b in backbones))
    return keyboard


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """/language: each language in its own name, the one spoken now ticked."""
    keyboard = InlineKeyboardMarkup()
    keyboard.row(*(_button(_ticked(name, code == current), LANGUAGE.new(code=code))
                   for code, name in LANGUAGES.items()))
    return keyboard


def settings_keyboard(settings: UserSettings, sizes: Sequence[int],
                      backbones: Sequence[Backbone]) -> InlineKeyboardMarkup:
    keyboard = InlineKeyboardMarkup()
    keyboard.row(*(_button(_ticked(texts.strength_label(name), name == settings.strength),
                           SETTING.new(name="strength", value=name)) for name in STRENGTHS))
    keyboard.row(*(_button(_ticked(texts.PHOTO_SIZE if size == PHOTO_SIZE else f"{size} px", size == settings.size),
                           SETTING.new(name="size", value=size)) for size in (PHOTO_SIZE, *sizes)))
    keyboard.row(*(_button(_ticked(texts.brush_label(brush), brush == settings.brush),
                           SETTING.new(name="brush", value=brush)) for brush in BRUSHES))
    keyboard.row(*(_button(_ticked(texts.colours_label(keep), keep == settings.keep_colors),
                           SETTING.new(name="colors", value="photo" if keep else "painting"))
                   for keep in (False, True)))
    choices = [(texts.ASK_EACH_TIME, ASK, settings.backbone is None)]
    choices += [(b.label if len(backbones) > 1 else texts.PAINT_FULLY, b.value, settings.backbone is b)
                for b in backbones]
    keyboard.row(*(_button(_ticked(label, current), SETTING.new(name="network", value=value))
                   for label, value, current in choices))
    return keyboard
