"""The plumbing every part of the SQLite store shares: the schema and the PRAGMAs that open a file
with it (WAL, `busy_timeout`, `synchronous=NORMAL`), SQLite errors turned into one-line StoreErrors,
the connection wrapper with its lock and `BEGIN IMMEDIATE` transactions, strict JSON, and the timer
that spaces out the purges of expired rows. The stores themselves live beside it, one per module.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bots.store import StoreError, StoreFull
from bots.store.codec import DAY, dumps  # re-exported: the SQLite modules import them from here

__all__ = ["DATABASE_NAME", "SCHEMA_VERSION", "DAY", "PURGE_EVERY", "Clock", "Database", "Every", "dumps",
           "open_database"]

log = logging.getLogger(__name__)

DATABASE_NAME = "stylebot.sqlite3"
SCHEMA_VERSION = 1  # PRAGMA user_version
PURGE_EVERY = 60.0  # s: expired rows are deleted at most this often (by each process)

Clock = Callable[[], float]

_SCHEMA = (
    """CREATE TABLE settings (
        user_id INTEGER PRIMARY KEY,
        changes TEXT NOT NULL,  -- JSON: only the fields the user chose; the rest follow the bot's defaults
        updated REAL NOT NULL)""",
    """CREATE TABLE states (
        bot_id INTEGER NOT NULL,  -- telebot's key; 0 and '' stand for "none"
        business_connection_id TEXT NOT NULL,
        message_thread_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        state TEXT,  -- "Flow:style"
        data TEXT NOT NULL,  -- JSON object
        updated REAL NOT NULL,
        PRIMARY KEY (bot_id, business_connection_id, message_thread_id, chat_id, user_id))""",
    "CREATE INDEX states_updated ON states (updated)",
    """CREATE TABLE results (
        number INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a number is never given twice
        chat_id INTEGER NOT NULL,
        created REAL NOT NULL,
        result TEXT NOT NULL)  -- JSON: codec.encode_result""",
    "CREATE INDEX results_created ON results (created)",
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        lane TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,  -- JSON object
        status_message_id INTEGER,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        created REAL NOT NULL,
        started REAL,
        finished REAL)""",
    "CREATE INDEX jobs_status ON jobs (status, id)",
    "CREATE INDEX jobs_user_created ON jobs (user_id, created)",
    "CREATE INDEX jobs_finished ON jobs (finished)",
)


def open_database(data_dir: Path, busy_timeout: float, clock: Clock) -> Database:
    """Open (creating it, and `data_dir` with its parents, if need be) `data_dir/stylebot.sqlite3`, in WAL
    mode with the current schema; StoreError when that cannot be done (see `SqliteStore.open`)."""
    data_dir = Path(data_dir).expanduser()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StoreError(f"cannot create the data folder {data_dir}: {exc.filename or data_dir} is a file, "
                         f"not a folder: choose another data folder") from None
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {data_dir} ({exc.strerror or exc}): "
                         f"choose a folder the bot can write to") from None
    path = data_dir / DATABASE_NAME
    try:
        connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _store_error(path, exc, busy_timeout) from None
    try:
        _prepare(connection, path, busy_timeout)
    except sqlite3.Error as exc:
        connection.close()
        raise _store_error(path, exc, busy_timeout) from None
    except BaseException:
        connection.close()
        raise
    return Database(connection, path, busy_timeout, clock)


def _prepare(connection: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """WAL mode and the schema; a fresh file gets the tables, an older schema would be migrated here."""
    connection.execute(f"PRAGMA busy_timeout = {max(0, int(busy_timeout * 1000))}")
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"{path} cannot be used in WAL mode (journal mode {mode}; a network file system?): "
                         f"put the data folder on a local disk")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("BEGIN IMMEDIATE")  # also proves that we can write, now rather than at the first user
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer version of stylebot (schema {version}, this one "
                             f"knows {SCHEMA_VERSION}): upgrade the bot, or choose another data folder")
        if version == 0:
            if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{path} is an SQLite database but not stylebot's: move it away, "
                                 f"or choose another data folder")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _store_error(path: Path, exc: sqlite3.Error, busy_timeout: float) -> StoreError:
    """A one-line StoreError for an SQLite error: what is wrong with the file, and what to do."""
    name, text = getattr(exc, "sqlite_errorname", "") or "", str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return StoreError(f"{path} is locked by another program for more than {busy_timeout:g} s: stop the "
                          f"other program (another copy of the bot?), or choose another data folder")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is damaged or not a database: move it away (the bot then starts afresh), "
                          f"or restore a backup")
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return StoreError(f"{path} is read-only: let the bot write the file and its folder, "
                          f"or choose another data folder")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StoreError(f"cannot open {path}: it must be a file the bot can read and write, "
                          f"in a folder it can write to")
    if name.startswith("SQLITE_FULL") or "full" in text:
        return StoreFull(f"{path}: the disk is full: free some space")
    return StoreError(f"{path}: {text} ({name or type(exc).__name__}): check the file and its folder")


class Database:
    """The connection a store's parts share, its lock, and the clock."""

    def __init__(self, connection: sqlite3.Connection, path: Path, busy_timeout: float, clock: Clock) -> None:
        self.connection = connection
        self.path = path
        self.busy_timeout = busy_timeout
        self.clock = clock
        self.lock = threading.RLock()
        self.closed = False

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock, self._translated():
            return self.connection.execute(sql, parameters).fetchall()

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""
        with self.lock, self._translated():
            return self.connection.execute(sql, parameters).rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, begun at once (BEGIN IMMEDIATE) so that what it reads stays true until it
        commits: no other process writes in between."""
        with self.lock, self._translated():
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:
                try:
                    if self.connection.in_transaction:
                        self.connection.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed in %s", self.path)
                raise

    @contextmanager
    def _translated(self) -> Iterator[None]:
        if self.closed:
            raise StoreError(f"{self.path} was closed: open the store again")
        try:
            yield
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
                raise  # our mistake, not the file's
            raise _store_error(self.path, exc, self.busy_timeout) from exc

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.connection.close()


class Every:
    """True at most once every PURGE_EVERY seconds of the clock: for housekeeping on the way."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = self._clock()
            if now < self._next:
                return False
            self._next = now + PURGE_EVERY
            return True

