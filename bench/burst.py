"""`python -m bench bot --burst N`: N new users at once, each wanting one instant picture: served or turned away?

The bot talks to the fake Bot API server as `bench bot` runs it: a VggBot with its worker processes (the
embedded mode), or with --redis a chat process (run_vgg.py) and an instant Celery worker on a real
redis-server (bench.cluster). First a warm-up: WARMUP_JOBS instant jobs by another user, which also calibrate
the wait estimates as a running bot's are, and CALIBRATION_TTL seconds for that calibration to be read. Then
N users each send a photo, all in one getUpdates batch; once each got the style prompt, all N press the
instant style "Wave" at once (one batch again): the burst. Each user is then *served* (the picture and
"✅ Done" arrived), *refused* (the "I'm very busy" message) or, if the bot goes quiet first, *unanswered*.
Reported, from the burst (time.monotonic in this process, at the fake server): the time to each user's
picture (p50, p95, max) and to the last one, each job's seconds ("✅ Done in X s") and the time from one
job's start to the next's (a job starts when its worker fetches the photo: getFile), the queue messages (the
largest place and wait shown; for each served user the first and the last "about T to wait" against the
time it really waited from then until its job started), and the Bot API calls per served job.

Two admissions in the same run, each on a fresh bot: by expected wait (the defaults: STYLEBOT_QUEUE_LIMIT
500, STYLEBOT_INSTANT_WAIT_LIMIT 120 s), and the old one, by count (--baseline-limit waiting jobs, default 20,
with no wait limit). Jobs are computed on one torch thread unless --compute-threads says otherwise; --users,
--workers (the transfer lane's), --steps and --help-every do not apply.

    python -m bench bot --burst 60 --size 256
    python -m bench bot --burst 60 --size 256 --redis     # the distributed mode
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure import format_table, machine_info, write_json
from bots import BotConfig, VggBot
from bots.chat.stats import percentile
from bots.common import texts
from bots.jobs.runner import WorkerSetupError
from bots.jobs.waits import CALIBRATION_TTL
from tests.fake_bot_api import FakeBotApi

__all__ = ["add_arguments", "main", "parse_duration"]

TOKEN = "1000:BURST"
STYLE = "instant:wave"
FIRST_USER = 9300  # the burst's users: FIRST_USER..; the warm-up user is FIRST_USER - 1
WARMUP_JOBS = 3
NO_WAIT_LIMIT = 1e9  # seconds: the baseline admits by count alone
BUSY = "I'm very busy"
APOLOGY = "😵"  # texts.HANDLER_FAILED, JOB_FAILED...: the bot failed this user
QUEUED = re.compile(r"You're #(\d+) in the queue(?:, about (.+?) to wait)?")
REFUSED = re.compile(r"would wait about (.+?)\. Please try again in (.+?)\.")
SENDING = ("sendMessage", "editMessageText", "sendPhoto", "sendMediaGroup", "sendDocument")
DONE = re.compile(r"Done in ([\d.]+) s")
QUIET = 30.0  # s without any Bot API call from the bot: the users still unanswered will stay so
KEPT_MARGIN = 1.0  # s: a shown wait is kept when the real one is at most this much longer (it is shown to 5 s)
Photo = Callable[[int], bytes]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    burst = parser.add_argument_group("burst mode (--burst)")
    burst.add_argument("--burst", type=int, metavar="N",
                       help="N users send a photo and pick the instant style Wave all at once (--size: default 256); "
                            "admitted by expected wait, then by count (the old behaviour)")
    burst.add_argument("--baseline-limit", type=int, default=20, metavar="COUNT",
                       help="the baseline's count limit of waiting jobs (default 20, the old STYLEBOT_QUEUE_LIMIT)")


def parse_duration(text: str) -> float | None:
    """Seconds in a wait as `bots.common.texts.duration` writes it ("40 s", "3 min", "1 h 20 min"); None if not one."""
    match = re.fullmatch(r"\s*(?:(\d+) h)?\s*(?:(\d+) min)?\s*(?:(\d+) s)?\s*", text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return hours * 3600.0 + minutes * 60.0 + seconds


@contextmanager
def _embedded(args: argparse.Namespace, limits: dict[str, Any]) -> Iterator[FakeBotApi]:
    """A VggBot with its worker processes (one per lane: the instant lane has one slot), as `bench bot`."""
    with FakeBotApi(token=TOKEN, default_timeout=60) as api, tempfile.TemporaryDirectory() as data:
        api.install()
        config = BotConfig(token=TOKEN, api_url=f"http://127.0.0.1:{api.port}", workers=1, sizes=(args.size,),
                           default_size=args.size, compute_threads=args.compute_threads or 1, jobs_per_hour=0,
                           data_dir=Path(data), **limits)
        bot = VggBot.from_config(config)
        bot.start()
        polling = threading.Thread(target=bot.run, name="bot", daemon=True)
        polling.start()
        try:
            yield api
        finally:
            bot.stop(timeout=30)
            api.end_long_polls()
            polling.join(timeout=10)


@contextmanager
def _distributed(args: argparse.Namespace, limits: dict[str, Any], server: Any, folder: Path) -> Iterator[FakeBotApi]:
    """A chat process and one instant Celery worker on `server` (a tests.redis_server.RedisServer)."""
    import redis

    from bench.cluster import Cluster

    redis.Redis.from_url(server.url).flushall()
    env = {f"STYLEBOT_{name.upper()}": str(value) for name, value in limits.items()}  # e.g. STYLEBOT_QUEUE_LIMIT
    with FakeBotApi(token=TOKEN, default_timeout=60) as api:
        cluster = Cluster(api, TOKEN, server.url, Path(args.weights), folder, STYLEBOT_SIZES=str(args.size),
                          STYLEBOT_SIZE=str(args.size), STYLEBOT_COMPUTE_THREADS=str(args.compute_threads or 1),
                          STYLEBOT_JOBS_PER_HOUR="0", LOG_LEVEL="WARNING", **env)
        try:
            cluster.worker("quick", "instant")
            cluster.start_chat()
            yield api
        finally:
            cluster.stop()


def _warm_up(api: FakeBotApi, chat: int, photo: bytes, timeout: float) -> list[float]:
    """WARMUP_JOBS instant jobs one after the other: every lazily built thing exists, and the journal holds
    deliveries to calibrate the wait estimates on. Their seconds ("✅ Done in")."""
    seconds = []
    for _ in range(WARMUP_JOBS):
        mark = api.mark()
        api.send_photo(chat, photo)
        prompt = api.wait_for_message(chat, texts.ASK_STYLE, since=mark, timeout=timeout)
        api.press_button(chat, prompt["message_id"], STYLE)
        done = api.wait_for_message(chat, "✅ Done", since=mark, timeout=timeout)
        seconds.append(float(DONE.search(done["text"]).group(1)))
        time.sleep(0.5)  # the job's end, after its status: the user's slot frees
    time.sleep(CALIBRATION_TTL)  # the calibration read before the warm-up's deliveries is stale by then
    return seconds


def _burst(api: FakeBotApi, chats: range, photos: list[bytes], timeout: float) -> tuple[int, float, dict[int, str]]:
    """The photos, then the presses of Wave, each all at once; the call-log mark and the time of the burst,
    and each chat's photo (file id: getFile, which names no chat, then tells when its job started)."""
    mark = api.mark()
    files = {}
    with api.together():  # one getUpdates returns them all (up to its limit of 100)
        for n, chat in enumerate(chats):
            files[chat] = api.send_photo(chat, photos[n % len(photos)])["photo"][-1]["file_id"]
    prompts = {chat: api.wait_for_message(chat, texts.ASK_STYLE, since=mark, timeout=timeout) for chat in chats}
    mark = api.mark()
    with api.together():
        started = time.monotonic()
        for chat in chats:
            api.press_button(chat, prompts[chat]["message_id"], STYLE)
    return mark, started, files


def _user(calls: list, started: float) -> dict[str, Any]:
    """One user's story from the bot's calls to their chat after the burst."""
    texts_sent = [(c, c.params.get("text", "")) for c in calls
                  if c.ok and c.method in ("sendMessage", "editMessageText")]
    photo = next((c for c in calls if c.ok and c.method == "sendPhoto" and " — " in c.params.get("caption", "")),
                 None)
    done = next((DONE.search(text) for _, text in texts_sent if DONE.search(text)), None)
    refusal = next(((c, text) for c, text in texts_sent if BUSY in text), None)
    apology = next((text for _, text in texts_sent if text.startswith(APOLOGY)), None)
    fetch = next((c for c in calls if c.method == "getFile"), None)
    outcome = "served" if photo and done else "refused" if refusal else "failed" if apology else "unanswered"
    user: dict[str, Any] = {"outcome": outcome,
                            "result_s": photo.time - started if photo else None,
                            "job_s": float(done.group(1)) if done else None,
                            "start_s": fetch.time - started if fetch else None,
                            "calls": dict(Counter(c.method for c in calls)), "queue": []}
    if outcome in ("failed", "unanswered"):
        user["last_text"] = apology or (texts_sent[-1][1] if texts_sent else None)
    if refusal:
        found = REFUSED.search(refusal[1])
        user["refused_s"], user["refusal"] = refusal[0].time - started, refusal[1]
        user["told_wait_s"] = parse_duration(found.group(1)) if found else None
        user["told_retry_s"] = parse_duration(found.group(2)) if found else None
    for c, text in texts_sent:
        if found := QUEUED.search(text):
            wait = parse_duration(found.group(2)) if found.group(2) else None
            shown = c.time - started
            waited = user["start_s"] - shown if user["start_s"] is not None else None
            user["queue"].append({"at_s": shown, "place": int(found.group(1)), "wait_s": wait, "waited_s": waited,
                                  "text": text})
    return user


def _summary(users: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    n = len(users)
    served = [u for u in users if u["outcome"] == "served"]
    refused = [u for u in users if u["outcome"] == "refused"]
    results = [u["result_s"] for u in served]
    jobs = [u["job_s"] for u in served]
    starts = sorted(u["start_s"] for u in served if u["start_s"] is not None)
    spacing = [later - earlier for earlier, later in zip(starts, starts[1:])]
    shown = [q for u in users for q in u["queue"]]
    estimated = [q for q in shown if q["wait_s"] is not None and q["waited_s"] is not None]
    told = [[q for q in u["queue"] if q["wait_s"] is not None] for u in served]  # "about T to wait" shown
    firsts, lasts = [q[0] for q in told if q], [q[-1] for q in told if q]
    calls = Counter()
    for u in served:
        calls.update(u["calls"])
    pct = lambda values, q: percentile(values, q) if values else None  # noqa: E731
    errors = lambda qs: [q["wait_s"] - q["waited_s"] for q in qs if q["waited_s"] is not None]  # noqa: E731
    failed = sum(u["outcome"] == "failed" for u in users)
    return {"users": n, "served": len(served), "refused": len(refused), "failed": failed,
            "unanswered": n - len(served) - len(refused) - failed,
            "served_share": len(served) / n if n else None, "refused_share": len(refused) / n if n else None,
            "result_p50_s": pct(results, 50), "result_p95_s": pct(results, 95),
            "result_max_s": max(results, default=None),
            "all_served_s": max(results, default=None) if len(served) == n else None,
            "job_p50_s": pct(jobs, 50), "job_mean_s": statistics.fmean(jobs) if jobs else None,
            "job_max_s": max(jobs, default=None), "start_spacing_p50_s": pct(spacing, 50),
            "start_spacing_mean_s": statistics.fmean(spacing) if spacing else None,
            "queue_messages": len(shown), "queued_users": sum(bool(u["queue"]) for u in users),
            "largest_place": max((q["place"] for q in shown), default=None),
            "largest_wait_shown_s": max((q["wait_s"] for q in shown if q["wait_s"] is not None), default=None),
            "first_estimate_error_p50_s": pct(errors(firsts), 50),
            "first_estimate_error_max_s": max(errors(firsts), default=None),
            "first_estimate_error_min_s": min(errors(firsts), default=None),
            "last_estimate_error_p50_s": pct(errors(lasts), 50),
            "last_estimate_error_max_s": max(errors(lasts), default=None),
            "last_estimate_error_min_s": min(errors(lasts), default=None),
            "estimates_kept": (sum(q["waited_s"] <= q["wait_s"] + KEPT_MARGIN for q in estimated) / len(estimated)
                               if estimated else None),
            "refusal_wait_told_s": min((u["told_wait_s"] for u in refused if u.get("told_wait_s") is not None),
                                       default=None),
            "calls_per_served_job": {method: count / len(served) for method, count in sorted(calls.items())}
            if served else {},
            "failed_or_unanswered_with": dict(Counter(u.get("last_text") for u in users
                                                      if u["outcome"] in ("failed", "unanswered"))),
            "run_s": duration}


def measure(api: FakeBotApi, args: argparse.Namespace, photo: Photo) -> dict[str, Any]:
    """Warm up, burst, wait for every user's answer; each user's story and the summary."""
    began = time.monotonic()
    warm_up = _warm_up(api, FIRST_USER - 1, photo(0), args.timeout)
    chats = range(FIRST_USER, FIRST_USER + args.burst)
    mark, started, files = _burst(api, chats, [photo(0), photo(1)], args.timeout)
    deadline = started + args.timeout

    def stories() -> list[dict[str, Any]]:
        calls = api.calls[mark:]
        return [{"user": chat, **_user([c for c in calls if c.chat_id == chat or c.method == "getFile"
                                        and c.params.get("file_id") == files[chat]], started)} for chat in chats]

    seen, quiet_since = 0, time.monotonic()
    while any(u["outcome"] == "unanswered" for u in stories()) and time.monotonic() < deadline:
        if (calls := api.mark()) != seen:
            seen, quiet_since = calls, time.monotonic()
        elif time.monotonic() - quiet_since > QUIET:
            break  # the bot has stopped working on the users left: they stay unanswered
        time.sleep(0.25)
    time.sleep(1.0)  # the last jobs' journal and status calls
    users = stories()
    summary = _summary(users, time.monotonic() - began)
    summary["getupdates_calls"], summary["warmup_job_s"] = api.poll_count, warm_up
    sent = Counter(int(c.time - started) for c in api.calls[mark:] if c.method in SENDING)
    busiest = max(sent, key=sent.get, default=0)
    summary["busiest_second_sends"] = sent[busiest]  # Telegram allows about 30 a second
    summary["busiest_second_calls"] = dict(Counter(c.method for c in api.calls[mark:]
                                                   if int(c.time - started) == busiest))
    return {"summary": summary, "users": users}


ROWS = [("served", "served", "d"), ("refused", "refused (very busy)", "d"), ("failed", "failed (😵 apology)", "d"),
        ("unanswered", "unanswered", "d"),
        ("served_share", "served share", ".0%"), ("refused_share", "refused share", ".0%"),
        ("result_p50_s", "burst to picture p50 (s)", ".1f"), ("result_p95_s", "burst to picture p95 (s)", ".1f"),
        ("result_max_s", "burst to picture max (s)", ".1f"), ("all_served_s", "all served in (s)", ".1f"),
        ("job_p50_s", "job p50 (s, ✅ Done in)", ".1f"), ("job_max_s", "job max (s, ✅ Done in)", ".1f"),
        ("start_spacing_mean_s", "start to next start mean (s)", ".2f"),
        ("start_spacing_p50_s", "start to next start p50 (s)", ".2f"),
        ("queued_users", "users shown a place", "d"), ("largest_place", "largest place shown", "d"),
        ("largest_wait_shown_s", "largest wait shown (s)", ".0f"),
        ("first_estimate_error_p50_s", "first \"about T\" − real wait p50 (s)", "+.1f"),
        ("first_estimate_error_min_s", "first \"about T\" − real wait min (s)", "+.1f"),
        ("first_estimate_error_max_s", "first \"about T\" − real wait max (s)", "+.1f"),
        ("last_estimate_error_p50_s", "last \"about T\" − real wait p50 (s)", "+.1f"),
        ("last_estimate_error_min_s", "last \"about T\" − real wait min (s)", "+.1f"),
        ("estimates_kept", f"waits shown then kept (real ≤ shown + {KEPT_MARGIN:.0f} s)", ".0%"),
        ("refusal_wait_told_s", "refused: least wait told (s)", ".0f"),
        ("busiest_second_sends", "sends + edits in the busiest second", "d")]


def table(runs: list[dict[str, Any]]) -> str:
    """The runs side by side, one line per figure."""
    rows = []
    for key, label, spec in ROWS:
        row = {"what": label}
        for n, run in enumerate(runs):
            value = run["summary"].get(key)
            row[f"run{n}"] = "-" if value is None or value == [] else format(value, spec)
        rows.append(row)
    calls = sorted({m for run in runs for m in run["summary"]["calls_per_served_job"]})
    for method in calls:
        row = {"what": f"{method} per served job"}
        for n, run in enumerate(runs):
            value = run["summary"]["calls_per_served_job"].get(method)
            row[f"run{n}"] = "-" if value is None else f"{value:.2f}"
        rows.append(row)
    return format_table(rows, [("what", "figure", "")] + [(f"run{n}", run["name"], "") for n, run in enumerate(runs)])


def main(args: argparse.Namespace, photo: Photo) -> int:
    """Both admissions, embedded or (--redis) distributed; print the table, write the JSON; 1 unless the
    admission by wait served every user."""
    configurations = [(f"by wait (≤ {BotConfig.instant_wait_limit:.0f} s)", {}),
                      (f"by count (≤ {args.baseline_limit} waiting)",
                       {"queue_limit": args.baseline_limit, "instant_wait_limit": NO_WAIT_LIMIT})]
    runs = []
    try:
        if args.redis:
            runs = _run_distributed(args, photo, configurations)
            if runs is None:
                return 1
        else:
            for name, limits in configurations:
                with _embedded(args, limits) as api:
                    runs.append({"name": name, "limits": limits, **measure(api, args, photo)})
    except WorkerSetupError as exc:
        print(f"bench bot --burst: {exc}", file=sys.stderr)
        return 1
    mode = "distributed (Celery, redis)" if args.redis else "embedded (worker processes)"
    print(f"Burst: {args.burst} users at once, instant style Wave at {args.size} px, {mode}\n")
    print(table(runs))
    new, old = runs[0]["summary"], runs[1]["summary"]
    ratio = lambda s: f"{s['served']}/{s['users']} served, {s['refused']}/{s['users']} refused"  # noqa: E731
    print(f"\nby wait: {ratio(new)};  by count: {ratio(old)}")
    print("warm-up jobs before each burst (s, ✅ Done in; they calibrate the estimates): "
          + ";  ".join(", ".join(f"{s:.1f}" for s in run["summary"]["warmup_job_s"]) for run in runs))
    for run in runs:
        for text, count in run["summary"]["failed_or_unanswered_with"].items():
            print(f"{run['name']}: {count} user(s) got neither picture nor refusal; last shown: {text!r}")
    met = new["served"] == new["users"]
    print(f"{'MET    ' if met else 'NOT MET'}  a burst the instant lane serves within its wait limit is served, "
          f"not refused")
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "bot --burst", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine_info(), "settings": settings, "mode": mode,
                                 "warmup_jobs": WARMUP_JOBS, "runs": runs,
                                 "targets": [{"target": "every user of the burst served (admission by wait)",
                                              "met": met}]})
    print(f"Results: {path}")
    return 0 if met else 1


def _run_distributed(args: argparse.Namespace, photo: Photo,
                     configurations: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]] | None:
    from tests.redis_server import RedisServer, free_port

    binary = shutil.which("redis-server")
    if binary is None:
        print("bench bot --burst --redis: needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return None
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(binary, Path(folder), free_port())
        server.start()
        try:
            for n, (name, limits) in enumerate(configurations):
                run_folder = Path(folder) / f"run-{n}"
                run_folder.mkdir()
                with _distributed(args, limits, server, run_folder) as api:
                    runs.append({"name": name, "limits": limits, **measure(api, args, photo)})
        finally:
            server.stop()
    return runs
