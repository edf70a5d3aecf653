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
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.common.logs import setup_logging
from bots.jobs.runner import CancelReason
from bots.store import StoreError

__all__ = ["serve"]

log = logging.getLogger(__name__)


@dataclass
class _Stop:
    """A job's cancel check inside the worker, set by the supervisor's ("cancel", id)."""

    cancel_reason: CancelReason | None = None

    def cancelled(self) -> bool:
        return self.cancel_reason is not None


def serve(pipe: Connection, config: BotConfig, name: str, lane: str, backbones: tuple[Backbone, ...],
          upscaling: bool) -> None:
    """The worker's main function (see `processes` for the messages on `pipe`)."""
    from bots.jobs.engines import EnginesUnavailable
    from bots.jobs.services import load_services
    from bots.jobs.tasks import run_job

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging(config.token, config.log_level, f"worker {name}")
    try:
        services = load_services(config, (lane,), backbones, upscaling)
    except (EnginesUnavailable, StoreError) as exc:
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
