"""A hung worker never strands its user (embedded mode): the painting worker is frozen for real (SIGSTOP: what
a deadlock, a stuck disk or a host swapping to death look like from outside), and the supervisor notices
its silence, kills it (SIGKILL, reaped: no process left behind), tells the user and tries again; a job past
its deadline is handled the same way, one that keeps beating is left alone; /cancel of a frozen worker ends
in seconds. Jobs are tiny (64 px) so that each test takes seconds plus the workers' start.
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot_harness import BotUnderTest, User, photo_bytes, reaped, wait_until
from bots import VggBot
from bots.common import texts
from bots.common.lanes import CANCEL_GRACE
from bots.store import JobRecord, JobStatus
from test_bots_health import metric

pytestmark = pytest.mark.usefixtures("one_compute_thread")
STALL = 4.0  # seconds of silence before the supervisor kills a worker, in these tests


def _painter(bot: BotUnderTest) -> int:
    """The pid of the worker of the painting lane, once it is alive."""
    wait_until(lambda: next(w for w in bot.bot.runner.stats().workers if w.name == "transfer-1").alive, timeout=90)
    return next(w.pid for w in bot.bot.runner.stats().workers if w.name == "transfer-1")


def _painting_since(user: User, since: int) -> bool:
    return any(c.method == "editMessageText" and c.chat_id == user.chat_id and c.ok
               and c.params.get("text", "").startswith("🎨 Painting") for c in user.api.calls[since:])


def _painting_job(bot: BotUnderTest, user: User) -> JobRecord:
    """The user's full painting in the journal (job ids interleave between users)."""
    journal = bot.bot.store.journal
    return next(r for n in range(1, 10) if (r := journal.get(n)) and r.user_id == user.user_id and r.kind == "paint")


def _results(bot: BotUnderTest, user: User) -> list[dict]:
    """The full paintings sent to `user` (not the quick version)."""
    return [m for m in bot.api.messages(user.chat_id) if "photo" in m and "VGG19" in m.get("caption", "")]


def _freeze_while_painting(bot: BotUnderTest, user: User, since: int) -> tuple[int, float]:
    """SIGSTOP the painting worker once `user`'s painting progresses (after `since`); its pid and when."""
    wait_until(lambda: _painting_since(user, since), timeout=90)
    pid = _painter(bot)
    os.kill(pid, signal.SIGSTOP)
    return pid, time.monotonic()


def test_a_frozen_worker_is_killed_and_the_job_retried_once_and_delivered(start_bot, real_weights_dir) -> None:
    """Frozen mid-job: within the stall limit the user hears that it is tried again, the frozen process is
    gone, and the retry, which keeps beating for longer than the stall limit and inside its deadline's
    multiple, delivers the result once. /metrics counts it all, the delivery from the worker process's files."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=600, stall_after=STALL,
                    deadline_factor=30.0, deadline_min=1.0, health_listen=("127.0.0.1", 0))
    address = bot.bot.health_server.address
    counted = {(kind, outcome): metric(address, "stylebot_jobs_total", kind=kind, outcome=outcome)
               for kind, outcome in (("paint", "retried"), ("paint", "delivered"), ("quick", "delivered"))}
    user = bot.user(2601)
    since = user.picks_style(user.starts_with_photo())
    pid, frozen = _freeze_while_painting(bot, user, since)
    user.gets(texts.WORKER_STUCK_RETRYING, since, timeout=STALL + 10)
    assert time.monotonic() - frozen < STALL + 10
    wait_until(lambda: reaped(pid), timeout=10)
    started = time.monotonic()
    wait_until(lambda: _results(bot, user), timeout=180)
    assert time.monotonic() - started > STALL  # the retry ran longer than the stall limit, beating
    user.waits_for_job_end(timeout=60)
    assert len(_results(bot, user)) == 1
    stats = bot.bot.runner.stats()
    assert stats.worker_restarts == 1 and all(w.alive for w in stats.workers)
    assert _painting_job(bot, user).status is JobStatus.DELIVERED and bot.job_files() == []
    assert metric(address, "stylebot_workers_hung_total") == metric(address, "stylebot_worker_restarts_total") == 1
    for (kind, outcome), before in counted.items():  # the chat process's own counts are per process
        assert metric(address, "stylebot_jobs_total", kind=kind, outcome=outcome) == before + 1


def test_frozen_twice_the_job_fails_plainly_and_the_next_user_is_served(start_bot, real_weights_dir) -> None:
    """Frozen again on its second try: the user gets the clear failure (and /metrics counts it), and the job
    queued behind it runs."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=100_000, stall_after=STALL,
                    health_listen=("127.0.0.1", 0))
    address = bot.bot.health_server.address
    failed = metric(address, "stylebot_jobs_total", kind="paint", outcome="failed")
    victim, patient = bot.user(2611), bot.user(2612)
    since = victim.picks_style(victim.starts_with_photo())
    patient.gets("You're #1 in the queue", patient.picks_style(patient.starts_with_photo(photo_bytes(seed=3))),
                 timeout=90)
    for expected in (texts.WORKER_STUCK_RETRYING, texts.WORKER_STUCK_FAILED):
        pid, _ = _freeze_while_painting(bot, victim, since)
        since = victim.gets(expected, since, timeout=STALL + 10)["message_id"] and bot.api.mark()
        wait_until(lambda: reaped(pid), timeout=10)
    assert [m["text"] for m in victim.status_messages()][-1] == texts.NOT_FINISHED
    assert _painting_job(bot, victim).status is JobStatus.FAILED
    assert metric(address, "stylebot_jobs_total", kind="paint", outcome="failed") == failed + 1
    assert metric(address, "stylebot_workers_hung_total") == 2
    wait_until(lambda: _painting_since(patient, 0), timeout=120)  # the lane went on with the next job
    patient.says("/cancel")
    patient.waits_for_job_end(timeout=60)


def test_cancel_of_a_frozen_worker_ends_in_seconds(start_bot, real_weights_dir) -> None:
    """/cancel while the worker is frozen (long before the stall limit): it is killed after CANCEL_GRACE,
    and the user gets "Cancelled"; the lane's replacement worker then serves the next painting."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=100_000, stall_after=600.0)
    user = bot.user(2621)
    since = user.picks_style(user.starts_with_photo())
    pid, _ = _freeze_while_painting(bot, user, since)
    asked = time.monotonic()
    user.gets(texts.CANCELLING_RUNNING, user.says("/cancel"))
    user.gets(texts.CANCELLED, since, timeout=CANCEL_GRACE + 10)
    assert time.monotonic() - asked < CANCEL_GRACE + 10
    wait_until(lambda: reaped(pid), timeout=10)
    user.waits_for_job_end(timeout=30)
    assert _painting_job(bot, user).status is JobStatus.CANCELLED
    wait_until(lambda: _painter(bot) != pid, timeout=90)


def test_a_job_past_its_deadline_is_stopped_though_it_beats(start_bot, real_weights_dir) -> None:
    """An estimate far too small (deadline = 1x the estimate, at least 1 s): the job beats all along, yet is
    killed at its deadline and treated as a hang, twice, then failed; with a generous multiple the same kind
    of job is delivered."""
    bot = start_bot(VggBot, worker_processes=True, weights_dir=real_weights_dir, steps=100_000,
                    deadline_factor=1.0, deadline_min=1.0)
    user = bot.user(2631)
    since = user.picks_style(user.starts_with_photo())
    user.gets(texts.WORKER_STUCK_RETRYING, since, timeout=120)
    user.gets(texts.WORKER_STUCK_FAILED, since, timeout=120)
    assert _painting_job(bot, user).status is JobStatus.FAILED


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB filesystem (tmpfs), mounted for the test; skipped where the machine does not allow it."""
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(folder: Path) -> Path:
    """Write a file into `folder` until its filesystem is full; returns it."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_is_explained_and_the_bot_recovers_when_space_is_freed(start_bot, small_disk: Path) -> None:
    """The data folder's disk fills up: a photo is answered with the storage sentence (the bot stays up, says
    nothing is wrong with the picture and nothing about being busy); once space is freed, the same user is
    served again without a restart."""
    bot = start_bot(VggBot, data_dir=small_disk / "data")
    user = bot.user(2641)
    user.starts_with_photo()
    user.gets(texts.CANCELLED_DRAFT, user.says("/cancel"))
    filler = _fill(small_disk)
    answer = user.gets(texts.STORAGE_FULL, user.sends_photo(photo_bytes(seed=5)), timeout=20)
    assert texts.BUSY not in answer["text"]
    filler.unlink()
    user.starts_with_photo(photo_bytes(seed=6))
