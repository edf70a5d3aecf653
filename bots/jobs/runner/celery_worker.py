"""A Celery worker of the distributed mode, on any machine with the weights (started by `python -m
bots.worker`, which reads its options).

Each pool process loads the networks of the lanes it serves once (`worker_process_init`), then runs
jobs: the task is `run_celery_job` below. The worker talks to Telegram itself (downloads, progress,
results) with the same delivery policy as the chat process, journals every step in Redis, and beats on
the job board so /stats sees it. A pool process dies with its worker (PR_SET_PDEATHSIG): a worker killed
outright leaves no orphan painting behind it while its job is redelivered to another.

A pool process that hangs is noticed as on one host (`processes`): a running job beats on the board at its
cancel checks and through a delivery's backoff, and a watchdog thread in the worker's main process SIGKILLs
a pool process whose job is silent for `STYLEBOT_STALL_AFTER` seconds or past its deadline (flagged on the
board, so its retry says "got stuck"); Celery then hands the job back at once (`task_reject_on_worker_lost`)
and starts a new pool process. The per-task soft and hard time limits, from the same estimate, stand behind
the watchdog; `STYLEBOT_REDELIVER_AFTER` stays the last resort for a vanished machine.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from celery import Celery, signals

from bots.common.backbone import Backbone
from bots.common import metrics
from bots.common.budget import rss_mb
from bots.common.config import BotConfig
from bots.common.lanes import CANCEL_GRACE, MAX_ATTEMPTS
from bots.common.logs import setup_logging
from bots.common.serving import HealthServer, health_app
from bots.jobs.notices import Interruption
from bots.jobs.runner import CancelReason, RunnerUnavailable
from bots.jobs.runner.board import HEARTBEAT_SECONDS, JobBoard, WorkerBeat
from bots.jobs.runner.celery_app import JOB_TASK, celery_app
from bots.jobs.runner.distributed import enqueue, expected_starts
from bots.jobs.waits import Calibration
from bots.store import JobRecord, JobStatus, StoreError

if TYPE_CHECKING:
    from bots.jobs.services import Services

__all__ = ["serve", "run_celery_job"]

log = logging.getLogger(__name__)
CANCEL_POLL = 0.5  # seconds between two looks at the board for a cancel request (each also beats)
WATCH_EVERY = 1.0  # seconds between two looks of the watchdog at this worker's running jobs
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
            self.board.job_beat(self.job_id)
            if self.board.cancel_asked(self.job_id):
                self.cancel_reason = CancelReason.USER
        return self.cancel_reason is not None


def run_celery_job(job_id: int) -> None:
    """The task: run a journalled job once, whoever delivers the message (idempotent by the journal), in the
    language of the user who asked for it."""
    worker = _worker
    assert worker is not None, "the pool process was not initialised"
    record = worker.services.notifier.journal.get(job_id)
    if record is None or record.status.final:
        if record is not None:
            worker.board.drop(record.user_id, record.lane, record.id)
        return
    _run_once(worker, record)


def _run_once(worker: _Worker, record: JobRecord) -> None:
    from bots.jobs.tasks import run_job  # the pool process's side: torch loads there, not in the main process

    notifier, board = worker.services.notifier, worker.board
    board.take(record.lane, record.id)
    _tell_positions(worker, record.lane)
    started = notifier.journal.start(record.id)
    if started.status.final:  # cancelled between the two looks
        board.drop(record.user_id, record.lane, record.id)
        return
    interruption = Interruption.HANG if board.was_hung(record.id) else Interruption.CRASH
    if started.attempts > MAX_ATTEMPTS:
        notifier.about(started).gave_up(interruption)
        board.drop(record.user_id, record.lane, record.id)
        return
    if started.attempts > 1:
        notifier.about(started).retrying(interruption)
    _beat_now(worker, record.id)
    deadline = worker.config.job_deadline(worker.calibration.estimate(record.kind, record.payload))
    board.job_started(record.id, deadline, worker.name, os.getpid())
    try:
        outcome = run_job(started, worker.services, _BoardStop(board, record.id))
    finally:
        board.job_ended(record.id)
        _beat_now(worker, None)
    if outcome is JobStatus.DELIVERED and (following := notifier.follow_up(record)) is not None:
        enqueue(worker.app, board, worker.calibration, following, worker.config)
    board.drop(record.user_id, record.lane, record.id)


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
        record = services.notifier.journal.get(job_id)
        if record is not None and not record.status.final:
            worker.told[job_id] = now
            services.notifier.about(record).queued(position, wait)


def _beat_now(worker: _Worker, job: int | None) -> None:
    """Tell the board this process is alive and what it runs (at once when its job changes)."""
    worker.job = job
    try:
        worker.board.beat(WorkerBeat(worker.name, socket.gethostname(), os.getpid(), worker.lanes, job, time.time(),
                                     rss_mb()))
    except RunnerUnavailable as exc:  # Redis down: the next beat tries again
        log.warning("heartbeat failed: %s", exc)


def _beating_sleep(worker: _Worker, seconds: float) -> None:
    """A delivery's backoff, beating for the running job every CANCEL_POLL seconds (the watchdog's)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, CANCEL_POLL))
        if worker.job is not None:
            try:
                worker.board.job_beat(worker.job)
            except RunnerUnavailable:
                pass  # Redis down: the delivery's own retries carry on


_hung_killed = 0  # pool processes the watchdog killed (not after a cancel), for /metrics


def _watch(board: JobBoard, name: str, config: BotConfig) -> None:
    """The watchdog of this worker's pool processes (a thread of its main process): SIGKILL the one whose
    job fell silent for the stall limit or ran past its deadline, after flagging the job as hung, or did not
    stop within CANCEL_GRACE of a cancel (its retry then finds the cancel and says "Cancelled")."""
    global _hung_killed
    while True:
        time.sleep(WATCH_EVERY)
        try:
            for life in board.running_jobs(f"{name}/"):
                cancelled = board.cancel_age(life.job)
                if cancelled is not None and cancelled > CANCEL_GRACE:
                    why = f"not stopping {cancelled:.0f} s after its cancel"
                elif life.silent > config.stall_after:
                    why = f"silent for {life.silent:.0f} s"
                elif life.running > life.deadline:
                    why = f"past its deadline of {life.deadline:.0f} s"
                else:
                    continue
                log.error("killing pool process %d (%s): job %d %s", life.pid, life.worker, life.job, why)
                if cancelled is None:
                    _hung_killed += 1
                    board.mark_hung(life.job)
                board.job_ended(life.job)
                try:
                    os.kill(life.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except RunnerUnavailable as exc:  # Redis down: look again later
            log.warning("watchdog: %s", exc)


def _beat_forever(worker: _Worker) -> None:
    while True:
        _beat_now(worker, worker.job)
        time.sleep(HEARTBEAT_SECONDS)


def _init_pool_process(config: BotConfig, backbones: tuple[Backbone, ...], upscaling: bool,
                       lanes: tuple[str, ...], app: Celery, name: str) -> None:
    """Load this pool process's networks and store once, before its first job."""
    global _worker
    from bots.jobs.engines import EnginesUnavailable
    from bots.jobs.services import load_services

    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # ends with its worker, whatever kills it
    try:
        services = load_services(config, lanes, backbones, upscaling)
    except (EnginesUnavailable, StoreError) as exc:
        # Celery would start a new pool process, fail the same way, and so on for ever: stop the worker
        os.write(2, f"error: {exc}\n".encode())  # the real stderr: Celery turned sys.stderr into a logger
        os.kill(os.getppid(), signal.SIGTERM)
        os._exit(2)
    _worker = _Worker(config, services, JobBoard(config.redis_url), app, f"{name}/{os.getpid()}", lanes,
                      Calibration(services.notifier.journal, config.default_size))
    services.notifier.delivery.sleep = lambda seconds: _beating_sleep(_worker, seconds)
    threading.Thread(target=_beat_forever, args=(_worker,), name="heartbeat", daemon=True).start()


def _serve_health(config: BotConfig, name: str, concurrency: int) -> None:
    """`/healthz` (Redis answers, a pool process beats), `/readyz` (all `concurrency` of them beat, so their
    networks are loaded) and `/metrics` of this worker, on `STYLEBOT_HEALTH_LISTEN`. Its pool processes,
    forked after this, count into files of the worker's own metrics folder; this main process counts nothing."""
    folder = config.data_dir / f"metrics-{name}"  # not the chat process's, which it empties at its start
    metrics.reset_folder(folder)
    metrics.as_worker(folder)
    board = JobBoard(config.redis_url)

    def beating() -> tuple[bool, int]:
        try:
            return True, sum(beat.name.startswith(f"{name}/") for beat in board.workers())
        except RunnerUnavailable:
            return False, 0

    def alive() -> dict[str, bool]:
        redis_up, pool = beating()
        return {"redis": redis_up, "pool": pool > 0}

    def ready() -> dict[str, bool]:
        redis_up, pool = beating()
        return {"redis": redis_up, "pool": pool >= concurrency}

    def scrape() -> tuple[bytes, str]:
        from prometheus_client.core import CounterMetricFamily

        hung = CounterMetricFamily("stylebot_workers_hung", "Pool processes killed as hung (silent, or past a "
                                   "job's deadline)")
        hung.add_metric([], _hung_killed)
        return metrics.exposition(folder, [hung], own=False)

    HealthServer(health_app(alive, ready, scrape), config.health_listen).start()


def serve(config: BotConfig, backbones: tuple[Backbone, ...], upscaling: bool, lanes: tuple[str, ...],
          concurrency: int, name: str) -> None:
    """Run a Celery worker named `name` on `lanes` (their queues) with `concurrency` pool processes, each
    painting with `backbones` (and upscaling) as the chat process offers, until it is stopped."""
    setup_logging(config.token, config.log_level, name)
    if config.health_listen:
        _serve_health(config, name, concurrency)
    app = celery_app(config)
    app.task(name=JOB_TASK, acks_late=True)(run_celery_job)
    signals.worker_process_init.connect(
        lambda **_: _init_pool_process(config, backbones, upscaling, lanes, app, name), weak=False)
    signals.worker_ready.connect(lambda **_: threading.Thread(
        target=_watch, args=(JobBoard(config.redis_url), name, config), name="watchdog", daemon=True).start(),
        weak=False)
    app.worker_main(["worker", "--queues", ",".join(lanes), "--concurrency", str(concurrency),
                     "--pool", "prefork", "--hostname", name, "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-O", "fair", "--loglevel", config.log_level])
