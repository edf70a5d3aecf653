"""Results at the photo's own size, through the real telebot client and the fake Bot API server: the quick
version, an instant style and the full painting of a 1600x1200 photo come back at 1600x1200 (or capped by
STYLEBOT_MAX_SIDE), the "Full quality" file is the painting untouched, and x4 past its cap is refused in
words. Real VGG19, universal, instant and x4 weights; ResNet50 RANDOM (not used for the pictures here).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot_harness import photo_bytes
from bots import FullBot, VggBot
from bots.common import texts
from bots.common.settings import PHOTO_SIZE, UserSettings
from bots.jobs.workflow import TransferWorkflow

pytestmark = pytest.mark.usefixtures("one_compute_thread")
PHOTO = (1600, 1200)
WAIT = 240.0  # seconds: three pictures of 2 MP on one thread


def _size(api, message: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(api.media_bytes(message))).size


def test_every_result_comes_back_at_the_photos_size_with_its_full_quality_file_and_no_oversized_x4(
        start_bot) -> None:
    bot = start_bot(FullBot, default_size=PHOTO_SIZE, steps=2)
    user = bot.user(1601)
    photo = photo_bytes(PHOTO, seed=3)

    instant = user.gets_photo(user.taps(user.gets("Got your photo", user.sends_photo(photo)), "⚡ Wave"), WAIT)
    assert _size(bot.api, instant) == PHOTO
    user.waits_for_job_end(WAIT)

    quick = user.gets_quick(user.taps(user.gets("Got your photo", user.sends_photo(photo)), "🪟 Mosaic"), WAIT)
    assert _size(bot.api, quick) == PHOTO
    result = user.gets_photo(user.taps(quick, texts.paint_with("VGG19")), WAIT)
    assert _size(bot.api, result) == PHOTO
    assert [text for text, _ in bot.api.inline_buttons(result)][-2:] == [texts.UPSCALE, texts.FULL_QUALITY]
    user.waits_for_job_end(WAIT)

    since = user.taps(result, texts.FULL_QUALITY)
    document = bot.api.wait_for_document(user.chat_id, since=since, timeout=30)
    original = Image.open(io.BytesIO(bot.api.media_bytes(document)))
    assert original.format == "PNG" and original.size == PHOTO and document["caption"] == texts.full_quality(*PHOTO)
    # the photo Telegram got is the same picture, JPEG-compressed
    sent = np.asarray(Image.open(io.BytesIO(bot.api.media_bytes(result))), dtype=float)
    assert np.abs(sent - np.asarray(original.convert("RGB"), dtype=float)).mean() < 4

    refusal = user.gets("×4 would make this picture", user.taps(result, texts.UPSCALE))
    assert refusal["text"] == texts.upscale_too_large(4 * PHOTO[0], 4096)
    assert [c.method for c in bot.api.calls[since:]].count("sendDocument") == 1  # no upscaling was attempted


def test_results_are_capped_by_the_max_side_and_an_expired_file_is_explained(start_bot) -> None:
    bot = start_bot(VggBot, default_size=PHOTO_SIZE, max_side=800, steps=2)
    user = bot.user(1602)
    instant = user.gets_photo(user.taps(user.gets("Got your photo", user.sends_photo(photo_bytes(PHOTO))),
                                        "⚡ Wave"), WAIT)
    assert _size(bot.api, instant) == (800, 600)
    user.waits_for_job_end(WAIT)
    for kept in Path(bot.bot.config.data_dir, "originals").glob("*.png"):
        kept.unlink()  # as if its days were over
    gone = user.gets("full-quality file", user.taps(instant, texts.FULL_QUALITY))
    assert gone["text"] == texts.full_quality_gone(bot.bot.config.result_days)


def test_the_brush_sets_the_stroke_size_and_the_settings_offer_it(start_bot, bot_engines, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo_bytes((1024, 768), seed=5))
    workflow = TransferWorkflow(bot_engines, max_side=2048)

    def wave(brush: str) -> np.ndarray:
        [painted] = workflow.stylize(path, ("wave",), UserSettings(size=PHOTO_SIZE, brush=brush),
                                     lambda title, done: None, lambda: False)
        assert painted.image.size == (1024, 768)
        return np.asarray(painted.image, dtype=float)

    fine, bold = wave("fine"), wave("bold")
    assert np.abs(fine - bold).mean() > 10  # the same photo, painted with other strokes

    bot = start_bot(VggBot)
    user = bot.user(1603)
    menu = user.gets("Your settings", user.says("/settings"))
    assert "Brush: medium" in menu["text"]
    changed = user.gets("Brush: bold", user.taps(menu, texts.brush_label("bold")))
    assert "✓ " + texts.brush_label("bold") in [text for text, _ in bot.api.inline_buttons(changed)]
    assert bot.bot.store.settings.get(1603).brush == "bold"
