"""`python -m bench bot --soak SECONDS`: many users for minutes, with Telegram faults: is anything lost?

`run_vgg.py` runs as its own process, with its worker processes, exactly as an operator starts it,
against the fake Bot API server in this process. Each of --users simulated users loops: send a photo,
pick a style (an instant one; for --gatys-share of the requests a gallery painting, whose quick version
they then ask to paint fully: two jobs), wait for the picture, pause a moment. A fault injector makes --fault-rate of the calls that deliver or fetch pictures
(sendPhoto, sendMediaGroup, sendDocument, getFile, editMessageText) fail with a 429 (retry after 1 s), an
HTML 502 or a reset connection. Meanwhile another user sends /help every --help-every seconds.
Reported: the jobs asked for and delivered (each exactly once), the /help latency, the chat process's
memory after the warm-up and at the end (it must not grow), the workers' memory, and the faults.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bots.chat.stats import percentile
from bots.common import texts
from bots.common.budget import rss_mb
from tests.fake_bot_api import FakeBotApi

TOKEN = "1000:SOAK"
HELP_CHAT = 9000
FIRST_USER = 9100
FAULTY_METHODS = ("sendPhoto", "sendMediaGroup", "sendDocument", "getFile", "editMessageText")
INSTANT_KEYS = ("wave", "udnie", "scream", "la_muse", "rain_princess", "wreck")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    soak = parser.add_argument_group("soak mode (--soak)")
    soak.add_argument("--soak", type=float, metavar="SECONDS", help="run the soak test for this long")
    soak.add_argument("--soak-users", type=int, default=20, help="simulated users (default 20)")
    soak.add_argument("--gatys-share", type=float, default=0.04, help="share of Gatys jobs (default 0.04)")
    soak.add_argument("--fault-rate", type=float, default=0.03,
                      help="share of delivery calls answered with a fault (default 0.03)")


class _Users:
    """The simulated users' bookkeeping: jobs asked for, pictures seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.asked: dict[int, int] = {}
        self.waits: list[float] = []
        self.stuck: list[str] = []


def ask_for_painting(api: FakeBotApi, chat: int, photo: bytes, style: str = "style:mosaic",
                     timeout: float = 120) -> int:
    """As a user does: send the photo, pick a gallery painting, wait for its quick version and press its
    first button (paint fully, with the bot's first network); the call-log mark just before the press."""
    mark = api.mark()
    api.send_photo(chat, photo)
    prompt = api.wait_for_message(chat, texts.ASK_STYLE, since=mark, timeout=timeout)
    api.press_button(chat, prompt["message_id"], style)
    quick = api.wait_for_message(chat, "⚡ Quick version", since=mark, timeout=timeout)
    since = api.mark()
    api.press_button(chat, quick["message_id"], api.inline_buttons(quick)[0][1])
    return since


def result_photos(api: FakeBotApi, chat: int) -> list[dict]:
    """The pictures the bot delivered to `chat`: results and quick versions, each captioned
    "<what> — <seconds> s"."""
    return [m for m in api.messages(chat) if ("photo" in m and " — " in (m.get("caption") or ""))]


def _user_loop(api: FakeBotApi, chat: int, deadline: float, args: argparse.Namespace, users: _Users,
               photo: bytes, rng: random.Random) -> None:
    while time.monotonic() < deadline:
        try:
            asked = time.monotonic()
            if rng.random() < args.gatys_share:  # a quick version, then the full painting: two jobs
                mark = ask_for_painting(api, chat, photo, f"style:{rng.choice(('mosaic', 'swirls'))}")
                jobs = 2
            else:
                mark = api.mark()
                api.send_photo(chat, photo)
                prompt = api.wait_for_message(chat, texts.ASK_STYLE, since=mark, timeout=120)
                api.press_button(chat, prompt["message_id"], f"instant:{rng.choice(INSTANT_KEYS)}")
                jobs = 1
            with users.lock:
                users.asked[chat] = users.asked.get(chat, 0) + jobs
            api.wait_for(lambda c: c.method == "sendPhoto" and c.ok and c.chat_id == chat
                         and " — " in c.params.get("caption", "") and "Quick" not in c.params["caption"],
                         since=mark, timeout=600, chat_id=chat)
            api.wait_for_message(chat, "✅ Done", since=mark, timeout=120)
            with users.lock:
                users.waits.append(time.monotonic() - asked)
        except AssertionError as exc:
            with users.lock:
                users.stuck.append(f"user {chat}: {str(exc).splitlines()[0]}")
            return
        time.sleep(rng.uniform(0.5, 2.0))


def _inject_faults(api: FakeBotApi, rate: float, stop: threading.Event, rng: random.Random) -> None:
    """Keep the injected faults at `rate` of the faulty methods' calls."""
    while not stop.wait(0.05):
        calls = sum(1 for c in api.calls if c.method in FAULTY_METHODS)
        if len(api.faults) < rate * calls:
            method = rng.choice(FAULTY_METHODS)
            kind = rng.choice(("429", "502", "reset"))
            if kind == "429":
                api.fail_next(method, 429, "Too Many Requests: retry after 1")
            elif kind == "502":
                api.fail_next(method, 502, html=True)
            else:
                api.reset_next(method)


def run_soak(args: argparse.Namespace, repo: Path, photos: list[bytes]) -> dict[str, Any]:
    """Start run_vgg.py against the fake server, drive the users for args.soak seconds; the figures."""
    rng = random.Random(0)
    with FakeBotApi(token=TOKEN, default_timeout=60) as api, tempfile.TemporaryDirectory() as data:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("STYLEBOT_")},
               "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}", "STYLEBOT_DATA_DIR": data,
               "STYLEBOT_SIZES": str(args.size), "STYLEBOT_SIZE": str(args.size), "STYLEBOT_STEPS": str(args.steps),
               "STYLEBOT_JOBS_PER_HOUR": "0", "STYLEBOT_QUEUE_LIMIT": str(4 * args.soak_users),
               "STYLEBOT_WORKERS": str(args.workers), "STYLEBOT_PROGRESS_INTERVAL": "1", "LOG_LEVEL": "WARNING",
               "STYLEBOT_COMPUTE_THREADS": str(args.compute_threads or 1)}
        if weights := os.environ.get("STYLEBOT_WEIGHTS_DIR"):
            env["STYLEBOT_WEIGHTS_DIR"] = weights
        bot = subprocess.Popen([sys.executable, str(repo / "run_vgg.py")], cwd=data, env=env,
                               stderr=subprocess.PIPE, text=True)
        try:
            return _drive(api, bot, args, photos, rng)
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                _, stderr = bot.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                bot.kill()
                _, stderr = bot.communicate()
            if bot.returncode:
                print(stderr[-4000:], file=sys.stderr)


def _help_latency(api: FakeBotApi) -> float:
    mark = api.mark()
    sent = time.monotonic()
    api.send_text(HELP_CHAT, "/help")
    reply = api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == HELP_CHAT and c.ok, since=mark,
                         timeout=60)
    return (reply.time - sent) * 1000


def _drive(api: FakeBotApi, bot: subprocess.Popen, args: argparse.Namespace, photos: list[bytes],
           rng: random.Random) -> dict[str, Any]:
    _help_latency(api)  # polling
    chat = FIRST_USER - 1  # warm-up: one instant job, so that every lazily built thing exists
    api.send_photo(chat, photos[0])
    api.press_button(chat, api.wait_for_message(chat, texts.ASK_STYLE, timeout=600)["message_id"], "instant:wave")
    api.wait_for_message(chat, "✅ Done", timeout=600)
    rss_start = rss_mb(bot.pid)
    users, stop = _Users(), threading.Event()
    deadline = time.monotonic() + args.soak
    injector = threading.Thread(target=_inject_faults, args=(api, args.fault_rate, stop, rng), daemon=True)
    threads = [threading.Thread(target=_user_loop, args=(api, FIRST_USER + n, deadline, args, users,
                                                         photos[n % len(photos)], random.Random(n)), daemon=True)
               for n in range(args.soak_users)]
    injector.start()
    for thread in threads:
        thread.start()
    latencies, rss_peak = [], rss_start or 0.0
    while any(thread.is_alive() for thread in threads):
        tick = time.monotonic()
        if tick < deadline:
            latencies.append(_help_latency(api))
            rss_peak = max(rss_peak, rss_mb(bot.pid) or 0.0)
        time.sleep(max(0.0, args.help_every - (time.monotonic() - tick)))
        if time.monotonic() > deadline + 900:
            break
    stop.set()
    rss_end = rss_mb(bot.pid)
    workers = [rss_mb(pid) for pid in child_processes(bot.pid)]
    chats = range(FIRST_USER, FIRST_USER + args.soak_users)
    delivered = {chat: len(result_photos(api, chat)) for chat in chats}
    faulted = [c for c in api.faults if c.method in FAULTY_METHODS]
    calls = sum(1 for c in api.calls if c.method in FAULTY_METHODS)
    return {"asked": sum(users.asked.values()), "delivered": sum(delivered.values()),
            "once": all(delivered[chat] == users.asked.get(chat, 0) for chat in chats),
            "duplicates": sum(max(0, delivered[chat] - users.asked.get(chat, 0)) for chat in chats),
            "stuck": users.stuck, "job_wait_p50_s": percentile(users.waits, 50) if users.waits else None,
            "job_wait_p95_s": percentile(users.waits, 95) if users.waits else None,
            "help_p50_ms": percentile(latencies, 50), "help_p95_ms": percentile(latencies, 95),
            "help_count": len(latencies), "chat_rss_start_mb": rss_start, "chat_rss_end_mb": rss_end,
            "chat_rss_peak_mb": rss_peak, "workers_rss_mb": [w for w in workers if w],
            "faults": len(faulted), "fault_share": len(faulted) / max(1, calls + len(faulted))}


def child_processes(pid: int) -> list[int]:
    """The worker processes of the bot process `pid`: its children, multiprocessing's resource tracker
    left out (read from /proc)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                if parent == pid and b"resource_tracker" not in cmdline.read():
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found
