"""Lanes admit by expected wait, in whole conversations: real telebot client, fake Bot API server, real
engines at 64 px (see conftest), and the bot's own journal for calibration.

A lane takes a new job while the wait it can expect is under its limit (`bots.jobs.waits`): a burst of sixty
instant jobs (seconds of work) is taken and served, while long paintings are refused, with when to come
back, once the line ahead of a new one would take longer than the transfer lane's limit. The estimates
of the paintings come from the journal: it is seeded, before the bot starts, with paintings that "ran"
a known time, so every wait the users are told is known in advance.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from bot_harness import TOKEN, User, photo_bytes, wait_until
from bots import BotConfig, VggBot
from bots.common import texts
from bots.common.lanes import PRIOR_KEY
from bots.common.settings import UserSettings
from bots.jobs.waits import prior_seconds, retry_after
from bots.store import JobStatus
from bots.store.sqlite import SqliteStore
from fake_bot_api import FakeBotApi

pytestmark = pytest.mark.usefixtures("one_compute_thread")
DEFAULTS = BotConfig(token=TOKEN)  # the settings a bot has when nobody sets anything
LONG_JOB = 100_000  # Gatys steps: a painting that runs until it is cancelled
SIZE = 64  # px: the bots' size here (bot_harness.bot_config)
BURST = 60
ADMIN = 3901


def seconds_of(said: str) -> float:
    """A wait as `texts.duration` says it, back in seconds: "45 s", "3 min", "1 h", "1 h 15 min"."""
    if m := re.fullmatch(r"(\d+) s", said):
        return float(m[1])
    if m := re.fullmatch(r"(\d+) min", said):
        return 60.0 * int(m[1])
    if m := re.fullmatch(r"(\d+) h(?: (\d+) min)?", said):
        return 3600.0 * int(m[1]) + 60.0 * int(m[2] or 0)
    raise AssertionError(f"not a wait: {said!r}")


def place_and_wait(text: str) -> tuple[int, float | None]:
    """A queue place and its wait in seconds (None: "as soon as a painter is free", a wait under a second)."""
    if m := re.fullmatch(r"⏳ You're #(\d+) in the queue\. I'll start as soon as a painter is free\.", text):
        return int(m[1]), None
    m = re.fullmatch(r"⏳ You're #(\d+) in the queue, about (.+) to wait\.", text)
    assert m, f"not a queue place: {text!r}"
    return int(m[1]), seconds_of(m[2])


def refusal(text: str) -> tuple[float, float]:
    m = re.fullmatch(r"😓 I'm very busy: a new picture would wait about (.+)\. Please try again in (.+)\.", text)
    assert m, f"not a refusal by wait: {text!r}"
    return seconds_of(m[1]), seconds_of(m[2])


def answered(api: FakeBotApi, chat: int) -> bool:
    """Whether the chat got a picture, or was told it will not come."""
    return any(m.get("photo") or "very busy" in (m.get("text") or "") or m.get("text") == texts.HANDLER_FAILED
               for m in api.messages(chat))


def refused(api: FakeBotApi, chats: list[int]) -> list[int]:
    return [chat for chat in chats if any("very busy" in (m.get("text") or "") for m in api.messages(chat))]


def told_places(api: FakeBotApi, since: int) -> list[tuple[int, float | None]]:
    """Every queue place (and wait) the bot told anyone since `since`."""
    return [place_and_wait(c.params["text"]) for c in api.calls[since:]
            if c.method == "editMessageText" and c.ok and "in the queue" in c.params["text"]]


# ---- a burst of instant jobs ----------------------------------------------------------------------------------
def test_a_burst_of_sixty_instant_jobs_on_one_worker_is_taken_and_served(start_bot) -> None:
    """Sixty users pick an instant style at the same moment (one getUpdates batch), on a bot with the default
    limits and one instant slot: everyone is queued and gets exactly one picture, nobody is told the bot is
    busy. (The count limit before, 20 waiting jobs, refused about forty of them.)"""
    bot = start_bot(VggBot, queue_limit=DEFAULTS.queue_limit)
    config = bot.bot.config
    assert (config.queue_limit, config.instant_wait_limit) == (DEFAULTS.queue_limit, DEFAULTS.instant_wait_limit)
    users = [bot.user(4000 + n) for n in range(BURST)]
    marks = [user.sends_photo(photo_bytes(seed=n % 5)) for n, user in enumerate(users)]
    prompts = [user.gets(texts.ASK_STYLE, mark, timeout=60) for user, mark in zip(users, marks)]

    since, asked = bot.api.mark(), time.monotonic()
    with bot.api.together():
        for user, prompt in zip(users, prompts):
            user.presses(prompt, "instant:wave")
    wait_until(lambda: all(answered(bot.api, user.chat_id) for user in users), timeout=90)
    served = time.monotonic() - asked
    turned_away = refused(bot.api, [user.chat_id for user in users])
    assert not turned_away, f"{len(turned_away)} of {BURST} users were told the bot is busy"
    for user in users:
        user.waits_for_job_end()
        photos = [m for m in bot.api.messages(user.chat_id) if m.get("photo")]
        assert len(photos) == 1, f"user {user.chat_id} got {len(photos)} pictures:\n{user.texts()}"
        assert photos[0]["caption"].startswith("⚡ Wave — ")
        assert user.status_messages()[-1]["text"].startswith("✅ Done in")
    places = [place for place, _ in told_places(bot.api, since)]
    assert max(places) > 20, f"the burst was queued at once (places up to {max(places)})"
    journal = bot.bot.store.journal
    per_job = sorted(seconds for kind, seconds, _ in journal.delivered_since(0.0, 10 * BURST) if kind == "instant")
    assert len(per_job) == BURST
    print(f"\n{BURST} instant jobs at {SIZE} px served in {served:.1f} s; per job p50 {per_job[BURST // 2]:.2f} s,"
          f" max {per_job[-1]:.2f} s; places told up to #{max(places)}")
    assert bot.job_files() == []


# ---- long paintings: places, waits, refusals -------------------------------------------------------------------
def _prior(kind: str, backbones: tuple[str, ...] = ()) -> float:
    """The prior a job of the bots here gets (`bots.jobs.waits.stamp`: at SIZE px, rounded to the ms)."""
    request = {"kind": "paint", "backbones": list(backbones), "settings": {"size": SIZE}}
    return round(prior_seconds(kind, request, SIZE), 3)


PAINT_PRIOR, QUICK_PRIOR = _prior("paint", ("vgg19",)), _prior("quick")


def seed_journal(data_dir: Path, paint_seconds: float) -> None:
    """Before the bot starts: its journal holds paintings at SIZE px that each ran `paint_seconds`, and quick
    versions that ran their prior, delivered in the last hour; so a painting's estimate is `paint_seconds`
    (the median ratio real / prior, `bots.jobs.waits.Calibration`) and a quick version's its prior."""
    clock = [time.time() - 3600]
    with SqliteStore.open(data_dir, UserSettings(size=SIZE), clock=lambda: clock[0]) as store:
        for lane, kind, prior, seconds in [("transfer", "paint", PAINT_PRIOR, paint_seconds)] * 3 \
                + [("instant", "quick", QUICK_PRIOR, QUICK_PRIOR)] * 3:
            record = store.journal.add(1, 1, lane, kind, {PRIOR_KEY: prior})
            store.journal.start(record.id)
            clock[0] += seconds
            assert store.journal.finish(record.id, JobStatus.DELIVERED)
            clock[0] += 1.0


def asks_to_paint(user: User) -> int:
    """Photo, a gallery painting, its quick version, then "paint it fully": the mark before that tap."""
    return user.picks_style(user.starts_with_photo(photo_bytes(seed=user.chat_id % 7)))


def test_paintings_beyond_the_long_lanes_limit_are_refused_with_when_to_come_back(start_bot,
                                                                                 tmp_path: Path) -> None:
    """Paintings of 10 min each, a limit of 25 min: one paints, two wait (10 and 20 min), and the next ones
    would wait 30 min: they are refused, told to come back in 5 min (when the wait will be under the limit),
    and keep no job; the ones taken are untouched."""
    estimate, limit = 600.0, 1500.0
    seed_journal(tmp_path / "data", estimate)
    bot = start_bot(VggBot, steps=LONG_JOB, workers=1, transfer_wait_limit=limit)
    painter, second, third, fourth, fifth = (bot.user(3100 + n) for n in range(5))
    painter.gets("🎨 Painting with", asks_to_paint(painter))
    started = time.monotonic()
    for user, place in ((second, 1), (third, 2)):
        status = user.gets("in the queue, about", asks_to_paint(user))
        assert place_and_wait(status["text"])[0] == place

    for user in (fourth, fifth):
        text = user.gets("very busy", asks_to_paint(user))["text"]
        wait, retry = refusal(text)
        assert wait >= limit and retry == seconds_of(texts.duration(max(60.0, wait - limit))) == 300.0, text
        elapsed = time.monotonic() - started + 1.0
        possible = {texts.queue_full(w, retry_after(w, limit)) for w in range(int(3 * estimate - elapsed) - 1,
                                                                              int(3 * estimate) + 1)}
        assert text in possible, f"{text!r}: not the wait of three paintings of {estimate:.0f} s"
        assert bot.bot.runner.active(user.chat_id) is None, "a refused user has no job"
        assert not any(m["text"].startswith("⏳ You're") for m in user.status_messages())
    assert bot.bot.runner.stats().lanes["transfer"] == (2, 1)

    for user in (third, second, painter):  # the waiting ones first: nothing moves up into a slot meanwhile
        user.says("/cancel")
        user.gets(texts.CANCELLED, timeout=30)
        user.waits_for_job_end()
    assert bot.job_files() == []


def test_each_waiting_user_is_told_their_place_and_wait_and_both_move_up(start_bot, tmp_path: Path) -> None:
    """Paintings of 5 min each behind a running one: the users waiting are told #1, #2, #3 and about 5, 10,
    15 min; an admin's /stats says what a new painting would wait; when the painting ahead is cancelled,
    everyone's message moves up a place and 5 min."""
    estimate = 300.0
    seed_journal(tmp_path / "data", estimate)
    bot = start_bot(VggBot, steps=LONG_JOB, workers=1, admins=frozenset({ADMIN}))
    painter, *waiting = (bot.user(3200 + n) for n in range(4))
    painter.gets("🎨 Painting with", asks_to_paint(painter))
    started = time.monotonic()
    statuses = [user.gets("in the queue, about", asks_to_paint(user)) for user in waiting]
    told = [place_and_wait(status["text"]) for status in statuses]
    elapsed = time.monotonic() - started + 1.0  # the painting started a little before its message came
    assert [place for place, _ in told] == [1, 2, 3]
    for place, wait in told:  # minutes, rounded: up to 30 s either way, less the painting's time so far
        assert place * estimate - elapsed - 30 <= wait <= place * estimate + 30, told
    assert [wait for _, wait in told] == sorted({wait for _, wait in told}), "each one longer than the last"

    admin = bot.user(ADMIN)
    stats = admin.gets("📊 Up", admin.says("/stats"))["text"]
    line = next((line for line in stats.splitlines() if line.startswith("Expected wait: ")), None)
    assert line is not None, stats
    m = re.fullmatch(r"Expected wait: transfer (.+), instant (.+)", line)
    assert m and m[2] == "0 s", line
    elapsed = time.monotonic() - started + 1.0
    assert 4 * estimate - elapsed - 30 <= seconds_of(m[1]) <= 4 * estimate + 30, line
    assert "transfer 3 / 1" in stats and "instant 0 / 0" in stats, stats

    since = painter.says("/cancel")
    painter.gets(texts.CANCELLED, since, timeout=30)
    first, second, third = waiting
    first.gets("🎨 Painting with", since, timeout=30)
    for user, status, place in ((second, statuses[1], 1), (third, statuses[2], 2)):
        moved = user.gets(f"⏳ You're #{place} in the queue", since, timeout=10)
        assert moved["message_id"] == status["message_id"], "the same message, edited"
        assert place * estimate - 30 <= place_and_wait(moved["text"])[1] <= place * estimate + 30, moved["text"]

    since = second.says("/cancel")  # the next in line leaves: the one behind takes its place and wait
    second.gets(texts.CANCELLED, since, timeout=10)
    moved = third.gets("⏳ You're #1 in the queue", since, timeout=10)
    assert moved["message_id"] == statuses[2]["message_id"]
    assert estimate - 30 <= place_and_wait(moved["text"])[1] <= estimate + 30, moved["text"]
    edits = [text for _, text in third.status_edits(statuses[2]["message_id"])]
    assert [place_and_wait(text)[0] for text in edits if "in the queue" in text] == [3, 2, 1], edits

    for user in (third, first):
        user.says("/cancel")
        user.gets(texts.CANCELLED, timeout=30)
        user.waits_for_job_end()
    assert bot.job_files() == []


# ---- the distributed mode -----------------------------------------------------------------------------------
@pytest.fixture
def cluster(fake_api, redis_server, real_weights_dir: Path, tmp_path: Path):
    """A chat process and Celery workers over the session's redis-server (see test_distributed.py): 96 px,
    and a transfer lane that refuses any painting that would wait at all."""
    import redis

    from bench.cluster import Cluster

    redis.Redis.from_url(redis_server.url).flushall()
    fake_api.token = TOKEN
    running = Cluster(fake_api, TOKEN, redis_server.url, real_weights_dir, tmp_path, STYLEBOT_SIZES="96",
                      STYLEBOT_SIZE="96", STYLEBOT_COMPUTE_THREADS="1", STYLEBOT_PROGRESS_INTERVAL="0.5",
                      STYLEBOT_TRANSFER_WAIT_LIMIT="0")
    yield running
    running.stop()


def test_distributed_a_burst_of_instant_jobs_is_served_and_a_painting_that_would_wait_is_refused(cluster, fake_api):
    """Celery mode, one instant worker and no painter: a burst of sixty instant jobs is taken and served, each
    user told their place and wait while they wait; a painting is queued (it would start at once, were a
    painter there), and the next one, which would wait behind it, is refused, told to come back in a minute."""
    from bench.cluster import wait_until as cluster_wait
    from bench.soak import ask_for_painting

    cluster.worker("quick", "instant")
    cluster.start_chat()
    users = list(range(5000, 5000 + BURST))
    marks = {}
    for user in users:
        marks[user] = fake_api.mark()
        fake_api.send_photo(user, photo_bytes(seed=user % 5))
    prompts = {user: fake_api.wait_for_message(user, texts.ASK_STYLE, since=marks[user], timeout=60)
               for user in users}
    since, asked = fake_api.mark(), time.monotonic()
    with fake_api.together():
        for user in users:
            fake_api.press_button(user, prompts[user]["message_id"], "instant:wave")
    cluster_wait(lambda: all(answered(fake_api, user) for user in users), 90, "every answer", fake_api)
    served = time.monotonic() - asked
    turned_away = refused(fake_api, users)
    assert not turned_away, f"{len(turned_away)} of {BURST} users were told the bot is busy"
    time.sleep(1)
    for user in users:
        photos = [m for m in fake_api.messages(user) if m.get("photo")]
        assert len(photos) == 1 and photos[0]["caption"].startswith("⚡ Wave — "), fake_api.dump(user)
    told = told_places(fake_api, since)
    places = [place for place, _ in told]
    assert max(places) > 20, f"the burst was queued at once (places up to {max(places)})"
    assert all(wait is None or 0 < wait <= DEFAULTS.instant_wait_limit for _, wait in told), told
    print(f"\n{BURST} instant jobs at 96 px served in {served:.1f} s by one Celery worker; places told up to "
          f"#{max(places)}")

    ask_for_painting(fake_api, 5101, photo_bytes(seed=1), "style:waves")  # queued, waits for a painter
    cluster_wait(lambda: cluster.board.waiting("transfer"), 30, "the painting to be queued", fake_api)
    pressed = ask_for_painting(fake_api, 5102, photo_bytes(seed=2), "style:waves")
    wait, retry = refusal(fake_api.wait_for_message(5102, "very busy", since=pressed, timeout=30)["text"])
    assert wait > 0 and retry == 60.0
    assert len(cluster.board.waiting("transfer")) == 1 and cluster.board.user_job(5102) is None
