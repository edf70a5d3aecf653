"""What jobs need from the process that runs them, and a worker process's set-up: its own store and Bot
API client, and the networks of its lanes."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from telebot import TeleBot

from bots.botapi.client import telegram_client
from bots.botapi.delivery import Delivery
from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.common.styles import INSTANT_STYLES
from bots.jobs.engines import Engines, load_lane_engines
from bots.jobs.notices import Notifier
from bots.jobs.workflow import TransferWorkflow
from bots.store import ResultStorage, Store
from bots.store.opening import open_store
from bots.store.originals import Originals

__all__ = ["Services", "load_services"]


@dataclass(frozen=True)
class Services:
    """What jobs need: where to say things about them, the workflow on the engines, the result memory, and
    what the bot offers."""

    notifier: Notifier
    workflow: TransferWorkflow
    results: ResultStorage
    config: BotConfig
    backbones: tuple[Backbone, ...]
    upscaling: bool
    instant_styles: tuple[str, ...]
    originals: Originals

    @classmethod
    def build(cls, config: BotConfig, telegram: TeleBot, store: Store, engines: Engines,
              backbones: tuple[Backbone, ...], upscaling: bool) -> Services:
        """The services over a process's own client and store, computing with `engines`."""
        notifier = Notifier(telegram, store.journal, Delivery(config.delivery_patience), config.progress_interval)
        return cls(notifier, TransferWorkflow(engines, config.steps, config.max_side), store.results, config,
                   backbones, upscaling, INSTANT_STYLES, Originals.of(config))


def load_services(config: BotConfig, lanes: Collection[str], backbones: tuple[Backbone, ...],
                  upscaling: bool) -> Services:
    """A worker process's services: the store the configuration names, a Bot API client of its own, and the
    networks of `lanes` (`load_lane_engines`). Raises StoreError and EnginesUnavailable (one line each)."""
    store = open_store(config)
    engines = load_lane_engines(config, lanes, backbones, upscaling)
    return Services.build(config, telegram_client(config), store, engines, backbones, upscaling)
