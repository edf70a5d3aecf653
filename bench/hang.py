"""`python -m bench hang`: the hang probe. How long does a user wait when the process painting their picture
freezes (SIGSTOP: a deadlock, a stuck disk, a host swapping to death look the same from outside)?

Embedded: `run_vgg.py` as an operator starts it; distributed: a redis-server, a chat process and Celery
workers (`bench.cluster`). A user asks for a full painting; once it paints, its process is frozen; measured
from the freeze: when the user is told it got stuck, and when the painting arrives (retried on a fresh
process), with `--stall` as `STYLEBOT_STALL_AFTER`.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench hang --stall 20
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.cluster import Cluster, wait_until
from bench.measure import REPO, describe, format_table, machine_info
from bench.soak import ask_for_painting, child_processes, result_photos
from bots.common import texts
from tests.fake_bot_api import FakeBotApi
from tests.redis_server import RedisServer, free_port

TOKEN = "1000:HANG"
CHAT = 9300
SETTINGS = {"STYLEBOT_SIZES": "96", "STYLEBOT_SIZE": "96", "STYLEBOT_STEPS": "400",
            "STYLEBOT_COMPUTE_THREADS": "1", "STYLEBOT_PROGRESS_INTERVAL": "0.5"}


def _photo() -> bytes:
    """A real photo (the shared amber.jpg), small: the probe is about the freeze, not the painting."""
    images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    with Image.open(images / "content" / "amber.jpg") as photo:
        small = photo.convert("RGB").resize((256, 256))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG")
    return buffer.getvalue()


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busiest(pids: list[int]) -> int:
    """The process among `pids` that used the most CPU in the next half second: the one painting."""
    before = {pid: _cpu_seconds(pid) for pid in pids}
    time.sleep(0.5)
    return max(pids, key=lambda pid: _cpu_seconds(pid) - before[pid])


def _probe(api: FakeBotApi, painter: Callable[[], int]) -> dict[str, float]:
    """Ask for a painting, freeze its process once it paints; seconds from the freeze to the notice and to
    the painting."""
    since = ask_for_painting(api, CHAT, _photo(), "style:waves")
    wait_until(lambda: any(c.method == "editMessageText" and c.chat_id == CHAT and c.ok and
                           c.params.get("text", "").startswith("🎨 Painting") for c in api.calls[since:]), 120,
               "the painting to start", api)
    os.kill(painter(), signal.SIGSTOP)
    frozen = time.monotonic()
    api.wait_for_message(CHAT, texts.WORKER_STUCK_RETRYING, since=since, timeout=600)
    told = time.monotonic() - frozen
    wait_until(lambda: any(p["caption"].startswith("VGG19") for p in result_photos(api, CHAT)), 600,
               "the painting", api)
    return {"told_s": told, "delivered_s": time.monotonic() - frozen}


def _embedded(api: FakeBotApi, folder: Path, weights: str, stall: float) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    env.update(SETTINGS, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=f"http://127.0.0.1:{api.port}",
               STYLEBOT_WEIGHTS_DIR=weights, STYLEBOT_DATA_DIR=str(folder / "data"), STYLEBOT_STALL_AFTER=str(stall))
    with open(folder / "bot.log", "w") as log:
        bot = subprocess.Popen([sys.executable, str(REPO / "run_vgg.py")], cwd=folder, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        return _probe(api, lambda: _busiest(child_processes(bot.pid)))
    finally:
        bot.terminate()
        bot.wait(60)


def _distributed(api: FakeBotApi, folder: Path, weights: str, stall: float) -> dict[str, float]:
    (folder / "redis").mkdir()
    server = RedisServer(shutil.which("redis-server") or "redis-server", folder / "redis", free_port())
    server.start()
    cluster = Cluster(api, TOKEN, server.url, Path(weights), folder, STYLEBOT_STALL_AFTER=str(stall), **SETTINGS)
    try:
        cluster.worker("quick", "instant")
        cluster.worker("painter", "transfer")
        cluster.start_chat()
        return _probe(api, lambda: int(next(iter(cluster.running_jobs())).split("/")[1]))
    finally:
        cluster.stop()
        server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench hang", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stall", type=float, default=20.0, help="STYLEBOT_STALL_AFTER, seconds (default 20)")
    parser.add_argument("--modes", nargs="+", choices=("embedded", "distributed"),
                        default=["embedded", "distributed"])
    args = parser.parse_args(argv)
    weights = os.environ.get("STYLEBOT_WEIGHTS_DIR") or str(REPO.parent / "shared" / "weights")
    rows = []
    for mode in args.modes:
        api = FakeBotApi(TOKEN)
        api.start()
        try:
            with tempfile.TemporaryDirectory(prefix="bench-hang-") as folder:
                probe = _embedded if mode == "embedded" else _distributed
                rows.append({"mode": mode, "stall_s": args.stall, **probe(api, Path(folder), weights, args.stall)})
                print(f"{mode}: {rows[-1]}", flush=True)
        finally:
            api.close()
    print(format_table(rows, [("mode", "mode", ""), ("stall_s", "stall limit s", ".0f"),
                              ("told_s", "user told after s", ".1f"), ("delivered_s", "painting after s", ".1f")]))
    print(describe(machine_info()))
    return 0
