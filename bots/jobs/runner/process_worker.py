"""A worker process of the embedded runner: loads the networks of its lane once, then runs the jobs its
supervisor (`processes`) sends it.

Started by the chat process, never by hand. It talks to Telegram itself (downloads, progress, results,
all through the delivery retry policy) and writes the journal itself, so that a result it delivered is
never painted again. It ends within a second when the chat process dies, even by SIGKILL: a thread waits
on the pipe, which reads EOF then. Ctrl-C in a terminal reaches the whole process group: workers ignore it
and let the chat process stop them. The chat process imports this module only to name `serve` as the
target of the processes it spawns: torch and the networks are loaded inside `serve`.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bots.common.backbone import Backbone
from bots.common import metrics
from bots.common.config import BotConfig
from bots.common.logs import setup_logging
from bots.jobs.runner import CancelReason
from bots.store import StoreError

__all__ = ["serve"]

log = logging.getLogger(__name__)


BEAT_EVERY = 1.0  # seconds: a working job tells the supervisor it is alive at most this often


class _Heartbeat:
    """The worker's end of the pipe, shared by the thread that computes and the one that reads: `beat()`
    sends ("beat", job id) at most every BEAT_EVERY seconds while a job works. It is called where the work
    itself passes (every cancel check of the engines, each second of a delivery's backoff), never from a
    timer thread, so a worker stuck inside a job falls silent."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.job: int | None = None
        self._lock = threading.Lock()
        self._last = 0.0

    def send(self, message: tuple) -> None:
        with self._lock:
            self.pipe.send(message)

    def beat(self) -> None:
        now = time.monotonic()
        if self.job is None or now - self._last < BEAT_EVERY:
            return
        self._last = now
        try:
            self.send(("beat", self.job))
        except OSError:
            pass  # the chat process is gone: `_listen` ends this process

    def sleep(self, seconds: float) -> None:
        """time.sleep that keeps beating (a delivery's backoff waits up to 30 s, or Telegram's retry_after)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, BEAT_EVERY))
            self.beat()


@dataclass
class _Stop:
    """A job's cancel check inside the worker, set by the supervisor's ("cancel", id); every check beats."""

    heartbeat: _Heartbeat | None = None
    cancel_reason: CancelReason | None = None

    def cancelled(self) -> bool:
        if self.heartbeat is not None:
            self.heartbeat.beat()
        return self.cancel_reason is not None


def serve(pipe: Connection, config: BotConfig, name: str, lane: str, backbones: tuple[Backbone, ...],
          upscaling: bool) -> None:
    """The worker's main function (see `processes` for the messages on `pipe`)."""
    from bots.jobs.engines import EnginesUnavailable
    from bots.jobs.services import load_services
    from bots.jobs.tasks import run_job

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    metrics.as_worker(config.metrics_dir)
    setup_logging(config.token, config.log_level, f"worker {name}")
    try:
        services = load_services(config, (lane,), backbones, upscaling)
    except (EnginesUnavailable, StoreError) as exc:
        pipe.send(("error", str(exc)))
        return
    heartbeat = _Heartbeat(pipe)
    services.notifier.delivery.sleep = heartbeat.sleep
    jobs: queue.Queue = queue.Queue()
    current: dict[int, _Stop] = {}
    threading.Thread(target=_listen, args=(pipe, jobs, current), name="supervisor-pipe", daemon=True).start()
    heartbeat.send(("ready", os.getpid()))
    while True:
        record = jobs.get()
        stop = current.setdefault(record.id, _Stop())
        stop.heartbeat, heartbeat.job = heartbeat, record.id
        log.info("job %d (%s) for chat %d: attempt %d", record.id, record.kind, record.chat_id, record.attempts)
        try:
            outcome = run_job(record, services, stop)
        finally:
            current.pop(record.id, None)
            heartbeat.job = None
        heartbeat.send(("done", record.id, outcome))


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
