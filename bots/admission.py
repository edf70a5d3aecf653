"""Taking a user's request in as a job: the limits first (one job per user, jobs per hour, the lane's
expected wait), then the journal, then the user's status message, then the runner; and, on start, taking the
journal's unfinished jobs in again. The chat handlers call this; no tensor and no network here. A job keeps
the language of the user who asked for it (`bots.i18n`), so that everything about it is said in theirs."""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException

from bots import texts
from bots.config import BotConfig
from bots.delivery import Delivery
from bots.i18n import PAYLOAD_KEY, current, job_language, speaking
from bots.jobs import AlreadyQueued, QueueFull
from bots.progress import StatusMessage
from bots.runner import JobRunner, RunnerUnavailable
from bots.store import JobJournal, JobRecord, JobStatus, StoreError
from bots.telegram_calls import say
from bots.waits import stamp

__all__ = ["Admission", "announce", "MAX_ATTEMPTS"]

log = logging.getLogger(__name__)
HOUR = 3600.0
MAX_ATTEMPTS = 2  # a job whose worker died (or that a restart interrupted) is started once more, no more


def announce(telegram: TeleBot, journal: JobJournal, record: JobRecord) -> JobRecord:
    """Tell the user a journalled job is queued, in the status message it will then edit (its place, its
    progress, its outcome), and journal that message's id; if Telegram refuses, its worker sends one at
    the end."""
    try:
        sent = telegram.send_message(record.chat_id, texts.queued(0))
    except (ApiException, RequestException) as exc:
        log.warning("could not tell chat %d its job %d is queued: %s", record.chat_id, record.id, exc)
        return record
    journal.set_status_message(record.id, sent.message_id)
    return dataclasses.replace(record, status_message_id=sent.message_id)


class Admission:
    """The door between the chat and the job runner."""

    def __init__(self, config: BotConfig, telegram: TeleBot, journal: JobJournal, runner: JobRunner,
                 delivery: Delivery) -> None:
        self.config, self.telegram, self.journal, self.runner = config, telegram, journal, runner
        self.delivery = delivery

    def busy(self, user: int, chat: int) -> bool:
        """One job per user: if they have one, say where it stands and return True (and if the runner
        cannot tell now, ask them to try again soon: True as well)."""
        try:
            active = self.runner.active(user)
        except (RunnerUnavailable, StoreError) as exc:
            log.warning("cannot look up the job of user %d: %s", user, exc)
            say(self.telegram, chat, texts.BUSY)
            return True
        if active is not None:
            say(self.telegram, chat, texts.already_queued(active[1]))
        return active is not None

    def take(self, user: int, chat: int, lane: str, kind: str, payload: dict[str, Any]) -> None:
        """Journal a job, tell the user (`announce`), then queue it; or say why it cannot be taken now
        (its Redis down, in the distributed mode: "try again in a minute")."""
        try:
            self._take(user, chat, lane, kind, stamp(kind, _spoken(payload), self.config.default_size))
        except (RunnerUnavailable, StoreError) as exc:
            log.warning("cannot take a job of user %d: %s", user, exc)
            say(self.telegram, chat, texts.BUSY)

    def _take(self, user: int, chat: int, lane: str, kind: str, payload: dict[str, Any]) -> None:
        if self.busy(user, chat):
            return
        if (wait := self.rate_wait(user)) is not None:
            say(self.telegram, chat, texts.rate_limited(self.config.jobs_per_hour, wait))
            return
        try:
            self.runner.admit(user, lane)
        except AlreadyQueued as exc:
            say(self.telegram, chat, texts.already_queued(exc.position))
            return
        except QueueFull as exc:
            log.info("lane %s refused a job of user %d: about %.0f s to wait", lane, user, exc.wait)
            say(self.telegram, chat, texts.queue_full(exc.wait, exc.retry))
            return
        record = announce(self.telegram, self.journal, self.journal.add(user, chat, lane, kind, payload))
        try:
            self.runner.submit(record)
        except (AlreadyQueued, QueueFull) as exc:  # since `admit`, a request at the same moment took the place
            self._refused(record, texts.already_queued(exc.position) if isinstance(exc, AlreadyQueued)
                          else texts.queue_full(exc.wait, exc.retry))

    def _refused(self, record: JobRecord, why: str) -> None:
        """A journalled and announced job that its lane would not take after all: cancelled, and its status
        message says why."""
        if self.journal.finish(record.id, JobStatus.CANCELLED):
            StatusMessage(self.telegram, record.chat_id, record.status_message_id, 0,
                          delivery=self.delivery).final(why)

    def rate_wait(self, user: int) -> float | None:
        """Seconds until `user` may queue another job under the jobs-per-hour limit; None: now."""
        if not self.config.jobs_per_hour:
            return None
        now = time.time()
        recent = sorted(self.journal.created_since(user, now - HOUR))
        if len(recent) < self.config.jobs_per_hour:
            return None
        return recent[-self.config.jobs_per_hour] + HOUR - now

    def resume(self) -> None:
        """Run again what a stop or a crash interrupted, in order: a job that was running is started once
        more (its user told the picture is on its way), or reported as failed if it already was."""
        for record in self.journal.unfinished():
            with speaking(job_language(record.payload)):
                self._resume(record)

    def _resume(self, record: JobRecord) -> None:
        if record.status is JobStatus.RUNNING:
            if record.attempts >= MAX_ATTEMPTS:
                if self.journal.finish(record.id, JobStatus.FAILED):
                    StatusMessage(self.telegram, record.chat_id, record.status_message_id, 0,
                                  delivery=self.delivery).final(texts.NOT_FINISHED)
                    self.delivery.tell(self.telegram, record.chat_id, texts.RESUMED_FAILED)
                return
            self.delivery.tell(self.telegram, record.chat_id, texts.RESUMED)
        try:
            self.runner.submit(record, resumed=True)
        except AlreadyQueued:
            log.error("job %d of user %d is in the journal twice; dropped", record.id, record.user_id)
            self.journal.finish(record.id, JobStatus.CANCELLED)
        log.info("resumed job %d (%s) of user %d", record.id, record.status.value, record.user_id)


def _spoken(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with the current language, and so its follow-up's (a quick version's full painting)."""
    spoken = {**payload, PAYLOAD_KEY: current()}
    if spoken.get("then"):
        spoken["then"] = {**spoken["then"], "payload": _spoken(spoken["then"]["payload"])}
    return spoken
