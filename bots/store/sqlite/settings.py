"""Users' settings in the SQLite store: only the fields a user changed, as JSON, one row a user."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bots.common.settings import UserSettings
from bots.store.codec import CodecError, decode_settings, settings_fields
from bots.store.sqlite.database import Database, dumps

__all__ = ["SqliteSettings"]

log = logging.getLogger(__name__)


class SqliteSettings:
    """Every user's settings. Only the fields a user changed are stored, so the others follow the bot's
    `defaults` even when those change between runs; a stored field this version cannot read is skipped."""

    def __init__(self, database: Database, defaults: UserSettings) -> None:
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
        dumps(encoded, "a setting")
        decode_settings(encoded, self.defaults)  # what get() could not read back
        with self._database.transaction() as connection:
            rows = connection.execute("SELECT changes FROM settings WHERE user_id = ?", (user_id,)).fetchall()
            stored = {**self._changes(rows), **encoded}
            connection.execute("INSERT INTO settings (user_id, changes, updated) VALUES (?, ?, ?) ON CONFLICT "
                               "(user_id) DO UPDATE SET changes = excluded.changes, updated = excluded.updated",
                               (user_id, dumps(stored, "settings"), self._database.clock()))
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
