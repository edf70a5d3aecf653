"""The job queue on its own: FIFO lanes, places, one job per user, limits, cancelling, failures, shutdown.

The tasks here are small real implementations of the `Task` protocol that record what they were told
and, when asked to, block until released, so every ordering is deterministic.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from bots.jobs.queue import AlreadyQueued, CancelReason, Followup, Job, JobQueue, JobState, QueueFull

WAIT = 5.0


class Recorder:
    """A task that notes what happens to it; `blocking` ones run until released or cancelled."""

    def __init__(self, name: str, log: list[str], blocking: bool = False, fails: bool = False) -> None:
        self.name, self.log, self.fails = name, log, fails
        self.places: list[int] = []
        self.started, self.release = threading.Event(), threading.Event()
        self.blocking = blocking
        self.saw_cancel = False
        self.was_dropped = False

    def run(self, job: Job) -> None:
        self.log.append(self.name)
        self.started.set()
        if self.fails:
            raise RuntimeError(f"{self.name} failed")
        while self.blocking and not self.release.wait(0.01):
            if job.cancelled():
                self.saw_cancel = True
                return

    def moved(self, job: Job, position: int) -> None:
        self.places.append(position)

    def dropped(self, job: Job) -> None:
        self.was_dropped = True


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    queue = JobQueue({"slow": (1, 3), "instant": (1, 3)})
    yield queue
    queue.shutdown(timeout=WAIT)


def _wait_idle(queue: JobQueue, *owners: int) -> None:
    deadline = time.monotonic() + WAIT
    while any(queue.active(owner) is not None for owner in owners):
        assert time.monotonic() < deadline, "jobs did not end"
        time.sleep(0.01)


def test_fifo_places_and_cancel_of_a_waiting_job(queue: JobQueue) -> None:
    ran: list[str] = []
    first, second, third = Recorder("a", ran, blocking=True), Recorder("b", ran), Recorder("c", ran)
    assert queue.submit(1, first, "slow")[1] == 0
    assert first.started.wait(WAIT)
    job_b, place_b = queue.submit(2, second, "slow")
    job_c, place_c = queue.submit(3, third, "slow")
    assert (place_b, place_c) == (1, 2)
    assert queue.active(3) == (job_c, 2) and queue.active(1)[1] == 0

    assert queue.cancel(2) is job_b and job_b.state is JobState.DROPPED
    assert second.was_dropped and job_b.cancel_reason is CancelReason.USER
    assert third.places == [1], "the job behind moved up"
    first.release.set()
    _wait_idle(queue, 1, 3)
    assert ran == ["a", "c"]


def test_one_job_per_user_and_a_bounded_line(queue: JobQueue) -> None:
    ran: list[str] = []
    running = Recorder("a", ran, blocking=True)
    queue.submit(1, running, "slow")
    assert running.started.wait(WAIT)
    with pytest.raises(AlreadyQueued) as already:
        queue.submit(1, Recorder("again", ran), "slow")
    assert already.value.position == 0 and already.value.job.owner == 1
    for owner in (2, 3, 4):
        queue.submit(owner, Recorder(str(owner), ran), "slow")
    with pytest.raises(QueueFull):
        queue.submit(5, Recorder("5", ran), "slow")
    with pytest.raises(AlreadyQueued) as waiting:
        queue.submit(4, Recorder("4 again", ran), "slow")
    assert waiting.value.position == 3
    running.release.set()
    _wait_idle(queue, 1, 2, 3, 4)
    assert ran == ["a", "2", "3", "4"]


def test_requests_at_the_same_moment_cannot_all_slip_under_the_wait_limit(queue: JobQueue) -> None:
    """Six threads submit 600 s jobs behind a running one with a 1500 s limit, all at once: the queue checks
    each under its lock, so exactly two wait (600 and 1200 s) and four are refused with their wait."""
    ran: list[str] = []
    running = Recorder("running", ran, blocking=True)
    queue.submit(1, running, "slow", estimate=600.0)
    assert running.started.wait(WAIT)
    start, outcomes = threading.Barrier(6), []

    def submit(owner: int) -> None:
        start.wait()
        try:
            queue.submit(owner, Recorder(str(owner), ran), "slow", estimate=600.0, max_wait=1500.0)
            outcomes.append("queued")
        except QueueFull as full:
            outcomes.append(full.wait)

    threads = [threading.Thread(target=submit, args=(owner,)) for owner in range(2, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert outcomes.count("queued") == 2
    assert all(wait == pytest.approx(1800.0, abs=5.0) for wait in outcomes if wait != "queued")
    assert queue.expected_wait("slow") == pytest.approx(1800.0, abs=5.0)
    for owner in range(1, 8):
        queue.cancel(owner)


def test_cancelling_a_running_job_sets_its_check(queue: JobQueue) -> None:
    task = Recorder("a", [], blocking=True)
    job, _ = queue.submit(1, task, "slow")
    assert task.started.wait(WAIT)
    assert queue.cancel(1) is job and job.state is JobState.RUNNING and job.cancelled()
    _wait_idle(queue, 1)
    assert task.saw_cancel and job.state is JobState.FINISHED and queue.cancel(1) is None


def test_a_failing_task_is_logged_and_the_worker_goes_on(queue: JobQueue, caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []
    with caplog.at_level(logging.ERROR, logger="bots.jobs.queue"):
        queue.submit(1, Recorder("boom", ran, fails=True), "slow")
        queue.submit(2, Recorder("next", ran), "slow")
        _wait_idle(queue, 1, 2)
    assert ran == ["boom", "next"]
    assert any(r.exc_info and "boom failed" in str(r.exc_info[1]) for r in caplog.records)


def test_lanes_do_not_wait_for_each_other(queue: JobQueue) -> None:
    ran: list[str] = []
    slow = Recorder("slow", ran, blocking=True)
    queue.submit(1, slow, "slow")
    assert slow.started.wait(WAIT)
    quick = Recorder("quick", ran)
    assert queue.submit(2, quick, "instant")[1] == 0
    assert quick.started.wait(WAIT), "the instant lane ran while the slow lane was busy"
    slow.release.set()


def test_shutdown_cancels_running_drops_waiting_and_refuses_new_jobs() -> None:
    queue = JobQueue({"slow": (1, 5)})
    running, waiting = Recorder("a", [], blocking=True), Recorder("b", [])
    job_a, _ = queue.submit(1, running, "slow")
    assert running.started.wait(WAIT)
    job_b, _ = queue.submit(2, waiting, "slow")
    queue.shutdown(timeout=WAIT)
    assert running.saw_cancel and job_a.cancel_reason is CancelReason.SHUTDOWN
    assert waiting.was_dropped and job_b.state is JobState.DROPPED and job_b.cancel_reason is CancelReason.SHUTDOWN
    with pytest.raises(RuntimeError, match="shut down"):
        queue.submit(3, Recorder("c", []), "slow")


class Leader(Recorder):
    """A task that hands its owner's place to a follow-up job in another lane when it ends."""

    def __init__(self, name: str, log: list[str], followup: Recorder, lane: str) -> None:
        super().__init__(name, log)
        self.followup, self.lane = followup, lane

    def run(self, job: Job) -> Followup:
        super().run(job)
        return Followup(self.followup, self.lane)


def test_a_followup_takes_its_owners_place_as_the_job_ends(queue: JobQueue) -> None:
    """A quick version hands over to its full painting: the owner never has a moment without a job (so
    no other request of theirs slips in between), and the follow-up waits its turn in its own lane."""
    ran: list[str] = []
    blocker = Recorder("other user's painting", ran, blocking=True)
    queue.submit(2, blocker, "slow")
    assert blocker.started.wait(WAIT)
    painting = Recorder("painting", ran)
    queue.submit(1, Leader("quick", ran, painting, "slow"), "instant")
    deadline = time.monotonic() + WAIT
    while ran[-1:] != ["quick"] or queue.active(1) is None or queue.active(1)[0].lane != "slow":
        assert time.monotonic() < deadline, "the follow-up was not queued"
        time.sleep(0.01)
    job, place = queue.active(1)
    assert place == 1 and job.state is JobState.QUEUED and painting.places == [1]
    with pytest.raises(AlreadyQueued):
        queue.submit(1, Recorder("another request", ran), "instant")
    blocker.release.set()
    _wait_idle(queue, 1, 2)
    assert ran == ["other user's painting", "quick", "painting"]
