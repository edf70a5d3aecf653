"""Smoke tests of the benchmark tools at tiny sizes: the judge, the baseline, the measuring and the CLI."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import bench.__main__ as bench_cli
from bench import nst
from bench.baseline import (CNN_NORMALIZATION_MEAN, CNN_NORMALIZATION_STD, classic_tutorial_transfer,
                            get_style_model_and_losses, image_loader, load_vgg19_features)
from bench.evaluate import FILTERS, Evaluator
from bench.measure import Stopwatch, format_table, run_measured
from transfer.precision import bf16_supported
from bench.plot import INSTALL_HINT, plot_or_skip
from bench.random_weights import write_random_resnet50
from bench.trace import checkpoint_steps
from weights import RESNET50_KEPT_PREFIXES, Weights, load_state_dict


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread here and in subprocesses: on a busy 2-core machine, 2 threads run many times slower."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def images(images_dir: Path) -> dict[str, Image.Image]:
    return {name: Image.open(images_dir / kind / f"{name}.jpg").convert("RGB")
            for kind, name in (("content", "amber"), ("content", "chelsea"), ("style", "candy"))}


@pytest.fixture(scope="module")
def evaluator(real_weights_dir: Path) -> Evaluator:
    return Evaluator(real_weights_dir)


def test_evaluator_scores_the_content_itself_with_zero_content_loss(evaluator, images):
    for name in ("amber", "chelsea"):
        scores = evaluator.scores(images[name], images[name], images["candy"], 64)
        assert [s.filter for s in scores] == list(FILTERS)
        for score in scores:
            assert score.content == 0.0
            assert score.style > 0.0
            assert score.total == pytest.approx(score.style + score.content)
        assert evaluator(images[name], images[name], images["candy"], 64) == min(scores, key=lambda s: s.total)


def test_evaluator_computes_the_tutorial_loss(evaluator, images, real_weights_dir):
    # square images, bilinear (the tutorial's resize): the judge must give exactly the tutorial's own loss,
    # on the convolutions' outputs before their ReLUs (an in-place ReLU would silently change four of five)
    content, style, result = images["amber"], images["candy"], images["chelsea"].resize((64, 64))
    model, style_losses, content_losses = get_style_model_and_losses(
        load_vgg19_features(real_weights_dir), CNN_NORMALIZATION_MEAN, CNN_NORMALIZATION_STD,
        image_loader(style, 64), image_loader(content, 64))
    with torch.no_grad():
        model(image_loader(result, 64))
    style_part = 1e6 * sum(loss.loss.item() for loss in style_losses)
    score = evaluator.score_with("bilinear", result, content, style, 64)
    assert score.style == pytest.approx(style_part, rel=1e-4)
    assert score.content == pytest.approx(content_losses[0].loss.item(), rel=1e-4)


def test_evaluator_resizes_a_square_result_to_the_content_aspect(evaluator, images):
    square = images["chelsea"].resize((64, 64))
    score = evaluator(square, images["chelsea"], images["candy"], 64)
    assert score.content > 0.0  # squashing and stretching back is not the content image


def test_baseline_at_64px_for_20_steps_lowers_the_score(evaluator, images, real_weights_dir):
    # 20, not 5: the tutorial's first L-BFGS step (up to 20 evaluations at lr 1) overshoots at 64 px and
    # raises the loss; the loop then needs a second step, which brings it far below the start.
    content, style = images["amber"], images["candy"]
    result = classic_tutorial_transfer(load_vgg19_features(real_weights_dir), content, style, size=64,
                                       num_steps=20)
    assert result.image.size == (64, 64)
    assert result.steps > 20  # the loop only checks the count between whole L-BFGS steps
    before = evaluator(content, content, style, 64)
    after = evaluator(result.image, content, style, 64)
    assert after.total < 0.5 * before.total


def allocate_job(timer: Stopwatch, megabytes: int) -> dict[str, int]:
    """Job for run_measured: holds `megabytes` of touched memory inside the timed block."""
    import torch

    with timer:
        block = torch.ones(megabytes * 2**20 // 4)
    return {"elements": block.numel()}


def test_run_measured_reports_the_job_peak_above_the_import_baseline():
    m = run_measured("tests.test_bench:allocate_job", {"megabytes": 200})
    assert m.result == {"elements": 200 * 2**18}
    assert 190 < m.peak_mb < 300
    assert m.import_mb > 50  # torch is imported before the baseline is taken
    assert 0 < m.wall_s < 10


def paused_job(timer: Stopwatch, seconds: float) -> dict:
    """Job for run_measured: a short timed block with the benchmark's own work (a sleep) paused inside it."""
    with timer:
        time.sleep(0.05)
        with timer.paused():
            time.sleep(seconds)
    return {}


def test_run_measured_times_the_whole_process_less_the_benchmarks_own_work():
    m = run_measured("tests.test_bench:paused_job", {"seconds": 1.0})
    assert 1.0 <= m.paused_s < 1.5 and 0.05 <= m.wall_s < 0.5
    assert m.wall_s < m.process_s < 10  # interpreter, imports and the job, not the paused second
    plain = run_measured("tests.test_bench:paused_job", {"seconds": 0.0})
    assert abs(m.process_s - plain.process_s) < 0.8  # the second spent paused is not in it


def test_format_table_aligns_and_shows_missing_values_as_dash():
    table = format_table([{"name": "a", "x": 1.5}, {"name": "bb"}], [("name", "name", ""), ("x", "x", ".2f")])
    assert table.splitlines() == ["name     x", "----  ----", "a     1.50", "bb       -"]


def test_random_resnet50_weights_have_the_real_file_layout(tmp_path):
    path = write_random_resnet50(tmp_path)
    assert path.name == Weights.RESNET50.spec.filename
    state = load_state_dict(Weights.RESNET50, tmp_path, download=False)
    assert all(key.startswith(RESNET50_KEPT_PREFIXES) for key in state)
    assert {"conv1.weight", "layer1.2.conv3.weight", "layer2.0.downsample.0.weight"} <= set(state)


def test_nst_harness_runs_the_baseline_and_writes_json(tmp_path, real_weights_dir, images_dir, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "nst.json"
    code = nst.main(["--size", "48", "--baseline-steps", "3", "--methods", "baseline", "--threads", "1",
                     "--images", str(images_dir), "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    (row,) = data["results"]
    assert row["method"] == "baseline" and row["size"] == 48 and row["steps"] > 3
    assert row["score"] == pytest.approx(row["style"] + row["content"]) and row["score"] > 0
    assert row["time_ratio"] == 1.0 and row["wall_s"] > 0 and row["peak_mb"] > 0
    assert Image.open(row["image"]).size == (48, 48)
    assert row["torch_threads"] == 1 and row["cpu_s"] > 0 and data["machine"]["cpu_count"] >= 1
    assert "baseline (classic tutorial)" in capsys.readouterr().out


def test_bench_cli_fails_only_the_command_whose_module_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(bench_cli.COMMANDS, "ghost", "a benchmark nobody wrote")
    assert bench_cli.main(["ghost"]) == 2
    assert "bench/ghost.py" in capsys.readouterr().err
    assert bench_cli.main(["nope"]) == 2
    assert bench_cli.main([]) == 2


@pytest.mark.parametrize("command", ["nst", "sr", "instant", "universal", "bot", "precision", "motion"])
def test_bench_refuses_an_out_path_without_json_suffix_before_any_work(command, tmp_path, capsys):
    """Its images folder is the same path without the suffix: the JSON could not be written at the end."""
    out = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_info:
        bench_cli.main([command, "--out", str(out)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "does not end in .json" in error and "Traceback" not in error
    assert not out.exists()


def test_stopwatch_leaves_paused_time_out_and_tells_the_time_while_running():
    timer = Stopwatch()
    with timer:
        time.sleep(0.05)
        with timer.paused():
            time.sleep(0.3)
        running = timer.elapsed
    assert 0.05 <= running <= timer.seconds < 0.25
    assert timer.elapsed == timer.seconds and timer.cpu_seconds < 0.25


def test_checkpoints_are_log_and_evenly_spaced_and_end_at_the_last_step():
    steps = checkpoint_steps(300)
    assert steps == sorted(set(steps)) and steps[0] == 1 and steps[-1] == 300
    assert 12 <= len(steps) <= 18
    assert {2, 4, 8, 17, 150, 225} <= set(steps)  # early doublings, then even spacing
    assert checkpoint_steps(1) == [1] and checkpoint_steps(3) == [1, 2, 3]


def block_matplotlib(monkeypatch) -> None:
    """Make `import matplotlib` fail as if it were not installed, even if a test imported it before."""
    for name in [n for n in sys.modules if n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_nst_records_a_score_trace_on_the_timed_clock(tmp_path, real_weights_dir, images_dir, monkeypatch, capsys):
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    block_matplotlib(monkeypatch)  # the benchmark must not need it
    out = tmp_path / "nst.json"
    code = nst.main(["--size", "48", "--baseline-steps", "8", "--engine-steps", "8", "--methods", "baseline",
                     "vgg-cold", "--threads", "1", "--images", str(images_dir), "--out", str(out)])
    assert code == 0
    for row in json.loads(out.read_text())["results"]:
        assert set(SYNTHETIC_ROW) <= set(row)  # the plot test's rows are in the format written here
        trace = row["trace"]
        assert len(trace) >= 5 and trace[0]["step"] == 1
        assert trace[-1] == {"step": row["steps"], "seconds": row["wall_s"], "score": row["score"]}
        assert all(a["step"] < b["step"] and a["seconds"] < b["seconds"] for a, b in zip(trace, trace[1:]))
        assert all(point["score"] > 0 for point in trace)
        if row["method"] == "vgg-cold":  # the tutorial's first L-BFGS step overshoots at 48 px: not the baseline
            assert trace[-1]["score"] < trace[0]["score"]
    assert not (tmp_path / "nst.png").exists()
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "Plot" in line] == [
        f"Plot skipped: matplotlib is not installed ({INSTALL_HINT})."]


def test_nst_square_runs_both_precisions_and_judges_the_whole_process(tmp_path, real_weights_dir, images_dir,
                                                                     monkeypatch, capsys):
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    block_matplotlib(monkeypatch)
    out = tmp_path / "nst.json"
    code = nst.main(["--square", "--size", "48", "--baseline-steps", "3", "--engine-steps", "4", "--methods",
                     "baseline", "vgg", "vgg-fp32", "--images", str(images_dir), "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    rows = {row["method"]: row for row in data["results"]}
    assert rows["vgg-fp32"]["precision"] == "float32"
    assert rows["vgg"]["precision"] == ("bfloat16" if bf16_supported() else "float32")  # auto
    for row in rows.values():
        assert row["wall_s"] < row["process_s"]  # start-up counted: imports and weights
        assert row["process_ratio"] == pytest.approx(row["process_s"] / rows["baseline"]["process_s"])
    assert {mean["method"] for mean in data["means"]} == {"baseline", "vgg", "vgg-fp32"}
    assert data["targets"] == []  # no target is defined at 48 px
    assert data["machine"]["bf16_native"] == bf16_supported() and "flags:" in capsys.readouterr().out


def test_nst_speed_targets_are_judged_on_the_whole_process_per_precision():
    def mean(method: str, process_s: float, score: float) -> dict:
        return {"method": method, "size": 256, "pairs": 3, "wall_s": process_s - 3, "process_s": process_s,
                "score": score}

    checks = nst._check_mean_targets([mean("baseline", 100.0, 30.0), mean("vgg", 25.0, 29.0),
                                      mean("vgg-fp32", 26.0, 29.0)])
    assert [(c["target"], c["met"]) for c in checks] == [
        ("engine VGG19, mean over 3 square pairs, 256 px", True),  # 1/4 of the baseline's 100 s
        ("engine VGG19, float32, mean over 3 square pairs, 256 px", False)]
    assert "process time 25.0 s vs limit 25.0 s" in checks[0]["text"]


def test_bench_precision_compares_each_engine_with_its_float32_self(tmp_path, real_weights_dir, images_dir,
                                                                     monkeypatch, capsys):
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "precision.json"
    code = bench_cli.main(["precision", "--size", "192", "--engines", "instant", "srgan", "--content",
                           str(images_dir / "content" / "chelsea.jpg"), "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    low = {row["engine"]: row for row in data["results"] if row["precision"] == "bfloat16"}
    assert set(low) == {"instant", "srgan"}
    for row in low.values():
        assert 35 < row["psnr_db"] < 200 and row["speedup"] > 0 and row["score"] is None
    assert [check["met"] for check in data["targets"]] == [row["psnr_db"] >= 40 for row in low.values()]
    assert "PSNR vs float32" in capsys.readouterr().out


SYNTHETIC_ROW = {"method": "baseline", "label": "baseline (classic tutorial)", "pair": "amber:candy", "size": 256,
                 "image": "bench/results/nst/amber-candy-256-baseline.png", "random_weights": False, "steps": 320,
                 "wall_s": 60.0, "cpu_s": 59.5, "s_per_step": 0.1875, "score": 45.0, "style": 30.0, "content": 15.0,
                 "filter": "bilinear", "score_by_filter": {"bilinear": 45.0, "bicubic": 60.0, "lanczos": 900.0},
                 "peak_mb": 150.0, "import_mb": 400.0, "torch_threads": 1, "time_ratio": 1.0, "score_ratio": 1.0,
                 "trace": [{"step": 1, "seconds": 0.2, "score": 2.0e5}, {"step": 2, "seconds": 0.4, "score": 3.0e7},
                           {"step": 150, "seconds": 28.0, "score": 80.0},
                           {"step": 320, "seconds": 60.0, "score": 45.0}]}


def synthetic_results(pairs: tuple[str, ...] = ("amber:candy",)) -> dict:
    """`bench nst` results as it writes them: a baseline and an engine row per pair, a failed row, and a row
    from before traces were recorded (final point only)."""
    rows = []
    for pair in pairs:
        engine = {**SYNTHETIC_ROW, "method": "vgg", "label": "engine VGG19", "pair": pair, "steps": 160,
                  "wall_s": 14.0, "score": 40.0, "time_ratio": 14.0 / 60.0, "score_ratio": 40.0 / 45.0,
                  "first_preview_s": 2.0,
                  "trace": [{"step": 1, "seconds": 0.5, "score": 9.0e3}, {"step": 40, "seconds": 3.0, "score": 900.0},
                            {"step": 41, "seconds": 3.4, "score": 120.0},
                            {"step": 160, "seconds": 14.0, "score": 40.0}]}
        untraced = {key: value for key, value in engine.items() if key != "trace"}
        rows += [{**SYNTHETIC_ROW, "pair": pair}, engine,
                 {**untraced, "method": "vgg-cold", "label": "VGG19 from the photo", "wall_s": 13.0, "score": 47.0},
                 {"method": "resnet", "label": "engine ResNet50 (random w.) FAILED", "pair": pair, "size": 256,
                  "image": "x.png", "random_weights": True, "error": "it failed"}]
    return {"benchmark": "nst", "date": "2026-01-01 12:00:00",
            "machine": {"torch": "2.14.1", "torch_threads": 2, "cpu_model": "Test CPU", "cpu_count": 2,
                        "python": "3.11.7", "platform": "Linux"},
            "settings": {"size": [256], "pairs": list(pairs), "methods": ["baseline", "vgg", "vgg-cold", "resnet"]},
            "notes": [], "results": rows, "means": [], "targets": []}


@pytest.mark.parametrize("pairs", [("amber:candy",), ("amber:candy", "chelsea:mosaic")])
def test_bench_plot_draws_a_png_from_saved_results(pairs, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    results = tmp_path / "nst.json"
    results.write_text(json.dumps(synthetic_results(pairs)))
    assert bench_cli.main(["plot", str(results)]) == 0  # default: next to the JSON
    out = tmp_path / "nst.png"
    assert capsys.readouterr().out == f"Plot: {out}\n"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < out.stat().st_size < 150_000
    with Image.open(out) as image:
        width, height = image.size
    assert 500 * len(pairs) <= width <= 800 * len(pairs) and 300 <= height <= 600
    other = tmp_path / "pictures" / "other.png"
    assert bench_cli.main(["plot", str(results), "-o", str(other)]) == 0 and other.is_file()


def test_bench_plot_says_in_one_line_that_matplotlib_is_missing(tmp_path, monkeypatch, capsys):
    block_matplotlib(monkeypatch)
    results = tmp_path / "nst.json"
    results.write_text(json.dumps(synthetic_results()))
    assert plot_or_skip(results, tmp_path / "nst.png") is None
    assert capsys.readouterr().out == f"Plot skipped: matplotlib is not installed ({INSTALL_HINT}).\n"
    assert bench_cli.main(["plot", str(results)]) == 1
    assert "pip install -e '.[plot]'" in capsys.readouterr().out
    assert not (tmp_path / "nst.png").exists()


def test_bench_plot_refuses_other_results(tmp_path, capsys):
    results = tmp_path / "sr.json"
    results.write_text(json.dumps({"benchmark": "sr", "results": []}))
    with pytest.raises(SystemExit) as exit_info:
        bench_cli.main(["plot", str(results)])
    assert exit_info.value.code == 2 and "bench nst" in capsys.readouterr().err


def test_bench_motion_paints_the_clip_both_ways_and_judges_steadiness(tmp_path, real_weights_dir, images_dir,
                                                                     monkeypatch, capsys):
    """A tiny clip (96 px, 1 s): each way painted, scored on its frames and its MP4, the targets judged."""
    from bench import motion

    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    out = tmp_path / "motion.json"
    assert motion.main(["--side", "96", "--seconds", "1", "--fps", "8", "--engines", "instant",
                        "--images", str(images_dir), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    alone, steady, longer = data["results"]
    assert [(r["method"], r["seconds"], r["frames"]) for r in data["results"]] == [
        ("per-frame", 1, 8), ("steady", 1, 8), ("steady", 2, 16)]
    assert steady["warp"] < alone["warp"] and all(r[k] > 0 for r in (alone, steady) for k in ("style", "warp_mp4"))
    assert "warp" not in longer and longer["peak_mb"] > 0
    targets = {t["target"]: t["met"] for t in data["targets"]}
    assert set(targets) == {"instant: warping error", "instant: style loss", "instant: time", "memory",
                            "memory against length"}
    assert "instant  per-frame" in capsys.readouterr().out
