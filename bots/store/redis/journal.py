"""The job journal in the Redis store.

Keys (under the store's prefix): `jobs:next` (INCR: ids, never reused), `job:<id>` (a hash: the record,
with the payload as JSON and `status_message_id`, `started`, `finished` absent until set), and three
sorted sets of ids: `jobs:unfinished` (scored by id: what a restart resumes, in order), `jobs:finished`
(scored by when: for /stats) and `jobs:user:<id>` (scored by creation: for the rate limit).

`start` and `finish` are Lua scripts, so a check and its change are one atomic step whichever process
runs them. Unfinished jobs never expire. Final ones are kept `days` (JOB_DAYS, 7) by the clock: /stats
looks back 24 hours and the rate limit one hour, so a week is plenty and keeps Redis's memory bounded;
Redis expires a final job's hash a day after that, and the sorted sets are trimmed on the way.
"""
from __future__ import annotations

import json
from typing import Any

from bots.common.lanes import COST_KEY, PRIOR_KEY
from bots.store import JobRecord, JobStatus, JournalSummary
from bots.store.codec import DAY, encode_payload
from bots.store.redis.connection import TTL_MARGIN, Connection

__all__ = ["RedisJournal", "JOB_DAYS"]

JOB_DAYS = 7.0

_UNFINISHED = " or ".join(f"status == '{s.value}'" for s in JobStatus if not s.final)  # Lua

# KEYS[1] the job; ARGV[1] now. The record afterwards (nil for no such job).
_START = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if {_UNFINISHED} then
    redis.call('HSET', KEYS[1], 'status', '{JobStatus.RUNNING.value}', 'started', ARGV[1])
    redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
return redis.call('HGETALL', KEYS[1])
"""
# KEYS: the job, jobs:unfinished, jobs:finished; ARGV: the job's id, its final status, now, the hash's
# expiry in seconds, the oldest finish time kept. 1 if this call finished the job.
_FINISH = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if not ({_UNFINISHED}) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5])
return 1
"""
# KEYS[1] the job; ARGV[1] the message id. 1 if the job exists.
_SET_STATUS_MESSAGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status_message_id', ARGV[1])
return 1
"""


def _optional(value: str | None) -> float | None:
    return None if value is None else float(value)


def _job(job_id: int, fields: dict[str, str]) -> JobRecord:
    message_id = fields.get("status_message_id")
    return JobRecord(id=job_id, user_id=int(fields["user_id"]), chat_id=int(fields["chat_id"]), lane=fields["lane"],
                     kind=fields["kind"], payload=json.loads(fields["payload"]),
                     status_message_id=None if message_id is None else int(message_id),
                     status=JobStatus(fields["status"]), attempts=int(fields["attempts"]),
                     created=float(fields["created"]), started=_optional(fields.get("started")),
                     finished=_optional(fields.get("finished")))


class RedisJournal:
    """Every accepted job and how it stands; final jobs are kept `days` days (for /stats)."""

    def __init__(self, connection: Connection, days: float) -> None:
        self._connection = connection
        self.days = days
        self._start = connection.script(_START)
        self._finish = connection.script(_FINISH)
        self._set_status_message = connection.script(_SET_STATUS_MESSAGE)

    def _key(self, *parts: object) -> str:
        return self._connection.key(*parts)

    def add(self, user_id: int, chat_id: int, lane: str, kind: str, payload: dict[str, Any]) -> JobRecord:
        """Write a new waiting job before its user is told it is queued; TypeError if `payload` is not a
        JSON object."""
        text = encode_payload(payload)
        now = self._connection.clock()
        oldest = f"({now - self.days * DAY!r}"
        user_jobs = self._key("jobs", "user", user_id)
        with self._connection.use() as client:
            job_id = int(client.incr(self._key("jobs", "next")))
            pipe = client.pipeline(transaction=True)
            pipe.hset(self._key("job", job_id), mapping={
                "user_id": user_id, "chat_id": chat_id, "lane": lane, "kind": kind, "payload": text,
                "status": JobStatus.WAITING.value, "attempts": 0, "created": now})
            pipe.zadd(self._key("jobs", "unfinished"), {job_id: job_id})
            pipe.zadd(user_jobs, {job_id: now})
            pipe.zremrangebyscore(user_jobs, "-inf", oldest)
            pipe.expire(user_jobs, int(self.days * DAY + TTL_MARGIN))
            pipe.zremrangebyscore(self._key("jobs", "finished"), "-inf", oldest)
            pipe.execute()
        return JobRecord(id=job_id, user_id=user_id, chat_id=chat_id, lane=lane, kind=kind, payload=json.loads(text),
                         status_message_id=None, status=JobStatus.WAITING, attempts=0, created=now, started=None,
                         finished=None)

    def set_status_message(self, job_id: int, message_id: int) -> None:
        """The message that shows the job's progress (to edit it after a restart); KeyError for no such job."""
        with self._connection.use():
            if not self._set_status_message(keys=[self._key("job", job_id)], args=[message_id]):
                raise KeyError(job_id)

    def start(self, job_id: int) -> JobRecord:
        """Mark a waiting or running (resumed after a restart) job running, one more attempt, started now.
        A job already final (cancelled while it waited) is left as it is: check the returned status.
        KeyError for no such job."""
        with self._connection.use():
            flat = self._start(keys=[self._key("job", job_id)], args=[repr(self._connection.clock())])
        if flat is None:
            raise KeyError(job_id)
        return _job(job_id, dict(zip(flat[::2], flat[1::2])))

    def finish(self, job_id: int, status: JobStatus) -> bool:
        """Give the job the final `status`, finished now, unless it is already final; True if this call
        did it: only its caller reports the outcome (a worker that delivered and a supervisor that saw the
        worker die do not both tell the user). False too for no such job."""
        status = JobStatus(status)
        if not status.final:
            raise ValueError(f"{status.value} is not a final status")
        now = self._connection.clock()
        keys = [self._key("job", job_id), self._key("jobs", "unfinished"), self._key("jobs", "finished")]
        with self._connection.use():
            return bool(self._finish(keys=keys, args=[job_id, status.value, repr(now),
                                                      int(self.days * DAY + TTL_MARGIN), repr(now - self.days * DAY)]))

    def get(self, job_id: int) -> JobRecord | None:
        """The job, None if there is none or it is final and older than `days` by the clock."""
        with self._connection.use() as client:
            fields = client.hgetall(self._key("job", job_id))
        if not fields:
            return None
        job = _job(job_id, fields)
        if job.finished is not None and job.finished < self._connection.clock() - self.days * DAY:
            return None
        return job

    def unfinished(self) -> list[JobRecord]:
        """Waiting and running jobs, oldest first: what a restart resumes, in order."""
        with self._connection.use() as client:
            ids = [int(member) for member in client.zrange(self._key("jobs", "unfinished"), 0, -1)]
            pipe = client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hgetall(self._key("job", job_id))
            records = pipe.execute()
        return [_job(job_id, fields) for job_id, fields in zip(ids, records) if fields]

    def created_since(self, user_id: int, since: float) -> list[tuple[float, int]]:
        """When each of the user's jobs since `since` was created and its cost, oldest first (cancelled ones
        count)."""
        with self._connection.use() as client:
            found = client.zrangebyscore(self._key("jobs", "user", user_id), since, "+inf", withscores=True)
            pipe = client.pipeline(transaction=False)
            for job_id, _ in found:
                pipe.hget(self._key("job", int(job_id)), "payload")
            payloads = pipe.execute()
        return [(created, int(json.loads(payload).get(COST_KEY, 1)) if payload else 1)
                for (_, created), payload in zip(found, payloads)]

    def delivered_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]:
        """The last `limit` jobs delivered since `since`, newest first: (kind, seconds, prior estimate)."""
        with self._connection.use() as client:
            ids = client.zrevrangebyscore(self._key("jobs", "finished"), "+inf", since, start=0, num=4 * limit)
            pipe = client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._key("job", job_id), "status", "kind", "started", "finished", "payload")
            rows = pipe.execute()
        runs = []
        for status, kind, started, finished, payload in rows:
            if status == JobStatus.DELIVERED.value and started is not None and len(runs) < limit:
                runs.append((kind, float(finished) - float(started), json.loads(payload).get(PRIOR_KEY)))
        return runs

    def summary(self, since: float) -> JournalSummary:
        """Jobs finished since `since`: how many of each final status, and how long each delivered one ran."""
        with self._connection.use() as client:
            ids = client.zrangebyscore(self._key("jobs", "finished"), since, "+inf")
            pipe = client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._key("job", job_id), "status", "kind", "started", "finished")
            rows = pipe.execute()
        counts = {status: 0 for status in JobStatus if status.final}
        durations: dict[str, list[float]] = {}
        for status, kind, started, finished in rows:
            if status is None:  # expired by Redis meanwhile
                continue
            counts[JobStatus(status)] += 1
            if status == JobStatus.DELIVERED.value and started is not None:
                durations.setdefault(kind, []).append(float(finished) - float(started))
        return JournalSummary(delivered=counts[JobStatus.DELIVERED], failed=counts[JobStatus.FAILED],
                              cancelled=counts[JobStatus.CANCELLED],
                              durations={kind: sorted(seconds) for kind, seconds in sorted(durations.items())})
