"""Status messages against the fake Bot API: the bar, throttled edits, and Telegram's refusals survived."""
from __future__ import annotations

import telebot

from bots.botapi.progress import StatusMessage, progress_bar
from fake_bot_api import FakeBotApi

CHAT = 77


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _status(fake_api: FakeBotApi, interval: float = 3.0) -> tuple[StatusMessage, Clock, int]:
    bot = telebot.TeleBot("123:ABC", threaded=False)
    message = bot.send_message(CHAT, "⏳ Starting…")
    clock = Clock()
    return StatusMessage(bot, CHAT, message.message_id, interval, clock), clock, message.message_id


def _edits(fake_api: FakeBotApi) -> list[str]:
    return [c.params["text"] for c in fake_api.calls if c.method == "editMessageText" and c.ok]


def test_progress_bar_text() -> None:
    assert progress_bar(0) == "░░░░░░░░░░ 0%"
    assert progress_bar(0.42) == "▓▓▓▓░░░░░░ 42%"
    assert progress_bar(1) == "▓▓▓▓▓▓▓▓▓▓ 100%"
    assert progress_bar(1.7) == progress_bar(1) and progress_bar(-1) == progress_bar(0)


def test_progress_edits_are_spaced_but_forced_texts_are_not(fake_api: FakeBotApi) -> None:
    status, clock, message_id = _status(fake_api)
    status.progress("🎨 Painting", 0.1)
    clock.now += 1
    status.progress("🎨 Painting", 0.2)  # too soon: skipped
    clock.now += 2.5
    status.progress("🎨 Painting", 0.3)
    status.show("✅ Done in 3.5 s.")  # the outcome always shows
    assert _edits(fake_api) == ["🎨 Painting\n▓░░░░░░░░░ 10%", "🎨 Painting\n▓▓▓░░░░░░░ 30%",
                                "✅ Done in 3.5 s."]
    assert fake_api.messages(CHAT)[0]["text"] == "✅ Done in 3.5 s."


def test_too_many_requests_pushes_the_next_edit_back(fake_api: FakeBotApi) -> None:
    status, clock, _ = _status(fake_api, interval=1.0)
    fake_api.fail_next("editMessageText", 429, "Too Many Requests: retry after 7")
    status.progress("🎨", 0.1)
    clock.now += 5
    status.progress("🎨", 0.2)  # still inside the 7 s Telegram asked for: not even tried
    clock.now += 3
    status.progress("🎨", 0.3)
    tried = [c for c in fake_api.calls if c.method == "editMessageText"]
    assert [c.ok for c in tried] == [False, True] and tried[1].params["text"].endswith("30%")


def test_unchanged_deleted_or_refused_messages_never_raise(fake_api: FakeBotApi) -> None:
    status, clock, message_id = _status(fake_api, interval=0)
    status.show("same")
    status.show("same")  # not sent twice
    fake_api.fail_next("editMessageText", 400, "Bad Request: message is not modified")
    status.show("other")
    fake_api.fail_next("editMessageText", 500, "Internal Server Error")
    status.show("again")
    telebot.TeleBot("123:ABC", threaded=False).delete_message(CHAT, message_id)
    status.show("after delete")
    status.show("after delete, twice")  # the message is gone: no more tries
    assert [c.params["text"] for c in fake_api.calls if c.method == "editMessageText"] == [
        "same", "other", "again", "after delete"]
