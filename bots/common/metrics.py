"""The bots' numbers for Prometheus (`prometheus_client`), counted in the process that sees each event.

On one host the chat process counts in memory, and its worker processes (which deliver results, so they
see Telegram's retries) count into files of one folder, prometheus_client's multiprocess mode: `as_worker`
points a worker there before its first count. The chat process's `/metrics` (`bots.chat.health`) adds the
two up (`exposition`), with the live numbers it reads from the runner at each scrape (queues, waits,
workers). prometheus_client is imported on first use, not with this module: it picks memory or files when
it is first imported, and a worker must have chosen by then.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["as_worker", "reset_folder", "count_job", "observe_job", "count_retry",
           "count_given_up", "count_disk_full", "exposition"]

MULTIPROCESS_SETTING = "PROMETHEUS_MULTIPROC_DIR"
# Job seconds: an instant style takes about a second, a quick version a few, a full painting minutes
SECONDS_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def reset_folder(folder: Path) -> None:
    """Empty the workers' folder before they start (prometheus_client's rule: a fresh one per run)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


def as_worker(folder: Path) -> None:
    """Count into files of `folder` from now on: call it in a worker before anything counts."""
    os.environ[MULTIPROCESS_SETTING] = str(folder)


def _made() -> dict[str, Any]:
    """The metrics, made on first use (prometheus_client is imported then)."""
    with _lock:
        if not _metrics:
            from prometheus_client import Counter, Histogram

            _metrics.update(
                jobs=Counter("stylebot_jobs", "Jobs ended (or tried again), by kind and outcome",
                             ["kind", "outcome"]),
                seconds=Histogram("stylebot_job_seconds", "Seconds a delivered job ran, by kind", ["kind"],
                                  buckets=SECONDS_BUCKETS),
                waits=Histogram("stylebot_job_wait_seconds", "Seconds a job waited in its queue before it "
                                "started, by kind", ["kind"], buckets=SECONDS_BUCKETS),
                retries=Counter("stylebot_telegram_retries", "Bot API calls tried again, by method and error",
                                ["method", "error"]),
                given_up=Counter("stylebot_deliveries_given_up", "Deliveries to a user that Telegram never "
                                 "took within the patience"),
                disk_full=Counter("stylebot_disk_full_refusals", "Requests refused because the disk is full"),
            )
        return _metrics


def count_job(kind: str, outcome: str) -> None:
    _made()["jobs"].labels(kind, outcome).inc()


def observe_job(kind: str, seconds: float | None = None, wait: float | None = None) -> None:
    """A job's running time (delivered jobs) or its wait before it started."""
    if seconds is not None:
        _made()["seconds"].labels(kind).observe(seconds)
    if wait is not None:
        _made()["waits"].labels(kind).observe(wait)


def count_retry(method: str, error: str) -> None:
    _made()["retries"].labels(method, error).inc()


def count_given_up() -> None:
    _made()["given_up"].inc()


def count_disk_full() -> None:
    _made()["disk_full"].inc()


def exposition(folder: Path | None, live: Iterable[Any] = (), own: bool = True) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: this process's metrics (unless not `own`: a process that
    counts into `folder` itself would be counted twice) plus the workers' files in `folder` (summed where
    they share a name and labels), plus the `live` metric families."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    from prometheus_client.registry import CollectorRegistry

    families = {}
    if own:
        _made()
        families = {family.name: family for family in REGISTRY.collect()}
    if folder is not None and folder.is_dir():
        workers = CollectorRegistry()
        MultiProcessCollector(workers, path=str(folder))
        for family in workers.collect():
            ours = families.get(family.name)
            if ours is None:
                families[family.name] = family
                continue
            totals = {(s.name, tuple(sorted(s.labels.items()))): s for s in ours.samples}
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key in totals and not sample.name.endswith("_created"):
                    sample = sample._replace(value=totals[key].value + sample.value)
                totals[key] = sample
            ours.samples = list(totals.values())
    merged = CollectorRegistry(auto_describe=False)
    merged.register(_Families([*families.values(), *live]))
    return generate_latest(merged), CONTENT_TYPE_LATEST


class _Families:
    """A collector that gives metric families already made."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families
