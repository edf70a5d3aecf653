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
