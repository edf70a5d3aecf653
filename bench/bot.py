"""`python -m bench bot`: does the bot keep answering while it paints?

A VggBot (real VGG19 weights from STYLEBOT_WEIGHTS_DIR) talks to the fake Bot API server of the test
suite, exactly as in production (long polling, HTTP, the job queue, the engine). N users each send a
photo, pick a built-in style and ask to paint its quick version fully, so N transfer jobs run; meanwhile another user sends /help every
--help-every seconds. The latency of a /help is the time from injecting the update into the fake
server to the bot's sendMessage arriving there (both time.monotonic in this process). Reported: the
p50/p95/max latency of the /help sent while jobs ran, each job's time, and whether every job finished.
Target: /help p95 under 300 ms while two jobs run.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench bot               # from the repository root
    python -m bench bot --users 3 --workers 1 --size 96 --steps 40
    python -m bench bot --soak 120        # many users for two minutes, with Telegram faults (bench/soak.py)
    python -m bench bot --burst 60        # sixty users at once, each one instant picture (bench/burst.py)
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench import burst, soak
from bench.measure import REPO, format_table, json_path, machine_info, write_json
from bots import BotConfig, VggBot
from bots.chat.stats import percentile
from bots.common import texts
from bots.jobs.runner import WorkerSetupError
from tests.fake_bot_api import FakeBotApi

TARGET_P95_MS = 300.0
TOKEN = "1000:BENCH"
HELP_CHAT = 9000
USER_CHATS = 9001  # first of the users' chats
HELP_FIRST_LINE = texts.help_text([], False).splitlines()[0]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2, help="users who each ask for a transfer (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="jobs computed at the same time (default 2)")
    parser.add_argument("--size", type=int, help="long side of the results in px (default 128; 256 with --burst)")
    parser.add_argument("--steps", type=int, default=150, help="optimisation steps per job (default 150)")
    parser.add_argument("--compute-threads", type=int, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--help-every", type=float, default=0.2, help="seconds between two /help (default 0.2)")
    parser.add_argument("--timeout", type=float, default=600, help="give up on jobs after this many seconds")
    parser.add_argument("--out", type=json_path, default=None,
                        help="JSON results (default bench/results/bot.json, or soak.json with --soak, "
                             "burst.json with --burst, burst-redis.json with --burst --redis)")
    parser.add_argument("--redis", action="store_true",
                        help="the distributed mode: a chat process, Celery workers and a real redis-server "
                             "(bench/scaleout.py), with one and with two transfer workers")
    soak.add_arguments(parser)
    burst.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.burst is not None and (args.burst < 1 or args.soak):
        parser.error("--burst needs at least one user, and no --soak")
    args.weights = os.environ.get("STYLEBOT_WEIGHTS_DIR", str(REPO / "weights"))
    if args.size is None:
        args.size = 256 if args.burst else 128
    if args.out is None:
        name = ("soak.json" if args.soak else "burst-redis.json" if args.burst and args.redis else
                "burst.json" if args.burst else "scaleout.json" if args.redis else "bot.json")
        args.out = REPO / "bench" / "results" / name
    return args


def _ask_help(api: FakeBotApi) -> float:
    """Send /help and wait for the answer; returns the latency in ms."""
    mark = api.mark()
    sent_at = time.monotonic()
    api.send_text(HELP_CHAT, "/help")
    reply = api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == HELP_CHAT and c.ok
                         and HELP_FIRST_LINE in c.params["text"], since=mark, timeout=30)
    return (reply.time - sent_at) * 1000


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Drive the conversations; returns the measurements."""
    with FakeBotApi(token=TOKEN, default_timeout=30) as api, tempfile.TemporaryDirectory() as data:
        api.install()
        config = BotConfig(token=TOKEN, api_url=f"http://127.0.0.1:{api.port}", workers=args.workers,
                           queue_limit=max(1, args.users), sizes=(args.size,), default_size=args.size,
                           steps=args.steps, compute_threads=args.compute_threads, data_dir=Path(data))
        bot = VggBot.from_config(config)  # its workers load the networks (STYLEBOT_WEIGHTS_DIR)
        bot.start()
        polling = threading.Thread(target=bot.run, name="bot", daemon=True)
        polling.start()
        try:
            _ask_help(api)  # warm up: the bot is polling
            users = [USER_CHATS + n for n in range(args.users)]
            submitted: dict[int, float] = {}
            for n, chat in enumerate(users):
                soak.ask_for_painting(api, chat, _photo(n), ("style:swirls", "style:mosaic")[n % 2])
                submitted[chat] = time.monotonic()
            finished: dict[int, float] = {}
            latencies: list[float] = []
            deadline = time.monotonic() + args.timeout
            while len(finished) < len(users) and time.monotonic() < deadline:
                tick = time.monotonic()
                latencies.append(_ask_help(api))
                for chat in users:
                    if chat not in finished and len(soak.result_photos(api, chat)) > 1:  # after the quick one
                        finished[chat] = time.monotonic()
                time.sleep(max(0.0, args.help_every - (time.monotonic() - tick)))
            jobs = []
            for chat in users:
                photo = next(iter(soak.result_photos(api, chat)[1:]), None)
                jobs.append({"user": chat, "finished": photo is not None,
                             "wall_s": finished[chat] - submitted[chat] if chat in finished else None,
                             "caption": photo["caption"] if photo else None})
        finally:
            bot.stop(timeout=30)
            api.end_long_polls()
            polling.join(timeout=10)
    return {"latencies_ms": latencies, "jobs": jobs}


def _photo(seed: int) -> bytes:
    """A content photo: the shared test photo when there is one, otherwise a generated gradient."""
    shared = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images")) / "content"
    photos = sorted(shared.glob("*.jpg")) if shared.is_dir() else []
    if photos:
        return photos[seed % len(photos)].read_bytes()
    yy, xx = np.mgrid[0:300, 0:400]
    pixels = np.stack([xx * 255 / 400, yy * 255 / 300, np.full_like(xx, 40 * seed % 255)], -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.soak:
        return soak_main(args)
    if args.burst:
        return burst.main(args, _photo)
    if args.redis:
        from bench import scaleout

        return scaleout.main(args, TOKEN, _ask_help, _photo)
    try:
        measured = run(args)
    except WorkerSetupError as exc:
        print(f"bench bot: {exc}", file=sys.stderr)
        return 1
    latencies = measured["latencies_ms"]
    summary = {"help_count": len(latencies),
               "help_p50_ms": percentile(latencies, 50) if latencies else None,
               "help_p95_ms": percentile(latencies, 95) if latencies else None,
               "help_max_ms": max(latencies, default=None),
               "help_mean_ms": statistics.fmean(latencies) if latencies else None}
    all_finished = all(job["finished"] for job in measured["jobs"])
    met = all_finished and summary["help_p95_ms"] is not None and summary["help_p95_ms"] < TARGET_P95_MS
    rows = [{"what": f"/help while {args.users} jobs ran ({args.workers} at a time)", "n": len(latencies),
             "p50": summary["help_p50_ms"], "p95": summary["help_p95_ms"], "max": summary["help_max_ms"]}]
    print(format_table(rows, [("what", "latency (ms)", ""), ("n", "n", "d"), ("p50", "p50", ".0f"),
                              ("p95", "p95", ".0f"), ("max", "max", ".0f")]))
    print()
    print(format_table(measured["jobs"], [("user", "user", "d"), ("finished", "finished", ""),
                                          ("wall_s", "submit to photo (s)", ".1f"), ("caption", "caption", "")]))
    print(f"\n{'MET    ' if met else 'NOT MET'}  /help p95 under {TARGET_P95_MS:.0f} ms while the jobs run, "
          f"every job finished: p95 {summary['help_p95_ms'] or float('nan'):.0f} ms, "
          f"{sum(j['finished'] for j in measured['jobs'])}/{len(measured['jobs'])} jobs finished")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "bot", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine_info(), "settings": settings, "summary": summary,
                                 "jobs": measured["jobs"], "latencies_ms": latencies,
                                 "targets": [{"target": f"/help p95 < {TARGET_P95_MS:.0f} ms, all jobs finished",
                                              "met": met}]})
    print(f"Results: {path}")
    return 0 if all_finished else 1


def soak_main(args: argparse.Namespace) -> int:
    """The soak mode: print and save what `bench.soak.run_soak` measured; 1 unless every job was
    delivered exactly once and the chat process's memory did not grow by more than 10%."""
    photos = [_photo(n) for n in range(4)]
    measured = soak.run_soak(args, REPO, photos)
    growth = (measured["chat_rss_end_mb"] or 0) / (measured["chat_rss_start_mb"] or 1)
    met = measured["once"] and not measured["stuck"] and growth < 1.10
    rows = [{"what": "jobs asked / delivered", "value": f"{measured['asked']} / {measured['delivered']}"
             f" ({'each exactly once' if measured['once'] else 'NOT each once'}, {measured['duplicates']} duplicates)"},
            {"what": "job wait p50 / p95 (s)", "value": f"{measured['job_wait_p50_s'] or 0:.1f} / "
                                                        f"{measured['job_wait_p95_s'] or 0:.1f}"},
            {"what": "/help p50 / p95 (ms)", "value": f"{measured['help_p50_ms']:.0f} / {measured['help_p95_ms']:.0f}"
                                                      f" ({measured['help_count']} asked)"},
            {"what": "chat process RSS start / end / peak (MB)",
             "value": f"{measured['chat_rss_start_mb']:.0f} / {measured['chat_rss_end_mb']:.0f} / "
                      f"{measured['chat_rss_peak_mb']:.0f} (end/start {growth:.3f})"},
            {"what": "worker processes RSS (MB)", "value": ", ".join(f"{mb:.0f}" for mb in measured["workers_rss_mb"])},
            {"what": "faults injected", "value": f"{measured['faults']} ({measured['fault_share']:.1%} of the calls "
                                                 f"that deliver or fetch pictures)"}]
    print(format_table(rows, [("what", "soak: " + f"{args.soak:.0f} s, {args.soak_users} users", ""),
                              ("value", "", "")]))
    for line in measured["stuck"]:
        print(f"  stuck: {line}")
    print(f"\n{'MET    ' if met else 'NOT MET'}  every job delivered exactly once, chat memory flat (< +10%)")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "bot soak", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine_info(), "settings": settings, "summary": measured,
                                 "targets": [{"target": "every job delivered once, chat RSS flat", "met": met}]})
    print(f"Results: {path}")
    return 0 if met else 1
