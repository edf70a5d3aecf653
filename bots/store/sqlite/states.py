"""telebot's conversation states in the SQLite store: `SqliteStateStorage` and the `StateData` that
`TeleBot.retrieve_data` hands out; stale conversations are purged on the way."""
from __future__ import annotations

import copy
import json
from types import TracebackType
from typing import Any

from telebot.storage import StateStorageBase

from bots.store.sqlite.database import DAY, Database, Every, dumps

__all__ = ["SqliteStateStorage", "StateData", "STATE_DAYS"]

STATE_DAYS = 30.0  # a conversation left this long is forgotten (its file ids have long expired anyway)

_STATE_KEY = ("bot_id = ? AND business_connection_id = ? AND message_thread_id = ? AND chat_id = ? "
              "AND user_id = ?")


class SqliteStateStorage(StateStorageBase):
    """telebot's state storage (`TeleBot(..., state_storage=store.states)`), keyed like telebot's own by
    bot, business connection, thread, chat and user. States are names ("Flow:style"), data JSON objects:
    a value must be JSON and comes back as JSON gives it (a tuple as a list)."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database
        self._purge = Every(database.clock)

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
        dumps(value, f"state data {key!r}")
        columns = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        with self._database.transaction() as connection:
            row = connection.execute(f"SELECT data FROM states WHERE {_STATE_KEY}", columns).fetchone()
            if row is None:
                raise RuntimeError(f"no state for user {user_id} in chat {chat_id}: set one before its data")
            data = _loads_object(row[0])
            data[key] = value
            connection.execute(f"UPDATE states SET data = ?, updated = ? WHERE {_STATE_KEY}",
                               (dumps(data, "state data"), self._database.clock(), *columns))
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
        text = dumps(data, "state data")
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
