"""The store on SQLite: one file, `stylebot.sqlite3` in the bot's data folder, shared by the chat process
and its worker processes, each of which opens its own `SqliteStore` (never one inherited through fork).

WAL mode lets readers go on while one process writes; writers queue behind `busy_timeout`. Each
`SqliteStore` has one connection, used by all its threads in turn (a lock), and every read-modify-write
is one `BEGIN IMMEDIATE` transaction, so two processes never lose each other's changes. Commits are
durable against a crashed process (`synchronous=NORMAL`: a power cut may lose the last few). Everything
is JSON: no pickles, no pictures (Telegram file ids only), no token.
"""
from __future__ import annotations

import copy
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from telebot.storage import StateStorageBase

from bots.conversation import Remembered
from bots.settings import UserSettings
from bots.store import JobRecord, JobStatus, JournalSummary, StoreError
from bots.store.codec import CodecError, decode_result, decode_settings, encode_result, settings_fields

__all__ = ["SqliteStore", "SqliteSettings", "SqliteStateStorage", "StateData", "SqliteResults", "SqliteJournal",
           "DATABASE_NAME", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

DATABASE_NAME = "stylebot.sqlite3"
SCHEMA_VERSION = 1  # PRAGMA user_version
DAY = 24 * 3600.0
PURGE_EVERY = 60.0  # s: expired rows are deleted at most this often (by each process)
JOB_DAYS = 30.0  # final jobs are kept this long, for /stats
STATE_DAYS = 30.0  # a conversation left this long is forgotten (its file ids have long expired anyway)
_MAX_ID = 2 ** 63 - 1  # SQLite's integers: a bigger number from a forged button is simply unknown

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
# SQL lists of statuses, for "status IN ...": the values are our own constants
_UNFINISHED = "({})".format(", ".join(f"'{s.value}'" for s in JobStatus if not s.final))
_FINAL = "({})".format(", ".join(f"'{s.value}'" for s in JobStatus if s.final))


class SqliteStore:
    """Settings, conversation states, results and the job journal in one SQLite file; see `open`."""

    def __init__(self, database: _Database, defaults: UserSettings, result_days: float, job_days: float) -> None:
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
        return cls(_Database(connection, path, busy_timeout, clock), defaults, result_days, job_days)

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
        return StoreError(f"{path}: the disk is full: free some space")
    return StoreError(f"{path}: {text} ({name or type(exc).__name__}): check the file and its folder")


class _Database:
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


class _Every:
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


def _dumps(value: object, what: str) -> str:
    """Strict JSON (no NaN), so that any other backend reads it too; TypeError naming `what` otherwise."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON (str, int, float, bool, None, lists, dicts): {exc}") from None


# ---- settings -----------------------------------------------------------------------------------------
class SqliteSettings:
    """Every user's settings. Only the fields a user changed are stored, so the others follow the bot's
    `defaults` even when those change between runs; a stored field this version cannot read is skipped."""

    def __init__(self, database: _Database, defaults: UserSettings) -> None:
        self._database = database
        self.defaults = defaults

    def get(self, user_id: int) -> UserSettings:
        """The user's settings (`defaults` if they never changed any: nothing is written for that)."""
        rows = self._database.query("SELECT changes FROM settings WHERE user_id = ?", (user_id,))
        return self._settings(self._changes(rows))

    def change(self, user_id: int, **changes: object) -> UserSettings:
        """Store `changes` (fields of UserSettings) for the user and return the new settings. Refused
        before anything is written: an unknown field (TypeError), a value of the wrong kind (CodecError)."""
        replace(self.defaults, **changes)
        encoded = settings_fields(changes)
        _dumps(encoded, "a setting")
        decode_settings(encoded, self.defaults)  # what get() could not read back
        with self._database.transaction() as connection:
            rows = connection.execute("SELECT changes FROM settings WHERE user_id = ?", (user_id,)).fetchall()
            stored = {**self._changes(rows), **encoded}
            connection.execute("INSERT INTO settings (user_id, changes, updated) VALUES (?, ?, ?) ON CONFLICT "
                               "(user_id) DO UPDATE SET changes = excluded.changes, updated = excluded.updated",
                               (user_id, _dumps(stored, "settings"), self._database.clock()))
        return self._settings(stored)

    def _changes(self, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
        if not rows:
            return {}
        try:
            changes = json.loads(rows[0][0])
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            log.warning("unreadable settings in %s: using the defaults", self._database.path)
            return {}
        return changes

    def _settings(self, changes: Mapping[str, Any]) -> UserSettings:
        settings = self.defaults
        for name, value in changes.items():
            try:
                settings = decode_settings({name: value}, settings)
            except CodecError as exc:
                log.warning("stored setting skipped: %s", exc)
        return settings


# ---- conversation states (telebot) --------------------------------------------------------------------
_STATE_KEY = ("bot_id = ? AND business_connection_id = ? AND message_thread_id = ? AND chat_id = ? "
              "AND user_id = ?")


class SqliteStateStorage(StateStorageBase):
    """telebot's state storage (`TeleBot(..., state_storage=store.states)`), keyed like telebot's own by
    bot, business connection, thread, chat and user. States are names ("Flow:style"), data JSON objects:
    a value must be JSON and comes back as JSON gives it (a tuple as a list)."""

    def __init__(self, database: _Database) -> None:
        super().__init__()
        self._database = database
        self._purge = _Every(database.clock)

    @staticmethod
    def _key(chat_id: int, user_id: int, business_connection_id: str | None, message_thread_id: int | None,
             bot_id: int | None) -> tuple[Any, ...]:
        """The key's columns; like telebot's `_get_key`, a missing part (None, 0, '') is left out."""
        return bot_id or 0, business_connection_id or "", message_thread_id or 0, chat_id, user_id

    def set_state(self, chat_id: int, user_id: int, state: Any, business_connection_id: str | None = None,
                  message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Set the state (a telebot State or its name), keeping the data; creates the record if need be."""
        name = state.name if hasattr(state, "name") else state
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a state is a telebot State or its name, not {state!r}")
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        now = self._database.clock()
        with self._database.transaction() as connection:
            if self._purge.due():
                connection.execute("DELETE FROM states WHERE updated < ?", (now - STATE_DAYS * DAY,))
            connection.execute(
                "INSERT INTO states (bot_id, business_connection_id, message_thread_id, chat_id, user_id, state, "
                "data, updated) VALUES (?, ?, ?, ?, ?, ?, '{}', ?) ON CONFLICT (bot_id, business_connection_id, "
                "message_thread_id, chat_id, user_id) DO UPDATE SET state = excluded.state, "
                "updated = excluded.updated", (*key, name, now))
        return True

    def get_state(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                  message_thread_id: int | None = None, bot_id: int | None = None) -> str | None:
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        rows = self._database.query(f"SELECT state FROM states WHERE {_STATE_KEY}", key)
        return rows[0][0] if rows else None

    def delete_state(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                     message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Forget the state and its data; False if there was none."""
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        return self._database.execute(f"DELETE FROM states WHERE {_STATE_KEY}", key) > 0

    def set_data(self, chat_id: int, user_id: int, key: str, value: Any, business_connection_id: str | None = None,
                 message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Set one value of the data; RuntimeError without a state (like telebot's memory storage)."""
        _dumps(value, f"state data {key!r}")
        columns = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        with self._database.transaction() as connection:
            row = connection.execute(f"SELECT data FROM states WHERE {_STATE_KEY}", columns).fetchone()
            if row is None:
                raise RuntimeError(f"no state for user {user_id} in chat {chat_id}: set one before its data")
            data = _loads_object(row[0])
            data[key] = value
            connection.execute(f"UPDATE states SET data = ?, updated = ? WHERE {_STATE_KEY}",
                               (_dumps(data, "state data"), self._database.clock(), *columns))
        return True

    def get_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                 message_thread_id: int | None = None, bot_id: int | None = None) -> dict[str, Any]:
        """A copy of the data ({} without a state): changing it changes nothing stored (see `save`)."""
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        rows = self._database.query(f"SELECT data FROM states WHERE {_STATE_KEY}", key)
        return _loads_object(rows[0][0]) if rows else {}

    def reset_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                   message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Empty the data, keeping the state; False if there is no state."""
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        return self._database.execute(f"UPDATE states SET data = '{{}}', updated = ? WHERE {_STATE_KEY}",
                                      (self._database.clock(), *key)) > 0

    def get_interactive_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                             message_thread_id: int | None = None, bot_id: int | None = None) -> StateData:
        """What `TeleBot.retrieve_data` returns: `with ... as data:` then change `data`."""
        return StateData(self, chat_id, user_id, business_connection_id, message_thread_id, bot_id)

    def save(self, chat_id: int, user_id: int, data: dict[str, Any], business_connection_id: str | None = None,
             message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Replace the data; False (nothing stored) if there is no state, e.g. deleted meanwhile."""
        text = _dumps(data, "state data")
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        return self._database.execute(f"UPDATE states SET data = ?, updated = ? WHERE {_STATE_KEY}",
                                      (text, self._database.clock(), *key)) > 0

    def __str__(self) -> str:
        return f"<SqliteStateStorage {self._database.path}>"


class StateData:
    """The data as a dict for a `with` block, saved at its end if it changed (also after an exception,
    as telebot's StateDataContext does; unlike it, the exception is never swallowed)."""

    def __init__(self, storage: SqliteStateStorage, chat_id: int, user_id: int, business_connection_id: str | None,
                 message_thread_id: int | None, bot_id: int | None) -> None:
        self._storage = storage
        self._key = (chat_id, user_id)
        self._where = {"business_connection_id": business_connection_id, "message_thread_id": message_thread_id,
                       "bot_id": bot_id}
        self.data = storage.get_data(chat_id, user_id, **self._where)
        self._original = copy.deepcopy(self.data)

    def __enter__(self) -> dict[str, Any]:
        return self.data

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.data != self._original:
            self._storage.save(*self._key, self.data, **self._where)


def _loads_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


# ---- results behind buttons ---------------------------------------------------------------------------
class SqliteResults:
    """Results by number, kept `days` days: the numbers only grow, across restarts too, so an old button
    never finds somebody else's newer result."""

    def __init__(self, database: _Database, days: float) -> None:
        self._database = database
        self.days = days
        self._purge = _Every(database.clock)

    def remember(self, result: Remembered) -> int:
        """Keep `result`; returns the number its buttons carry."""
        text = _dumps(encode_result(result), "a result")
        now = self._database.clock()
        with self._database.transaction() as connection:
            if self._purge.due():
                connection.execute("DELETE FROM results WHERE created < ?", (now - self.days * DAY,))
            cursor = connection.execute("INSERT INTO results (chat_id, created, result) VALUES (?, ?, ?)",
                                        (result.chat_id, now, text))
            return int(cursor.lastrowid)

    def recall(self, number: int, chat_id: int) -> Remembered | None:
        """The result with this number if it belongs to this chat and is at most `days` days old (an older
        one is deleted); None otherwise, and for a result this version cannot read."""
        if not 0 < number <= _MAX_ID:
            return None
        rows = self._database.query("SELECT chat_id, created, result FROM results WHERE number = ?", (number,))
        if not rows:
            return None
        owner, created, text = rows[0]
        if created < self._database.clock() - self.days * DAY:
            self._database.execute("DELETE FROM results WHERE number = ?", (number,))
            return None
        if owner != chat_id:
            return None
        try:
            return decode_result(json.loads(text))
        except (CodecError, ValueError) as exc:
            log.warning("result %d cannot be read: %s", number, exc)
            return None


# ---- the job journal ----------------------------------------------------------------------------------
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

    def __init__(self, database: _Database, days: float) -> None:
        self._database = database
        self.days = days
        self._purge = _Every(database.clock)

    def add(self, user_id: int, chat_id: int, lane: str, kind: str, payload: dict[str, Any]) -> JobRecord:
        """Write a new waiting job before its user is told it is queued; TypeError if `payload` is not a
        JSON object."""
        if not isinstance(payload, dict):
            raise TypeError(f"a job's payload is a dict, not {type(payload).__name__}")
        text = _dumps(payload, "a job's payload")
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

    def created_since(self, user_id: int, since: float) -> list[float]:
        """When each of the user's jobs since `since` was created, oldest first (cancelled ones count)."""
        rows = self._database.query("SELECT created FROM jobs WHERE user_id = ? AND created >= ? ORDER BY created",
                                    (user_id, since))
        return [row[0] for row in rows]

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
