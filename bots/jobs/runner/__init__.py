"""Running the jobs the chat accepts, behind one small interface, so that a distributed runner (Celery
workers) can stand beside the embedded one without touching the chat code.

The chat asks a `JobRunner` whether a user may queue a job in a lane (`admit`), hands it journalled
jobs (`submit`), asks where a user's job stands (`active`), cancels it, and reads its `stats` for
/stats. Where the work itself runs is the runner's business: the embedded runner (`embedded`) keeps FIFO
lanes in the chat process and computes in supervised worker processes (`processes`), or, for tests and
debugging, in the chat process itself (`bots.jobs.services.InProcess`); the distributed one
(`distributed`) hands jobs to Celery workers (`celery_worker`).

This module is the whole of what the chat may know of runners: the job it hears back (`Job`, its
`JobState`) and the refusals `admit` and `submit` raise (`AlreadyQueued`, `QueueFull`) are re-exported
here from the embedded lanes that define them (`bots.jobs.queue`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bots.jobs.queue import AlreadyQueued, CancelReason, Job, JobState, QueueFull
from bots.store import JobRecord, JobStatus

__all__ = ["JobRunner", "Executor", "Stop", "RunnerStats", "WorkerInfo", "WorkerLost", "WorkerHung",
           "WorkerSetupError", "RunnerUnavailable", "Job", "JobState", "CancelReason", "AlreadyQueued", "QueueFull"]


class Stop(Protocol):
    """A job's cancel check (`Job` is one): set by /cancel, or by a shutdown, after which the job is left
    "running" in the journal to be resumed by the next start."""

    cancel_reason: CancelReason | None

    def cancelled(self) -> bool: ...


class WorkerLost(Exception):
    """The process computing a job died (killed, out of memory, a crash) before it reported the end."""


class WorkerHung(WorkerLost):
    """The process computing a job was killed by its supervisor: silent for longer than the stall limit, or
    still running past the job's deadline (`BotConfig.job_deadline`); `reason` says which, in a few words."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(f"{worker}: {reason}")
        self.reason = reason


class RunnerUnavailable(Exception):
    """The runner cannot take or look up jobs now (its Redis is down): the user is asked to try again soon."""


class WorkerSetupError(Exception):
    """A worker could not start (weights missing, data folder unusable); the message says why, in one line."""


@dataclass(frozen=True)
class WorkerInfo:
    """A worker for /stats; `rss_mb`: its memory as it reported it (a worker on another machine), else
    read from this machine's /proc by `pid`."""

    name: str
    pid: int | None
    alive: bool
    rss_mb: float | None = None


@dataclass(frozen=True)
class RunnerStats:
    """For /stats and /metrics: per lane (waiting, running), the workers, how often one had to be replaced,
    per lane the seconds a job queued now would wait, and how many workers were killed as hung."""

    lanes: Mapping[str, tuple[int, int]]
    workers: list[WorkerInfo] = field(default_factory=list)
    worker_restarts: int = 0
    waits: Mapping[str, float] = field(default_factory=dict)
    workers_hung: int = 0  # of the restarts: workers killed as hung


class Executor(Protocol):
    """Where a job's work runs."""

    def start(self) -> None:
        """Make the workers ready (raises WorkerSetupError)."""

    def execute(self, record: JobRecord, stop: Stop, deadline: float | None = None) -> JobStatus | None:
        """Run the job to its end (None: stopped by a shutdown); raises WorkerLost if its worker died, and
        WorkerHung if it stopped beating or ran longer than `deadline` seconds (executors of separate
        processes: threads cannot be killed)."""

    def shutdown(self) -> None:
        """Stop every worker now (jobs they ran stay "running" in the journal, resumed by the next start)."""

    def stats(self) -> tuple[list[WorkerInfo], int, int]:
        """The workers, the number of replacements so far, and how many of them were killed as hung."""


class JobRunner(Protocol):
    """What the chat needs from whatever runs its jobs. `resumes_journal`: whether the chat process takes
    the journal's unfinished jobs in again on start (the embedded runner), or the runner's own queue
    keeps them (the distributed one)."""

    resumes_journal: bool

    def start(self) -> None:
        """Start the workers (raises WorkerSetupError)."""

    def admit(self, user: int, lane: str) -> None:
        """Raise AlreadyQueued (the user has a job) or QueueFull (a new job would wait longer than the lane's
        limit, or the lane holds its most waiting jobs), else return."""

    def submit(self, record: JobRecord, resumed: bool = False) -> None:
        """Queue a journalled job, or raise AlreadyQueued or QueueFull when a request at the same moment took
        its place since `admit`; a `resumed` one (from before a restart) is never refused."""

    def active(self, user: int) -> tuple[Job, int] | None:
        """The user's job and its place (0: running), or None."""

    def cancel(self, user: int) -> Job | None:
        """Cancel the user's job (removed if waiting, stopped if running); None if there is none."""

    def stats(self) -> RunnerStats: ...

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop taking jobs and stop the workers; unfinished jobs stay in the journal for the next start."""
