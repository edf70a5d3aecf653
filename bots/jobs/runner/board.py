"""The job board of the distributed mode: what every chat process and worker must agree on, in Redis.

Celery carries the jobs themselves (one queue per lane); the board keeps what Celery does not: which
job each user has (one at a time, across every chat process), each lane's waiting line in order (queue
positions), what runs now and since when, each job's estimated seconds (expected waits), cancel requests
for running jobs, and the workers' heartbeats (/stats, and how many slots serve a lane).
Every change that must not race is a single Redis command or a short Lua script.

Keys (under the store's prefix): ``user:<id>`` the user's job id ("pending" while a chat process
journals it), ``waiting:<lane>`` and ``running:<lane>`` sorted sets of job ids (by id, and by the time it
started), ``estimates`` a hash of job id to seconds, ``cancel:<job>`` a flag, ``worker:<name>`` a heartbeat
that expires when its worker stops beating, ``alive:<job>`` a running job's own beats (a hash: when it
last passed a cancel check, when it started, its deadline), ``hung:<job>`` a flag: its pool process was
killed as hung (the retry then says so).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis

from bots.jobs.runner import RunnerUnavailable
from bots.store.redis.connection import redact

__all__ = ["JobBoard", "JobLife", "WorkerBeat", "PENDING", "HEARTBEAT_SECONDS"]

T = TypeVar("T")

PENDING = "pending"
RESERVE_SECONDS = 60  # a reservation whose chat process died before queueing the job frees itself
RESERVE_TRIES = 3
HEARTBEAT_SECONDS = 10  # a worker beats this often; its heartbeat lives three beats
CANCEL_SECONDS = 24 * 3600

# Free the user's slot only if it still holds this job (a follow-up may have taken it over).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Reserve a slot still held by an ended job (or freed meanwhile), unless another reservation got there first.
_TAKE_OVER = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end
return 0
"""
# Leave the waiting line (a cancel), freeing the user's slot, only if the job is still waiting there.
_UNQUEUE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""
# Waiting -> running, atomically, so that no job is ever counted in neither or both.
_TAKE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class WorkerBeat:
    """A worker's last heartbeat: who it is, where, what it serves, which job it runs, its memory."""

    name: str
    host: str
    pid: int
    lanes: tuple[str, ...]
    job: int | None
    seen: float
    rss_mb: float | None = None


@dataclass(frozen=True)
class JobLife:
    """A running job as the watchdog sees it: where it runs, seconds since its last beat and since it started,
    and the seconds it may run."""

    job: int
    worker: str
    pid: int
    silent: float
    running: float
    deadline: float


class JobBoard:
    """The board over one Redis connection pool (thread-safe, like the client)."""

    def __init__(self, url: str, prefix: str = "stylebot:", timeout: float = 5.0) -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                          decode_responses=True, health_check_interval=30)
        self.url = redact(url)  # for messages: never the password
        self.prefix = prefix
        self._release = self.redis.register_script(_RELEASE)
        self._take = self.redis.register_script(_TAKE)
        self._take_over = self.redis.register_script(_TAKE_OVER)
        self._unqueue = self.redis.register_script(_UNQUEUE)

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    @staticmethod
    def _call(function: Callable[..., T], *args: object) -> T:
        try:
            return function(*args)
        except redis.RedisError as exc:
            raise RunnerUnavailable(f"Redis: {exc}") from None

    def ping(self) -> None:
        """Raise RunnerUnavailable unless Redis answers."""
        self._call(self.redis.ping)

    # ---- one job per user ---------------------------------------------------------------------------
    def reserve(self, user: int) -> str | None:
        """Reserve the user's slot; None if done, else what holds it (a job id, or PENDING)."""
        key = self._key("user", user)
        for _ in range(RESERVE_TRIES):
            if self._call(lambda: self.redis.set(key, PENDING, ex=RESERVE_SECONDS, nx=True)):
                return None
            if holder := self._call(self.redis.get, key):
                return holder
            # freed between the two commands (a worker dropping the job that held it): try again
        return PENDING

    def take_over(self, user: int, holder: str) -> bool:
        """Reserve the slot that `holder` (a job that has ended, its worker not yet off the board) holds, or
        that its worker has just freed."""
        return bool(self._call(self._take_over, [self._key("user", user)], [holder, PENDING, RESERVE_SECONDS]))

    def user_job(self, user: int) -> int | None:
        value = self._call(self.redis.get, self._key("user", user))
        return int(value) if value and value != PENDING else None

    def release(self, user: int, job_id: int | str) -> None:
        self._call(self._release, [self._key("user", user)], [str(job_id)])

    # ---- lanes --------------------------------------------------------------------------------------
    def queue(self, user: int, lane: str, job_id: int, estimate: float) -> None:
        """The job joins its lane's waiting line (ordered by id: the journal's order), with its estimated
        seconds, and takes the user's slot (from their reservation, or from the job it follows, without the
        slot ever being free)."""
        pipe = self.redis.pipeline()
        pipe.set(self._key("user", user), str(job_id))
        pipe.hset(self._key("estimates"), str(job_id), repr(float(estimate)))
        pipe.zadd(self._key("waiting", lane), {str(job_id): job_id})
        self._call(pipe.execute)

    def known(self, lane: str, job_id: int) -> bool:
        """Whether the job is waiting or running on the board."""
        pipe = self.redis.pipeline()
        pipe.zscore(self._key("waiting", lane), str(job_id))
        pipe.zscore(self._key("running", lane), str(job_id))
        return any(score is not None for score in self._call(pipe.execute))

    def take(self, lane: str, job_id: int) -> None:
        self._call(self._take, [self._key("waiting", lane), self._key("running", lane)], [str(job_id), time.time()])

    def unqueue(self, user: int, lane: str, job_id: int) -> bool:
        """Take a waiting job off its line and free its user's slot; False if a worker took it first."""
        if not self._call(self._unqueue, [self._key("waiting", lane), self._key("user", user)], [str(job_id)]):
            return False
        self._call(self.redis.hdel, self._key("estimates"), str(job_id))
        return True

    def drop(self, user: int, lane: str, job_id: int) -> None:
        """Remove an ended job from the board, and free its user's slot unless a follow-up holds it."""
        pipe = self.redis.pipeline()
        pipe.zrem(self._key("waiting", lane), str(job_id))
        pipe.zrem(self._key("running", lane), str(job_id))
        pipe.hdel(self._key("estimates"), str(job_id))
        pipe.delete(self._key("cancel", job_id))
        self._call(pipe.execute)
        self.release(user, job_id)

    def position(self, lane: str, job_id: int) -> int | None:
        """0 while the job runs, its place in the waiting line (1: next), None when it is not there."""
        pipe = self.redis.pipeline()
        pipe.zscore(self._key("running", lane), str(job_id))
        pipe.zrank(self._key("waiting", lane), str(job_id))
        running, rank = self._call(pipe.execute)
        if running is not None:
            return 0
        return None if rank is None else rank + 1

    def waiting(self, lane: str) -> list[int]:
        """The lane's waiting jobs, next first."""
        return [int(member) for member in self._call(self.redis.zrange, self._key("waiting", lane), 0, -1)]

    def load(self, lane: str) -> tuple[list[tuple[float, float]], list[tuple[int, float]]]:
        """The lane's running jobs as (started, by time.time(); estimated seconds) and its waiting ones as
        (job id, estimated seconds), next first. A job queued without an estimate counts 0 s."""
        pipe = self.redis.pipeline()
        pipe.zrange(self._key("running", lane), 0, -1, withscores=True)
        pipe.zrange(self._key("waiting", lane), 0, -1)
        running, waiting = self._call(pipe.execute)
        ids = [member for member, _ in running] + waiting
        seconds = [float(value or 0.0) for value in self._call(self.redis.hmget, self._key("estimates"), ids)] \
            if ids else []
        return ([(started, estimate) for (_, started), estimate in zip(running, seconds)],
                [(int(member), estimate) for member, estimate in zip(waiting, seconds[len(running):])])

    def counts(self, lanes: list[str]) -> dict[str, tuple[int, int]]:
        """Per lane: (waiting, running)."""
        pipe = self.redis.pipeline()
        for lane in lanes:
            pipe.zcard(self._key("waiting", lane))
            pipe.zcard(self._key("running", lane))
        values = self._call(pipe.execute)
        return {lane: (values[2 * i], values[2 * i + 1]) for i, lane in enumerate(lanes)}

    # ---- cancel -------------------------------------------------------------------------------------
    def ask_cancel(self, job_id: int) -> None:
        self._call(lambda: self.redis.set(self._key("cancel", job_id), repr(time.time()), ex=CANCEL_SECONDS))

    def cancel_asked(self, job_id: int) -> bool:
        return bool(self._call(self.redis.exists, self._key("cancel", job_id)))

    def cancel_age(self, job_id: int) -> float | None:
        """Seconds since a cancel of the job was asked, or None."""
        asked = self._call(self.redis.get, self._key("cancel", job_id))
        return None if asked is None else time.time() - float(asked)

    # ---- a running job's own beats (the watchdog's) ---------------------------------------------------
    def job_started(self, job_id: int, deadline: float, worker: str, pid: int) -> None:
        """A job starts on `worker`'s pool process `pid`: it must beat from now on, and end within `deadline`
        seconds."""
        now = repr(time.time())
        key = self._key("alive", job_id)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"beat": now, "started": now, "deadline": repr(float(deadline)), "worker": worker,
                                "pid": str(pid)})
        pipe.expire(key, CANCEL_SECONDS)
        self._call(pipe.execute)

    def job_beat(self, job_id: int) -> None:
        self._call(lambda: self.redis.hset(self._key("alive", job_id), "beat", repr(time.time())))

    def job_ended(self, job_id: int) -> None:
        self._call(self.redis.delete, self._key("alive", job_id))

    def running_jobs(self, worker_prefix: str) -> list[JobLife]:
        """The jobs running on the pool processes whose worker name starts with `worker_prefix`."""
        lives = []
        for key in self._call(lambda: list(self.redis.scan_iter(self._key("alive", "*")))):
            found = self._call(self.redis.hgetall, key)
            if found.get("worker", "").startswith(worker_prefix):
                now = time.time()
                lives.append(JobLife(int(key.rsplit(":", 1)[1]), found["worker"], int(found["pid"]),
                                     now - float(found["beat"]), now - float(found["started"]),
                                     float(found["deadline"])))
        return lives

    def mark_hung(self, job_id: int) -> None:
        self._call(lambda: self.redis.set(self._key("hung", job_id), "1", ex=CANCEL_SECONDS))

    def was_hung(self, job_id: int) -> bool:
        return bool(self._call(self.redis.exists, self._key("hung", job_id)))

    # ---- workers ------------------------------------------------------------------------------------
    def beat(self, beat: WorkerBeat) -> None:
        data = {"name": beat.name, "host": beat.host, "pid": beat.pid, "lanes": list(beat.lanes), "job": beat.job,
                "seen": beat.seen, "rss_mb": beat.rss_mb}
        self._call(lambda: self.redis.set(self._key("worker", beat.name), json.dumps(data), ex=3 * HEARTBEAT_SECONDS))

    def workers(self) -> list[WorkerBeat]:
        """The workers whose heartbeat is still alive, by name."""
        keys = sorted(self._call(lambda: list(self.redis.scan_iter(self._key("worker", "*")))))
        beats = []
        for raw in self._call(self.redis.mget, keys) if keys else []:
            if raw:
                data = json.loads(raw)
                beats.append(WorkerBeat(data["name"], data["host"], data["pid"], tuple(data["lanes"]), data["job"],
                                        data["seen"], data.get("rss_mb")))
        return beats

    def close(self) -> None:
        self.redis.close()
