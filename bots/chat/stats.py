"""What the admins' /stats shows: the runner's lanes and workers, the journal's last 24 hours, memory."""
from __future__ import annotations

import math
import time

from bots.common import texts
from bots.common.budget import rss_mb
from bots.jobs.runner import RunnerStats
from bots.store import JobJournal

__all__ = ["stats_text", "percentile"]

DAY = 86400.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of non-empty `values`."""
    ranked = sorted(values)
    return ranked[min(len(ranked), max(1, math.ceil(q / 100 * len(ranked)))) - 1]


def stats_text(stats: RunnerStats, journal: JobJournal, started_at: float) -> str:
    now = time.time()
    summary = journal.summary(now - DAY)
    times = {kind: (percentile(durations, 50), percentile(durations, 95), len(durations))
             for kind, durations in summary.durations.items() if durations}
    workers = [(w.name, (w.rss_mb or rss_mb(w.pid)) if w.alive else None) for w in stats.workers]
    counts = {"delivered": summary.delivered, "failed": summary.failed, "cancelled": summary.cancelled}
    return texts.stats(now - started_at, dict(stats.lanes), dict(stats.waits), counts, times, stats.worker_restarts,
                       rss_mb() or 0.0, workers)
