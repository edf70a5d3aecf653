"""What an orchestrator asks the chat process: `GET /healthz`, `GET /readyz` and `GET /metrics`.

- `/healthz` (liveness; restart me if it fails for a while): the update loop answers (polling asked
  Telegram for updates within POLL_STALE seconds; in webhook mode the same server answers this request),
  the store answers a read, and every lane has a live worker (one being replaced counts as down).
- `/readyz` (send me traffic): the networks are loaded (the workers started) and the bot is not stopping.
- `/metrics`: Prometheus' text format (`bots.common.metrics`), with the queue, wait and worker numbers read
  from the runner at each scrape.

Each check answers JSON (`bots.common.serving`). Served on `STYLEBOT_HEALTH_LISTEN` when polling, and by
the webhook's own server in webhook mode (GET requests there carry no secret and get only these three
paths).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from bots.common import metrics
from bots.common.config import BotConfig
from bots.common.serving import App, health_app
from bots.jobs.runner import JobRunner
from bots.store import Store, StoreError

__all__ = ["Health", "POLL_STALE"]

log = logging.getLogger(__name__)
POLL_STALE = 90.0  # seconds: getUpdates long-polls 20 s (30 s timeout); a loop silent longer is stuck


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

    def scrape(self) -> tuple[bytes, str]:
        return metrics.exposition(self.config.metrics_dir, self._live_metrics())

    @property
    def app(self) -> App:
        return health_app(self.alive, self.ready, self.scrape)
