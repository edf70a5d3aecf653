"""FullBot in whole conversations: both networks, side-by-side comparison and SRGAN x4 upscaling.

Real telebot client, fake Bot API server, real VGG19 and SRGAN weights; ResNet50 runs with RANDOM
weights (no ImageNet file exists offline), so its pictures are not paintings.
"""
from __future__ import annotations

import io

import pytest
from PIL import Image

import bot_scenarios as scenario
from bots import Backbone, Engines, FullBot
from bots.common import texts
from transfer import StyleTransfer
from transfer.presets import RESNET50_PRESET, VGG19_PRESET

pytestmark = pytest.mark.usefixtures("one_compute_thread")
LONG_JOB = 400  # steps: a job of many seconds, whose bar moves by 1% every few steps


def _size(api, message: dict) -> tuple[int, int]:
    return Image.open(io.BytesIO(api.media_bytes(message))).size


def test_main_flow_with_builtin_style(start_bot) -> None:
    bot = start_bot(FullBot)
    result = scenario.main_flow_with_builtin_style(bot, "vgg19")
    assert [text for text, _ in bot.api.inline_buttons(result)] == [
        texts.NEW_STYLE, "🔁 Try ResNet50", texts.COMPARE_BOTH, texts.UPSCALE, texts.FULL_QUALITY]


def test_own_style_and_content_sent_as_file_random_resnet_weights(start_bot) -> None:
    scenario.own_style_sent_as_files(start_bot(FullBot), "resnet50")


def test_comparison_album_then_upscale_one_of_them_random_resnet_weights(start_bot) -> None:
    bot = start_bot(FullBot)
    user = bot.user(901)
    since = user.picks_style(user.starts_with_photo(), "swirls", "compare")
    album = bot.api.wait_for_media_group(user.chat_id, since=since, count=2, timeout=60)
    captions = [m["caption"] for m in album]
    assert captions[0].startswith("VGG19 — ") and captions[1].startswith("ResNet50 — ")
    assert all(caption.endswith(" s") for caption in captions)
    user.waits_for_job_end()
    status = user.status_messages()[-1]  # the comparison's (the quick version's came first)
    assert status["text"].startswith("✅ Done in")
    edits = [text for _, text in user.status_edits(status["message_id"])]
    assert any("VGG19 (1/2)" in text for text in edits) and any("ResNet50 (2/2)" in text for text in edits)

    follow_up = user.gets(texts.COMPARED, since)
    assert [text for text, _ in bot.api.inline_buttons(follow_up)] == [
        texts.NEW_STYLE, "🔍 Upscale VGG19 ×4", "🔍 Upscale ResNet50 ×4"]
    user.waits_for_job_end()
    since = user.taps(follow_up, "🔍 Upscale ResNet50 ×4")
    document = bot.api.wait_for_document(user.chat_id, since=since, timeout=60)
    assert document["document"]["file_name"] == "stylebot-x4.png"
    width, height = _size(bot.api, album[1])
    assert Image.open(io.BytesIO(bot.api.media_bytes(document))).size == (4 * width, 4 * height)
    upload = bot.api.wait_for(lambda c: c.method == "sendDocument", since=since).files["document"]
    assert upload.data.startswith(b"\x89PNG"), "sent as a PNG file, not a recompressed photo"
    user.waits_for_job_end()
    assert bot.job_files() == []


def test_result_buttons_other_backbone_compare_and_upscale_random_resnet_weights(start_bot) -> None:
    bot = start_bot(FullBot)
    user = bot.user(902)
    result = user.paints("cubist", "vgg19")

    other = user.gets_photo(user.taps(result, "🔁 Try ResNet50"))
    assert other["caption"].startswith("ResNet50 — ")
    assert [text for text, _ in bot.api.inline_buttons(other)][1] == "🔁 Try VGG19"
    user.waits_for_job_end()

    since = user.taps(result, texts.COMPARE_BOTH)
    album = bot.api.wait_for_media_group(user.chat_id, since=since, count=2, timeout=60)
    assert [m["caption"].split(" — ")[0] for m in album] == ["VGG19", "ResNet50"]
    user.waits_for_job_end()

    since = user.taps(result, texts.UPSCALE)
    status = user.gets(texts.UPSCALING, since)
    document = bot.api.wait_for_document(user.chat_id, since=since, timeout=60)
    width, height = _size(bot.api, result)
    assert document["caption"] == texts.upscaled(4 * width, 4 * height)
    assert user.gets("✅ Done in", since)["message_id"] == status["message_id"]
    user.waits_for_job_end()
    assert bot.job_files() == []


def test_always_paint_fully_from_settings_follows_the_quick_version_random_resnet_weights(start_bot) -> None:
    """/settings "after the quick version: ResNet50": the full painting follows the quick one, unasked."""
    bot = start_bot(FullBot)
    user = bot.user(903)
    menu = user.gets("After the quick version: ask me", user.says("/settings"))
    user.gets("After the quick version: paint fully with ResNet50", user.presses(menu, "set:network:resnet50"))
    since = user.presses(user.starts_with_photo(), "style:waves")
    quick = user.gets_quick(since)
    assert "The full painting is on its way" in quick["caption"]
    result = bot.api.wait_for_message(user.chat_id, "ResNet50 — ", since=since, timeout=60)
    assert result["message_id"] > quick["message_id"]
    user.waits_for_job_end()
    assert [m["text"][:9] for m in user.status_messages()] == ["✅ Done in", "✅ Done in"], "two jobs, both done"
    assert [bot.bot.store.journal.get(n).kind for n in (1, 2)] == ["quick", "paint"]


def test_cancel_queued_and_running_jobs_while_help_is_answered(start_bot) -> None:
    scenario.cancel_queued_and_running_while_help_answers(
        start_bot(FullBot, steps=LONG_JOB, progress_interval=0.3), "vgg19")


def test_two_users_at_once(start_bot) -> None:
    scenario.two_users_at_once(start_bot(FullBot, steps=25), "vgg19")


def test_wrong_input_at_every_step(start_bot) -> None:
    scenario.wrong_input_at_every_step(start_bot(FullBot))


def test_failing_job_is_reported_and_the_bot_goes_on(start_bot, bot_engines, caplog) -> None:
    """Each network paired with the other's preset: the layer names do not exist, so every run raises
    inside the engine (a genuine failure, no mock)."""
    vgg, resnet = bot_engines.styles[Backbone.VGG19], bot_engines.styles[Backbone.RESNET50]
    broken = Engines({Backbone.VGG19: StyleTransfer(vgg.extractor, RESNET50_PRESET),
                      Backbone.RESNET50: StyleTransfer(resnet.extractor, VGG19_PRESET)},
                     bot_engines.instant, bot_engines.upscaler, bot_engines.universal)
    scenario.failing_job(start_bot(FullBot, engines=broken), caplog)
