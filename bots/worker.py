"""A worker process: loads the networks of its lane once, then runs the jobs its supervisor sends it.

Started by the chat process (`bots.runner.processes`), never by hand. It talks to Telegram itself
(downloads, progress, results, all through the delivery retry policy) and writes the journal
itself, so that a result it delivered is never painted again. It ends within a second when the chat
process dies, even by SIGKILL: a thread waits on the pipe, which reads EOF then. Ctrl-C in a terminal
reaches the whole process group: workers ignore it and let the chat process stop them.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import threading
from collections.abc import Collection
from dataclasses import dataclass
from multiprocessing.connection import Connection

from telebot import TeleBot, apihelper

from bots.backbone import Backbone
from bots.admin import rss_mb
from bots.budget import job_sizes
from bots.config import BotConfig, use_api_server
from bots.jobs import CancelReason
from bots.logs import setup_logging
from bots.settings import UserSettings
from bots.store import Store, StoreError
from bots.store.sqlite import SqliteStore
from bots.tasks import Services, run_job

__all__ = ["serve", "load_services", "INSTANT_LANE", "TRANSFER_LANE"]

log = logging.getLogger(__name__)
# The lanes: instant styles (seconds) have their own workers, so they never wait behind the style
# transfers and upscalings (minutes). A user still has one job at a time, whatever its lane.
TRANSFER_LANE, INSTANT_LANE = "transfer", "instant"
# Memory the rest of the bot holds besides the workers' baselines: the chat process (65 MB in the soak
# benchmark) and one instant-style job (288 MB at 1024 px, bench instant), rounded up.
OTHERS_RESERVE = 400 * 1024 * 1024


@dataclass
class _Stop:
    """A job's cancel check inside the worker, set by the supervisor's ("cancel", id)."""

    cancel_reason: CancelReason | None = None

    def cancelled(self) -> bool:
        return self.cancel_reason is not None


def load_services(config: BotConfig, telegram: TeleBot, store: Store, lanes: Collection[str],
                  backbones: tuple[Backbone, ...], upscaling: bool) -> Services:
    """Everything a job needs, with the networks of `lanes` loaded; raises weights.WeightsError.

    On the CPU, Gatys strips and upscaler tiles fit the memory limit (`bots.budget`): what is left of it
    once every worker holds what this one holds after importing torch (its RSS counts the shared
    libraries, so this errs on the safe side) and the chat process and an instant job are served, shared
    by the Gatys slots. On a GPU (``STYLEBOT_DEVICE``) they fit this worker's share of its free memory
    (`transfer.device`). Raises `transfer.device.DeviceError` for a device this host lacks.
    """
    from bots.engines import load_engines, set_compute_threads
    from transfer.device import compute_device, share_gpu

    if config.compute_threads:
        set_compute_threads(config.compute_threads)
    device = compute_device(config.device)
    if device.type == "cuda":
        share_gpu(config.workers + 1)  # the Gatys workers and the instant one
        strip_pixels, tile = config.strip_pixels, None
    else:
        baseline = int((rss_mb() or 0) * 1024 * 1024)
        sizes = job_sizes(config.memory_limit, config.workers, baseline * (config.workers + 1) + OTHERS_RESERVE)
        strip_pixels, tile = config.strip_pixels or sizes.strip_pixels, sizes.tile
    painting = TRANSFER_LANE in lanes
    engines = load_engines(backbones if painting else (), upscaling and painting, config.weights_dir,
                           strip_pixels, tile=tile, instant=INSTANT_LANE in lanes, device=device)
    log.info("networks loaded for lane %s on %s (strips of %s pixels, tiles of %s px)", ", ".join(lanes), device,
             strip_pixels or "GPU-sized", tile or "GPU-sized")
    return Services.build(config, telegram, store, engines, backbones, upscaling)


def serve(pipe: Connection, config: BotConfig, name: str, lane: str, backbones: tuple[Backbone, ...],
          upscaling: bool) -> None:
    """The worker's main function (see the module docstring for the messages on `pipe`)."""
    from transfer.device import DeviceError
    from weights import WeightsError

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(config.token, config.log_level, f"worker {name}")
    if config.api_url:
        use_api_server(config.api_url)
    apihelper.READ_TIMEOUT = config.telegram_timeout
    try:
        store = SqliteStore.open(config.data_dir, UserSettings(size=config.default_size), config.result_days)
        services = load_services(config, TeleBot(config.token, threaded=False), store, (lane,), backbones, upscaling)
    except (WeightsError, StoreError, DeviceError) as exc:
        pipe.send(("error", str(exc)))
        return
    jobs: queue.Queue = queue.Queue()
    current: dict[int, _Stop] = {}
    threading.Thread(target=_listen, args=(pipe, jobs, current), name="supervisor-pipe", daemon=True).start()
    pipe.send(("ready", os.getpid()))
    while True:
        record = jobs.get()
        stop = current.setdefault(record.id, _Stop())
        log.info("job %d (%s) for chat %d: attempt %d", record.id, record.kind, record.chat_id, record.attempts)
        try:
            outcome = run_job(record, services, stop)
        finally:
            current.pop(record.id, None)
        pipe.send(("done", record.id, outcome))


def _listen(pipe: Connection, jobs: queue.Queue, current: dict[int, _Stop]) -> None:
    """Take the supervisor's messages; when the pipe closes (the chat process died), end the process."""
    try:
        while True:
            kind, payload = pipe.recv()
            if kind == "run":
                jobs.put(payload)
            elif kind == "cancel":
                current.setdefault(payload, _Stop()).cancel_reason = CancelReason.USER
    except (EOFError, OSError):
        os._exit(0)  # no orphan keeps computing (or sending) behind a restarted bot


if __name__ == "__main__":  # `python -m bots.worker`: a worker of the distributed mode
    import sys

    from bots.runner.celery_worker import main

    sys.exit(main())
