"""`python -m bots.worker`: a Celery worker of the distributed mode, on any machine with the weights.

    STYLEBOT_REDIS_URL=redis://redis:6379/0 BOT_TOKEN=... python -m bots.worker --bot full \
        --lanes instant,transfer --concurrency 1

Each pool process loads the networks of the lanes it serves once (`worker_process_init`), then runs
jobs: the task is `run_celery_job` below. The worker talks to Telegram itself (downloads, progress,
results) with the same delivery policy as the chat process, journals every step in Redis, and beats on
the job board so /stats sees it. A pool process dies with its worker (PR_SET_PDEATHSIG): a worker killed
outright leaves no orphan painting behind it while its job is redelivered to another.
"""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from celery import Celery, signals
from dotenv import find_dotenv, load_dotenv
from telebot import TeleBot, apihelper

from bots import texts
from bots.admin import rss_mb
from bots.admission import MAX_ATTEMPTS, announce
from bots.backbone import Backbone
from bots.config import BotConfig, ConfigError, use_api_server
from bots.i18n import job_language, speaking
from bots.jobs import CancelReason
from bots.logs import setup_logging
from bots.progress import StatusMessage
from bots.runner import RunnerUnavailable
from bots.runner.board import HEARTBEAT_SECONDS, JobBoard, WorkerBeat
from bots.runner.celery_app import JOB_TASK, celery_app
from bots.runner.distributed import enqueue, expected_starts
from bots.settings import UserSettings
from bots.store import JobRecord, JobStatus, StoreError
from bots.tasks import Services, run_job
from bots.waits import Calibration
from bots.worker import INSTANT_LANE, TRANSFER_LANE, load_services

__all__ = ["main", "run_celery_job"]

log = logging.getLogger(__name__)
BOTS = {"vgg": ((Backbone.VGG19,), False), "resnet": ((Backbone.RESNET50,), False),
        "full": ((Backbone.VGG19, Backbone.RESNET50), True)}
CANCEL_POLL = 0.5  # seconds between two looks at the board for a cancel request
PR_SET_PDEATHSIG = 1


@dataclass
class _Worker:
    """What one pool process holds: its services (networks loaded once), the board, the Celery app, and
    when it last told each waiting job its place (`told`: job id -> time.monotonic())."""

    config: BotConfig
    services: Services
    board: JobBoard
    app: Celery
    name: str
    lanes: tuple[str, ...]
    calibration: Calibration
    job: int | None = None
    told: dict[int, float] = field(default_factory=dict)


_worker: _Worker | None = None


class _BoardStop:
    """A running job's cancel check: the board's cancel flag, looked up at most every CANCEL_POLL s."""

    def __init__(self, board: JobBoard, job_id: int) -> None:
        self.board, self.job_id = board, job_id
        self.cancel_reason: CancelReason | None = None
        self._checked = 0.0

    def cancelled(self) -> bool:
        now = time.monotonic()
        if self.cancel_reason is None and now - self._checked >= CANCEL_POLL:
            self._checked = now
            if self.board.cancel_asked(self.job_id):
                self.cancel_reason = CancelReason.USER
        return self.cancel_reason is not None


def run_celery_job(job_id: int) -> None:
    """The task: run a journalled job once, whoever delivers the message (idempotent by the journal), in the
    language of the user who asked for it."""
    worker = _worker
    assert worker is not None, "the pool process was not initialised"
    record = worker.services.journal.get(job_id)
    if record is None or record.status.final:
        if record is not None:
            worker.board.drop(record.user_id, record.lane, record.id)
        return
    with speaking(job_language(record.payload)):
        _run_once(worker, record)


def _run_once(worker: _Worker, record: JobRecord) -> None:
    journal, board = worker.services.journal, worker.board
    board.take(record.lane, record.id)
    _tell_positions(worker, record.lane)
    started = journal.start(record.id)
    if started.status.final:  # cancelled between the two looks
        board.drop(record.user_id, record.lane, record.id)
        return
    if started.attempts > MAX_ATTEMPTS:
        _failed(worker, started)
        board.drop(record.user_id, record.lane, record.id)
        return
    if started.attempts > 1:
        worker.services.delivery.tell(worker.services.telegram, record.chat_id, texts.WORKER_RETRYING)
    _beat_now(worker, record.id)
    try:
        outcome = run_job(started, worker.services, _BoardStop(board, record.id))
    finally:
        _beat_now(worker, None)
    if outcome is JobStatus.DELIVERED and (then := record.payload.get("then")):
        following = journal.add(record.user_id, record.chat_id, then["lane"], then["kind"], then["payload"])
        enqueue(worker.app, board, worker.calibration, announce(worker.services.telegram, journal, following))
    board.drop(record.user_id, record.lane, record.id)


def _failed(worker: _Worker, record: JobRecord) -> None:
    services = worker.services
    if services.journal.finish(record.id, JobStatus.FAILED):
        StatusMessage(services.telegram, record.chat_id, record.status_message_id, 0,
                      delivery=services.delivery).final(texts.NOT_FINISHED)
        services.delivery.tell(services.telegram, record.chat_id, texts.WORKER_FAILED)


def _tell_positions(worker: _Worker, lane: str) -> None:
    """A job left the line: the ones behind it moved up; their status messages say so, with their new
    wait. Each at most every progress interval but the next in line, as the embedded runner's: in a burst,
    every job that starts moves everyone."""
    services, now = worker.services, time.monotonic()
    waiting, starts_at = expected_starts(worker.board, lane)
    worker.told = {job_id: worker.told[job_id] for job_id in waiting if job_id in worker.told}
    for position, (job_id, wait) in enumerate(zip(waiting, starts_at), start=1):
        if position > 1 and now - worker.told.get(job_id, -float("inf")) < services.config.progress_interval:
            continue
        record = services.journal.get(job_id)
        if record is not None and not record.status.final:
            worker.told[job_id] = now
            with speaking(job_language(record.payload)):
                StatusMessage(services.telegram, record.chat_id, record.status_message_id, 0,
                              delivery=services.delivery).show(texts.queued(position, wait))


def _beat_now(worker: _Worker, job: int | None) -> None:
    """Tell the board this process is alive and what it runs (at once when its job changes)."""
    worker.job = job
    try:
        worker.board.beat(WorkerBeat(worker.name, socket.gethostname(), os.getpid(), worker.lanes, job, time.time(),
                                     rss_mb()))
    except RunnerUnavailable as exc:  # Redis down: the next beat tries again
        log.warning("heartbeat failed: %s", exc)


def _beat_forever(worker: _Worker) -> None:
    while True:
        _beat_now(worker, worker.job)
        time.sleep(HEARTBEAT_SECONDS)


def _init_pool_process(config: BotConfig, bot: str, lanes: tuple[str, ...], app: Celery, name: str) -> None:
    """Load this pool process's networks and store once, before its first job."""
    global _worker
    from bots.store.redis import RedisStore
    from transfer.device import DeviceError
    from weights import WeightsError

    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # ends with its worker, whatever kills it
    if config.api_url:
        use_api_server(config.api_url)
    apihelper.READ_TIMEOUT = config.telegram_timeout
    backbones, upscaling = BOTS[bot]
    try:
        store = RedisStore.open(config.redis_url, UserSettings(size=config.default_size), config.result_days)
        services = load_services(config, TeleBot(config.token, threaded=False), store, lanes, backbones, upscaling)
    except (WeightsError, StoreError, DeviceError) as exc:
        # Celery would start a new pool process, fail the same way, and so on for ever: stop the worker
        os.write(2, f"error: {exc}\n".encode())  # the real stderr: Celery turned sys.stderr into a logger
        os.kill(os.getppid(), signal.SIGTERM)
        os._exit(2)
    _worker = _Worker(config, services, JobBoard(config.redis_url), app, f"{name}/{os.getpid()}", lanes,
                      Calibration(store.journal, config.default_size))
    threading.Thread(target=_beat_forever, args=(_worker,), name="heartbeat", daemon=True).start()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bots.worker", description=(
        "A worker of the distributed mode (STYLEBOT_REDIS_URL): runs the jobs of its lanes, any number of "
        "them on any number of machines."))
    parser.add_argument("--bot", choices=sorted(BOTS), default="full",
                        help="the networks the chat process offers (default: full, all of them)")
    parser.add_argument("--lanes", default=f"{INSTANT_LANE},{TRANSFER_LANE}",
                        help=f"comma-separated lanes this worker serves (default: {INSTANT_LANE},{TRANSFER_LANE})")
    parser.add_argument("--concurrency", type=int, default=1, help="jobs at the same time (pool processes)")
    parser.add_argument("--name", default=f"worker@{socket.gethostname()}", help="the worker's name in /stats")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True), override=False)
    try:
        config = BotConfig.from_env()
        lanes = tuple(lane.strip() for lane in args.lanes.split(",") if lane.strip())
        if not lanes or set(lanes) - {INSTANT_LANE, TRANSFER_LANE}:
            raise ConfigError(f"--lanes must name {INSTANT_LANE} and/or {TRANSFER_LANE}, not {args.lanes!r}")
        if not config.redis_url:
            raise ConfigError("python -m bots.worker is the distributed mode's worker: set STYLEBOT_REDIS_URL")
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.token, config.log_level, args.name)
    app = celery_app(config)
    app.task(name=JOB_TASK, acks_late=True)(run_celery_job)
    signals.worker_process_init.connect(
        lambda **_: _init_pool_process(config, args.bot, lanes, app, args.name), weak=False)
    app.worker_main(["worker", "--queues", ",".join(lanes), "--concurrency", str(args.concurrency),
                     "--pool", "prefork", "--hostname", args.name, "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-O", "fair", "--loglevel", config.log_level])
    return 0
