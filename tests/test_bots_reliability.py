"""The bot loses nothing: Telegram's faults on delivery, a crashed worker, a killed bot, and the limits.

Everything goes through the real telebot client and the fake Bot API; processes are killed for real
(SIGKILL). Jobs are tiny (64 px, a few steps) so that each test takes seconds.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from bench.soak import ask_for_painting, child_processes
from bot_harness import BotUnderTest, User, photo_bytes, wait_until
from bots import FullBot, VggBot
from bots.common import texts
from bots.common.settings import UserSettings
from bots.store import JobStatus
from bots.store.sqlite import SqliteStore
from fake_bot_api import FakeBotApi

pytestmark = pytest.mark.usefixtures("one_compute_thread")
REPO = Path(__file__).resolve().parents[1]
TOKEN = "4242:SECRET-token-never-logged"
INSTANT_WAIT = 60.0


def _sent(api: FakeBotApi, method: str, chat: int, since: int = 0) -> tuple[int, int]:
    """(attempts, accepted) of `method` calls for `chat` since `since`."""
    calls = [c for c in api.calls[since:] if c.method == method and c.chat_id == chat]
    return len(calls), sum(c.ok for c in calls)


def _photos(api: FakeBotApi, chat: int) -> list[dict]:
    """The results in `chat` (quick versions are not results)."""
    return [m for m in api.messages(chat) if "photo" in m and not m["caption"].startswith("⚡ Quick version")]


# ---- 1. deliveries that survive Telegram -----------------------------------------------------------------
@pytest.mark.parametrize("fault", ["429", "502", "reset", "timeout"])
def test_an_instant_result_is_delivered_once_through_telegram_faults(start_bot, fault: str) -> None:
    """sendPhoto of the finished picture fails (429 with retry_after, an HTML 502 from the front end, a
    reset connection, an answer that never comes): the bot tries again and the picture arrives once."""
    bot = start_bot(VggBot, telegram_timeout=1.0)
    user = bot.user(2001)
    prompt = user.starts_with_photo()
    {"429": lambda: bot.api.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", times=2),
     "502": lambda: bot.api.fail_next("sendPhoto", 502, html=True, times=2),
     "reset": lambda: bot.api.reset_next("sendPhoto", times=2),
     "timeout": lambda: bot.api.stall_next("sendPhoto", 3.0)}[fault]()
    since = user.taps(prompt, "⚡ Wave")
    started = time.monotonic()
    user.gets(texts.done(0)[:6], since, timeout=INSTANT_WAIT)  # "✅ Done", the final status
    user.waits_for_job_end()
    attempts, accepted = _sent(bot.api, "sendPhoto", user.chat_id, since)
    assert (attempts, accepted) == ((2 if fault == "timeout" else 3), 1)
    assert len(_photos(bot.api, user.chat_id)) == 1
    if fault == "429":
        assert time.monotonic() - started >= 2.0, "retry_after was honoured"
    assert bot.bot.store.journal.get(1).status is JobStatus.DELIVERED


def test_an_album_and_an_upscaled_file_survive_429_and_resets(start_bot) -> None:
    """The preview album (sendMediaGroup) meets a 429, the x4 file (sendDocument) a 429 and a reset: each
    arrives once."""
    bot = start_bot(FullBot)
    user = bot.user(2002)
    prompt = user.starts_with_photo()
    bot.api.fail_next("sendMediaGroup", 429, "Too Many Requests: retry after 1")
    since = user.taps(prompt, texts.PREVIEW_ALL)
    album = bot.api.wait_for_media_group(user.chat_id, since=since, count=6, timeout=INSTANT_WAIT)
    user.waits_for_job_end()
    assert _sent(bot.api, "sendMediaGroup", user.chat_id, since) == (2, 1) and len(album) == 6

    result = user.gets_photo(user.taps(user.gets(texts.PREVIEWED), "⚡ Udnie"), timeout=INSTANT_WAIT)
    user.waits_for_job_end()
    bot.api.fail_next("sendDocument", 429, "Too Many Requests: retry after 1")
    bot.api.reset_next("sendDocument")
    since = user.taps(result, texts.UPSCALE)
    bot.api.wait_for_document(user.chat_id, since=since, timeout=60)
    user.waits_for_job_end()
    assert _sent(bot.api, "sendDocument", user.chat_id, since) == (3, 1)
    assert sum("document" in m for m in bot.api.messages(user.chat_id)) == 1


def test_a_delivery_that_never_gets_through_is_reported(start_bot) -> None:
    """When Telegram refuses the result for longer than the patience, the job ends as failed and the user
    is told (the notice itself goes through once the storm is over)."""
    bot = start_bot(VggBot, delivery_patience=2.0)
    user = bot.user(2003)
    prompt = user.starts_with_photo()
    bot.api.fail_next("sendPhoto", 502, "Bad Gateway", times=10)
    since = user.taps(prompt, "⚡ Wave")
    user.gets(texts.JOB_FAILED, since, timeout=INSTANT_WAIT)
    user.waits_for_job_end()
    assert bot.bot.store.journal.get(1).status is JobStatus.FAILED


def test_progress_edits_give_way_under_pressure(start_bot) -> None:
    """Every progress edit answered 429 (retry after 30 s): the jobs neither block nor fail, and the quick
    version (itself refused once with a 502) and the painting are delivered."""
    bot = start_bot(VggBot, sizes=(128,), default_size=128, steps=40, delivery_patience=3.0)
    user = bot.user(2004)
    prompt = user.starts_with_photo(photo_bytes((200, 150)))
    bot.api.fail_next("editMessageText", 429, "Too Many Requests: retry after 30", times=1000)
    bot.api.fail_next("sendPhoto", 502, "Bad Gateway")  # the quick version's first try
    since = user.picks_style(prompt)
    result = user.gets_photo(since, timeout=60)
    assert result["caption"].startswith("VGG19 — ")
    user.waits_for_job_end()
    assert [bot.bot.store.journal.get(n).status for n in (1, 2)] == [JobStatus.DELIVERED] * 2
    assert len(_photos(bot.api, user.chat_id)) == 1


def test_polling_survives_telegram_errors_and_network_loss(start_bot, fake_api) -> None:
    """getUpdates answered with HTML 502s, a 429 and reset connections: the bot keeps polling and answers."""
    bot = start_bot(VggBot)
    fake_api.fail_next("getUpdates", 502, html=True, times=2)
    fake_api.reset_next("getUpdates", times=2)
    fake_api.fail_next("getUpdates", 429, "Too Many Requests: retry after 1")
    user = bot.user(2005)
    assert "I repaint" in user.gets("I repaint", user.says("/help"), timeout=30)["text"]
    assert len([c for c in fake_api.faults if c.method == "getUpdates"]) == 5


# ---- 2. state that survives restarts ---------------------------------------------------------------------
def test_settings_conversation_and_result_buttons_survive_a_restart(start_bot, fake_api) -> None:
    bot = start_bot(FullBot)
    user = bot.user(2101)
    menu = user.gets("Your settings", user.says("/settings"))
    user.gets("Size: 96 px", user.presses(menu, "set:size:96"))
    result = user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
    user.waits_for_job_end()
    since = user.sends_photo(photo_bytes(seed=7))
    prompt = user.gets(texts.ASK_STYLE, since)  # a draft waiting for its style

    bot = start_bot.restart(bot)
    user = bot.user(2101)
    assert "Size: 96 px" in user.gets("Your settings", user.says("/settings"))["text"]
    assert "waiting for the style" in user.gets("I repaint", user.says("/help"))["text"]
    again = user.gets_photo(user.taps(prompt, "⚡ Udnie"), timeout=INSTANT_WAIT)  # the photo sent before
    picture = Image.open(io.BytesIO(fake_api.media_bytes(again)))
    assert max(picture.size) == 96
    user.waits_for_job_end()
    question = user.gets(texts.ASK_STYLE_AGAIN, user.taps(result, texts.NEW_STYLE))  # an old result's button
    assert question["reply_markup"]


def test_expired_result_buttons_say_so(fake_api, bot_engines, tmp_path: Path) -> None:
    """After the retention period, a result's buttons answer that the picture is no longer kept."""
    from bot_harness import bot_config, engines_for

    now = [1_000_000.0]
    config = bot_config(fake_api, tmp_path / "jobs", result_days=7)
    store = SqliteStore.open(config.data_dir, UserSettings(size=64), 7, clock=lambda: now[0])
    running = BotUnderTest(VggBot(config, engines_for(VggBot, bot_engines), store=store), fake_api, bot_engines)
    running.bot.start()
    running._thread.start()
    try:
        user = running.user(2102)
        result = user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
        user.waits_for_job_end()
        now[0] += 8 * 86400
        answer = user.gets("no longer have that picture", user.taps(result, texts.NEW_STYLE))
        assert "7 days" in answer["text"]
    finally:
        running.stop()


# ---- 3. a crashing worker cannot take the bot down ---------------------------------------------------------
def test_a_killed_worker_is_replaced_its_job_retried_once_and_the_bot_goes_on(start_bot, real_weights_dir) -> None:
    """SIGKILL the worker painting a user's picture: the user is told, the job is tried again on a new worker;
    killed again, it is reported as failed. Meanwhile /help is answered and an instant job of another user
    runs; the Gatys job queued behind the crashed one is delivered."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=400)
    victim, patient, quick, asker = bot.user(2201), bot.user(2202), bot.user(2203), bot.user(2204)
    since = victim.picks_style(victim.starts_with_photo())
    victim.gets("🎨 Painting with VGG19", since, timeout=60)
    patient.gets("You're #1 in the queue", patient.picks_style(patient.starts_with_photo(photo_bytes(seed=3))))

    for kill, expected in enumerate((texts.WORKER_RETRYING, texts.WORKER_FAILED)):
        painter = next(w for w in bot.bot.runner.stats().workers if w.name == "transfer-1")
        os.kill(painter.pid, signal.SIGKILL)
        since = victim.gets(expected, since, timeout=30)["message_id"] and bot.api.mark()
        if kill == 0:
            assert "I repaint" in asker.gets("I repaint", asker.says("/help"), timeout=5)["text"]
            instant = quick.gets_photo(quick.taps(quick.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
            assert instant["caption"].startswith("⚡ Wave")
            wait_until(lambda: (w := next(w for w in bot.bot.runner.stats().workers if w.name == "transfer-1"))
                       .alive and w.pid != painter.pid and _painting(victim, since), timeout=90)
    assert [m["text"] for m in victim.status_messages()][-1] == texts.NOT_FINISHED
    patient.gets_photo(timeout=120)
    patient.waits_for_job_end(timeout=60)
    stats = bot.bot.runner.stats()
    assert stats.worker_restarts == 2 and all(w.alive for w in stats.workers)
    assert bot.bot.store.journal.get(2).status is JobStatus.FAILED  # 1 is the victim's quick version
    assert bot.job_files() == []


def test_cancel_and_progress_cross_the_process_boundary(start_bot, real_weights_dir) -> None:
    """The quick version comes from the instant worker process, the full painting's progress from the
    transfer worker, and /cancel in the chat stops it there."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=100_000)
    user = bot.user(2301)
    prompt = user.starts_with_photo()
    quick = user.gets_quick(user.presses(prompt, "style:mosaic"), timeout=60)
    since = user.paints_fully(quick)
    status = user.gets("🎨 Painting with VGG19", since, timeout=60)
    user.gets(texts.CANCELLING_RUNNING, user.says("/cancel"))
    assert user.gets(texts.CANCELLED, since, timeout=30)["message_id"] == status["message_id"]
    user.waits_for_job_end()
    assert [bot.bot.store.journal.get(n).status for n in (1, 2)] == [JobStatus.DELIVERED, JobStatus.CANCELLED]
    assert bot.bot.runner.stats().worker_restarts == 0 and bot.job_files() == []


def _painting(user: User, since: int) -> bool:
    """The user's status shows a painting in progress (edited after `since`)."""
    return any(c.method == "editMessageText" and c.chat_id == user.chat_id and c.ok
               and c.params.get("text", "").startswith("🎨 Painting") for c in user.api.calls[since:])


# ---- the bot process itself killed -------------------------------------------------------------------------
def _environment(fake_api: FakeBotApi, weights: Path, data: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    return {**clean, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"http://127.0.0.1:{fake_api.port}",
            "STYLEBOT_WEIGHTS_DIR": str(weights), "STYLEBOT_DATA_DIR": str(data), "STYLEBOT_SIZES": "64",
            "STYLEBOT_SIZE": "64", "STYLEBOT_COMPUTE_THREADS": "1", "STYLEBOT_PROGRESS_INTERVAL": "0.5", **extra}


def _start(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "run_vgg.py")], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has ended
    except OSError:
        return True


def test_bot_killed_mid_job_delivers_after_restart(tmp_path: Path, real_weights_dir: Path,
                                                   fake_api: FakeBotApi) -> None:
    """SIGKILL the bot process while it paints (its workers end with it: no orphan), start it again on the
    same data folder: the picture arrives without any new message from the user, and so does the job
    that was waiting behind it. With 2000 MB for the whole bot, the workers size their jobs to fit."""
    fake_api.token = TOKEN
    env = _environment(fake_api, real_weights_dir, tmp_path / "data", STYLEBOT_STEPS="300",
                       STYLEBOT_MEMORY_LIMIT="2000")  # a small host: the workers pick small strips and tiles
    bot = _start(env, tmp_path)
    try:
        ask_for_painting(fake_api, 5, photo_bytes(), "style:waves")
        fake_api.wait_for_message(5, "🎨 Painting with VGG19", timeout=60)
        ask_for_painting(fake_api, 6, photo_bytes(seed=2))
        fake_api.wait_for_message(6, "You're #1 in the queue")
        workers = child_processes(bot.pid)
        assert len(workers) == 2, "a worker per lane"
        for pid in workers:  # OpenMP threads that do not spin against the other worker
            assert b"GOMP_SPINCOUNT=1000\0" in Path(f"/proc/{pid}/environ").read_bytes()
        bot.kill()
        bot.communicate(timeout=10)
        wait_until(lambda: all(_gone(pid) for pid in workers), timeout=5)
    finally:
        bot.kill()
    since = fake_api.mark()  # from here on, the users send nothing
    bot = _start(env, tmp_path)
    try:
        fake_api.wait_for_message(5, texts.RESUMED, since=since, timeout=90)
        first = fake_api.wait_for_photo(5, since=since, timeout=120)
        second = fake_api.wait_for_photo(6, since=since, timeout=120)
        assert first["caption"].startswith("VGG19") and second["caption"].startswith("VGG19")
        fake_api.wait_for_message(6, "✅ Done", since=since, timeout=30)
        bot.send_signal(signal.SIGTERM)
        _, stderr = bot.communicate(timeout=60)
    finally:
        bot.kill()
    assert bot.returncode == 0, stderr
    assert len(_photos(fake_api, 5)) == 1 and len(_photos(fake_api, 6)) == 1
    assert texts.RESUMED not in [m.get("text") for m in fake_api.messages(6)]
    assert "Traceback" not in stderr and TOKEN not in stderr
    assert "lane transfer on cpu (strips of 8192 pixels, tiles of 64 px)" in stderr


# ---- 4. limits and operators ----------------------------------------------------------------------------
def test_rate_limit_says_when_to_come_back(start_bot) -> None:
    bot = start_bot(VggBot, jobs_per_hour=2)
    user = bot.user(2401)
    for _ in range(2):
        user.gets_photo(user.taps(user.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
        user.waits_for_job_end()
    refused = user.gets("the most I paint for one person", user.taps(user.starts_with_photo(), "⚡ Wave"))
    assert "try again in 60 min" in refused["text"]
    other = bot.user(2402)
    other.gets_photo(other.taps(other.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)


def test_stats_for_admins_only(start_bot) -> None:
    bot = start_bot(VggBot, admins=frozenset({2501}))
    admin, someone = bot.user(2501), bot.user(2502)
    someone.gets_photo(someone.taps(someone.starts_with_photo(), "⚡ Wave"), timeout=INSTANT_WAIT)
    someone.waits_for_job_end()
    stats = admin.gets("📊 Up", admin.says("/stats"))["text"]
    assert "transfer 0 / 0" in stats and "instant 0 / 0" in stats and "1 delivered" in stats
    assert "instant: p50" in stats and "Memory: chat" in stats and "Worker restarts: 0" in stats
    answer = someone.gets("I don't know that command", someone.says("/stats"))
    assert "📊" not in answer["text"]


def test_an_unusable_data_folder_is_one_clean_error_line(tmp_path: Path, real_weights_dir: Path,
                                                          fake_api: FakeBotApi) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = _environment(fake_api, real_weights_dir, blocker / "data")
    done = subprocess.run([sys.executable, str(REPO / "run_vgg.py")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert str(blocker) in done.stderr and "Traceback" not in done.stderr


def test_a_corrupt_database_is_one_clean_error_line(tmp_path: Path, real_weights_dir: Path,
                                                     fake_api: FakeBotApi) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "stylebot.sqlite3").write_bytes(os.urandom(4096))
    done = subprocess.run([sys.executable, str(REPO / "run_vgg.py")], cwd=tmp_path,
                          env=_environment(fake_api, real_weights_dir, data), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_refused_token_is_one_clean_error_line(tmp_path: Path, real_weights_dir: Path,
                                                  fake_api: FakeBotApi) -> None:
    fake_api.token = "1:ANOTHER-token"
    done = subprocess.run([sys.executable, str(REPO / "run_vgg.py")], cwd=tmp_path,
                          env=_environment(fake_api, real_weights_dir, tmp_path / "data"), capture_output=True,
                          text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "401" in errors[0]
    assert errors[0].startswith("error: Telegram refused the bot token") and done.stderr.endswith(errors[0] + "\n")
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr


def test_a_lasting_409_conflict_ends_polling_with_an_exit_code(start_bot, fake_api, caplog) -> None:
    """Another process polling with the same token: one clear log line, and if it lasts, the bot stops
    polling instead of looping (run_*.py then exits with code 3)."""
    bot = start_bot(VggBot)
    bot.bot.guard.patience = 1.0
    fake_api.fail_next("getUpdates", 409, "Conflict: terminated by other getUpdates request; make sure that only "
                       "one bot instance is running", times=1000)
    wait_until(lambda: not bot._thread.is_alive(), timeout=20)
    assert bot.bot.exit_code == 3
    conflicts = [r for r in caplog.records if "409 Conflict" in r.getMessage()]
    assert len(conflicts) == 1
