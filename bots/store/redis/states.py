"""telebot's conversation states in the Redis store.

telebot's own `StateRedisStorage` does not fit: its `save` and `reset_data` report success and even
create a record when there is no state, `set_state(None)` fails, nothing ever expires, and data is not
checked to be JSON. So this is our own, with the SQLite store's semantics (and its `StateData`), over
the same client as the rest of the store.

One hash a conversation: `state` (absent for none), `updated` (the clock's time of the last write) and
one field `d:<name>` a data value (JSON), so setting one value is one HSET. A conversation untouched for
STATE_DAYS by the clock is gone; Redis expires its hash a day after that.
"""
from __future__ import annotations

import json
from typing import Any

from redis.commands.core import Script
from telebot.storage import StateStorageBase

from bots.store.codec import DAY, dumps
from bots.store.redis.connection import TTL_MARGIN, Connection
from bots.store.sqlite.states import STATE_DAYS, StateData

__all__ = ["RedisStateStorage"]

_DATA = "d:"  # prefix of the data fields

# Every script: KEYS[1] the conversation; ARGV[1] the oldest `updated` still alive, ARGV[2] now, ARGV[3]
# the expiry in ms. A conversation older than ARGV[1] counts as none.
_FRESH = """
local function fresh()
    local updated = redis.call('HGET', KEYS[1], 'updated')
    return updated and tonumber(updated) >= tonumber(ARGV[1])
end
local function touch()
    redis.call('HSET', KEYS[1], 'updated', ARGV[2])
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
"""
# ARGV[4]: the state, or '' for none; a forgotten conversation starts afresh
_SET_STATE = _FRESH + """
if not fresh() then redis.call('DEL', KEYS[1]) end
if ARGV[4] == '' then redis.call('HDEL', KEYS[1], 'state') else redis.call('HSET', KEYS[1], 'state', ARGV[4]) end
touch()
return 1
"""
# ARGV[4], ARGV[5]: a data field and its value
_SET_DATA = _FRESH + """
if not fresh() then return 0 end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
touch()
return 1
"""
# ARGV[4...]: data fields and values that replace all of the data (none: reset)
_REPLACE_DATA = _FRESH + """
if not fresh() then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('DEL', KEYS[1])
if state then redis.call('HSET', KEYS[1], 'state', state) end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
touch()
return 1
"""
_DELETE = _FRESH + """
local existed = fresh()
redis.call('DEL', KEYS[1])
return existed and 1 or 0
"""


class RedisStateStorage(StateStorageBase):
    """telebot's state storage (`TeleBot(..., state_storage=store.states)`), keyed like telebot's own by
    bot, business connection, thread, chat and user. States are names ("Flow:style"), data JSON values:
    a value must be JSON and comes back as JSON gives it (a tuple as a list)."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        self._set_state = connection.script(_SET_STATE)
        self._set_data = connection.script(_SET_DATA)
        self._replace_data = connection.script(_REPLACE_DATA)
        self._delete = connection.script(_DELETE)

    def _key(self, chat_id: int, user_id: int, business_connection_id: str | None, message_thread_id: int | None,
             bot_id: int | None) -> str:
        """Like telebot's `_get_key`, a missing part (None, 0, '') is left out; the business connection is
        the only part that may hold a colon, and the only one that is not a number, so keys never clash."""
        return self._connection.key("state", bot_id or 0, business_connection_id or "", message_thread_id or 0,
                                    chat_id, user_id)

    def _run(self, script: Script, key: str, *args: object) -> bool:
        now = self._connection.clock()
        ttl_ms = int((STATE_DAYS * DAY + TTL_MARGIN) * 1000)
        with self._connection.use():
            return bool(script(keys=[key], args=[repr(now - STATE_DAYS * DAY), repr(now), ttl_ms, *args]))

    def set_state(self, chat_id: int, user_id: int, state: Any, business_connection_id: str | None = None,
                  message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Set the state (a telebot State or its name), keeping the data; creates the record if need be."""
        name = state.name if hasattr(state, "name") else state
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a state is a telebot State or its name, not {state!r}")
        key = self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id)
        return self._run(self._set_state, key, name or "")

    def get_state(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                  message_thread_id: int | None = None, bot_id: int | None = None) -> str | None:
        record = self._record(self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id))
        return record.get("state") if record else None

    def delete_state(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                     message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Forget the state and its data; False if there was none."""
        return self._run(self._delete, self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id))

    def set_data(self, chat_id: int, user_id: int, key: str, value: Any, business_connection_id: str | None = None,
                 message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Set one value of the data; RuntimeError without a state (like telebot's memory storage)."""
        text = dumps(value, f"state data {key!r}")
        if not self._run(self._set_data, self._key(chat_id, user_id, business_connection_id, message_thread_id,
                                                   bot_id), _DATA + str(key), text):
            raise RuntimeError(f"no state for user {user_id} in chat {chat_id}: set one before its data")
        return True

    def get_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                 message_thread_id: int | None = None, bot_id: int | None = None) -> dict[str, Any]:
        """A copy of the data ({} without a state): changing it changes nothing stored (see `save`)."""
        record = self._record(self._key(chat_id, user_id, business_connection_id, message_thread_id, bot_id))
        return {field[len(_DATA):]: json.loads(text) for field, text in (record or {}).items()
                if field.startswith(_DATA)}

    def reset_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                   message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Empty the data, keeping the state; False if there is no state."""
        return self._run(self._replace_data, self._key(chat_id, user_id, business_connection_id, message_thread_id,
                                                       bot_id))

    def get_interactive_data(self, chat_id: int, user_id: int, business_connection_id: str | None = None,
                             message_thread_id: int | None = None, bot_id: int | None = None) -> StateData:
        """What `TeleBot.retrieve_data` returns: `with ... as data:` then change `data`."""
        return StateData(self, chat_id, user_id, business_connection_id, message_thread_id, bot_id)

    def save(self, chat_id: int, user_id: int, data: dict[str, Any], business_connection_id: str | None = None,
             message_thread_id: int | None = None, bot_id: int | None = None) -> bool:
        """Replace the data; False (nothing stored) if there is no state, e.g. deleted meanwhile."""
        normal = json.loads(dumps(data, "state data"))  # keys as JSON makes them: what get_data gives back
        fields = [part for name, value in normal.items() for part in (_DATA + name, dumps(value, "state data"))]
        return self._run(self._replace_data, self._key(chat_id, user_id, business_connection_id, message_thread_id,
                                                       bot_id), *fields)

    def _record(self, key: str) -> dict[str, str] | None:
        """The conversation's hash, None if there is none or it is older than STATE_DAYS."""
        with self._connection.use() as client:
            record = client.hgetall(key)
        updated = record.get("updated")
        if updated is None or float(updated) < self._connection.clock() - STATE_DAYS * DAY:
            return None
        return record

    def __str__(self) -> str:
        return f"<RedisStateStorage {self._connection.url} {self._connection.prefix!r}>"
