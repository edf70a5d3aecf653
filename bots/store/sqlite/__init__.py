"""The store on SQLite: one file, `stylebot.sqlite3` in the bot's data folder, shared by the chat process
and its worker processes, each of which opens its own `SqliteStore` (never one inherited through fork).

WAL mode lets readers go on while one process writes; writers queue behind `busy_timeout`. Each
`SqliteStore` has one connection, used by all its threads in turn (a lock), and every read-modify-write
is one `BEGIN IMMEDIATE` transaction, so two processes never lose each other's changes. Commits are
durable against a crashed process (`synchronous=NORMAL`: a power cut may lose the last few). Everything
is JSON: no pickles, no pictures (Telegram file ids only), no token.

One module per part: `database` (the file, its schema, transactions and errors), `settings`, `states`,
`results` and `journal`; `SqliteStore` here opens the file and ties the four together.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from bots.common.settings import UserSettings
from bots.store.sqlite.database import DATABASE_NAME, SCHEMA_VERSION, Clock, Database, open_database
from bots.store.sqlite.journal import JOB_DAYS, SqliteJournal
from bots.store.sqlite.results import SqliteResults
from bots.store.sqlite.settings import SqliteSettings
from bots.store.sqlite.states import SqliteStateStorage, StateData

__all__ = ["SqliteStore", "SqliteSettings", "SqliteStateStorage", "StateData", "SqliteResults", "SqliteJournal",
           "DATABASE_NAME", "SCHEMA_VERSION"]


class SqliteStore:
    """Settings, conversation states, results and the job journal in one SQLite file; see `open`."""

    def __init__(self, database: Database, defaults: UserSettings, result_days: float, job_days: float) -> None:
        self._database = database
        self.settings = SqliteSettings(database, defaults)
        self.states = SqliteStateStorage(database)
        self.results = SqliteResults(database, result_days)
        self.journal = SqliteJournal(database, job_days)

    @classmethod
    def open(cls, data_dir: Path, defaults: UserSettings, result_days: float = 7, *, job_days: float = JOB_DAYS,
             busy_timeout: float = 5.0, clock: Clock = time.time) -> SqliteStore:
        """Open (creating it, and `data_dir` with its parents, if need be) `data_dir/stylebot.sqlite3`.

        Results are kept `result_days` days, final jobs `job_days`; a write waits up to `busy_timeout`
        seconds for another process's. `clock` gives every timestamp (tests pass a fake one). Raises
        StoreError when the folder or file cannot be used, the file is not a database, it was written by
        a newer version, or another program holds it locked past `busy_timeout`.
        """
        if result_days <= 0 or job_days <= 0:
            raise ValueError("result_days and job_days must be positive")
        return cls(open_database(data_dir, busy_timeout, clock), defaults, result_days, job_days)

    @property
    def path(self) -> Path:
        return self._database.path

    def close(self) -> None:
        """Close the connection (the last one to close folds the WAL back into the file); idempotent."""
        self._database.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"
