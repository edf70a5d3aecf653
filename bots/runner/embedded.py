"""The embedded runner (one host, nothing to install): FIFO lanes in the chat process (`bots.jobs`), each
slot of a lane computing in a worker process that it supervises, or in-process for tests.

A job is started in the journal before its work begins (its attempts counted there), so the journal
always knows which jobs a crash or a restart interrupted. When a worker dies mid-job the job is tried
once more on its replacement, then reported as failed; users of other lanes and the chat carry on.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping

from telebot import TeleBot

from bots import texts
from bots.config import BotConfig
from bots.admission import MAX_ATTEMPTS, announce
from bots.delivery import Delivery
from bots.i18n import job_language, speaking
from bots.jobs import CancelReason, Followup, Job, JobQueue, JobState
from bots.progress import StatusMessage
from bots.runner import Executor, RunnerStats, WorkerLost
from bots.store import JobJournal, JobRecord, JobStatus
from bots.tasks import Services, Stop, job_folder, run_job
from bots.waits import Calibration, LaneLimits

__all__ = ["EmbeddedRunner", "InProcess"]

log = logging.getLogger(__name__)
SETTLE = 2.0  # seconds a user's request waits for their job of a seconds-long lane to end


class InProcess:
    """Computes in the chat process's own threads, with engines it was given: for tests and debugging
    (a crash here takes the chat down with it; production uses `WorkerProcesses`)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def start(self) -> None:
        pass

    def execute(self, record: JobRecord, stop: Stop) -> JobStatus | None:
        return run_job(record, self.services, stop)

    def shutdown(self) -> None:
        pass

    def stats(self) -> tuple[list, int]:
        return [], 0


class EmbeddedRunner:
    """Lanes of jobs (`lanes`: name -> its limits) computed by `executor`; `settle_lanes`: the lanes of
    seconds-long jobs (see `active`). Each job's estimated seconds are calibrated on the journal."""

    resumes_journal = True

    def __init__(self, config: BotConfig, telegram: TeleBot, journal: JobJournal, executor: Executor,
                 lanes: Mapping[str, LaneLimits], delivery: Delivery,
                 settle_lanes: frozenset[str] = frozenset()) -> None:
        self.config, self.telegram, self.journal, self.executor = config, telegram, journal, executor
        self.delivery, self.settle_lanes = delivery, settle_lanes
        self.lanes = dict(lanes)
        self.calibration = Calibration(journal, config.default_size)
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
        """The user's unfinished job. A running job of a `settle_lanes` lane (seconds long) is waited for,
        at most SETTLE seconds: a tap on a quick version's buttons the moment it arrives then finds the
        job over (its worker may still be closing its status message) rather than being told to wait."""
        found = self.queue.active(user)
        deadline = time.monotonic() + SETTLE
        while (found is not None and found[0].state is JobState.RUNNING and found[0].lane in self.settle_lanes
               and time.monotonic() < deadline):
            time.sleep(0.01)
            found = self.queue.active(user)
        return found

    def cancel(self, user: int) -> Job | None:
        return self.queue.cancel(user)

    def stats(self) -> RunnerStats:
        workers, restarts = self.executor.stats()
        if self._queue is None:
            return RunnerStats({}, workers, restarts)
        return RunnerStats(self.queue.counts(), workers, restarts,
                           {lane: self.queue.expected_wait(lane) for lane in self.lanes})

    def shutdown(self, timeout: float | None = None) -> None:
        if self._queue is not None:
            self._queue.shutdown(timeout)
        self.executor.shutdown()

    def followup(self, record: JobRecord) -> Followup | None:
        """The job that follows a delivered one (its payload's "then": kind, lane and payload), journalled
        and announced with its own status message; None when there is none."""
        then = record.payload.get("then")
        if not then:
            return None
        following = announce(self.telegram, self.journal, self.journal.add(
            record.user_id, record.chat_id, then["lane"], then["kind"], then["payload"]))
        return Followup(_JournalledJob(self, following), following.lane,
                        self.calibration.estimate(following.kind, following.payload))


class _JournalledJob:
    """The queue's `Task` for one journalled job: starts it in the journal, has the executor run it, and
    survives the worker's death (one more try, then the user is told it failed)."""

    def __init__(self, runner: EmbeddedRunner, record: JobRecord) -> None:
        self.runner, self.record = runner, record
        self.status = StatusMessage(runner.telegram, record.chat_id, record.status_message_id,
                                    runner.config.progress_interval, delivery=runner.delivery)

    def run(self, job: Job) -> Followup | None:
        with speaking(job_language(self.record.payload)):
            return self._run(job)

    def _run(self, job: Job) -> Followup | None:
        journal, record = self.runner.journal, self.record
        while True:
            started = journal.start(record.id)
            if started.status.final:
                return None  # cancelled while it waited
            try:
                outcome = self.runner.executor.execute(started, job)
            except WorkerLost:
                log.error("the worker running job %d (attempt %d) died", record.id, started.attempts)
                shutil.rmtree(job_folder(self.runner.config.temp_dir, record.id), ignore_errors=True)
            else:
                return self.runner.followup(record) if outcome is JobStatus.DELIVERED else None
            current = journal.get(record.id)
            if current is None or current.status.final:
                return self.runner.followup(record) if current and current.status is JobStatus.DELIVERED else None
            if job.cancelled():
                if job.cancel_reason is CancelReason.USER and journal.finish(record.id, JobStatus.CANCELLED):
                    self.status.final(texts.CANCELLED)
                return None
            if current.attempts >= MAX_ATTEMPTS:
                if journal.finish(record.id, JobStatus.FAILED):
                    self.status.final(texts.NOT_FINISHED)
                    self.runner.delivery.tell(self.runner.telegram, record.chat_id, texts.WORKER_FAILED)
                return None
            self.runner.delivery.tell(self.runner.telegram, record.chat_id, texts.WORKER_RETRYING)

    def moved(self, job: Job, position: int) -> None:
        """The new place and wait, throttled as progress is: in a burst, each job ending moves everyone."""
        if job.state is JobState.QUEUED:
            with speaking(job_language(self.record.payload)):
                self.status.show(texts.queued(position, job.wait), force=position == 1)

    def dropped(self, job: Job) -> None:
        """Removed before it started: by /cancel (journalled and shown), or by a shutdown (left waiting in
        the journal: the next start runs it)."""
        if job.cancel_reason is CancelReason.USER and self.runner.journal.finish(self.record.id,
                                                                                 JobStatus.CANCELLED):
            with speaking(job_language(self.record.payload)):
                self.status.final(texts.CANCELLED)
