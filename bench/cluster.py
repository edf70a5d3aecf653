"""The distributed mode on one machine, for the tests and `bench bot --redis`: a real redis-server, a chat
process (run_vgg.py) and Celery workers (`python -m bots.worker`), each a real process talking to the fake
Bot API, started and stopped (or killed) on demand.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bots.jobs.runner.board import JobBoard
from tests.fake_bot_api import FakeBotApi

__all__ = ["Cluster", "wait_until"]

REPO = Path(__file__).resolve().parents[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, api: FakeBotApi | None = None) -> None:
    """Poll `condition` until true; on a timeout fail, with the fake server's log when given."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (f"\n{api.dump()}" if api else "")
        time.sleep(0.1)


class Cluster:
    """A chat process and workers of the distributed mode; their logs go to `folder`/<name>.log."""

    def __init__(self, api: FakeBotApi, token: str, redis_url: str, weights: Path, folder: Path,
                 **settings: str) -> None:
        self.api, self.folder = api, folder
        clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
        self.env = {**clean, "BOT_TOKEN": token, "TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}",
                    "STYLEBOT_WEIGHTS_DIR": str(weights), "STYLEBOT_REDIS_URL": redis_url,
                    "STYLEBOT_DATA_DIR": str(folder / "data"), **settings}
        self.board = JobBoard(redis_url)
        self.processes: list[subprocess.Popen] = []

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "w") as log:
            process = subprocess.Popen([sys.executable, *args], cwd=self.folder, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def worker(self, name: str, lanes: str, bot: str = "vgg", wait: bool = True) -> subprocess.Popen:
        """Start a worker serving `lanes`; `wait`: until its first heartbeat (its networks are loaded)."""
        process = self._spawn(["-m", "bots.worker", "--bot", bot, "--lanes", lanes, "--name", name], name)
        if wait:
            wait_until(lambda: any(beat.name.startswith(name + "/") for beat in self.board.workers()), 120,
                       f"worker {name} to beat")
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def start_chat(self) -> subprocess.Popen:
        """Start a chat process and wait until it polls."""
        polls = self.api.poll_count
        process = self._spawn([str(REPO / "run_vgg.py")], f"chat-{len(self.processes)}")
        wait_until(lambda: self.api.poll_count > polls, 60, "the chat process to poll")
        return process

    def running_jobs(self, lane: str = "transfer") -> dict[str, int]:
        """What each worker of `lane` runs now, by worker."""
        return {beat.name: beat.job for beat in self.board.workers() if beat.job is not None and lane in beat.lanes}

    def stop(self) -> None:
        """SIGTERM every process group (SIGKILL after 20 s)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.board.close()
