"""`python -m bench precision`: every engine in float32 and in bfloat16, side by side, on real weights and images.

Per engine and precision, one subprocess (bench.measure): time of the work itself, peak memory above the
import baseline; then how far bfloat16's output is from float32's. For the one-pass engines (instant styles,
universal, SRGAN x4) that is the PSNR between the two pictures (the issue's bar: about 40 dB); for Gatys,
whose bfloat16 run takes a different path to its optimum, the neutral score of each result (bench.evaluate:
lower is better) and their ratio. ResNet50 runs on RANDOM weights (none exist offline): its time, memory and
float32/bfloat16 agreement are meaningful (scored by its own float32 objective), not its look.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench precision                 # 512 px
    python -m bench precision --size 256 --engines vgg19 instant

On a CPU without native bfloat16 it is emulated and much slower: the table then shows why `auto` keeps
float32 there (`transfer.precision`).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.measure import REPO, MeasureError, Stopwatch, image_folder, json_path, report, run_measured
from bench.random_weights import random_resnet50_dir

ENGINES = {"vgg19": "Gatys VGG19 (preset)", "resnet50": "Gatys ResNet50 (random w.)", "universal": "universal (quick)",
           "instant": "instant style (wave)", "srgan": "SRGAN x4 (input size / 4)"}
PRECISIONS = ("float32", "bfloat16")
PSNR_TARGET_DB = 40.0
SCORE_TOLERANCE = 1.10  # Gatys: bfloat16's score at most this times float32's
COLUMNS = [("label", "engine", ""), ("precision", "precision", ""), ("size", "size", "d"),
           ("wall_s", "wall s", ".2f"), ("peak_mb", "peak MB above import", ".0f"),
           ("speedup", "speed x float32", ".2f"), ("memory_ratio", "memory x float32", ".2f"),
           ("score", "score", ".4g"), ("score_ratio", "score x float32", ".3f"), ("psnr_db", "PSNR vs float32", ".1f")]


def _load(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def engine_job(timer: Stopwatch, engine: str, precision: str, content: str, style: str, size: int,
               out: str) -> dict[str, Any]:
    """Subprocess job: one engine in one precision; networks loaded untimed, the work timed."""
    from superres import Upscaler, srgan_x4
    from transfer import StyleTransfer, TransferSettings
    from transfer.images import fit
    from transfer.instant import InstantStylizer
    from transfer.universal import UniversalStylizer

    photo, painting = _load(content), _load(style)
    if engine in ("vgg19", "resnet50"):
        load = StyleTransfer.vgg19 if engine == "vgg19" else StyleTransfer.resnet50
        transfer = load(precision=precision)
        with timer:
            result = transfer.run(photo, painting, TransferSettings(size=size))
    elif engine == "universal":
        stylizer = UniversalStylizer(precision=precision)
        stylizer.networks()
        with timer:
            result = stylizer.stylize(photo, painting, max_side=size)
    elif engine == "instant":
        instant = InstantStylizer(precision=precision)
        instant.network("wave")
        with timer:
            result = instant.stylize(photo, "wave", max_side=size)
    else:
        upscaler = Upscaler(srgan_x4(precision=precision))
        small = fit(photo, long_side=size // 4)
        with timer:
            result = upscaler.upscale(small)
    result.save(out)
    return {"output": list(result.size)}


def _psnr(a: Path, b: Path) -> float:
    with Image.open(a) as x, Image.open(b) as y:
        error = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(255 ** 2 / error)


def _resnet_objective(path: Path, content: Path, style: Path, size: int, weights_dir: Path) -> float:
    """ResNet50's own float32 objective on an image (random weights: the benchmark's VGG19 judge does not
    apply to what they optimise)."""
    import torch

    from transfer import StyleTransfer, TransferSettings
    from transfer.images import image_to_tensor

    judge = StyleTransfer.resnet50(weights_dir, precision="float32")
    result = _load(str(path))
    target = image_to_tensor(_load(str(content)).resize(result.size, Image.Resampling.BILINEAR))
    objective = judge._objective(target, [_load(str(style))], [1.0], size, TransferSettings(size=size))
    with torch.no_grad():
        return objective(image_to_tensor(result)).item()


def _score(row: dict[str, Any], content: Path, style: Path, size: int, resnet_dir: Path | None) -> float | None:
    if row["engine"] == "vgg19":
        from bench.evaluate import Evaluator

        judge = Evaluator().judge(_load(str(content)), _load(str(style)), size)
        return min(score.total for score in judge(_load(row["image"])))
    if row["engine"] == "resnet50" and resnet_dir is not None:
        return _resnet_objective(Path(row["image"]), content, style, size, resnet_dir)
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    parser = argparse.ArgumentParser(prog="python -m bench precision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="long side of the results (default 512)")
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES))
    parser.add_argument("--content", type=Path, default=default_images / "content" / "amber.jpg")
    parser.add_argument("--style", type=Path, default=default_images / "style" / "candy.jpg")
    parser.add_argument("--out", type=json_path, default=REPO / "bench" / "results" / "precision.json",
                        help="JSON results; images go to the folder of the same name (default: %(default)s)")
    return parser.parse_args(argv)


def _compare(rows: list[dict[str, Any]], args: argparse.Namespace, resnet_dir: Path | None) -> list[dict[str, Any]]:
    """Ratios of each bfloat16 row to its engine's float32 row, and the targets they meet."""
    checks = []
    for row in rows:
        if "error" not in row:
            row["score"] = _score(row, args.content, args.style, args.size, resnet_dir)
    for low in (r for r in rows if r["precision"] == "bfloat16" and "error" not in r):
        full = next((r for r in rows if r["engine"] == low["engine"] and r["precision"] == "float32"
                     and "error" not in r), None)
        if full is None:
            continue
        low.update(speedup=full["wall_s"] / low["wall_s"], memory_ratio=low["peak_mb"] / max(full["peak_mb"], 1.0))
        if low["engine"] in ("vgg19", "resnet50"):
            low["score_ratio"] = low["score"] / full["score"]
            checks.append({"target": f"{low['label']}: score within {SCORE_TOLERANCE:.2f}x float32's",
                           "met": low["score_ratio"] <= SCORE_TOLERANCE,
                           "text": f"{low['score']:.4g} vs {full['score']:.4g} ({low['score_ratio']:.3f}x), "
                                   f"{low['speedup']:.2f}x the speed"})
        else:
            low["psnr_db"] = _psnr(Path(low["image"]), Path(full["image"]))
            checks.append({"target": f"{low['label']}: within {PSNR_TARGET_DB:.0f} dB PSNR of float32",
                           "met": low["psnr_db"] >= PSNR_TARGET_DB,
                           "text": f"{low['psnr_db']:.1f} dB, {low['speedup']:.2f}x the speed"})
    return checks


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    rows: list[dict[str, Any]] = []
    image_dir = image_folder(args.out)
    with tempfile.TemporaryDirectory(prefix="bench-resnet-") as tmp:
        resnet_dir: Path | None = None  # made when ResNet50 runs
        for engine in args.engines:
            env: dict[str, str] = {}
            if engine == "resnet50":
                resnet_dir = resnet_dir or random_resnet50_dir(Path(tmp))
                env["STYLEBOT_WEIGHTS_DIR"] = str(resnet_dir)
            for precision in PRECISIONS:
                out = image_dir / f"{engine}-{args.size}-{precision}.png"
                row: dict[str, Any] = {"engine": engine, "label": ENGINES[engine], "precision": precision,
                                       "size": args.size, "image": str(out)}
                print(f"[{args.size} px] {ENGINES[engine]}, {precision} ...", flush=True)
                try:
                    m = run_measured("bench.precision:engine_job",
                                     {"engine": engine, "precision": precision, "content": str(args.content),
                                      "style": str(args.style), "size": args.size, "out": str(out)}, env)
                except MeasureError as exc:
                    print(f"{engine} {precision} FAILED: {exc}", file=sys.stderr, flush=True)
                    rows.append({**row, "label": f"{row['label']} FAILED", "error": str(exc)})
                    continue
                rows.append({**row, **m.result, "wall_s": m.wall_s, "peak_mb": m.peak_mb})
        checks = _compare(rows, args, resnet_dir)
    notes = ["Timings are on a shared machine: other processes may inflate them.",
             "ResNet50 uses RANDOM weights: its score is its own float32 objective, a check of agreement only."]
    return report("precision", args, rows, checks, notes, COLUMNS, image_dir)
