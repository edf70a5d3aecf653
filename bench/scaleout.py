"""`python -m bench bot --redis`: the distributed mode's throughput with one and with two workers.

A real redis-server, a chat process (run_vgg.py) and Celery workers (`python -m bots.worker`), all real
processes, talk to the fake Bot API (bench.cluster). For each worker count, `--users` users ask for a
full painting at once (each first gets its quick version, from one instant worker); reported: the
paintings per minute from the first request to the last delivery, each job's time, and the latency of
a /help sent every `--help-every` seconds meanwhile. On two cores the point is that it works and what
it costs, not the speed-up: two workers share the same two cores.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench import soak
from bench.cluster import Cluster
from bench.measure import format_table, machine_info, write_json
from bots.chat.stats import percentile
from tests.fake_bot_api import FakeBotApi
from tests.redis_server import RedisServer, free_port

__all__ = ["main", "measure"]

WORKER_COUNTS = (1, 2)
AskHelp = Callable[[FakeBotApi], float]  # sends /help, returns the ms until the answer
Photo = Callable[[int], bytes]


def _painted(api: FakeBotApi, chat: int) -> bool:
    return any(photo["caption"].startswith("VGG19") for photo in soak.result_photos(api, chat))


def measure(api: FakeBotApi, server: RedisServer, workers: int, args: argparse.Namespace, folder: Path,
            token: str, ask_help: AskHelp, photo: Photo) -> dict[str, Any]:
    """One run: `workers` transfer workers and one instant worker, `args.users` paintings at once."""
    redis.Redis.from_url(server.url).flushall()
    cluster = Cluster(api, token, server.url, Path(args.weights), folder, STYLEBOT_SIZES=str(args.size),
                      STYLEBOT_SIZE=str(args.size), STYLEBOT_STEPS=str(args.steps), STYLEBOT_COMPUTE_THREADS="1",
                      STYLEBOT_QUEUE_LIMIT=str(max(1, args.users)), STYLEBOT_JOBS_PER_HOUR="0")
    try:
        for n in range(workers):
            cluster.worker(f"painter-{n + 1}", "transfer")
        cluster.worker("quick", "instant")
        cluster.start_chat()
        ask_help(api)  # the chat process answers
        users = [9100 + 10 * workers + n for n in range(args.users)]
        started = time.monotonic()
        for n, chat in enumerate(users):
            soak.ask_for_painting(api, chat, photo(n), ("style:swirls", "style:mosaic")[n % 2])
        latencies, finished = [], {}
        deadline = started + args.timeout
        while len(finished) < len(users) and time.monotonic() < deadline:
            tick = time.monotonic()
            latencies.append(ask_help(api))
            finished.update({chat: time.monotonic() - started for chat in users
                             if chat not in finished and _painted(api, chat)})
            time.sleep(max(0.0, args.help_every - (time.monotonic() - tick)))
        wall = max(finished.values(), default=None)
        return {"workers": workers, "jobs": len(users), "delivered": len(finished), "wall_s": wall,
                "per_minute": len(finished) / wall * 60 if wall else None,
                "help_p50_ms": percentile(latencies, 50), "help_p95_ms": percentile(latencies, 95),
                "help_count": len(latencies), "job_s": sorted(finished.values())}
    finally:
        cluster.stop()


def main(args: argparse.Namespace, token: str, ask_help: AskHelp, photo: Photo) -> int:
    """Run each worker count in turn; print and save the table; 1 unless every painting arrived."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("bench bot --redis: needs redis-server (apt-get install redis-server)")
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as folder, FakeBotApi(token=token, default_timeout=30) as api:
        api.install()
        server = RedisServer(binary, Path(folder), free_port())
        server.start()
        try:
            for workers in WORKER_COUNTS:
                run_folder = Path(folder) / f"workers-{workers}"
                run_folder.mkdir()
                rows.append(measure(api, server, workers, args, run_folder, token, ask_help, photo))
        finally:
            server.stop()
    print(format_table(rows, [("workers", "transfer workers", "d"), ("jobs", "paintings", "d"),
                              ("delivered", "delivered", "d"), ("wall_s", "first ask to last delivery (s)", ".1f"),
                              ("per_minute", "paintings / min", ".2f"), ("help_p50_ms", "/help p50 ms", ".0f"),
                              ("help_p95_ms", "/help p95 ms", ".0f"), ("help_count", "/help asked", "d")]))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "bot --redis", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine_info(), "settings": settings, "runs": rows})
    print(f"Results: {path}")
    return 0 if all(row["delivered"] == row["jobs"] for row in rows) else 1
