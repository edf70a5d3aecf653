"""What an operator's orchestrator and Prometheus see: `/healthz`, `/readyz` and `/metrics` answered by the real
server of a running bot (polling, and webhook mode), numbers that follow the jobs, and the containers' health
check command run against it.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from bot_harness import BotUnderTest
from bots import VggBot
from bots.common import texts
from test_containers import healthchecks

pytestmark = pytest.mark.usefixtures("one_compute_thread")


def _get(address: tuple[str, int], path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def metric(address: tuple[str, int], name: str, **labels: str) -> float:
    """One sample of `/metrics` (0 when it is not there yet)."""
    status, body = _get(address, "/metrics")
    assert status == 200
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in body.decode().splitlines():
        found = re.fullmatch(rf'{name}(?:\{{(.*)\}})? (\S+)', line)
        if found and ",".join(sorted((found.group(1) or "").split(","))) == wanted:
            return float(found.group(2))
    return 0.0


def test_health_and_readiness_answer_and_the_numbers_follow_the_jobs(start_bot) -> None:
    bot: BotUnderTest = start_bot(VggBot, health_listen=("127.0.0.1", 0), telegram_timeout=1.0)
    address = bot.bot.health_server.address
    status, body = _get(address, "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "checks": {"store": True, "workers": True,
                                                                          "polling": True}}
    assert _get(address, "/readyz")[0] == 200
    assert _get(address, "/nothing")[0] == 404
    delivered = metric(address, "stylebot_jobs_total", kind="instant", outcome="delivered")
    timed = metric(address, "stylebot_job_seconds_count", kind="instant")

    user = bot.user(2701)
    prompt = user.starts_with_photo()
    bot.api.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", times=1)
    user.gets(texts.done(0)[:6], user.taps(prompt, "⚡ Wave"), timeout=60)
    user.waits_for_job_end()
    assert metric(address, "stylebot_jobs_total", kind="instant", outcome="delivered") == delivered + 1
    assert metric(address, "stylebot_job_seconds_count", kind="instant") == timed + 1
    assert metric(address, "stylebot_job_wait_seconds_count", kind="instant") >= 1
    assert metric(address, "stylebot_telegram_retries_total", method="sendPhoto", error="429") >= 1
    assert metric(address, "stylebot_queue_jobs", lane="instant", state="waiting") == 0

    bot.bot.health.stopping = True  # what a stop says first: readiness goes, liveness stays
    status, body = _get(address, "/readyz")
    assert status == 503 and json.loads(body)["checks"]["not_stopping"] is False
    assert _get(address, "/healthz")[0] == 200


def test_the_containers_health_check_passes_against_a_running_bot_and_fails_without_one(start_bot) -> None:
    bot: BotUnderTest = start_bot(VggBot, health_listen=("127.0.0.1", 0))
    port = bot.bot.health_server.address[1]
    for command in healthchecks():
        assert command[0] == "python" and "127.0.0.1:8080/healthz" in command[2]
        script = command[2].replace(":8080/", f":{port}/")
        assert subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30).returncode == 0
    bot.stop()
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30).returncode != 0


def test_webhook_mode_serves_the_checks_on_its_own_server(start_bot) -> None:
    """GET of the three paths needs no secret (they tell nothing about users); a POST still needs it."""
    bot: BotUnderTest = start_bot(VggBot, webhook_url="https://bot.example/hook", webhook_secret="s3cret",
                                  webhook_listen=("127.0.0.1", 0))
    address = bot.bot.webhook.address
    status, body = _get(address, "/healthz")
    assert status == 200 and json.loads(body)["checks"] == {"store": True, "workers": True}
    assert _get(address, "/metrics")[0] == 200 and _get(address, "/")[0] == 405
