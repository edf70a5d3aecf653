"""What an orchestrator asks the chat process: `GET /healthz`, `GET /readyz` and `GET /metrics`.

- `/healthz` (liveness; restart me if it fails for a while): the update loop answers (polling asked
  Telegram for updates within POLL_STALE seconds; in webhook mode the same server answers this request),
  the store answers a read, and every lane has a live worker (one being replaced counts as down).
- `/readyz` (send me traffic): the networks are loaded (the workers started) and the bot is not stopping.
- `/metrics`: Prometheus' text format (`bots.common.metrics`), with the queue, wait and worker numbers read
  from the runner at each scrape.

Each answers JSON ``{"ok": ..., "checks": {...}}`` (200, or 503 when not ok). Served on
`STYLEBOT_HEALTH_LISTEN` when polling (a small uvicorn server in a thread), and by the webhook's own server
in webhook mode (GET requests there carry no secret and get only these three paths).
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bots.common import metrics
from bots.common.config import BotConfig, ConfigError
from bots.jobs.runner import JobRunner
from bots.store import Store, StoreError

__all__ = ["Health", "HealthServer", "PATHS", "POLL_STALE"]

log = logging.getLogger(__name__)
PATHS = ("/healthz", "/readyz", "/metrics")
POLL_STALE = 90.0  # seconds: getUpdates long-polls 20 s (30 s timeout); a loop silent longer is stuck
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Health:
    """The checks and the ASGI app that answers them; `polled()` is called at each getUpdates (polling)."""

    def __init__(self, config: BotConfig, store: Store, runner: JobRunner) -> None:
        self.config, self.store, self.runner = config, store, runner
        self.polling = config.webhook_url is None  # else the webhook's server answers the checks itself
        self.started = False  # the workers are ready
        self.stopping = False
        self._last_poll = time.monotonic()  # set again when polling starts (the workers' start takes a while)

    def polled(self) -> None:
        self._last_poll = time.monotonic()

    def alive(self) -> dict[str, bool]:
        checks = {"store": self._store_answers(), "workers": self._workers_alive()}
        if self.polling:
            checks["polling"] = time.monotonic() - self._last_poll < POLL_STALE
        return checks

    def ready(self) -> dict[str, bool]:
        return {"started": self.started, "not_stopping": not self.stopping, **self.alive()}

    def _store_answers(self) -> bool:
        try:
            self.store.journal.get(0)
        except StoreError as exc:
            log.warning("health: the store does not answer: %s", exc)
            return False
        return True

    def _workers_alive(self) -> bool:
        """Every lane that has workers here has a live one (the distributed runner's are on other machines:
        they answer for themselves)."""
        if not self.runner.resumes_journal:
            return True
        workers = self.runner.stats().workers
        lanes = {w.name.rsplit("-", 1)[0] for w in workers}
        return all(any(w.alive for w in workers if w.name.rsplit("-", 1)[0] == lane) for lane in lanes)

    def _live_metrics(self) -> list[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self.runner.stats()
        jobs = GaugeMetricFamily("stylebot_queue_jobs", "Jobs in a lane, waiting or running", labels=["lane", "state"])
        for lane, (waiting, running) in stats.lanes.items():
            jobs.add_metric([lane, "waiting"], waiting)
            jobs.add_metric([lane, "running"], running)
        waits = GaugeMetricFamily("stylebot_expected_wait_seconds", "Seconds a job queued now would wait",
                                  labels=["lane"])
        for lane, wait in stats.waits.items():
            waits.add_metric([lane], wait)
        alive = GaugeMetricFamily("stylebot_workers_alive", "Worker processes alive")
        alive.add_metric([], sum(w.alive for w in stats.workers))
        restarts = CounterMetricFamily("stylebot_worker_restarts", "Worker processes replaced (crashed or hung)")
        restarts.add_metric([], stats.worker_restarts)
        hung = CounterMetricFamily("stylebot_workers_hung", "Worker processes killed as hung (silent, or past a "
                                   "job's deadline)")
        hung.add_metric([], stats.workers_hung)
        return [jobs, waits, alive, restarts, hung]

    async def app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if scope["method"] != "GET" or path not in PATHS:
            return await _answer(send, 404 if scope["method"] == "GET" else 405, b"", b"text/plain")
        if path == "/metrics":
            body, content_type = metrics.exposition(self.config.metrics_dir, self._live_metrics())
            return await _answer(send, 200, body, content_type.encode())
        checks = self.alive() if path == "/healthz" else self.ready()
        ok = all(checks.values())
        await _answer(send, 200 if ok else 503, json.dumps({"ok": ok, "checks": checks}).encode(),
                      b"application/json")


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class HealthServer:
    """`Health` on its own address (`STYLEBOT_HEALTH_LISTEN`), served by a thread until `stop()`."""

    def __init__(self, health: Health, listen: tuple[str, int]) -> None:
        import uvicorn  # here: only a bot that serves health checks loads the server

        self.listen = listen
        self._server = uvicorn.Server(uvicorn.Config(
            health.app, interface="asgi3", http="h11", loop="asyncio", ws="none", lifespan="off",
            log_config=None, access_log=False, server_header=False))
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._socket is None:
            raise RuntimeError("the health server is not started")
        return self._socket.getsockname()[:2]

    def start(self) -> None:
        """Bind (a port in use is a one-line ConfigError) and serve in a thread."""
        host, port = self.listen
        try:
            self._socket = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                                else socket.AF_INET)
        except OSError as exc:
            raise ConfigError(f"STYLEBOT_HEALTH_LISTEN {host}:{port} cannot be used: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="health", daemon=True)
        self._thread.start()
        log.info("health checks and metrics on http://%s:%d", *self.address)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._socket is not None:
            self._socket.close()
