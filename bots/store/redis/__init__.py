"""The store on Redis: for bots whose chat process and workers do not share a disk, or that run several
copies. Each process opens its own `RedisStore` on the same URL; every key starts with `prefix`
("stylebot:"), so bots (or tests) can share one Redis.

Every read-modify-write is one atomic Redis step (a single command, MULTI/EXEC or a Lua script), so
processes never lose each other's changes. Retention (results, conversations, final jobs) is judged with
the store's clock, as in the SQLite store, and Redis also expires those keys a day later, so nothing piles
up. Everything is JSON: no pickles, no pictures, no token. Durability is Redis's: run it with
`appendonly yes` (the store warns when Redis keeps nothing on disk), and with `maxmemory-policy
noeviction`, or Redis may evict jobs to make room.

One module per part, as in the SQLite store: `connection` (the client, key names, errors), `settings`,
`states`, `results` and `journal`.
"""
from __future__ import annotations

import time
from types import TracebackType

from bots.common.settings import UserSettings
from bots.store.redis.connection import SCHEMA_VERSION, Clock, Connection, connect, redact
from bots.store.redis.journal import JOB_DAYS, RedisJournal
from bots.store.redis.results import RedisResults
from bots.store.redis.settings import RedisSettings
from bots.store.redis.states import RedisStateStorage

__all__ = ["RedisStore", "RedisSettings", "RedisStateStorage", "RedisResults", "RedisJournal", "JOB_DAYS",
           "SCHEMA_VERSION", "redact"]

TIMEOUT = 5.0  # s: the longest a socket waits to connect or for a reply


class RedisStore:
    """Settings, conversation states, results and the job journal in one Redis; see `open`."""

    def __init__(self, connection: Connection, defaults: UserSettings, result_days: float, job_days: float) -> None:
        self._connection = connection
        self.settings = RedisSettings(connection, defaults)
        self.states = RedisStateStorage(connection)
        self.results = RedisResults(connection, result_days)
        self.journal = RedisJournal(connection, job_days)

    @classmethod
    def open(cls, url: str, defaults: UserSettings, result_days: float = 7, *, job_days: float = JOB_DAYS,
             clock: Clock = time.time, prefix: str = "stylebot:", timeout: float = TIMEOUT) -> RedisStore:
        """Connect to the Redis at `url` (redis://[[user]:password@]host[:port][/db], rediss://, unix://).

        Results are kept `result_days` days, final jobs `job_days`; a socket waits at most `timeout`
        seconds. `clock` gives every timestamp (tests pass a fake one). Raises StoreError, one line naming
        the URL without its password, when the URL is not Redis's, Redis cannot be reached or refuses the
        login, is read-only, or holds data under `prefix` that a newer version wrote.
        """
        if result_days <= 0 or job_days <= 0:
            raise ValueError("result_days and job_days must be positive")
        return cls(connect(url, clock, prefix, timeout), defaults, result_days, job_days)

    @property
    def url(self) -> str:
        """The URL, without its password."""
        return self._connection.url

    @property
    def prefix(self) -> str:
        return self._connection.prefix

    def close(self) -> None:
        """Close the connections; idempotent. Using the store afterwards raises StoreError."""
        self._connection.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"
