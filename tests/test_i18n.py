"""The bots' languages without a chat: the Russian catalogue against the code's texts, the choice of language,
the engines' refusals in Russian, and the styles a caption names."""
from __future__ import annotations

import io
import re
import string
import threading
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from PIL import Image

from bots.common import texts
from bots.common.i18n import LOCALES_DIR, current, language_for, speaking
from bots.common.styles import BUILTIN_STYLES, INSTANT_NAMES, INSTANT_STYLES, NamedStyle, instant_title, style_named
from transfer.images import REFUSALS, ImageError, load_image
from transfer.instant_styles import InstantStyle

ROOT = Path(__file__).resolve().parents[1]
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def _code_messages() -> set[str | tuple[str, str]]:
    """Every text marked for translation in the code, as `pybabel extract -F babel.cfg -k N_` finds them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    return {message for _file, _line, message, _comments, _context
            in extract_from_dir(ROOT, method_map, options_map, keywords=keywords)}


def _russian():
    with open(LOCALES_DIR / "ru" / "LC_MESSAGES" / "stylebot.po", "rb") as source:
        return read_po(source, locale="ru")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_text_in_the_code_has_a_russian_translation_and_nothing_else_is_in_the_catalogue() -> None:
    catalogue = _russian()
    code = _code_messages()
    translated = {message.id for message in catalogue if message.id}
    assert len(code) > 100
    assert code - translated == set(), "texts without a Russian translation: run pybabel update (README)"
    assert translated - code == set(), "translations of texts the code no longer has"


def test_every_russian_translation_is_complete_keeps_its_placeholders_and_reads_as_russian() -> None:
    for message in _russian():
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        singular = message.id[0] if message.pluralizable else message.id
        forms = list(message.string) if message.pluralizable else [message.string]
        assert len(forms) == (3 if message.pluralizable else 1), message.id  # Russian: one, few, many
        for form in forms:
            assert form and CYRILLIC.search(form), f"{singular!r} is not translated: {form!r}"
            assert _fields(form) == _fields(singular), f"{form!r} lost or added a placeholder of {singular!r}"


@pytest.mark.parametrize(("code", "language"), [
    ("ru", "ru"), ("uk", "ru"), ("be", "ru"), ("kk", "ru"), ("ru-RU", "ru"), ("en", "en"), ("en-GB", "en"),
    ("de", "en"), ("pt-br", "en"), ("", "en"), (None, "en")])
def test_the_language_follows_telegrams_language_code(code: str | None, language: str) -> None:
    assert language_for(code) == language


def test_texts_speak_the_language_set_for_their_thread_only() -> None:
    said: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def answer(language: str) -> None:
        with speaking(language):
            barrier.wait()  # both threads speak at once
            said[language] = texts.ASK_STYLE + " " + texts.queued(3) + " " + texts.forgotten_result(5)

    threads = [threading.Thread(target=answer, args=(language,)) for language in ("en", "ru")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert said["en"].startswith("Got your photo") and "#3" in said["en"] and "5 days" in said["en"]
    assert said["ru"].startswith("Фото есть") and "№3" in said["ru"] and "5 дней" in said["ru"]
    assert current() == "en"
    with speaking("fr"):  # a language the bots do not speak: English
        assert texts.CANCELLED == "🛑 Cancelled."


@pytest.mark.parametrize(("number", "form"), [(1, "1 день"), (2, "2 дня"), (5, "5 дней"), (11, "11 дней"),
                                              (21, "21 день"), (0.5, "0.5 дня")])
def test_russian_numbers_take_their_three_forms(number: float, form: str) -> None:
    with speaking("ru"):
        assert form in texts.forgotten_result(number)


def _refusal(data: bytes) -> ImageError:
    with pytest.raises(ImageError) as refused:
        load_image(data)
    return refused.value


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, "PNG")
    return buffer.getvalue()


def test_the_engines_refusals_are_said_in_russian_with_their_figures() -> None:
    assert set(REFUSALS) <= set(texts._REFUSALS)
    too_small, not_an_image = _refusal(_png((20, 300))), _refusal(b"not a picture at all")
    damaged = _refusal(_png((300, 300))[:200])
    assert (too_small.reason, not_an_image.reason, damaged.reason) == ("too_small", "not_an_image", "damaged")
    with speaking("ru"):
        said = texts.refused_image(too_small.reason, too_small.details)
        assert said == ("Эта картинка не подойдёт: она слишком маленькая (20×300): каждая сторона должна быть "
                        "от 32 px. Пришли другую, пожалуйста.")
        for reason in REFUSALS:
            assert CYRILLIC.search(texts.refused_image(reason, {"width": 1, "height": 2, "min_side": 3,
                                                                 "megapixels": 64}))
    with speaking("en"):
        assert "too small (20×300)" in texts.refused_image(too_small.reason, too_small.details)


def test_every_style_has_a_russian_name() -> None:
    assert set(INSTANT_NAMES) == set(InstantStyle)
    with speaking("ru"):
        assert [instant_title(key) for key in INSTANT_STYLES] == [
            "⚡ Волна", "⚡ Крик", "⚡ Удни", "⚡ Муза", "⚡ Принцесса дождя", "⚡ Кораблекрушение"]
        assert [style.title for style in BUILTIN_STYLES] == ["🪟 Мозаика", "🌌 Завитки", "🌊 Волны", "🔶 Кубизм"]


@pytest.mark.parametrize(("caption", "named"), [
    ("wave", NamedStyle("wave", True)), ("Wave!", NamedStyle("wave", True)), ("удни", NamedStyle("udnie", True)),
    ("Удни 🎨", NamedStyle("udnie", True)), ("in the style of The Scream", NamedStyle("scream", True)),
    ("как Крик", NamedStyle("scream", True)), ("rain-princess", NamedStyle("rain_princess", True)),
    ("принцесса дождя", NamedStyle("rain_princess", True)), ("la muse", NamedStyle("la_muse", True)),
    ("waves", NamedStyle("waves", False)), ("мозаикой, пожалуйста", NamedStyle("mosaic", False)),
    ("кубизм", NamedStyle("cubist", False)), ("Cubist", NamedStyle("cubist", False))])
def test_a_caption_names_a_style_in_either_language_and_in_any_case_ending(caption: str, named: NamedStyle) -> None:
    assert style_named(caption) == named


@pytest.mark.parametrize("caption", [None, "", "my cat", "котик на даче", "the", "wavy hair", "музыка"])
def test_a_caption_that_names_no_style_is_only_a_caption(caption: str | None) -> None:
    assert style_named(caption) is None
