"""The job queue: long work runs on worker threads, never on the threads that answer chat updates.

Jobs wait in lanes. Each lane is a FIFO line with its own workers and its own length limit, so a lane
of second-long jobs never waits behind a lane of minutes-long ones. Each job carries its estimated
seconds, from which the queue tells how long a new job would wait (`expected_wait`) and each waiting job
when it should start (`Job.wait`, updated as the line moves). A user has at most one job in the
whole queue; asking for a second one is answered with where the first one stands. Cancelling a waiting
job removes it; cancelling a running one sets its event, which the engines poll between steps.

Nothing here knows about Telegram: a job's `Task` does the work and tells its user what happened. One
idea in one module (the embedded runner's lanes, their jobs and refusals), hence its length.
"""
from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bots.jobs.waits import left_of, refusal, starts

__all__ = ["JobQueue", "Job", "Task", "Followup", "JobState", "CancelReason", "QueueFull", "AlreadyQueued"]

log = logging.getLogger(__name__)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"  # the task returned or raised; either way it is over
    DROPPED = "dropped"  # removed before it started


class CancelReason(enum.Enum):
    USER = "user"  # the user asked (/cancel)
    SHUTDOWN = "shutdown"  # the bot is stopping


class Task(Protocol):
    """The work of one job, and how it tells its user about the queue."""

    def run(self, job: Job) -> Followup | None:
        """Do the work on a worker thread; poll `job.cancelled` (engines take it as their cancel check).
        May return the owner's next job, queued the moment this one ends."""

    def moved(self, job: Job, position: int) -> None:
        """The job's place in its lane changed while it waits (1: next to start); `job.wait` is the
        seconds it can now expect to wait."""

    def dropped(self, job: Job) -> None:
        """The job was removed before it started (`job.cancel_reason` says why)."""


@dataclass(eq=False)
class Job:
    """One queued or running piece of work for one user."""

    id: int
    owner: int
    lane: str
    task: Task
    state: JobState = JobState.QUEUED
    cancel_reason: CancelReason | None = None
    estimate: float = 0.0  # seconds it is expected to run
    wait: float | None = None  # while it waits: seconds until it is expected to start
    started: float | None = field(default=None, repr=False)  # time.monotonic() when it started
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _told: int | None = field(default=None, repr=False)  # the last place its task was told

    def cancelled(self) -> bool:
        """True once the job was asked to stop: the engines' cancel check."""
        return self._cancel.is_set()


@dataclass(frozen=True)
class Followup:
    """A job that follows another of the same owner (a full painting after its quick version): it takes
    the owner's place in the queue as the first ends, so no other request of theirs slips in between."""

    task: Task
    lane: str
    estimate: float = 0.0


class QueueFull(Exception):
    """The lane cannot take a job now: its expected `wait` (seconds) is over its limit, or it holds its
    maximum of waiting jobs; `retry` is the seconds after which trying again should succeed."""

    def __init__(self, lane: str, wait: float, retry: float) -> None:
        super().__init__(f"lane {lane} is full: a new job would wait about {wait:.0f} s")
        self.lane, self.wait, self.retry = lane, wait, retry


class AlreadyQueued(Exception):
    """The user already has a job in the queue; `job` and `position` say where it stands."""

    def __init__(self, job: Job, position: int) -> None:
        super().__init__(f"user {job.owner} already has job {job.id} ({job.state.value})")
        self.job, self.position = job, position


@dataclass
class _Lane:
    name: str
    workers: int
    limit: int
    waiting: deque[Job] = field(default_factory=deque)
    threads: list[threading.Thread] = field(default_factory=list)


class JobQueue:
    """Lanes of FIFO jobs, each with `workers` threads and at most `limit` waiting jobs.

    `lanes` maps a lane's name to (workers, limit). Workers start at construction and stop at `shutdown`.
    """

    def __init__(self, lanes: Mapping[str, tuple[int, int]]) -> None:
        if not lanes:
            raise ValueError("a job queue needs at least one lane")
        self._lanes = {name: _Lane(name, workers, limit) for name, (workers, limit) in lanes.items()}
        self._cond = threading.Condition()
        self._active: dict[int, Job] = {}  # owner -> their queued or running job
        self._ids = itertools.count(1)
        self._closed = False
        for lane in self._lanes.values():
            if lane.workers < 1 or lane.limit < 0:
                raise ValueError(f"lane {lane.name!r} needs at least one worker and a limit of 0 or more")
            for n in range(lane.workers):
                thread = threading.Thread(target=self._work, args=(lane,), name=f"job-{lane.name}-{n + 1}",
                                          daemon=True)
                lane.threads.append(thread)
                thread.start()

    def admit(self, owner: int, lane: str, max_wait: float | None = None) -> None:
        """Raise what `submit` would raise for a new job of `owner` in `lane` (AlreadyQueued, QueueFull,
        RuntimeError), without queueing anything: a job is journalled only once it will be taken."""
        with self._cond:
            self._check(owner, self._lanes[lane], max_wait=max_wait)

    def expected_wait(self, lane: str) -> float:
        """Seconds a job queued now in `lane` would wait before it starts, by the jobs' estimates."""
        with self._cond:
            return self._starts(self._lanes[lane])[-1]

    def submit(self, owner: int, task: Task, lane: str, force: bool = False, estimate: float = 0.0,
               max_wait: float | None = None) -> tuple[Job, int]:
        """Queue `task` (expected to run `estimate` seconds) for `owner`; returns the job and its place (0:
        a worker takes it right away).

        Raises `AlreadyQueued` if the owner has a job, `QueueFull` if the lane holds its most waiting jobs or
        the job would wait over `max_wait` seconds (unless `force`: a job resumed after a restart was
        accepted before and is never refused), and RuntimeError after `shutdown`. Checked under the
        queue's lock: requests at the same moment cannot all slip under the limit.
        """
        with self._cond:
            line = self._lanes[lane]
            wait = self._check(owner, line, force, max_wait)
            idle = line.workers - self._running_in(line)
            job = Job(next(self._ids), owner, lane, task, estimate=estimate)
            line.waiting.append(job)
            self._active[owner] = job
            position = max(0, len(line.waiting) - idle)
            job._told = position
            job.wait = wait
            self._cond.notify_all()
        log.info("job %d queued for user %d in lane %s (place %d)", job.id, owner, lane, position)
        return job, position

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per lane: (jobs waiting, jobs running)."""
        with self._cond:
            return {name: (len(lane.waiting), self._running_in(lane)) for name, lane in self._lanes.items()}

    def active(self, owner: int) -> tuple[Job, int] | None:
        """The owner's job and its place (0: running), or None."""
        with self._cond:
            job = self._active.get(owner)
            return None if job is None else (job, self._position(job))

    def cancel(self, owner: int) -> Job | None:
        """Stop the owner's job: a waiting one is removed (its task is told), a running one is asked to
        stop. Returns the job, or None when the owner has none."""
        with self._cond:
            job = self._active.get(owner)
            if job is None:
                return None
            removed = self._stop(job, CancelReason.USER)
        if removed:
            self._announce(job.lane)
            self._tell_dropped(job)
        return job

    def shutdown(self, timeout: float | None = None) -> None:
        """Refuse new jobs, drop waiting ones, cancel running ones and wait for the workers to end."""
        with self._cond:
            self._closed = True
            dropped = [job for lane in self._lanes.values() for job in list(lane.waiting)]
            for job in list(self._active.values()):
                self._stop(job, CancelReason.SHUTDOWN)
            self._cond.notify_all()
        for job in dropped:
            self._tell_dropped(job)
        for lane in self._lanes.values():
            for thread in lane.threads:
                thread.join(timeout)

    # ---- internals (called with the lock held unless said otherwise) ------------------------------------
    def _check(self, owner: int, line: _Lane, force: bool = False, max_wait: float | None = None) -> float:
        """Raise what keeps `owner` from queueing in `line`, else return the wait a new job there expects."""
        if self._closed:
            raise RuntimeError("the job queue is shut down")
        if (current := self._active.get(owner)) is not None:
            raise AlreadyQueued(current, self._position(current))
        wait = self._starts(line)[-1]
        idle = max(0, line.workers - self._running_in(line))
        limit = float("inf") if max_wait is None else max_wait
        if not force and (retry := refusal(len(line.waiting), wait, line.limit + idle, limit)) is not None:
            raise QueueFull(line.name, wait, retry)
        return wait

    def _running(self, lane: _Lane) -> list[Job]:
        return [job for job in self._active.values() if job.lane == lane.name and job.state is JobState.RUNNING]

    def _running_in(self, lane: _Lane) -> int:
        return len(self._running(lane))

    def _starts(self, lane: _Lane) -> list[float]:
        """`bots.jobs.waits.starts` of the lane: each waiting job's expected wait, then a new job's."""
        now = time.monotonic()
        running = [left_of(job.estimate, now - (job.started or now)) for job in self._running(lane)]
        return starts(running, [job.estimate for job in lane.waiting], lane.workers)

    def _position(self, job: Job) -> int:
        if job.state is JobState.RUNNING:
            return 0
        return self._lanes[job.lane].waiting.index(job) + 1

    def _stop(self, job: Job, reason: CancelReason) -> bool:
        """Mark `job` cancelled; True if it was waiting and has been removed."""
        job.cancel_reason = job.cancel_reason or reason
        job._cancel.set()
        if job.state is not JobState.QUEUED:
            return False
        self._lanes[job.lane].waiting.remove(job)
        job.state = JobState.DROPPED
        self._active.pop(job.owner, None)
        return True

    def _work(self, lane: _Lane) -> None:
        """A worker's loop (no lock held while a task runs)."""
        while True:
            with self._cond:
                while not lane.waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = lane.waiting.popleft()
                job.state = JobState.RUNNING
                job.started, job.wait = time.monotonic(), None
            self._announce(lane.name)
            log.info("job %d started for user %d", job.id, job.owner)
            followup = None
            try:
                followup = job.task.run(job)
            except Exception:  # the task failed to report its own failure: keep the worker alive
                log.exception("job %d for user %d raised", job.id, job.owner)
            finally:
                with self._cond:
                    job.state = JobState.FINISHED
                    if self._active.get(job.owner) is job:
                        del self._active[job.owner]
                        if followup is not None and not self._closed:
                            following = Job(next(self._ids), job.owner, followup.lane, followup.task,
                                            estimate=followup.estimate)
                            self._lanes[followup.lane].waiting.append(following)
                            self._active[job.owner] = following
                            self._cond.notify_all()
            log.info("job %d ended for user %d", job.id, job.owner)
            if followup is not None:
                self._announce(followup.lane)

    def _announce(self, lane_name: str) -> None:
        """Tell each waiting job of a lane whose place changed its new place and wait (called without the
        lock)."""
        with self._cond:
            lane = self._lanes[lane_name]
            for job, wait in zip(lane.waiting, self._starts(lane)):
                job.wait = wait
            places = [(n, job) for n, job in enumerate(lane.waiting, start=1) if job._told != n]
            for position, job in places:
                job._told = position
        for position, job in places:
            try:
                job.task.moved(job, position)
            except Exception:
                log.exception("job %d could not be told its new place", job.id)

    @staticmethod
    def _tell_dropped(job: Job) -> None:
        try:
            job.task.dropped(job)
        except Exception:
            log.exception("job %d could not be told it was dropped", job.id)
