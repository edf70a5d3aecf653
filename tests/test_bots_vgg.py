"""VggBot in whole conversations: real telebot client, fake Bot API server, real VGG19 weights at 64 px."""
from __future__ import annotations

import io
import stat

import pytest
from PIL import Image

import bot_scenarios as scenario
from bot_harness import photo_bytes
from bots import Backbone, Engines, VggBot
from bots.common import texts
from transfer import StyleTransfer
from transfer.presets import RESNET50_PRESET

pytestmark = pytest.mark.usefixtures("one_compute_thread")
LONG_JOB = 400  # steps: a job of many seconds, whose bar moves by 1% every few steps


def test_main_flow_with_builtin_style(start_bot) -> None:
    bot = start_bot(VggBot)
    result = scenario.main_flow_with_builtin_style(bot, "vgg19")
    assert [text for text, _ in bot.api.inline_buttons(result)] == [texts.NEW_STYLE, texts.FULL_QUALITY]  # no upscaler
    assert bot.bot.telegram.get_state(101, 101) is None


def test_the_quick_version_comes_first_and_the_full_painting_starts_from_it(start_bot) -> None:
    """A gallery painting: its quick (universal) version in seconds, then, asked for, the full painting,
    with no low-resolution sketch any more."""
    bot = start_bot(VggBot, sizes=(128,), default_size=128, steps=40)
    user = bot.user(105)
    mark = user.api.mark()
    user.gets_photo(user.picks_style(user.starts_with_photo(photo_bytes((200, 150)))), timeout=60)
    user.waits_for_job_end()
    quick, result = [m for m in bot.api.messages(user.chat_id) if m.get("photo")]
    assert quick["caption"].startswith("⚡ Quick version — ") and result["caption"].startswith("VGG19 — ")
    assert not quick["deleted"] and not result["deleted"]
    assert max(Image.open(io.BytesIO(bot.api.media_bytes(quick))).size) == 128
    assert max(Image.open(io.BytesIO(bot.api.media_bytes(result))).size) == 128
    assert sum(c.method == "sendPhoto" for c in bot.api.calls[mark:]) == 2, "no sketch"


def test_own_style_and_content_sent_as_file(start_bot) -> None:
    scenario.own_style_sent_as_files(start_bot(VggBot), "vgg19")


def test_cancel_queued_and_running_jobs_while_help_is_answered(start_bot) -> None:
    scenario.cancel_queued_and_running_while_help_answers(
        start_bot(VggBot, steps=LONG_JOB, progress_interval=0.3), "vgg19")


def test_two_users_at_once(start_bot) -> None:
    scenario.two_users_at_once(start_bot(VggBot, steps=25), "vgg19")


def test_wrong_input_at_every_step(start_bot) -> None:
    scenario.wrong_input_at_every_step(start_bot(VggBot))


def test_file_over_20_mb_is_refused_before_download_on_telegram_servers(start_bot, fake_api) -> None:
    """Without TELEGRAM_API_URL the bot knows Telegram's 20 MB limit and does not even ask for the file."""
    bot = start_bot(VggBot, api_url=None)
    user = bot.user(402)
    reply = user.gets("up to 20 MB", user.sends_file(b"\xff\xd8", "huge.jpg", "image/jpeg", size=21 * 1024**2))
    assert reply["text"].startswith("That file is 21 MB")
    assert not any(c.method == "getFile" for c in fake_api.calls)


def test_failing_job_is_reported_and_the_bot_goes_on(start_bot, bot_engines, caplog) -> None:
    """The real VGG19 network paired with the ResNet50 preset: its layer names do not exist, so every run
    raises inside the engine (a genuine failure, no mock)."""
    vgg = bot_engines.styles[Backbone.VGG19]
    broken = StyleTransfer(vgg.extractor, RESNET50_PRESET)
    engines = Engines({Backbone.VGG19: broken}, bot_engines.instant, universal=bot_engines.universal)
    scenario.failing_job(start_bot(VggBot, engines=engines), caplog)


def test_settings_are_per_user_and_apply_to_the_next_job(start_bot) -> None:
    bot = start_bot(VggBot)
    user, other = bot.user(601), bot.user(602)
    menu = user.gets("Your settings", user.says("/settings"))
    assert "Network" not in menu["text"]  # a one-network bot has nothing to choose
    assert ("✓ 64 px", "set:size:64") in bot.api.inline_buttons(menu)
    since = user.presses(menu, "set:size:96")
    assert "Size: 96 px" in user.gets("Size: 96 px", since)["text"]
    since = user.presses(menu, "set:colors:photo")
    updated = user.gets("from your photo", since)
    assert ("✓ 96 px", "set:size:96") in bot.api.inline_buttons(updated)
    user.presses(updated, "set:strength:strong")
    user.gets("strength: strong")

    result = user.paints()
    assert max(Image.open(io.BytesIO(bot.api.media_bytes(result))).size) == 96
    assert "Size: 64 px" in other.gets("Your settings", other.says("/settings"))["text"]
    assert "Size: 96 px" in user.gets("Your settings", user.says("/settings"))["text"]  # kept after the job


def test_full_queue_is_refused_politely(start_bot) -> None:
    bot = start_bot(VggBot, steps=LONG_JOB, queue_limit=0)
    first, second = bot.user(701), bot.user(702)
    first.gets("🎨 Painting with", first.picks_style(first.starts_with_photo()))
    refusal = second.gets("😓 I'm very busy: a new picture would wait about",
                          second.picks_style(second.starts_with_photo()))
    assert "Please try again in 1 min." in refusal["text"]  # the count guard: once the painting ahead has started
    first.gets(texts.CANCELLING_RUNNING, first.says("/cancel"))
    first.gets(texts.CANCELLED, timeout=30)


def test_a_restart_resumes_the_running_and_the_waiting_job(start_bot, fake_api) -> None:
    """Stopping the bot (a deploy: Ctrl-C, SIGTERM) loses nothing: started again on the same data folder, it
    paints the interrupted job from the start (its user told in one message) and the one waiting behind
    it, without anyone sending anything again; the job files of the interrupted run are gone."""
    bot = start_bot(VggBot, steps=LONG_JOB)
    first, second = bot.user(801), bot.user(802)
    first.gets("🎨 Painting with", first.picks_style(first.starts_with_photo()))
    second.gets("You're #1 in the queue", second.picks_style(second.starts_with_photo(photo_bytes(seed=4))))
    since = fake_api.mark()
    leftover = bot.temp_dir / "job-999"  # what a worker killed mid-job leaves
    leftover.mkdir()
    (leftover / "content").write_bytes(b"a photo")
    bot = start_bot.restart(bot)
    assert not leftover.exists(), "swept on start"
    assert stat.S_IMODE(bot.temp_dir.stat().st_mode) == 0o700, "the jobs' folder is private"
    first, second = bot.user(801), bot.user(802)
    first.gets(texts.RESUMED, since, timeout=10)
    bot.bot.runner.cancel(first.chat_id)  # a long job: stop it, so the one behind it runs
    first.gets(texts.CANCELLED, since, timeout=30)
    second.gets_photo(since)
    second.waits_for_job_end()
    assert texts.RESUMED not in second.texts(), "a job that was only waiting was not interrupted"
    user_messages = [m for m in fake_api.messages(801, include_user=True) + fake_api.messages(802, include_user=True)
                     if m["from"]["id"] in (801, 802)]
    assert len(user_messages) == 2, "nobody sent anything after the restart"
    assert bot.job_files() == []
