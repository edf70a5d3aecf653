"""What is said about a job, always in the language of the user who asked for it (`bots.common.i18n`):
its status message (queued, its place and wait, progress, the outcome), the notices that must reach them
(a restart or a crashed worker, and giving up), and the job that follows it.

The admission, both runners and the workers say all of it through one `JobNotices` per job, made by
their process's `Notifier`, so the language, the status message and the journal's "who ends it" are
handled in one place. A job's outcome is shown only by whoever journals it (`JobJournal.finish`): a
worker and its supervisor may both see a job end, and the user hears it once.
"""
from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException

from bots.botapi.delivery import Delivery
from bots.botapi.progress import StatusMessage
from bots.common import metrics, texts
from bots.common.i18n import job_language, speaking
from bots.jobs.queue import AlreadyQueued, QueueFull
from bots.store import JobJournal, JobRecord, JobStatus

__all__ = ["Notifier", "JobNotices", "Interruption"]

log = logging.getLogger(__name__)


class Interruption(enum.Enum):
    """Why a job stopped before its end, to be tried again (or given up)."""

    RESTART = "restart"  # the bot stopped or crashed while it ran
    CRASH = "crash"  # the worker process running it died
    HANG = "hang"  # the worker running it fell silent or overran its deadline, and was killed


# The texts (`bots.common.texts` names, read in the job's language) for a job tried again, or given up.
_RETRYING = {Interruption.RESTART: "RESUMED", Interruption.CRASH: "WORKER_RETRYING",
             Interruption.HANG: "WORKER_STUCK_RETRYING"}
_GAVE_UP = {Interruption.RESTART: "RESUMED_FAILED", Interruption.CRASH: "WORKER_FAILED",
            Interruption.HANG: "WORKER_STUCK_FAILED"}


@dataclass(frozen=True)
class Notifier:
    """Where a process says things about jobs: its Bot API client, its retry policy and the journal;
    `interval`: seconds between two progress edits of a status message."""

    telegram: TeleBot
    journal: JobJournal
    delivery: Delivery
    interval: float = 0.0

    def about(self, record: JobRecord) -> JobNotices:
        return JobNotices(self, record)

    def follow_up(self, record: JobRecord) -> JobRecord | None:
        """The job that follows a delivered one (its payload's "then": kind, lane and payload, such as the
        full painting after its quick version), journalled and announced with its own status message;
        None when there is none."""
        then = record.payload.get("then")
        if not then:
            return None
        following = self.journal.add(record.user_id, record.chat_id, then["lane"], then["kind"], then["payload"])
        return self.about(following).announce()


class JobNotices:
    """What is said about one journalled job; thread-safe as its status message is."""

    def __init__(self, notifier: Notifier, record: JobRecord) -> None:
        self.notifier, self.record = notifier, record
        self.language = job_language(record.payload)
        self.status = StatusMessage(notifier.telegram, record.chat_id, record.status_message_id, notifier.interval,
                                    delivery=notifier.delivery)

    @contextmanager
    def speaking(self) -> Iterator[None]:
        """Say what follows in the job's language (a task's captions, stage titles and reasons)."""
        with speaking(self.language):
            yield

    def announce(self) -> JobRecord:
        """Tell the user the job is queued, in the status message it will then edit (its place, its
        progress, its outcome), and journal that message's id; returns the record with it. If Telegram
        refuses, the job's outcome is sent as a new message at the end."""
        record = self.record
        try:
            with self.speaking():
                sent = self.notifier.telegram.send_message(record.chat_id, texts.queued(0))
        except (ApiException, RequestException) as exc:
            log.warning("could not tell chat %d its job %d is queued: %s", record.chat_id, record.id, exc)
            return record
        self.notifier.journal.set_status_message(record.id, sent.message_id)
        self.status.message_id = sent.message_id
        self.record = replace(record, status_message_id=sent.message_id)
        return self.record

    def queued(self, position: int, wait: float | None = None, force: bool = True) -> None:
        """Its place in the line (1: next) and the seconds it can expect to wait; unless `force`, skipped
        while the last edit is under the progress interval old (in a burst, each job ending moves all)."""
        with self.speaking():
            self.status.show(texts.queued(position, wait), force=force)

    def progress(self, title: str, fraction: float) -> None:
        """`title` (said by the task, in the job's language) over a progress bar, throttled."""
        self.status.progress(title, fraction)

    def delivered(self, seconds: float, journalled: bool = False) -> None:
        """Its result reached the user (`journalled`: the delivery already said so in the journal): close
        the status message with the time it took."""
        if journalled or self.notifier.journal.finish(self.record.id, JobStatus.DELIVERED):
            metrics.count_job(self.record.kind, "delivered")
            metrics.observe_job(self.record.kind, seconds=seconds)
            with self.speaking():
                self.status.final(texts.done(seconds))

    def cancelled(self) -> bool:
        """Journal it cancelled and say so; False when it already had an outcome (then nothing is said)."""
        if not self.notifier.journal.finish(self.record.id, JobStatus.CANCELLED):
            return False
        metrics.count_job(self.record.kind, "cancelled")
        with self.speaking():
            self.status.final(texts.CANCELLED)
        return True

    def refused(self, refusal: AlreadyQueued | QueueFull) -> None:
        """A journalled and announced job that its lane would not take after all (a request at the same
        moment took the place): cancelled, and its status message says why."""
        if self.notifier.journal.finish(self.record.id, JobStatus.CANCELLED):
            with self.speaking():
                self.status.final(texts.already_queued(refusal.position) if isinstance(refusal, AlreadyQueued)
                                  else texts.queue_full(refusal.wait, refusal.retry))

    def retrying(self, interruption: Interruption) -> None:
        """Tell the user the job is on its way again after `interruption`, with nothing for them to do."""
        metrics.count_job(self.record.kind, "retried")
        with self.speaking():
            self.notifier.delivery.tell(self.notifier.telegram, self.record.chat_id,
                                        getattr(texts, _RETRYING[interruption]))

    def gave_up(self, interruption: Interruption) -> None:
        """The job was interrupted once too often: failed, and the user told why."""
        with self.speaking():
            self.failed(getattr(texts, _GAVE_UP[interruption]))

    def failed(self, reason: str) -> None:
        """Journal it failed and, if this call did it, close its status message ("not finished") and tell
        the user `reason` in a new message (so they are notified); `reason` is said in the job's language
        (inside `speaking()`, where a task runs)."""
        if self.notifier.journal.finish(self.record.id, JobStatus.FAILED):
            metrics.count_job(self.record.kind, "failed")
            with self.speaking():
                self.status.final(texts.NOT_FINISHED)
            self.notifier.delivery.tell(self.notifier.telegram, self.record.chat_id, reason)

