"""Users' settings in the Redis store: one hash a user, one field (a JSON value) for each setting the user
changed, so the others follow the bot's defaults and a change is one atomic HSET, never a read-modify-write."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace

from bots.common.settings import UserSettings
from bots.store.codec import CodecError, decode_settings, dumps, settings_fields
from bots.store.redis.connection import Connection

__all__ = ["RedisSettings"]

log = logging.getLogger(__name__)


class RedisSettings:
    """Every user's settings (kept for ever, like the SQLite store's); a stored field this version cannot
    read is skipped."""

    def __init__(self, connection: Connection, defaults: UserSettings) -> None:
        self._connection = connection
        self.defaults = defaults

    def get(self, user_id: int) -> UserSettings:
        """The user's settings (`defaults` if they never changed any: nothing is written for that)."""
        with self._connection.use() as client:
            return self._settings(client.hgetall(self._connection.key("settings", user_id)))

    def change(self, user_id: int, **changes: object) -> UserSettings:
        """Store `changes` (fields of UserSettings) for the user and return the new settings. Refused
        before anything is written: an unknown field (TypeError), a value of the wrong kind (CodecError)."""
        replace(self.defaults, **changes)
        encoded = settings_fields(changes)
        fields = {name: dumps(value, "a setting") for name, value in encoded.items()}
        decode_settings(encoded, self.defaults)  # what get() could not read back
        key = self._connection.key("settings", user_id)
        with self._connection.use() as client:
            if not fields:
                return self._settings(client.hgetall(key))
            pipe = client.pipeline(transaction=True)  # MULTI: what we read back is exactly what this made
            pipe.hset(key, mapping=fields)
            pipe.hgetall(key)
            return self._settings(pipe.execute()[1])

    def _settings(self, stored: Mapping[str, str]) -> UserSettings:
        settings = self.defaults
        for name, text in stored.items():
            try:
                settings = decode_settings({name: json.loads(text)}, settings)
            except (CodecError, ValueError) as exc:
                log.warning("stored setting %s skipped: %s", name, exc)
        return settings
