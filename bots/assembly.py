"""The one place that wires a bot's parts, chosen by configuration alone: the store and the job runner of
the single-host mode (SQLite, supervised worker processes) or of the distributed one
(`STYLEBOT_REDIS_URL`: Redis, Celery workers), the Bot API client, and the admission between the chat and
the runner. Workers open their own store and client the same way (`bots.jobs.services.load_services`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bots.botapi.calls import PollingGuard
from bots.botapi.client import telegram_client
from bots.botapi.delivery import Delivery
from bots.chat.parts import ChatParts
from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.common.lanes import INSTANT_LANE, TRANSFER_LANE
from bots.jobs.admission import Admission
from bots.jobs.notices import Notifier
from bots.jobs.runner import JobRunner
from bots.jobs.runner.embedded import EmbeddedRunner
from bots.jobs.runner.processes import WorkerProcesses
from bots.jobs.waits import LaneLimits
from bots.store import Store
from bots.store.opening import open_store

if TYPE_CHECKING:  # the chat process never loads the engines (and torch): its workers do
    from bots.jobs.engines import Engines

__all__ = ["assemble", "build_runner", "lane_limits"]


def assemble(config: BotConfig, backbones: tuple[Backbone, ...], upscaling: bool, engines: Engines | None = None,
             store: Store | None = None) -> ChatParts:
    """A bot's parts. `engines`: compute in this process with them (tests, debugging); None: in supervised
    worker processes, each loading its own, or with `STYLEBOT_REDIS_URL` on the distributed mode's Celery
    workers. `store` None: the one the configuration names (raises StoreError when it cannot be used)."""
    store = store or open_store(config)
    guard = PollingGuard()
    telegram = telegram_client(config, threaded=True, num_threads=config.update_threads,
                               state_storage=store.states, exception_handler=guard)
    delivery = Delivery(config.delivery_patience)
    notifier = Notifier(telegram, store.journal, delivery, config.progress_interval)
    runner = build_runner(config, notifier, store, engines, backbones, upscaling)
    return ChatParts(config, store, telegram, guard, delivery, runner, Admission(config, runner, notifier),
                     backbones, upscaling)


def lane_limits(config: BotConfig) -> dict[str, LaneLimits]:
    """The lanes and their limits: `STYLEBOT_WORKERS` slots for full paintings and upscales, one for the
    instant styles and quick versions."""
    return {TRANSFER_LANE: LaneLimits(config.workers, config.queue_limit, config.transfer_wait_limit),
            INSTANT_LANE: LaneLimits(1, config.queue_limit, config.instant_wait_limit)}


def build_runner(config: BotConfig, notifier: Notifier, store: Store, engines: Engines | None,
                 backbones: tuple[Backbone, ...], upscaling: bool) -> JobRunner:
    """The Celery runner in the distributed mode; else the embedded one, computing in supervised worker
    processes, or in this process with `engines` (tests, debugging) when they are given."""
    lanes = lane_limits(config)
    if config.redis_url and engines is None:
        from bots.jobs.runner.board import JobBoard
        from bots.jobs.runner.celery_app import celery_app
        from bots.jobs.runner.distributed import CeleryRunner

        return CeleryRunner(config, notifier, JobBoard(config.redis_url), celery_app(config), lanes)
    if engines is None:
        return EmbeddedRunner(config, notifier, WorkerProcesses(
            config, {name: lane.slots for name, lane in lanes.items()}, backbones, upscaling), lanes)
    from bots.jobs.services import Services
    from bots.jobs.tasks import InProcess

    if set(engines.styles) != set(backbones) or (engines.upscaler is not None) != upscaling:
        raise ValueError(f"the bot needs engines for {[b.label for b in backbones]}"
                         f"{' and an upscaler' if upscaling else ' and no upscaler'}")
    services = Services.build(config, notifier.telegram, store, engines, backbones, upscaling)
    return EmbeddedRunner(config, notifier, InProcess(services), lanes)
