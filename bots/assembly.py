"""A bot's parts, chosen by configuration alone: the store and the job runner of the single-host mode
(SQLite, supervised worker processes) or of the distributed one (`STYLEBOT_REDIS_URL`: Redis, Celery
workers), and the state filter that keeps a chat answering while its store is down."""
from __future__ import annotations

from typing import Any

from telebot import TeleBot
from telebot.custom_filters import StateFilter
from telebot.types import CallbackQuery, Message

from bots.backbone import Backbone
from bots.config import BotConfig
from bots.delivery import Delivery
from bots.runner import JobRunner
from bots.runner.embedded import EmbeddedRunner, InProcess
from bots.runner.processes import WorkerProcesses
from bots.settings import UserSettings
from bots.store import Store, StoreError
from bots.store.sqlite import SqliteStore
from bots.waits import LaneLimits
from bots.worker import INSTANT_LANE

__all__ = ["open_store", "build_runner", "StateFilterWithoutStore"]

Lanes = dict[str, LaneLimits]


def open_store(config: BotConfig) -> Store:
    """Redis in the distributed mode (every chat process and worker shares it), else the SQLite file.
    Raises StoreError (one line) when it cannot be used."""
    defaults = UserSettings(size=config.default_size)
    if config.redis_url:
        from bots.store.redis import RedisStore

        return RedisStore.open(config.redis_url, defaults, config.result_days)
    return SqliteStore.open(config.data_dir, defaults, config.result_days)


def build_runner(config: BotConfig, telegram: TeleBot, store: Store, delivery: Delivery, lanes: Lanes,
                 engines: Any, backbones: tuple[Backbone, ...], upscaling: bool) -> JobRunner:
    """The Celery runner in the distributed mode; else the embedded one, computing in supervised worker
    processes, or in this process with `engines` (tests, debugging) when they are given."""
    settle = frozenset({INSTANT_LANE})
    if config.redis_url and engines is None:
        from bots.runner.board import JobBoard
        from bots.runner.celery_app import celery_app
        from bots.runner.distributed import CeleryRunner

        return CeleryRunner(config, telegram, store.journal, JobBoard(config.redis_url), celery_app(config), lanes,
                            delivery, settle)
    if engines is None:
        executor: InProcess | WorkerProcesses = WorkerProcesses(
            config, {name: lane.slots for name, lane in lanes.items()}, backbones, upscaling)
    else:
        from bots.tasks import Services

        if set(engines.styles) != set(backbones) or (engines.upscaler is not None) != upscaling:
            raise ValueError(f"the bot needs engines for {[b.label for b in backbones]}"
                             f"{' and an upscaler' if upscaling else ' and no upscaler'}")
        executor = InProcess(Services.build(config, telegram, store, engines, backbones, upscaling))
    return EmbeddedRunner(config, telegram, store.journal, executor, lanes, delivery, settle)


class StateFilterWithoutStore(StateFilter):
    """telebot's state filter, except that a state store that cannot answer (Redis down) matches no state:
    the update then reaches a handler that tells the user to try again, instead of vanishing."""

    def check(self, message: Message | CallbackQuery, text: Any) -> bool:
        try:
            return super().check(message, text)
        except StoreError:
            return False
