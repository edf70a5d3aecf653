"""The distributed runner: the chat process's side of the Celery mode (`STYLEBOT_REDIS_URL`).

The chat only admits, journals and enqueues; Celery workers on any machine run the jobs
(`bots.jobs.runner.celery_worker`). What must hold across every chat process and worker (one job per user,
queue positions, estimated seconds, cancel requests, who is alive) lives on the Redis job board
(`bots.jobs.runner.board`), so a lane's expected wait is the same whichever chat process or worker asks.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from celery import Celery

from bots.common.config import BotConfig
from bots.common.lanes import SETTLE_LANES, SETTLE_SECONDS
from bots.jobs.notices import Notifier
from bots.jobs.queue import AlreadyQueued, Job, JobState, QueueFull
from bots.jobs.runner import RunnerStats, RunnerUnavailable, WorkerInfo, WorkerSetupError
from bots.jobs.runner.board import PENDING, JobBoard
from bots.jobs.runner.celery_app import HARD_LIMIT_SHARE, JOB_TASK, SOFT_LIMIT_SHARE, task_id
from bots.jobs.waits import Calibration, LaneLimits, left_of, refusal, starts
from bots.store import JobRecord, JobStatus

__all__ = ["CeleryRunner", "enqueue", "expected_starts", "time_limits"]

log = logging.getLogger(__name__)


def enqueue(app: Celery, board: JobBoard, calibration: Calibration, record: JobRecord, config: BotConfig) -> None:
    """Put a journalled job on the board (its user's slot, its lane's line, its estimated seconds) and on
    its lane's queue, with time limits from its estimate (`time_limits`)."""
    estimate = calibration.estimate(record.kind, record.payload)
    board.queue(record.user_id, record.lane, record.id, estimate)
    soft, hard = time_limits(config, estimate)
    app.send_task(JOB_TASK, args=[record.id], queue=record.lane, task_id=task_id(record.id),
                  soft_time_limit=soft, time_limit=hard)


def time_limits(config: BotConfig, estimate: float) -> tuple[float, float]:
    """Celery's soft and hard time limits of a job expected to take `estimate` seconds: behind the watchdog,
    which kills it at its deadline (`BotConfig.job_deadline`), one and two stall limits later; and never
    past the redelivery delay's shares (a job still running when its message came back would be painted
    twice)."""
    deadline = config.job_deadline(estimate)
    return (min(deadline + config.stall_after, config.redeliver_after * SOFT_LIMIT_SHARE),
            min(deadline + 2 * config.stall_after, config.redeliver_after * HARD_LIMIT_SHARE))


def expected_starts(board: JobBoard, lane: str) -> tuple[list[int], list[float]]:
    """The lane's waiting jobs (next first) and the seconds until each should start, then a new job (one
    more item). Its slots are the live pool processes that serve it, one at least (a worker on its way)."""
    running, waiting = board.load(lane)
    now = time.time()
    slots = max(1, sum(lane in beat.lanes for beat in board.workers()))
    left = [left_of(estimate, now - started) for started, estimate in running]
    return [job for job, _ in waiting], starts(left, [estimate for _, estimate in waiting], slots)


class CeleryRunner:
    """Lanes are Celery queues (`lanes`: name -> its limits; slots are the workers' business: the wait limit
    counts the live ones)."""

    resumes_journal = False  # the broker keeps queued jobs, and redelivers those of a lost worker

    def __init__(self, config: BotConfig, notifier: Notifier, board: JobBoard, app: Celery,
                 lanes: Mapping[str, LaneLimits]) -> None:
        self.config, self.notifier, self.board, self.app = config, notifier, board, app
        self.journal, self.lanes = notifier.journal, dict(lanes)
        self.calibration = Calibration(self.journal, config.default_size)

    def start(self) -> None:
        """Check Redis, and enqueue the journal's waiting jobs that never reached it (a chat process that
        died between journalling a job and enqueueing it)."""
        try:
            self.board.ping()
            for record in self.journal.unfinished():
                if record.status is JobStatus.WAITING and not self.board.known(record.lane, record.id):
                    log.info("enqueueing job %d, journalled but never queued", record.id)
                    enqueue(self.app, self.board, self.calibration, record, self.config)
        except RunnerUnavailable as exc:
            raise WorkerSetupError(f"cannot reach Redis at {self.board.url}: {exc}") from None

    def admit(self, user: int, lane: str) -> None:
        """Reserve the user's slot, if the lane can take a job (`EmbeddedRunner.admit`). A slot still held
        by their job of a seconds-long lane (a quick version ending on its worker) is waited for, at most
        SETTLE_SECONDS, as in `active`."""
        deadline = time.monotonic() + SETTLE_SECONDS
        holder = self.board.reserve(user)
        while holder is not None and holder != PENDING:
            if self._ended(int(holder)) and self.board.take_over(user, holder):
                holder = None
                break
            record = self.journal.get(int(holder))
            if record is None or record.lane not in SETTLE_LANES or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
            holder = self.board.reserve(user)
        if holder is not None:
            found = self.active(user)
            raise AlreadyQueued(*(found or (Job(0, user, lane, None, JobState.QUEUED), 1)))  # type: ignore[arg-type]
        waiting, starts_at = expected_starts(self.board, lane)
        limits, wait = self.lanes[lane], starts_at[-1]
        if (retry := refusal(len(waiting), wait, limits.count, limits.wait)) is not None:
            self.board.release(user, PENDING)
            raise QueueFull(lane, wait, retry)

    def _ended(self, job_id: int) -> bool:
        """Whether a job's slot is free to take: it ended, and no job follows it (a delivered quick version
        whose full painting is on its way keeps the slot for it)."""
        record = self.journal.get(job_id)
        return record is None or (record.status.final and not (record.status is JobStatus.DELIVERED
                                                                and record.payload.get("then")))

    def submit(self, record: JobRecord, resumed: bool = False) -> None:
        """Enqueue a journalled job, then check the lane's limits again from its place (not for a `resumed`
        one): of requests admitted at the same moment by any chat process, the later ones see the earlier
        ahead of them, and the one that would wait too long is taken off again (QueueFull)."""
        enqueue(self.app, self.board, self.calibration, record, self.config)
        waiting, starts_at = expected_starts(self.board, record.lane)
        if record.id not in waiting:
            return
        position = waiting.index(record.id)
        limits, wait = self.lanes[record.lane], starts_at[position]
        retry = None if resumed else refusal(position, wait, limits.count, limits.wait)
        if retry is not None and self.board.unqueue(record.user_id, record.lane, record.id):
            self.app.control.revoke(task_id(record.id))
            raise QueueFull(record.lane, wait, retry)
        self.notifier.about(record).queued(position + 1, wait)

    def active(self, user: int) -> tuple[Job, int] | None:
        """The user's job and its place (0: running); a running job of a seconds-long lane is waited for, at
        most SETTLE_SECONDS (see `EmbeddedRunner.active`)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            found = self._active(user)
            if (found is None or found[1] != 0 or found[0].lane not in SETTLE_LANES
                    or time.monotonic() >= deadline):
                return found
            time.sleep(0.05)

    def _active(self, user: int) -> tuple[Job, int] | None:
        job_id = self.board.user_job(user)
        record = self.journal.get(job_id) if job_id is not None else None
        if record is None or record.status.final:
            return None
        position = self.board.position(record.lane, record.id)
        running = position in (0, None)  # not on the line any more: a worker is taking it
        job = Job(record.id, user, record.lane, None, JobState.RUNNING if running else JobState.QUEUED)  # type: ignore[arg-type]
        return job, position or 0

    def cancel(self, user: int) -> Job | None:
        """A waiting job leaves the line at once (and its message is revoked); a running one is asked to
        stop through the board, which its worker polls between steps."""
        found = self._active(user)
        if found is None:
            return None
        job, _ = found
        record = self.journal.get(job.id)
        if job.state is JobState.QUEUED and self.board.unqueue(user, job.lane, job.id):
            self.app.control.revoke(task_id(job.id))
            if record is not None:
                self.notifier.about(record).cancelled()
            job.state = JobState.DROPPED
            return job
        self.board.ask_cancel(job.id)
        job.state = JobState.RUNNING
        return job

    def stats(self) -> RunnerStats:
        workers = [WorkerInfo(f"{beat.name}@{beat.host} ({', '.join(beat.lanes)}"
                              f"{f', job {beat.job}' if beat.job else ''})", beat.pid, True, beat.rss_mb)
                   for beat in self.board.workers()]
        return RunnerStats(self.board.counts(list(self.lanes)), workers, 0,
                           {lane: expected_starts(self.board, lane)[1][-1] for lane in self.lanes})

    def shutdown(self, timeout: float | None = None) -> None:
        self.board.close()
