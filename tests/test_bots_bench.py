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
