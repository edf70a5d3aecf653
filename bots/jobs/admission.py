"""Taking a user's request in as a job: the limits first (one job per user, jobs per hour, the lane's
expected wait), then the journal, then the user's status message, then the runner; and, on start, taking the
journal's unfinished jobs in again. The chat handlers call this (with the runner interface, the only part of
`bots.jobs` they see); no tensor and no network here. A job keeps the language of the user who asked for
it (`bots.common.i18n`), so that everything about it is said in theirs (`bots.jobs.notices`)."""
from __future__ import annotations

import itertools
import logging
import time
from typing import Any

from bots.botapi.calls import say
from bots.common import texts
from bots.common.config import BotConfig
from bots.common.i18n import PAYLOAD_KEY, current
from bots.common.lanes import COST_KEY, MAX_ATTEMPTS
from bots.jobs.notices import Interruption, Notifier
from bots.jobs.runner import AlreadyQueued, JobRunner, QueueFull, RunnerUnavailable
from bots.jobs.waits import stamp
from bots.store import JobRecord, JobStatus, StoreError

__all__ = ["Admission"]

log = logging.getLogger(__name__)
HOUR = 3600.0


class Admission:
    """The door between the chat and the job runner; `notifier` says what concerns each job."""

    def __init__(self, config: BotConfig, runner: JobRunner, notifier: Notifier) -> None:
        self.config, self.runner, self.notifier = config, runner, notifier
        self.telegram, self.journal = notifier.telegram, notifier.journal

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
        """Journal a job, tell the user it is queued, then queue it; or say why it cannot be taken now
        (its Redis down, in the distributed mode: "try again in a minute")."""
        try:
            self._take(user, chat, lane, kind, stamp(kind, _spoken(payload), self.config.default_size))
        except (RunnerUnavailable, StoreError) as exc:
            log.warning("cannot take a job of user %d: %s", user, exc)
            say(self.telegram, chat, texts.BUSY)

    def _take(self, user: int, chat: int, lane: str, kind: str, payload: dict[str, Any]) -> None:
        if self.busy(user, chat):
            return
        cost = int(payload.get(COST_KEY, 1))
        if (wait := self.rate_wait(user, cost)) is not None:
            say(self.telegram, chat, texts.rate_limited(self.config.jobs_per_hour, wait, cost))
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
        notices = self.notifier.about(self.journal.add(user, chat, lane, kind, payload))
        try:
            self.runner.submit(notices.announce())
        except (AlreadyQueued, QueueFull) as exc:  # since `admit`, a request at the same moment took the place
            notices.refused(exc)

    def rate_wait(self, user: int, cost: int = 1) -> float | None:
        """Seconds until `user` may queue a job of `cost` pictures (a clip counts as several) under the
        jobs-per-hour limit; None: now. A job costing more than the limit counts as the limit: alone in its
        hour, it is taken."""
        limit = self.config.jobs_per_hour
        if not limit:
            return None
        now = time.time()
        recent = sorted(self.journal.created_since(user, now - HOUR))
        over = sum(spent for _, spent in recent) + min(cost, limit) - limit  # what must leave the hour first
        if over <= 0:
            return None
        freed = itertools.accumulate(spent for _, spent in recent)  # the oldest leave first
        return next(created for (created, _), total in zip(recent, freed) if total >= over) + HOUR - now

    def resume(self) -> None:
        """Run again what a stop or a crash interrupted, in order: a job that was running is started once
        more (its user told the picture is on its way), or reported as failed if it already was."""
        for record in self.journal.unfinished():
            self._resume(record)

    def _resume(self, record: JobRecord) -> None:
        if record.status is JobStatus.RUNNING:
            notices = self.notifier.about(record)
            if record.attempts >= MAX_ATTEMPTS:
                notices.gave_up(Interruption.RESTART)
                return
            notices.retrying(Interruption.RESTART)
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
