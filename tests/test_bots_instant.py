"""Instant styles in whole conversations: real telebot client, fake Bot API server, the real instant-style
networks (and the real or RANDOM-weight Gatys engines beside them, see conftest).

An instant style skips the network question, runs in its own lane of the job queue and arrives in
seconds, even while another user's Gatys job runs for minutes; "Preview all" sends one album.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot_harness import User, photo_bytes
from bots import Engines, FullBot, ResNetBot, StyleBot, VggBot
from bots.common import texts
from bots.common.requests import PREVIEW_SIDE
from bots.common.settings import UserSettings
from bots.jobs.queue import JobState
from bots.jobs.workflow import TransferWorkflow

pytestmark = pytest.mark.usefixtures("one_compute_thread")
LONG_JOB = 100_000  # Gatys steps: a job that runs until it is cancelled
INSTANT_WAIT = 20.0  # seconds to the picture: a pass at 64 px takes milliseconds, the rest is a busy machine
INSTANT_TITLES = ["⚡ Wave", "⚡ The Scream", "⚡ Udnie", "⚡ La Muse", "⚡ Rain Princess", "⚡ The Shipwreck"]
GATYS_TITLES = ["🪟 Mosaic", "🌌 Swirls", "🌊 Waves", "🔶 Cubist"]


def _picture(user: User, message: dict) -> Image.Image:
    return Image.open(io.BytesIO(user.api.media_bytes(message))).convert("RGB")


def _nearest(picture: Image.Image, candidates: dict[str, Image.Image]) -> str:
    """The candidate the picture is closest to (mean absolute pixel difference)."""
    def distance(other: Image.Image) -> float:
        assert other.size == picture.size
        return float(np.abs(np.asarray(picture, float) - np.asarray(other, float)).mean())

    return min(candidates, key=lambda name: distance(candidates[name]))


def _every_style(engines: Engines, side: int) -> dict[str, Image.Image]:
    """The test photo painted by each instant network directly, at `side` px."""
    return {key: engines.instant.stylize(photo_bytes(), key, max_side=side) for key in engines.instant.styles}


def _buttons(user: User, message: dict) -> list[str]:
    return [text for text, _ in user.api.inline_buttons(message)]


@pytest.mark.parametrize("bot_class", [VggBot, ResNetBot, FullBot])
def test_an_instant_style_skips_the_network_and_arrives_in_every_bot(start_bot, bot_engines: Engines,
                                                                    bot_class: type[StyleBot]) -> None:
    bot = start_bot(bot_class)
    user = bot.user(1001)
    assert "⚡" in user.gets("I repaint your photo", user.says("/help"))["text"]
    prompt = user.starts_with_photo()
    assert _buttons(user, prompt) == [*INSTANT_TITLES, texts.PREVIEW_ALL, *GATYS_TITLES]

    since = user.taps(prompt, "⚡ Udnie")
    assert user.gets("Style: ⚡ Udnie", since)["message_id"] == prompt["message_id"]
    result = user.gets_photo(since, timeout=INSTANT_WAIT)
    assert result["caption"].startswith("⚡ Udnie — ") and result["caption"].endswith(" s")
    assert _buttons(user, result) == [texts.NEW_STYLE, *([texts.UPSCALE] if bot_class.upscaling else []),
                                      texts.FULL_QUALITY]
    assert not any(text.startswith("⚡ Quick version") for text in user.texts()), "an instant style needs none"

    picture = _picture(user, result)
    assert max(picture.size) == 64  # the bot's size setting, not the photo's 120 px
    assert _nearest(picture, _every_style(bot_engines, 64)) == "udnie"

    user.gets("✅ Done in", since)
    assert len(user.status_messages()) == 1
    user.waits_for_job_end()
    assert bot.job_files() == []


def test_an_instant_style_does_not_wait_behind_another_users_transfer(start_bot) -> None:
    """The key promise: user A's minutes-long Gatys job is running (one worker), and user B still gets an
    instant style within seconds; A's job is still running when B's picture arrives."""
    bot = start_bot(VggBot, steps=LONG_JOB, workers=1)
    painter, hurried = bot.user(1101), bot.user(1102)
    painter.gets("🎨 Painting with VGG19", painter.picks_style(painter.starts_with_photo()))

    since = hurried.taps(hurried.starts_with_photo(photo_bytes(seed=7)), "⚡ Wave")
    result = hurried.gets_photo(since, timeout=INSTANT_WAIT)
    job, place = bot.bot.runner.active(painter.chat_id)
    assert job.state is JobState.RUNNING and place == 0, "the Gatys job was still running"
    assert not any(m.get("photo") and not m["caption"].startswith("⚡ Quick version")
                   for m in bot.api.messages(painter.chat_id)), "no painting yet, only its quick version"
    assert result["caption"].startswith("⚡ Wave — ")
    status = hurried.status_messages()[0]
    assert not any("in the queue" in text for _, text in hurried.status_edits(status["message_id"]))

    painter.gets(texts.CANCELLING_RUNNING, painter.says("/cancel"))
    painter.gets(texts.CANCELLED, timeout=30)
    painter.waits_for_job_end()
    hurried.waits_for_job_end()
    assert bot.job_files() == []


def test_preview_all_is_one_album_then_the_styles_to_pick_from(start_bot, bot_engines: Engines) -> None:
    bot = start_bot(FullBot)
    user = bot.user(1201)
    prompt = user.starts_with_photo()
    since = user.taps(prompt, texts.PREVIEW_ALL)
    assert user.gets(texts.PREVIEW_CHOSEN, since)["message_id"] == prompt["message_id"]

    album = bot.api.wait_for_media_group(user.chat_id, since=since, count=6, timeout=INSTANT_WAIT)
    assert [m["caption"].split(" — ")[0] for m in album] == INSTANT_TITLES
    painted = _every_style(bot_engines, 64)
    assert [_nearest(_picture(user, m), painted) for m in album] == list(painted)
    status = user.gets("✅ Done in", since)
    edits = [text for _, text in user.status_edits(status["message_id"])]
    assert "⚡ Wave (1/6)…" in edits[0] and any("⚡ The Shipwreck (6/6)…" in text for text in edits)

    follow_up = user.gets(texts.PREVIEWED, since)
    assert _buttons(user, follow_up) == [*INSTANT_TITLES, *GATYS_TITLES]  # no second preview
    user.waits_for_job_end()
    since = user.taps(follow_up, "⚡ The Scream")
    result = user.gets_photo(since, timeout=INSTANT_WAIT)
    assert result["caption"].startswith("⚡ The Scream — ")
    assert bot.bot.telegram.get_state(user.chat_id, user.chat_id) is None, "the draft is done"
    user.waits_for_job_end()
    assert bot.job_files() == []


def test_preview_pictures_are_small_whatever_the_size_setting(bot_engines: Engines, tmp_path: Path) -> None:
    """A preview is six passes: each at most PREVIEW_SIDE px, while a single style keeps the user's size."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(photo_bytes((500, 375)))
    workflow, settings = TransferWorkflow(bot_engines), UserSettings(size=512)
    reports: list[tuple[str, float]] = []
    preview = workflow.stylize(photo, ("wave", "udnie"), settings, lambda title, done: reports.append((title, done)),
                               lambda: False)
    assert [p.style for p in preview] == ["wave", "udnie"]
    assert [p.image.size for p in preview] == [(PREVIEW_SIDE, PREVIEW_SIDE * 3 // 4)] * 2
    assert reports[0] == ("⚡ Wave (1/2)…", 0.0) and reports[-1] == ("⚡ Udnie (2/2)…", 1.0)
    single = workflow.stylize(photo, ("wave",), settings, lambda *_: None, lambda: False)
    assert single[0].image.size == (500, 375)  # under 512 px: never enlarged


def test_settings_apply_to_instant_styles(start_bot, bot_engines: Engines) -> None:
    """Size, colours and a soft strength (60% painting, 40% photo) reach the instant network."""
    bot = start_bot(VggBot)
    user = bot.user(1301)
    menu = user.gets("Your settings", user.says("/settings"))
    user.gets("Size: 96 px", user.presses(menu, "set:size:96"))
    user.gets("from your photo", user.presses(menu, "set:colors:photo"))
    user.gets("strength: soft", user.presses(menu, "set:strength:soft"))

    result = user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
    picture = _picture(user, result)
    assert max(picture.size) == 96
    engine = bot_engines.instant
    candidates = {"soft, photo's colours": engine.stylize(photo_bytes(), "wave", 0.6, True, 96),
                  "full, photo's colours": engine.stylize(photo_bytes(), "wave", 1.0, True, 96),
                  "soft, painting's colours": engine.stylize(photo_bytes(), "wave", 0.6, False, 96)}
    assert _nearest(picture, candidates) == "soft, photo's colours"


def test_instant_result_buttons_on_the_full_bot(start_bot) -> None:
    """An instant result can be upscaled and get a new style; it has no style picture, so no other network
    or comparison."""
    bot = start_bot(FullBot)
    user = bot.user(1401)
    result = user.gets_photo(user.taps(user.starts_with_photo(), "⚡ La Muse"), timeout=INSTANT_WAIT)
    assert _buttons(user, result) == [texts.NEW_STYLE, texts.UPSCALE, texts.FULL_QUALITY]
    user.waits_for_job_end()

    since = user.taps(result, texts.UPSCALE)
    document = bot.api.wait_for_document(user.chat_id, since=since, timeout=60)
    width, height = _picture(user, result).size
    assert document["caption"] == texts.upscaled(4 * width, 4 * height)
    user.waits_for_job_end()

    again = user.gets(texts.ASK_STYLE_AGAIN, user.taps(result, texts.NEW_STYLE))
    assert _buttons(user, again)[:7] == [*INSTANT_TITLES, texts.PREVIEW_ALL]
    second = user.gets_photo(user.taps(again, "⚡ Rain Princess"), timeout=INSTANT_WAIT)
    assert second["caption"].startswith("⚡ Rain Princess — ")
    user.waits_for_job_end()
    assert bot.job_files() == []


def test_one_job_per_user_across_lanes(start_bot) -> None:
    """A user whose Gatys job runs and who asks for an instant style is told about the running job."""
    bot = start_bot(VggBot, steps=LONG_JOB)
    user = bot.user(1501)
    result = user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
    user.waits_for_job_end()
    again = user.gets(texts.ASK_STYLE_AGAIN, user.taps(result, texts.NEW_STYLE))
    user.gets("🎨 Painting with VGG19", user.picks_style(again, "swirls"))

    again = user.gets(texts.ASK_STYLE_AGAIN, user.taps(result, texts.NEW_STYLE))
    busy = user.taps(again, "⚡ Udnie")
    assert user.gets("You already have a job", busy)["text"] == texts.already_queued(0)
    user.gets(texts.CANCELLING_RUNNING, user.says("/cancel"))
    user.gets(texts.CANCELLED, timeout=30)
    user.waits_for_job_end()
    assert [m["caption"][:9] for m in bot.api.messages(user.chat_id) if m.get("photo")] == [
        "⚡ Wave — ", "⚡ Quick v"], "the instant result and the quick version; no painting"


def test_instant_buttons_without_a_photo_get_a_hint(start_bot) -> None:
    """Style buttons of a forgotten draft (cancelled, also after a preview) are answered with a hint and
    paint nothing; a text while the draft waits for its style gets the hint for that step."""
    bot = start_bot(VggBot)
    user = bot.user(1601)

    def expired(pressed: int) -> None:
        answer = bot.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=pressed)
        assert answer.params["text"] == texts.EXPIRED_BUTTON

    stale = user.starts_with_photo()
    user.gets(texts.CANCELLED_DRAFT, user.says("/cancel"))
    expired(user.taps(stale, "⚡ Wave"))

    follow_up = user.gets(texts.PREVIEWED, user.taps(user.starts_with_photo(), texts.PREVIEW_ALL))
    user.waits_for_job_end()
    user.gets(texts.CANCELLED_DRAFT, user.says("/cancel"))
    expired(user.taps(follow_up, "⚡ Udnie"))
    assert not any(c.method == "sendPhoto" for c in bot.api.calls), "only the preview album was sent"

    prompt = user.starts_with_photo()
    assert user.gets(texts.hint(texts.Step.STYLE), user.says("make it pretty"))["reply_to_message"]
    result = user.gets_photo(user.taps(prompt, "⚡ Wave"), timeout=INSTANT_WAIT)
    assert result["caption"].startswith("⚡ Wave — ")
    user.waits_for_job_end()
    assert bot.job_files() == []
