"""Results behind buttons in the SQLite store: numbered for ever, kept a few days, purged on the way."""
from __future__ import annotations

from bots.common.requests import Remembered
from bots.store.codec import encode_result, read_result
from bots.store.sqlite.database import DAY, Database, Every, dumps

__all__ = ["SqliteResults"]


_MAX_ID = 2 ** 63 - 1  # SQLite's integers: a bigger number from a forged button is simply unknown


class SqliteResults:
    """Results by number, kept `days` days: the numbers only grow, across restarts too, so an old button
    never finds somebody else's newer result."""

    def __init__(self, database: Database, days: float) -> None:
        self._database = database
        self.days = days
        self._purge = Every(database.clock)

    def remember(self, result: Remembered) -> int:
        """Keep `result`; returns the number its buttons carry."""
        text = dumps(encode_result(result), "a result")
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
        return read_result(text, number)
