"""The store the configuration names, opened the same way by the chat process and every worker: Redis in
the distributed mode (`STYLEBOT_REDIS_URL`: every process shares it), else the SQLite file in the data
folder. The backends are imported only when chosen, so a host without Redis never loads its client."""
from __future__ import annotations

from bots.common.config import BotConfig
from bots.common.settings import UserSettings
from bots.store import Store

__all__ = ["open_store"]


def open_store(config: BotConfig) -> Store:
    """This process's own connection to the store; raises StoreError (one line) when it cannot be used."""
    defaults = UserSettings(size=config.default_size)
    if config.redis_url:
        from bots.store.redis import RedisStore

        return RedisStore.open(config.redis_url, defaults, config.result_days)
    from bots.store.sqlite import SqliteStore

    return SqliteStore.open(config.data_dir, defaults, config.result_days)
