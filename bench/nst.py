"""`python -m bench nst`: the classic tutorial baseline against our engine, judged by one neutral evaluator.

For each size and (content, style) pair, every method runs in its own subprocess (bench.measure): wall
time of the transfer itself and of the whole process as a command-line user waits for it (interpreter,
imports, weights, transfer: what the speed targets judge), steps, peak memory above the import baseline.
Its final image is saved as PNG and scored by bench.evaluate at that size; so are its images at a few
checkpoints (bench.trace), for the score-against-time plot drawn next to the JSON (bench.plot). Ratios are
to the baseline of the same size and pair; the issue's targets are checked at the end. The ResNet50 row uses
RANDOM weights (none exist offline): its time and memory are meaningful, its score is not.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench nst                       # 256 and 512, amber:candy
    python -m bench nst --size 256 --pairs amber:candy chelsea:mosaic --methods baseline vgg
    python -m bench nst --square --pairs amber:candy amber:udnie amber:rain-princess   # judged on the mean

"vgg" runs the VGG19 preset in the precision the machine gets by default (bfloat16 where the CPU has it
natively, `transfer.precision`), "vgg-fp32" the same preset forced to float32.
The VGG19 preset starts its coarse level from the quick universal result (`transfer.universal`), whose
time is counted in its own; "vgg-cold" starts from the photo instead (the preset before the warm start),
"vgg-warm-full" starts a single full-size level (the preset's full-level steps) from the quick result. With --square, content and painting are cropped to centred
squares first: the tutorial squashes both to squares, so only square inputs give both methods the same
target. The speed targets are then judged on the mean over the pairs (each pair is reported too).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from bench.evaluate import Evaluator
from bench.measure import (REPO, MeasureError, Stopwatch, describe, format_table, image_folder, json_path,
                           machine_info, run_measured, write_json)
from bench.plot import plot_or_skip
from bench.random_weights import random_resnet50_dir
from bench.trace import Trace, score_trace
from weights import WeightsError

METHODS = {"baseline": "baseline (classic tutorial)", "vgg": "engine VGG19", "vgg-fp32": "engine VGG19, float32",
           "vgg-fast": "engine VGG19, fast preset", "resnet": "engine ResNet50 (random w.)",
           "universal": "universal (WCT) only", "vgg-cold": "VGG19 from the photo",
           "vgg-warm-full": "VGG19 from universal, full size only"}
DEFAULT_METHODS = ["baseline", "vgg", "vgg-fast", "resnet"]
FAST_TARGETS = (512, 20.0, 5.0)  # at this size: the fast result within s, a first preview within s
# size -> the VGG19 preset must take at most 1/k of the baseline's time, whole process (start-up included)
TIME_TARGETS = {256: 4, 512: 5}
RESNET_STEP_RATIO = 0.5  # ResNet50 time per step at most half of VGG19's
MEMORY_TARGET = (512, 400.0)  # a VGG job at this size under this many MB above the import baseline
ISSUE_BASELINE_STEPS = 300
RANDOM_NOTE = ("The ResNet50 row uses RANDOM weights (no ImageNet ResNet50 file exists offline): "
               "its time and memory are meaningful, its score is not.")
COLUMNS = [("label", "method", ""), ("pair", "pair", ""), ("size", "size", "d"), ("steps", "steps", "d"),
           ("wall_s", "wall s", ".1f"), ("process_s", "process s", ".1f"), ("cpu_s", "cpu s", ".1f"),
           ("s_per_step", "s/step", ".3f"),
           ("score", "score", ".4g"), ("style", "style part", ".4g"), ("content", "content part", ".4g"),
           ("filter", "filter", ""), ("first_preview_s", "preview s", ".1f"),
           ("peak_mb", "peak MB above import", ".0f"), ("time_ratio", "time x baseline", ".3f"),
           ("process_ratio", "process x baseline", ".3f"), ("score_ratio", "score x baseline", ".3f")]


MEAN_COLUMNS = [("label", "method", ""), ("size", "size", "d"), ("pairs", "pairs", "d"), ("wall_s", "mean s", ".1f"),
                ("process_s", "mean process s", ".1f"), ("score", "mean score", ".4g"),
                ("time_ratio", "time x baseline", ".3f"), ("process_ratio", "process x baseline", ".3f"),
                ("score_ratio", "score x baseline", ".3f")]


def _load(path: str) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def baseline_job(timer: Stopwatch, content: str, style: str, size: int, steps: int, out: str,
                 trace_dir: str) -> dict[str, Any]:
    """Subprocess job: the classic tutorial; weights and decoding untimed, the whole transfer timed."""
    from bench.baseline import classic_tutorial_transfer, load_vgg19_features

    cnn, content_img, style_img = load_vgg19_features(), _load(content), _load(style)
    trace = Trace(timer, trace_dir)
    with timer:
        result = classic_tutorial_transfer(cnn, content_img, style_img, size=size, num_steps=steps,
                                           on_step=lambda step, image: trace.offer(step, steps, image))
    result.image.save(out)
    return {"steps": result.steps, "trace": trace.points}


def universal_job(timer: Stopwatch, content: str, style: str, size: int, out: str) -> dict[str, Any]:
    """Subprocess job: the quick universal result alone (networks loaded untimed)."""
    from transfer.universal import UniversalStylizer

    stylizer, content_img, style_img = UniversalStylizer(), _load(content), _load(style)
    with timer:
        image = stylizer.stylize(content_img, style_img, max_side=size)
    image.save(out)
    return {"steps": 1}


def engine_job(timer: Stopwatch, backbone: str, content: str, style: str, size: int, steps: int | None,
               out: str, trace_dir: str, fast: bool = False, strip_pixels: int | None = None,
               warm: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """Subprocess job: our engine with its defaults (optionally another step count); `run` timed.

    `warm`: None starts from the photo, "coarse" is the preset's own warm start (its levels from the
    universal result), "full" starts a single full-size level (the preset's full-level steps) from it;
    the universal pass is timed with the run.
    Steps: the highest `step` the progress reports gave (some reports repeat a step, e.g. previews at
    the end of a level), or the number of reports if they carry no step.
    """
    from bench.trace import TracingStyleTransfer
    from transfer import TransferSettings

    load = TracingStyleTransfer.vgg19 if backbone == "vgg19" else TracingStyleTransfer.resnet50
    engine = load(strip_pixels=strip_pixels, precision=precision)
    settings = TransferSettings(size=size, steps=steps, fast=fast, warm_start=warm == "coarse")
    if warm == "full":
        settings = TransferSettings(size=size, steps=steps or engine.preset.scales[-1].steps, levels=1)
    content_img, style_img = _load(content), _load(style)
    reports: list[tuple[int | None, int | None, float | None]] = []
    previews: list[float] = []
    trace = Trace(timer, trace_dir)

    def progress(report: Any) -> None:
        reports.append((report.step, report.total, report.loss))
        if report.preview is not None:
            previews.append(timer.elapsed)
        if engine.latest is not None and engine.latest_is_best:
            trace.offer(report.step, report.total, engine.latest)

    with timer:
        start = engine.quick.stylize(content_img, style_img, max_side=size) if warm == "full" else None
        image = engine.run(content_img, style_img, settings, progress=progress, start=start)
    image.save(out)
    reported = [step for step, _, _ in reports if step is not None]
    _, total, loss = reports[-1] if reports else (None, None, None)
    return {"steps": max(reported, default=len(reports)), "progress_calls": len(reports), "total": total,
            "precision": str(engine.extractor.dtype).removeprefix("torch."),
            "last_loss": loss, "first_preview_s": previews[0] if previews else None, "trace": trace.points}


def _find_image(folder: Path, stem: str) -> Path:
    matches = sorted(p for p in folder.glob(f"{stem}.*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not matches:
        available = ", ".join(sorted(p.stem for p in folder.glob("*.*")))
        raise SystemExit(f"no image {stem!r} in {folder} (available: {available})")
    return matches[0]


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    parser = argparse.ArgumentParser(prog="python -m bench nst", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="+", default=[256, 512], help="long sides (default: 256 512)")
    parser.add_argument("--baseline-steps", type=int, default=ISSUE_BASELINE_STEPS,
                        help="the tutorial's num_steps (default: 300, the issue's reference)")
    parser.add_argument("--engine-steps", type=int, default=None,
                        help="passed as TransferSettings(steps=N) (default: the engine's own default)")
    parser.add_argument("--pairs", nargs="+", default=["amber:candy"], metavar="CONTENT:STYLE",
                        help="image stems in <images>/content and <images>/style (default: amber:candy; "
                             "chelsea:mosaic is a non-square case)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=DEFAULT_METHODS,
                        help=f"default: {' '.join(DEFAULT_METHODS)}")
    parser.add_argument("--square", action="store_true",
                        help="crop content and painting to centred squares; judge the targets on the mean")
    parser.add_argument("--strip-pixels", type=int, default=None, metavar="N",
                        help="the engine's strip size (default: its own); smaller: less memory, slower")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads in each job (OMP_NUM_THREADS; default: torch's own, one per core). "
                             "On a busy machine 1 thread can be many times faster than 2 fighting for cores")
    parser.add_argument("--images", type=Path, default=default_images,
                        help="folder with content/ and style/ (default: $STYLEBOT_IMAGES_DIR or ../shared/images)")
    parser.add_argument("--out", type=json_path, default=REPO / "bench" / "results" / "nst.json",
                        help="JSON results; images go to the folder of the same name (default: %(default)s)")
    args = parser.parse_args(argv)
    for pair in args.pairs:
        if pair.count(":") != 1:
            parser.error(f"--pairs: {pair!r} is not CONTENT:STYLE")
    return args


def _job(method: str, content: Path, style: Path, size: int, args: argparse.Namespace, out: Path,
         trace_dir: str, resnet_dir: Callable[[], Path]) -> tuple[str, dict[str, Any], dict[str, str]]:
    files = {"content": str(content), "style": str(style), "size": size, "out": str(out)}
    env = {} if args.threads is None else {"OMP_NUM_THREADS": str(args.threads)}
    if method == "universal":  # one pass: its trace is its final point
        return "bench.nst:universal_job", files, env
    files["trace_dir"] = trace_dir
    if method == "baseline":
        return "bench.nst:baseline_job", {**files, "steps": args.baseline_steps}, env
    backbone = "resnet50" if method == "resnet" else "vgg19"
    if method == "resnet":
        env["STYLEBOT_WEIGHTS_DIR"] = str(resnet_dir())
    warm = {"vgg": "coarse", "vgg-fp32": "coarse", "vgg-warm-full": "full"}.get(method)
    return "bench.nst:engine_job", {**files, "backbone": backbone, "steps": args.engine_steps,
                                    "fast": method == "vgg-fast", "strip_pixels": args.strip_pixels,
                                    "warm": warm, "precision": "float32" if method == "vgg-fp32" else None}, env


def _check_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per target and (size, pair) that the methods run allow checking."""
    checks = []
    for size, pair in dict.fromkeys((r["size"], r["pair"]) for r in rows):
        ok = {r["method"]: r for r in rows if (r["size"], r["pair"]) == (size, pair) and not r.get("error")}
        base, vgg, resnet, fast = ok.get("baseline"), ok.get("vgg"), ok.get("resnet"), ok.get("vgg-fast")
        where = f"{size} px {pair}"
        if base and vgg and size in TIME_TARGETS:
            k = TIME_TARGETS[size]
            limit = base["process_s"] / k
            met = vgg["score"] <= base["score"] and vgg["process_s"] <= limit
            checks.append({"target": f"VGG19 quality and speed, {where}", "met": met, "text": (
                f"score {vgg['score']:.4g} vs baseline {base['score']:.4g} ({base['steps']} steps); process "
                f"time {vgg['process_s']:.1f} s vs limit {limit:.1f} s (baseline {base['process_s']:.1f} s / {k})")})
        if vgg and resnet:
            limit = RESNET_STEP_RATIO * vgg["s_per_step"]
            checks.append({"target": f"ResNet50 time per step, {where}", "met": resnet["s_per_step"] <= limit,
                           "text": f"{resnet['s_per_step']:.3f} s/step vs limit {limit:.3f} "
                                   f"(half of VGG19's {vgg['s_per_step']:.3f})"})
        if fast and size == FAST_TARGETS[0]:
            preview = fast["first_preview_s"]
            met = fast["wall_s"] < FAST_TARGETS[1] and preview is not None and preview < FAST_TARGETS[2]
            checks.append({"target": f"VGG19 fast preset, {where}", "met": met, "text": (
                f"result in {fast['wall_s']:.1f} s (limit {FAST_TARGETS[1]:.0f} s), first preview after "
                f"{preview if preview is not None else float('nan'):.1f} s (limit {FAST_TARGETS[2]:.0f} s)")})
        if vgg and size == MEMORY_TARGET[0]:
            checks.append({"target": f"VGG19 peak memory, {where}", "met": vgg["peak_mb"] < MEMORY_TARGET[1],
                           "text": f"{vgg['peak_mb']:.0f} MB above import vs limit {MEMORY_TARGET[1]:.0f} MB"})
    return checks


def _mean_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size and method: the mean time and score over the pairs (a pair whose baseline failed is left
    out), with their ratios to the baseline's means."""
    means = []
    for size in dict.fromkeys(r["size"] for r in rows):
        ok = [r for r in rows if r["size"] == size and not r.get("error")]
        pairs = {r["pair"] for r in ok if r["method"] == "baseline"}
        for method in dict.fromkeys(r["method"] for r in ok):
            mine = [r for r in ok if r["method"] == method and r["pair"] in pairs]
            if len(mine) == len(pairs) and pairs:
                means.append({"method": method, "label": METHODS[method], "size": size, "pairs": len(mine),
                              **{key: sum(r[key] for r in mine) / len(mine)
                                 for key in ("wall_s", "process_s", "score")}})
        base = next((m for m in means if m["size"] == size and m["method"] == "baseline"), None)
        for m in means:
            if base and m["size"] == size:
                m.update(time_ratio=m["wall_s"] / base["wall_s"], process_ratio=m["process_s"] / base["process_s"],
                         score_ratio=m["score"] / base["score"])
    return means


def _check_mean_targets(means: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The speed targets on the means over the pairs: the VGG19 preset's mean score at most the
    baseline's, in at most 1/k of its mean time, whole process (as a user of the command line waits)."""
    checks = []
    for size, k in TIME_TARGETS.items():
        base = next((m for m in means if m["size"] == size and m["method"] == "baseline"), None)
        for method in ("vgg", "vgg-fp32"):
            vgg = next((m for m in means if m["size"] == size and m["method"] == method), None)
            if base and vgg:
                limit = base["process_s"] / k
                checks.append({"target": f"{METHODS[method]}, mean over {vgg['pairs']} square pairs, {size} px",
                               "met": vgg["score"] <= base["score"] and vgg["process_s"] <= limit,
                               "text": f"mean score {vgg['score']:.4g} vs baseline {base['score']:.4g}; mean "
                                       f"process time {vgg['process_s']:.1f} s vs limit {limit:.1f} s (baseline "
                                       f"{base['process_s']:.1f} s / {k}); timed transfer alone "
                                       f"{vgg['wall_s']:.1f} s vs {base['wall_s']:.1f} s"})
    return checks


def _squares(pairs: list[tuple[str, Path, Path]], folder: Path) -> list[tuple[str, Path, Path]]:
    """The pairs' images cropped to centred squares (PNG files in `folder`)."""
    cropped = []
    for pair, content, style in pairs:
        paths = []
        for kind, path in (("content", content), ("style", style)):
            image = _load(str(path))
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            out = folder / f"{kind}-{path.stem}-square.png"
            image.crop((left, top, left + side, top + side)).save(out)
            paths.append(out)
        cropped.append((pair, paths[0], paths[1]))
    return cropped


def _run_one(method: str, pair: str, content: Path, style: Path, size: int, args: argparse.Namespace,
             evaluator: Evaluator, out: Path, resnet_dir: Callable[[], Path]) -> dict[str, Any]:
    """Measure one method in its subprocess and score its saved image and its checkpoints: one row of the
    table, with its `trace` of (step, seconds, score) ending at the final image."""
    row: dict[str, Any] = {"method": method, "label": METHODS[method], "pair": pair, "size": size,
                           "image": str(out), "random_weights": method == "resnet"}
    print(f"[{size} px {pair}] {METHODS[method]} ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-trace-") as trace_dir:
        try:
            m = run_measured(*_job(method, content, style, size, args, out, trace_dir, resnet_dir))
        except MeasureError as exc:
            print(f"[{size} px {pair}] {method} FAILED: {exc}", file=sys.stderr, flush=True)
            return {**row, "label": f"{row['label']} FAILED", "error": str(exc)}
        judge = evaluator.judge(_load(str(content)), _load(str(style)), size)
        steps = m.result["steps"]
        checkpoints = [point for point in m.result.pop("trace", []) if point["step"] < steps]  # the final: last
        trace = score_trace(checkpoints, judge)
    scores = judge(_load(str(out)))
    score = min(scores, key=lambda sc: sc.total)
    trace.append({"step": steps, "seconds": m.wall_s, "score": score.total})
    print(f"[{size} px {pair}] {method}: {m.wall_s:.1f} s, {steps} steps, score {score.total:.4g}, "
          f"peak {m.peak_mb:.0f} MB above import", flush=True)
    return {**row, **m.result, "wall_s": m.wall_s, "process_s": m.process_s, "cpu_s": m.cpu_s, "trace": trace,
            "s_per_step": m.wall_s / steps if steps else None, "score": score.total, "style": score.style,
            "content": score.content, "filter": score.filter,
            "score_by_filter": {sc.filter: sc.total for sc in scores},
            "peak_mb": m.peak_mb, "import_mb": m.import_mb, "torch_threads": m.torch_threads}


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Time and score of each row relative to the baseline of the same size and pair."""
    for row in rows:
        base = next((r for r in rows if r["method"] == "baseline" and not r.get("error")
                     and (r["size"], r["pair"]) == (row["size"], row["pair"])), None)
        if base and not row.get("error"):
            row.update(time_ratio=row["wall_s"] / base["wall_s"], process_ratio=row["process_s"] / base["process_s"],
                       score_ratio=row["score"] / base["score"])


def _notes(args: argparse.Namespace) -> list[str]:
    notes = ["Timings are on a shared machine: other processes may inflate them (cpu s / wall s well "
             "under the torch thread count means the job was short of CPU).",
             "score = 1e6 * Gram style loss (conv1_1..conv3_1) + content loss (conv2_2), lower is better, "
             "computed by bench.evaluate on each saved PNG at the evaluation size; the lowest over the "
             "resampling filters used to size content and style (the objective depends strongly on it; "
             "score_by_filter in the JSON has each).",
             "trace (JSON, and the plot next to it): the score of the image each method would hand back at "
             "about 16 checkpoints, on the timed clock (saving them is left out of it), ending at the final "
             "image; points on a coarse level are that smaller image scored upscaled."]
    if "resnet" in args.methods:
        notes.insert(0, RANDOM_NOTE)
    if args.strip_pixels is not None:
        notes.append(f"The engine ran with --strip-pixels {args.strip_pixels} instead of its default.")
    if args.baseline_steps != ISSUE_BASELINE_STEPS and "baseline" in args.methods:
        notes.append(f"The baseline ran --baseline-steps {args.baseline_steps}; the issue's targets are "
                     f"defined against {ISSUE_BASELINE_STEPS}.")
    return notes


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        evaluator = Evaluator()
    except WeightsError as exc:
        print(f"bench nst: {exc}", file=sys.stderr)
        return 1
    pairs = [(pair, _find_image(args.images / "content", pair.split(":")[0]),
              _find_image(args.images / "style", pair.split(":")[1])) for pair in args.pairs]
    image_dir = image_folder(args.out)
    if args.square:
        pairs = _squares(pairs, image_dir)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-resnet-") as tmp:
        made: list[Path] = []

        def resnet_dir() -> Path:
            if not made:
                made.append(random_resnet50_dir(Path(tmp)))
            return made[0]

        for size in args.size:
            for pair, content, style in pairs:
                for method in args.methods:
                    out = image_dir / f"{pair.replace(':', '-')}-{size}-{method}.png"
                    rows.append(_run_one(method, pair, content, style, size, args, evaluator, out, resnet_dir))
    _add_ratios(rows)
    means = _mean_rows(rows) if args.square else []
    checks = _check_mean_targets(means) if args.square else _check_targets(rows)
    notes = _notes(args)
    machine = machine_info()
    print("\n" + format_table(rows, COLUMNS))
    if means:
        print("\nMeans over the square pairs:\n" + format_table(means, MEAN_COLUMNS))
    for check in checks:
        print(f"{'MET    ' if check['met'] else 'NOT MET'}  {check['target']}: {check['text']}")
    if not checks:
        print("No target could be checked with these methods (they need baseline, vgg and/or resnet).")
    threads = sorted({r["torch_threads"] for r in rows if "torch_threads" in r})
    print("\n".join(["", *notes, f"Machine: {describe(machine)}; the jobs ran with {threads or '?'} torch threads."]))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "nst", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine, "settings": settings, "notes": notes,
                                 "results": rows, "means": means, "targets": checks})
    print(f"Results: {path}; images: {image_dir}")
    plot_or_skip(path, path.with_suffix(".png"))
    return 1 if any(r.get("error") for r in rows) else 0
