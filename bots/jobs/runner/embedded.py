"""The embedded runner (one host, nothing to install): FIFO lanes in the chat process (`bots.jobs.queue`), each
slot of a lane computing in a worker process that it supervises (`processes`), or in-process for tests
(`bots.jobs.tasks.InProcess`).

A job is started in the journal before its work begins (its attempts counted there), so the journal
always knows which jobs a crash or a restart interrupted. When a worker dies mid-job, or is killed as hung
(silent, or past the job's deadline: `BotConfig.job_deadline` of its estimate), the job is tried once more
on its replacement, then reported as failed; users of other lanes and the chat carry on.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping

from bots.common import metrics
from bots.common.config import BotConfig
from bots.common.lanes import MAX_ATTEMPTS, SETTLE_LANES, SETTLE_SECONDS
from bots.jobs.notices import Interruption, Notifier
from bots.jobs.queue import CancelReason, Followup, Job, JobQueue, JobState
from bots.jobs.runner import Executor, RunnerStats, WorkerHung, WorkerLost
from bots.jobs.waits import Calibration, LaneLimits
from bots.store import JobRecord, JobStatus

__all__ = ["EmbeddedRunner"]

log = logging.getLogger(__name__)


class EmbeddedRunner:
    """Lanes of jobs (`lanes`: name -> its limits) computed by `executor`. Each job's estimated seconds are
    calibrated on the journal."""

    resumes_journal = True

    def __init__(self, config: BotConfig, notifier: Notifier, executor: Executor,
                 lanes: Mapping[str, LaneLimits]) -> None:
        self.config, self.notifier, self.executor = config, notifier, executor
        self.journal = notifier.journal
        self.lanes = dict(lanes)
        self.calibration = Calibration(self.journal, config.default_size)
        self._queue: JobQueue | None = None

    def start(self) -> None:
        self.executor.start()
        self._queue = JobQueue({name: (lane.slots, lane.count) for name, lane in self.lanes.items()})

    @property
    def queue(self) -> JobQueue:
        if self._queue is None:
            raise RuntimeError("the runner is not started")
        return self._queue

    def admit(self, user: int, lane: str) -> None:
        """`JobQueue.admit`, with the lane's wait limit."""
        self.queue.admit(user, lane, self.lanes[lane].wait)

    def submit(self, record: JobRecord, resumed: bool = False) -> None:
        """Queue a journalled job, checking the lane's limits again (not for a `resumed` one)."""
        task = _JournalledJob(self, record)
        job, position = self.queue.submit(record.user_id, task, record.lane, force=resumed,
                                          estimate=self.calibration.estimate(record.kind, record.payload),
                                          max_wait=self.lanes[record.lane].wait)
        if position:
            task.moved(job, position)

    def active(self, user: int) -> tuple[Job, int] | None:
        """The user's unfinished job. A running job of a seconds-long lane (`SETTLE_LANES`) is waited for,
        at most SETTLE_SECONDS: a tap on a quick version's buttons the moment it arrives then finds the job
        over (its worker may still be closing its status message) rather than being told to wait."""
        found = self.queue.active(user)
        deadline = time.monotonic() + SETTLE_SECONDS
        while (found is not None and found[0].state is JobState.RUNNING and found[0].lane in SETTLE_LANES
               and time.monotonic() < deadline):
            time.sleep(0.01)
            found = self.queue.active(user)
        return found

    def cancel(self, user: int) -> Job | None:
        return self.queue.cancel(user)

    def stats(self) -> RunnerStats:
        workers, restarts, hung = self.executor.stats()
        if self._queue is None:
            return RunnerStats({}, workers, restarts, workers_hung=hung)
        return RunnerStats(self.queue.counts(), workers, restarts,
                           {lane: self.queue.expected_wait(lane) for lane in self.lanes}, hung)

    def shutdown(self, timeout: float | None = None) -> None:
        if self._queue is not None:
            self._queue.shutdown(timeout)
        self.executor.shutdown()

    def followup(self, record: JobRecord) -> Followup | None:
        """The job that follows a delivered one (`Notifier.follow_up`), to take its owner's place in the
        queue; None when there is none."""
        following = self.notifier.follow_up(record)
        if following is None:
            return None
        return Followup(_JournalledJob(self, following), following.lane,
                        self.calibration.estimate(following.kind, following.payload))


class _JournalledJob:
    """The queue's `Task` for one journalled job: starts it in the journal, has the executor run it, and
    survives the worker's death (one more try, then the user is told it failed)."""

    def __init__(self, runner: EmbeddedRunner, record: JobRecord) -> None:
        self.runner, self.record = runner, record
        self.notices = runner.notifier.about(record)

    def run(self, job: Job) -> Followup | None:
        journal, record = self.runner.journal, self.record
        while True:
            started = journal.start(record.id)
            if started.status.final:
                return None  # cancelled while it waited
            if started.attempts == 1 and started.started is not None:
                metrics.observe_job(record.kind, wait=max(0.0, started.started - started.created))
            try:
                outcome = self.runner.executor.execute(started, job, self.runner.config.job_deadline(job.estimate))
            except WorkerLost as exc:
                interruption = Interruption.HANG if isinstance(exc, WorkerHung) else Interruption.CRASH
                log.error("the worker running job %d (attempt %d) %s", record.id, started.attempts,
                          f"was killed: {exc}" if interruption is Interruption.HANG else "died")
                shutil.rmtree(self.runner.config.job_folder(record.id), ignore_errors=True)
            else:
                return self.runner.followup(record) if outcome is JobStatus.DELIVERED else None
            current = journal.get(record.id)
            if current is None or current.status.final:
                return self.runner.followup(record) if current and current.status is JobStatus.DELIVERED else None
            if job.cancelled():
                if job.cancel_reason is CancelReason.USER:
                    self.notices.cancelled()
                return None
            if current.attempts >= MAX_ATTEMPTS:
                self.notices.gave_up(interruption)
                return None
            self.notices.retrying(interruption)

    def moved(self, job: Job, position: int) -> None:
        """The new place and wait, throttled as progress is: in a burst, each job ending moves everyone."""
        if job.state is JobState.QUEUED:
            self.notices.queued(position, job.wait, force=position == 1)

    def dropped(self, job: Job) -> None:
        """Removed before it started: by /cancel (journalled and shown), or by a shutdown (left waiting in
        the journal: the next start runs it)."""
        if job.cancel_reason is CancelReason.USER:
            self.notices.cancelled()
