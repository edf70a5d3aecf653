"""Conversations every bot must hold, written once and run by test_bots_vgg/resnet/full.py with each bot.

Each scenario takes a running bot (`BotUnderTest`) and the key of the backbone to paint with, and checks
what a user sees: the messages, their buttons, the result picture, and that jobs leave no files behind.
"""
from __future__ import annotations

import io
import logging
import time

import pytest
from PIL import Image

from bot_harness import BotUnderTest, User, photo_bytes, wait_until
from bots.common import texts
from test_images import write_png_bomb

MB = 1024 * 1024


def _long_side(api_message: dict, user: User) -> int:
    return max(Image.open(io.BytesIO(user.api.media_bytes(api_message))).size)


def main_flow_with_builtin_style(bot: BotUnderTest, backbone: str) -> dict:
    """/start, photo, built-in style: its quick version with the buttons to paint it fully; then the full
    painting (with `backbone`): a status message with a bar, then the result photo."""
    user = bot.user(101)
    assert "repaint your photo" in user.gets("", user.says("/start"))["text"]
    prompt = user.starts_with_photo()
    gatys_gallery = [data for _, data in user.api.inline_buttons(prompt) if data.startswith("style:")]
    assert gatys_gallery == ["style:mosaic", "style:swirls", "style:waves", "style:cubist"]
    mark = user.api.mark()
    since = user.picks_style(prompt, "mosaic", backbone)
    assert user.gets(texts.STYLE_CHOSEN.format(title="🪟 Mosaic"), mark)["message_id"] == prompt["message_id"]
    quick = user.gets_quick(mark)
    assert _long_side(quick, user) == 64 and "Paint it fully for the finest result" in quick["caption"]
    buttons = [text for text, _ in user.api.inline_buttons(quick)]
    paint = [texts.PAINT_FULLY] if len(bot.bot.backbones) == 1 else \
        [texts.paint_with(b.label) for b in bot.bot.backbones] + [texts.COMPARE_BOTH]
    assert buttons == paint + ([texts.UPSCALE] if bot.bot.upscaling else []) + [texts.FULL_QUALITY, texts.NEW_STYLE]
    result = user.gets_photo(since)
    label = {"vgg19": "VGG19", "resnet50": "ResNet50"}[backbone]
    assert result["caption"].startswith(f"{label} — ") and result["caption"].endswith(" s")
    assert _long_side(result, user) == 64  # the bot's size setting, not the photo's 120 px
    assert user.api.inline_buttons(result)[0][0] == texts.NEW_STYLE

    user.waits_for_job_end()
    assert len(user.status_messages()) == 2, "one status message per job (quick, full), edited in place"
    done = user.status_messages()[-1]  # the full painting's
    assert done["text"].startswith("✅ Done in")
    edits = [text for _, text in user.status_edits(done["message_id"])]
    assert any(text.startswith(f"🎨 Painting with {label}…\n") and "▓" in text and text.endswith("%")
               for text in edits), edits
    assert bot.job_files() == [], "the job's temporary files are deleted"
    return result


def own_style_sent_as_files(bot: BotUnderTest, backbone: str) -> None:
    """Content as a PNG file (full resolution), style as the user's own photo, then "new style" on the result."""
    user = bot.user(102)
    content = photo_bytes((200, 150), seed=1, fmt="PNG")
    prompt = user.gets(texts.ASK_STYLE, user.sends_file(content, "holiday.png", "image/png"))
    document_id = user.api.messages(user.chat_id, include_user=True)[-2]["document"]["file_id"]
    assert any(c.method == "getFile" and c.params["file_id"] == document_id for c in user.api.calls)
    assert user.api.inline_buttons(prompt)  # built-in styles offered
    since = user.sends_photo(photo_bytes((90, 90), seed=2))
    result = user.gets_photo(user.paints_fully(user.gets_quick(since), backbone))
    assert _long_side(result, user) == 64

    again = user.gets(texts.ASK_STYLE_AGAIN, user.taps(result, texts.NEW_STYLE))
    second = user.gets_photo(user.picks_style(again, "waves", backbone))
    assert second["message_id"] > result["message_id"]
    user.waits_for_job_end()
    assert bot.job_files() == []


def cancel_queued_and_running_while_help_answers(bot: BotUnderTest, backbone: str) -> None:
    """A long job runs; /help is answered at once; a second user is queued, told so, and cancels; then the
    first user cancels the running job. Needs a bot whose jobs never end on their own (huge step count)."""
    first, second, bystander = bot.user(201), bot.user(202), bot.user(203)
    since = first.picks_style(first.starts_with_photo(), backbone=backbone)
    running = first.gets("🎨 Painting with", since)

    for user in (first, bystander):
        asked_at = time.monotonic()
        reply = user.gets("I repaint your photo", user.says("/help"), timeout=3)
        answered = next(c for c in user.api.calls if c.method == "sendMessage" and c.chat_id == user.chat_id
                        and c.time >= asked_at and c.params["text"] == reply["text"])
        assert answered.time - asked_at < 2.0, "/help waited for the running job"

    since = second.picks_style(second.starts_with_photo(photo_bytes(seed=5)), backbone=backbone)
    queued = second.gets("You're #1 in the queue", since)
    busy = second.says("/start")
    second.gets("I repaint your photo", busy)
    again = second.sends_photo()
    assert "You already have a job waiting at #1" in second.gets("already have a job", again)["text"]

    second.gets(texts.CANCELLED_QUEUED, second.says("/cancel"))
    assert second.gets(texts.CANCELLED)["message_id"] == queued["message_id"]

    def progress() -> list[tuple[float, str]]:
        return [(t, text) for t, text in first.status_edits(running["message_id"]) if "%" in text]

    wait_until(lambda: len(progress()) >= 3, timeout=30)  # the bar moves while the job runs
    first.gets(texts.CANCELLING_RUNNING, first.says("/cancel"))
    stopped = first.gets(texts.CANCELLED, timeout=30)
    assert stopped["message_id"] == running["message_id"]
    gaps = [b[0] - a[0] for a, b in zip(progress(), progress()[1:])]
    assert min(gaps) >= bot.bot.config.progress_interval * 0.9, gaps
    first.waits_for_job_end()
    assert bot.job_files() == []
    assert not [m for u in (first, second) for m in u.api.messages(u.chat_id)
                if m.get("photo") and not m["caption"].startswith("⚡ Quick version")], "only quick versions"


def two_users_at_once(bot: BotUnderTest, backbone: str) -> None:
    """Two users ask one right after the other: the second is told its place, then both get their picture."""
    first, second = bot.user(301), bot.user(302)
    first_prompt, second_prompt = first.starts_with_photo(), second.starts_with_photo(photo_bytes(seed=3))
    first_quick = first.gets_quick(first.presses(first_prompt, "style:mosaic"))
    second_quick = second.gets_quick(second.presses(second_prompt, "style:mosaic"))
    first_asked = first.paints_fully(first_quick, backbone)
    first.gets("🎨 Painting with", first_asked)  # the first job runs (for seconds: the bot has many steps)
    second_asked = second.paints_fully(second_quick, backbone)
    queued = second.gets("You're #1 in the queue", second_asked)
    first.gets_photo(first_asked)
    second.gets_photo(second_asked)
    edits = [text for _, text in second.status_edits(queued["message_id"])]
    assert edits[0].startswith("⏳ You're #1") and any(text.startswith("🎨") for text in edits[1:])
    first.waits_for_job_end()
    second.waits_for_job_end()
    assert bot.job_files() == []


def wrong_input_at_every_step(bot: BotUnderTest) -> None:
    """Text, commands, stickers, videos, non-image files, files over 20 MB and pictures the engine refuses
    each get a short hint for the step the user is at; nothing is silently ignored."""
    user = bot.user(401)

    def hint(send: int, expected: str) -> None:
        reply = user.gets(expected, send)
        assert reply["reply_to_message"]["chat"]["id"] == user.chat_id

    content_hint = texts.hint(texts.Step.CONTENT)
    hint(user.says("hello"), content_hint)
    hint(user.says("/paint"), "I don't know that command. " + content_hint)
    since = user.api.mark()
    user.api.send_sticker(user.chat_id)
    hint(since, "Stickers can't be repainted. " + content_hint)
    since = user.api.mark()
    user.api.send_clip(user.chat_id, b"\x00\x00\x00\x18ftypmp42")
    hint(since, "I can't use this clip: it isn't a video I can read")
    hint(user.sends_file(b"%PDF-1.4 ...", "menu.pdf", "application/pdf"), "isn't a picture I can read")
    hint(user.sends_file(b"\xff\xd8" + b"0" * 100, "big.jpg", "image/jpeg", size=25 * MB),
         "I can only download files up to 20 MB")
    hint(user.sends_file(b"this is not a jpeg", "broken.jpg", "image/jpeg"),
         "I can't use this picture: it isn't a picture I can read")
    hint(user.sends_photo(photo_bytes((20, 20))), "I can't use this picture: it is too small (20×20)")
    bomb = write_png_bomb(bot.temp_dir.parent / "bomb.png").read_bytes()  # 20000x20000 in 400 KB
    hint(user.sends_file(bomb, "bomb.png", "image/png"),
         "I can't use this picture: it is too large; the most I take is 64 megapixels")

    prompt = user.starts_with_photo()
    style_hint = texts.hint(texts.Step.STYLE)
    hint(user.says("van gogh please"), style_hint)
    since = user.api.mark()
    user.api.send_sticker(user.chat_id)
    hint(since, "Stickers can't be repainted. " + style_hint)
    hint(user.sends_photo(photo_bytes((20, 20))), "it is too small")
    assert "waiting for the style" in user.gets("I repaint", user.says("/help"))["text"]

    user.gets(texts.CANCELLED_DRAFT, user.says("/cancel"))
    stale = user.presses(prompt, "style:mosaic")
    answer = user.api.wait_for(lambda c: c.method == "answerCallbackQuery", since=stale)
    assert answer.params["text"] == texts.EXPIRED_BUTTON
    user.gets(texts.NOTHING_TO_CANCEL, user.says("/cancel"))
    assert not any(c.method in ("sendPhoto", "sendMediaGroup") for c in user.api.calls)


def failing_job(bot: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    """A job whose engine raises: the user is told in plain words, the traceback is logged, the job's
    files are deleted and the bot goes on serving."""
    user = bot.user(501)
    with caplog.at_level(logging.ERROR, logger="bots"):
        since = user.picks_style(user.starts_with_photo())
        user.gets(texts.JOB_FAILED, since, timeout=30)
        assert user.gets(texts.NOT_FINISHED, since)["text"] == texts.NOT_FINISHED
    failures = [r for r in caplog.records if r.name == "bots.jobs.tasks" and r.exc_info]
    assert failures and "has no layer" in str(failures[0].exc_info[1])
    user.waits_for_job_end()
    assert bot.job_files() == []
    user.gets("I repaint your photo", user.says("/help"))
    user.starts_with_photo()

