"""Results behind buttons in the Redis store: numbered by INCR (never reused, across restarts too), one hash
a result with its chat and creation time. Retention is judged with the store's clock; Redis also expires
each hash a day after that, so nothing piles up even if nobody presses the button again."""
from __future__ import annotations

from bots.common.requests import Remembered
from bots.store.codec import DAY, dumps, encode_result, read_result
from bots.store.redis.connection import TTL_MARGIN, Connection

__all__ = ["RedisResults"]


_MAX_ID = 2 ** 63 - 1  # INCR's limit: a bigger number from a forged button is simply unknown


class RedisResults:
    """Results by number, kept `days` days: the numbers only grow, so an old button never finds somebody
    else's newer result."""

    def __init__(self, connection: Connection, days: float) -> None:
        self._connection = connection
        self.days = days

    def remember(self, result: Remembered) -> int:
        """Keep `result`; returns the number its buttons carry."""
        text = dumps(encode_result(result), "a result")
        now = self._connection.clock()
        with self._connection.use() as client:
            number = int(client.incr(self._connection.key("results", "next")))
            pipe = client.pipeline(transaction=True)
            key = self._connection.key("result", number)
            pipe.hset(key, mapping={"chat_id": result.chat_id, "created": now, "result": text})
            pipe.expire(key, int(self.days * DAY + TTL_MARGIN))
            pipe.execute()
        return number

    def recall(self, number: int, chat_id: int) -> Remembered | None:
        """The result with this number if it belongs to this chat and is at most `days` days old (an older
        one is deleted); None otherwise, and for a result this version cannot read."""
        if not 0 < number <= _MAX_ID:
            return None
        key = self._connection.key("result", number)
        with self._connection.use() as client:
            owner, created, text = client.hmget(key, "chat_id", "created", "result")
            if created is None:
                return None
            if float(created) < self._connection.clock() - self.days * DAY:
                client.delete(key)
                return None
        if int(owner) != chat_id:
            return None
        return read_result(text, number)
