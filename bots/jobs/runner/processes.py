"""Worker processes supervised by the chat process: one per slot of each lane, each loading its networks once.

The chat process loads no network, so a job that runs out of memory, segfaults or is killed takes only
its worker down: the supervisor sees the pipe close (`WorkerLost`), starts a replacement, and the runner
decides whether to try the job again. A worker that hangs (a deadlock, a stuck disk, a host swapping, or
SIGSTOP) is noticed too: a working job beats (`process_worker`), and the supervisor SIGKILLs a worker
silent for `STYLEBOT_STALL_AFTER` seconds, or running a job past its deadline (`WorkerHung`), or not
stopping within CANCEL_GRACE of a /cancel; the replacement starts in the background, so the user hears
at once. Workers are started with "spawn" (a fresh interpreter: forking a
process that holds threads and torch's thread pools is unsafe) and end within a second when the chat
process dies, even by SIGKILL: their end of the pipe then reads EOF (`process_worker`).

Messages on a worker's pipe: to it ("run", JobRecord) and ("cancel", job id); from it ("ready", pid) or
("error", one-line reason) once after start, then ("beat", job id) while a job works and ("done", job id,
JobStatus | None) after each job.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection

from bots.common.backbone import Backbone
from bots.common.config import BotConfig
from bots.common.lanes import CANCEL_GRACE
from bots.jobs.runner import CancelReason, Stop, WorkerHung, WorkerInfo, WorkerLost, WorkerSetupError
from bots.jobs.runner.process_worker import serve
from bots.store import JobRecord, JobStatus

__all__ = ["WorkerProcesses", "WorkerProcess"]

log = logging.getLogger(__name__)
READY_TIMEOUT = 600.0  # seconds for a new worker to import torch and load its networks (a slow disk)
# torch's OpenMP threads spin up to 300,000 iterations waiting for each other (libgomp's default). With
# another worker busy on the same cores they spin against it: a 512 px quick version took 6-7 s there
# against 1.5 s with a spin count of 1,000 (transfer/universal.py). Workers inherit it; an operator's
# own GOMP_SPINCOUNT (or OMP_WAIT_POLICY) wins.
WORKER_ENVIRONMENT = {"GOMP_SPINCOUNT": "1000"}
POLL = 0.1  # seconds between two looks at a job's cancel check while it runs


class WorkerProcess:
    """One worker process and the chat's end of its pipe; replaced by `restart` when it dies."""

    def __init__(self, name: str, config: BotConfig, lane: str, backbones: tuple[Backbone, ...],
                 upscaling: bool) -> None:
        self.name, self.config, self.lane = name, config, lane
        self.backbones, self.upscaling = backbones, upscaling
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pipe: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process and wait until its networks are loaded (raises WorkerSetupError)."""
        if "OMP_WAIT_POLICY" not in os.environ:
            for name, value in WORKER_ENVIRONMENT.items():
                os.environ.setdefault(name, value)  # spawned workers start with this process's environment

        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=serve, name=f"stylebot-{self.name}", daemon=True,
            args=(theirs, self.config, self.name, self.lane, self.backbones, self.upscaling))
        self._process.start()
        theirs.close()  # only the worker holds its end: its death closes the pipe
        self._pipe = ours
        if not ours.poll(READY_TIMEOUT):
            self.stop()
            raise WorkerSetupError(f"worker {self.name} did not get ready within {READY_TIMEOUT:.0f} s")
        try:
            message = ours.recv()
        except EOFError:
            self._process.join(5)
            raise WorkerSetupError(f"worker {self.name} ended while starting (exit code "
                                   f"{self._process.exitcode})") from None
        if message[0] != "ready":
            self._process.join(5)
            raise WorkerSetupError(message[1])
        log.info("worker %s ready (pid %d)", self.name, self.pid)

    def execute(self, record: JobRecord, stop: Stop, deadline: float | None = None) -> JobStatus | None:
        """Have the worker run the job; forwards a user's cancel, returns at once on a shutdown. Kills the
        worker (SIGKILL) and raises WorkerHung when it is silent for the stall limit or runs past
        `deadline` seconds, WorkerLost when it does not stop within CANCEL_GRACE of a cancel."""
        assert self._pipe is not None
        try:
            self._pipe.send(("run", record))
        except OSError:
            raise WorkerLost(self.name) from None
        started = heard = time.monotonic()
        told: float | None = None
        while True:
            try:
                if self._pipe.poll(POLL):
                    kind, job_id, *rest = self._pipe.recv()
                    heard = time.monotonic()
                    if kind == "done" and job_id == record.id:
                        return rest[0]
                    continue
            except (EOFError, OSError):
                raise WorkerLost(self.name) from None
            now = time.monotonic()
            if now - heard > self.config.stall_after:
                self.kill(f"job {record.id} silent for {now - heard:.0f} s")
                raise WorkerHung(self.name, f"silent for {now - heard:.0f} s")
            if deadline is not None and now - started > deadline:
                self.kill(f"job {record.id} past its deadline of {deadline:.0f} s")
                raise WorkerHung(self.name, f"past its deadline of {deadline:.0f} s")
            if told is not None and now - told > CANCEL_GRACE:
                self.kill(f"job {record.id} not stopping {CANCEL_GRACE:.0f} s after its cancel")
                raise WorkerLost(self.name)
            if stop.cancelled() and told is None:
                if stop.cancel_reason is CancelReason.SHUTDOWN:
                    return None  # the worker is stopped with the others; the job is resumed at the next start
                try:
                    self._pipe.send(("cancel", record.id))
                except OSError:
                    raise WorkerLost(self.name) from None
                told = now

    def kill(self, why: str) -> None:
        """SIGKILL the process now (it may be stopped: no signal it could catch would do) and reap it."""
        log.error("killing worker %s (pid %s): %s", self.name, self.pid, why)
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._process is not None:
            self._process.kill()
            self._process.join(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        """End the process now (SIGTERM, then SIGKILL after 5 s)."""
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)


class WorkerProcesses:
    """The executor of the embedded runner: `lanes` maps a lane to its number of worker processes."""

    def __init__(self, config: BotConfig, lanes: Mapping[str, int], backbones: tuple[Backbone, ...],
                 upscaling: bool) -> None:
        self._workers = {lane: [WorkerProcess(f"{lane}-{n + 1}", config, lane, backbones, upscaling)
                                for n in range(count)] for lane, count in lanes.items()}
        self._idle: dict[str, queue.Queue[WorkerProcess]] = {lane: queue.Queue() for lane in lanes}
        self._restarts = 0
        self._hung = 0  # workers killed as hung (silent, or past a deadline)
        self._closed = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every worker, all at once (each loads its networks: seconds)."""
        errors: list[str] = []

        def start_one(worker: WorkerProcess) -> None:
            try:
                worker.start()
            except WorkerSetupError as exc:
                errors.append(str(exc))

        threads = [threading.Thread(target=start_one, args=(w,)) for ws in self._workers.values() for w in ws]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.shutdown()
            raise WorkerSetupError(errors[0])
        for lane, workers in self._workers.items():
            for worker in workers:
                self._idle[lane].put(worker)

    def execute(self, record: JobRecord, stop: Stop, deadline: float | None = None) -> JobStatus | None:
        worker = self._idle[record.lane].get()
        try:
            if not worker.alive:
                self._replace(worker)
            outcome = worker.execute(record, stop, deadline)
        except WorkerLost as exc:
            if stop.cancelled() and stop.cancel_reason is CancelReason.SHUTDOWN:
                self._idle[record.lane].put(worker)
            else:  # the lane's next job (or this one's retry) takes the replacement once it is ready
                with self._lock:
                    self._hung += isinstance(exc, WorkerHung)
                threading.Thread(target=self._replace, args=(worker, self._idle[record.lane]),
                                 name=f"replace-{worker.name}", daemon=True).start()
            raise
        except BaseException:
            self._idle[record.lane].put(worker)
            raise
        self._idle[record.lane].put(worker)
        return outcome

    def _replace(self, worker: WorkerProcess, idle: queue.Queue[WorkerProcess] | None = None) -> None:
        """Start a new process in a dead worker's place, trying again every few seconds until it works;
        then put it in `idle` if given (unless the workers were shut down meanwhile)."""
        with self._lock:
            self._restarts += 1
        while not self._closed:
            try:
                worker.restart()
                break
            except (WorkerSetupError, OSError) as exc:  # OSError: shut down while it started (its pipe closed)
                if self._closed:
                    break
                log.error("could not replace worker %s: %s; trying again in 10 s", worker.name, exc)
                time.sleep(10)
        if self._closed:
            worker.stop()
        elif idle is not None:
            idle.put(worker)

    def shutdown(self) -> None:
        self._closed = True
        for workers in self._workers.values():
            for worker in workers:
                worker.stop()

    def stats(self) -> tuple[list[WorkerInfo], int, int]:
        infos = [WorkerInfo(w.name, w.pid, w.alive) for ws in self._workers.values() for w in ws]
        with self._lock:
            return infos, self._restarts, self._hung
