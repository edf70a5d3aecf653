"""`python -m bench bot` at a tiny size: it drives a real VggBot, measures /help and writes its JSON."""
from __future__ import annotations

import json
from pathlib import Path

from bench import bot as bench_bot


def test_bench_bot_measures_help_latency_while_jobs_run(tmp_path: Path, real_weights_dir: Path,
                                                         one_compute_thread: None, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))  # the README's default, made explicit
    out = tmp_path / "bot.json"
    assert bench_bot.main(["--size", "64", "--steps", "15", "--help-every", "0.1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [job["finished"] for job in report["jobs"]] == [True, True]
    assert report["summary"]["help_count"] == len(report["latencies_ms"]) > 0
    assert report["summary"]["help_p50_ms"] <= report["summary"]["help_p95_ms"] <= report["summary"]["help_max_ms"]
    assert "/help p95 under 300 ms" in capsys.readouterr().out


def test_bench_bot_soak_delivers_every_job_once_through_faults(tmp_path: Path, real_weights_dir: Path,
                                                             capsys, monkeypatch) -> None:
    """A short soak: run_vgg.py with its workers, a few users, 5% of the delivery calls faulted."""
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "soak.json"
    assert bench_bot.main(["--soak", "8", "--soak-users", "4", "--fault-rate", "0.05", "--gatys-share", "0.1",
                           "--size", "64", "--steps", "10", "--workers", "1", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert summary["once"] and summary["asked"] == summary["delivered"] > 0 and not summary["stuck"]
    assert summary["faults"] > 0 and summary["chat_rss_end_mb"] < 200
    assert "every job delivered exactly once" in capsys.readouterr().out


def _check_burst(report: dict, users: int, baseline_limit: int) -> None:
    by_wait, by_count = (run["summary"] for run in report["runs"])
    assert by_wait["served"] == users and by_wait["refused"] == by_wait["failed"] == by_wait["unanswered"] == 0
    assert by_wait["result_p50_s"] <= by_wait["result_p95_s"] <= by_wait["result_max_s"] == by_wait["all_served_s"]
    assert by_wait["queued_users"] > 0 and by_wait["largest_place"] >= 2  # the burst did queue
    assert by_wait["calls_per_served_job"]["sendPhoto"] == 1.0  # one picture each, no duplicate
    # the old admission: one running and `baseline_limit` waiting taken, more refused ("very busy"), including
    # those whose update thread passed the first check just as another took the last place (none fails)
    assert by_count["served"] + by_count["refused"] == users and by_count["failed"] == by_count["unanswered"] == 0
    assert by_count["served"] >= baseline_limit + 1 and by_count["refused"] >= 1
    refused = [user for user in report["runs"][1]["users"] if user["outcome"] == "refused"]
    assert all("would wait about" in user["refusal"] and user["told_wait_s"] is not None for user in refused)


def test_bench_bot_burst_serves_a_burst_the_count_limit_refused(tmp_path: Path, real_weights_dir: Path,
                                                                 capsys, monkeypatch) -> None:
    """`--burst`: eight users at once, admitted by expected wait (all served) and by a count of 3 (some
    refused), on a VggBot with its worker processes."""
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "burst.json"
    assert bench_bot.main(["--burst", "8", "--size", "64", "--baseline-limit", "3", "--timeout", "120",
                           "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [run["name"] for run in report["runs"]] == ["by wait (≤ 120 s)", "by count (≤ 3 waiting)"]
    _check_burst(report, 8, 3)
    printed = capsys.readouterr().out
    assert "by wait: 8/8 served, 0/8 refused" in printed and "served share" in printed


def test_bench_bot_burst_in_the_distributed_mode(tmp_path: Path, real_weights_dir: Path, monkeypatch) -> None:
    """`--burst --redis`: the same with a chat process and an instant Celery worker on a real redis-server."""
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "burst.json"
    assert bench_bot.main(["--burst", "8", "--size", "64", "--baseline-limit", "3", "--timeout", "120", "--redis",
                           "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mode"].startswith("distributed")
    _check_burst(report, 8, 3)
