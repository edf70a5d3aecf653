"""The job journal in the SQLite store: every accepted job and how it stands, so that a restart resumes
what was waiting or running and /stats can count what finished; old final jobs are purged on the way."""
from __future__ import annotations

import json
from typing import Any

from bots.common.lanes import COST_KEY, PRIOR_KEY
from bots.store import JobRecord, JobStatus, JournalSummary
from bots.store.codec import encode_payload
from bots.store.sqlite.database import DAY, Database, Every

__all__ = ["SqliteJournal", "JOB_DAYS"]

JOB_DAYS = 30.0  # final jobs are kept this long, for /stats

# SQL lists of statuses, for "status IN ...": the values are our own constants
_UNFINISHED = "({})".format(", ".join(f"'{s.value}'" for s in JobStatus if not s.final))
_FINAL = "({})".format(", ".join(f"'{s.value}'" for s in JobStatus if s.final))

_JOB_COLUMNS = ("id, user_id, chat_id, lane, kind, payload, status_message_id, status, attempts, created, started, "
                "finished")


def _job(row: tuple[Any, ...]) -> JobRecord:
    (job_id, user_id, chat_id, lane, kind, payload, message_id, status, attempts, created, started,
     finished) = row
    return JobRecord(id=job_id, user_id=user_id, chat_id=chat_id, lane=lane, kind=kind, payload=json.loads(payload),
                     status_message_id=message_id, status=JobStatus(status), attempts=attempts, created=created,
                     started=started, finished=finished)


class SqliteJournal:
    """Every accepted job and how it stands; final jobs are kept `days` days (for /stats), then purged."""

    def __init__(self, database: Database, days: float) -> None:
        self._database = database
        self.days = days
        self._purge = Every(database.clock)

    def add(self, user_id: int, chat_id: int, lane: str, kind: str, payload: dict[str, Any]) -> JobRecord:
        """Write a new waiting job before its user is told it is queued; TypeError if `payload` is not a
        JSON object."""
        text = encode_payload(payload)
        now = self._database.clock()
        with self._database.transaction() as connection:
            if self._purge.due():
                connection.execute(f"DELETE FROM jobs WHERE status IN {_FINAL} AND finished < ?",
                                   (now - self.days * DAY,))
            cursor = connection.execute(
                "INSERT INTO jobs (user_id, chat_id, lane, kind, payload, status_message_id, status, attempts, "
                "created) VALUES (?, ?, ?, ?, ?, NULL, ?, 0, ?)",
                (user_id, chat_id, lane, kind, text, JobStatus.WAITING.value, now))
            job_id = int(cursor.lastrowid)
        return JobRecord(id=job_id, user_id=user_id, chat_id=chat_id, lane=lane, kind=kind,
                         payload=json.loads(text), status_message_id=None, status=JobStatus.WAITING, attempts=0,
                         created=now, started=None, finished=None)

    def set_status_message(self, job_id: int, message_id: int) -> None:
        """The message that shows the job's progress (to edit it after a restart); KeyError for no such job."""
        if not self._database.execute("UPDATE jobs SET status_message_id = ? WHERE id = ?", (message_id, job_id)):
            raise KeyError(job_id)

    def start(self, job_id: int) -> JobRecord:
        """Mark a waiting or running (resumed after a restart) job running, one more attempt, started now.
        A job already final (cancelled while it waited) is left as it is: check the returned status.
        KeyError for no such job."""
        with self._database.transaction() as connection:
            connection.execute(f"UPDATE jobs SET status = ?, attempts = attempts + 1, started = ? "
                               f"WHERE id = ? AND status IN {_UNFINISHED}",
                               (JobStatus.RUNNING.value, self._database.clock(), job_id))
            row = connection.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def finish(self, job_id: int, status: JobStatus) -> bool:
        """Give the job the final `status`, finished now, unless it is already final; True if this call
        did it: only its caller reports the outcome (a worker that delivered and a supervisor that saw the
        worker die do not both tell the user). False too for no such job."""
        status = JobStatus(status)
        if not status.final:
            raise ValueError(f"{status.value} is not a final status")
        return self._database.execute(f"UPDATE jobs SET status = ?, finished = ? "
                                      f"WHERE id = ? AND status IN {_UNFINISHED}",
                                      (status.value, self._database.clock(), job_id)) > 0

    def get(self, job_id: int) -> JobRecord | None:
        rows = self._database.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def unfinished(self) -> list[JobRecord]:
        """Waiting and running jobs, oldest first: what a restart resumes, in order."""
        rows = self._database.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN {_UNFINISHED} ORDER BY id")
        return [_job(row) for row in rows]

    def created_since(self, user_id: int, since: float) -> list[tuple[float, int]]:
        """When each of the user's jobs since `since` was created and its cost, oldest first (cancelled ones
        count)."""
        rows = self._database.query("SELECT created, coalesce(json_extract(payload, ?), 1) FROM jobs "
                                    "WHERE user_id = ? AND created >= ? ORDER BY created",
                                    (f"$.{COST_KEY}", user_id, since))
        return [(created, int(cost)) for created, cost in rows]

    def delivered_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]:
        """The last `limit` jobs delivered since `since`, newest first: (kind, seconds, prior estimate)."""
        return [(kind, seconds, prior) for kind, seconds, prior in self._database.query(
            "SELECT kind, finished - started, json_extract(payload, ?) FROM jobs WHERE status = ? AND finished >= ? "
            "AND started IS NOT NULL ORDER BY finished DESC LIMIT ?",
            (f"$.{PRIOR_KEY}", JobStatus.DELIVERED.value, since, limit))]

    def summary(self, since: float) -> JournalSummary:
        """Jobs finished since `since`: how many of each final status, and how long each delivered one ran."""
        counts = dict(self._database.query("SELECT status, count(*) FROM jobs WHERE finished >= ? GROUP BY status",
                                           (since,)))
        durations: dict[str, list[float]] = {}
        for kind, seconds in self._database.query(
                "SELECT kind, finished - started FROM jobs WHERE status = ? AND finished >= ? AND started IS NOT NULL "
                "ORDER BY kind, finished - started", (JobStatus.DELIVERED.value, since)):
            durations.setdefault(kind, []).append(seconds)
        return JournalSummary(delivered=counts.get(JobStatus.DELIVERED.value, 0),
                              failed=counts.get(JobStatus.FAILED.value, 0),
                              cancelled=counts.get(JobStatus.CANCELLED.value, 0), durations=durations)
