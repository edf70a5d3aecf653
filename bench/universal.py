"""`python -m bench universal`: time and peak memory of universal (WCT) style transfer, against its targets.

Each size runs in its own subprocess (bench.measure): the networks are loaded and warmed up on a small
photo untimed, then `UniversalStylizer.stylize` runs `--repeats` times at that size (the painting is
encoded in every run, as in a real request); the median is reported. Peak memory is the resident
high-water mark of the whole job above the `import torch` baseline. The photo is the content image
fitted to the size (never enlarged); sizes above the engine's tile budget show its tiled path.

The quick result is then judged by the classic Gatys objective (bench/evaluate.py's neutral evaluator,
at the result's own size), next to the photo itself scored the same way: the objective an optimisation
would start from.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench universal          # 512 and 1024 px
    python -m bench universal --size 512 --repeats 5 --style ../shared/images/style/mosaic.jpg
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import REPO, MeasureError, Stopwatch, image_folder, json_path, report, run_measured

TIME_TARGETS_S = {512: 1.5, 1024: 6.0}  # median wall time per request, this machine (2 cores)
MEMORY_TARGET_MB = {1024: 300.0}  # peak resident memory above the import baseline
COLUMNS = [("size", "size", "d"), ("image_size", "image", ""), ("tiles", "tiles", "d"),
           ("bf16", "bf16", ""), ("median_s", "median s", ".2f"), ("runs", "runs (s)", ""),
           ("cpu_s", "cpu s", ".1f"), ("peak_mb", "peak MB above import", ".0f"),
           ("objective", "objective: result", ".1f"), ("photo_objective", "objective: photo", ".1f")]


def stylize_job(timer: Stopwatch, content: str, style: str, size: int, repeats: int, out: str,
                tile_pixels: int | None = None, float32: bool = False) -> dict[str, Any]:
    """Subprocess job: load and warm the networks untimed, then time `repeats` requests at `size`."""
    from PIL import Image

    from transfer.images import fit
    from transfer.universal import UniversalStylizer

    stylizer = UniversalStylizer(download=False, tile_pixels=tile_pixels,
                                 precision="float32" if float32 else None)
    with Image.open(content) as img:
        photo = img.convert("RGB")
    stylizer.stylize(fit(photo, long_side=128), style)  # first-call set-up, not part of a request
    photo = fit(photo, long_side=size)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        with timer:
            result = stylizer.stylize(photo, style, max_side=None)
        runs.append(time.perf_counter() - started)
    assert result.size == photo.size
    result.save(out)
    return {"image_size": f"{photo.width}x{photo.height}", "runs_s": runs, "tiles": len(stylizer.tiles(photo) or [1]),
            "bf16": stylizer.bf16, "tile_pixels": stylizer.tile_pixels, "style_side": stylizer.style_side}


def score_job(timer: Stopwatch, result: str, content: str, style: str, size: int) -> dict[str, Any]:
    """Subprocess job: the classic objective of the result and of the photo itself, at `size`."""
    from PIL import Image

    from bench.evaluate import Evaluator

    evaluator = Evaluator()
    with Image.open(result) as r, Image.open(content) as c, Image.open(style) as s:
        ours, photo, painting = r.convert("RGB"), c.convert("RGB"), s.convert("RGB")
    with timer:
        quick = evaluator(ours, photo, painting, size)
        itself = evaluator(photo, photo, painting, size)
    return {"objective": quick.total, "objective_style": quick.style, "objective_content": quick.content,
            "photo_objective": itself.total, "photo_objective_style": itself.style}


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    parser = argparse.ArgumentParser(prog="python -m bench universal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="+", default=[512, 1024], help="long sides (default: 512 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="timed requests per size (default: 3)")
    parser.add_argument("--content", type=Path, default=default_images / "content" / "amber.jpg",
                        help="the photo (default: <images>/content/amber.jpg, 1080x1080)")
    parser.add_argument("--style", type=Path, default=default_images / "style" / "candy.jpg",
                        help="the painting (default: <images>/style/candy.jpg, 1024x1024)")
    parser.add_argument("--tile-pixels", type=int,
                        help="the engine's tile budget (default: its own, TILE_PIXELS or TILE_PIXELS_FLOAT32)")
    parser.add_argument("--float32", action="store_true",
                        help="float32 networks even where the CPU has bfloat16 (to measure what bfloat16 gives)")
    parser.add_argument("--no-score", action="store_true", help="skip the classic objective")
    parser.add_argument("--out", type=json_path, default=REPO / "bench" / "results" / "universal.json",
                        help="JSON results; images go to the folder of the same name (default: %(default)s)")
    args = parser.parse_args(argv)
    for name in ("content", "style"):
        if not getattr(args, name).is_file():
            parser.error(f"--{name}: no file {getattr(args, name)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _check_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for row in (r for r in rows if "error" not in r):
        limit = TIME_TARGETS_S.get(row["size"])
        if limit is not None:
            checks.append({"target": f"time, {row['size']} px", "met": row["median_s"] < limit,
                           "text": f"median {row['median_s']:.2f} s of {row['runs']} vs limit {limit:.1f} s"})
        limit = MEMORY_TARGET_MB.get(row["size"])
        if limit is not None:
            checks.append({"target": f"memory, {row['size']} px", "met": row["peak_mb"] < limit,
                           "text": f"{row['peak_mb']:.0f} MB above import vs limit {limit:.0f} MB"})
    return checks


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    image_dir = image_folder(args.out)
    rows: list[dict[str, Any]] = []
    for size in args.size:
        out = image_dir / f"{size}-{args.content.stem}-{args.style.stem}.png"
        row: dict[str, Any] = {"size": size, "image": str(out)}
        print(f"[{size} px] stylizing {args.repeats}x ...", flush=True)
        try:
            m = run_measured("bench.universal:stylize_job", {
                "content": str(args.content), "style": str(args.style), "size": size, "repeats": args.repeats,
                "out": str(out), "tile_pixels": args.tile_pixels,
                "float32": args.float32})
        except MeasureError as exc:
            print(f"[{size} px] FAILED: {exc}", file=sys.stderr, flush=True)
            rows.append({**row, "error": str(exc)})
            continue
        runs = m.result.pop("runs_s")
        row.update(m.result, median_s=statistics.median(runs), runs=" ".join(f"{t:.2f}" for t in runs),
                   runs_s=runs, cpu_s=m.cpu_s / len(runs), peak_mb=m.peak_mb, import_mb=m.import_mb,
                   torch_threads=m.torch_threads, load_average=os.getloadavg()[0])
        rows.append(row)
        print(f"[{size} px] median {row['median_s']:.2f} s, peak {m.peak_mb:.0f} MB above import", flush=True)
    if not args.no_score:
        for row in (r for r in rows if "error" not in r):
            print(f"[{row['size']} px] scoring (classic objective) ...", flush=True)
            try:
                m = run_measured("bench.universal:score_job", {
                    "result": row["image"], "content": str(args.content), "style": str(args.style),
                    "size": row["size"]})
            except MeasureError as exc:
                print(f"[{row['size']} px] scoring FAILED: {exc}", file=sys.stderr, flush=True)
                continue
            row.update(m.result, score_s=m.wall_s)
    checks = _check_targets(rows)
    notes = ["Timings are on a shared machine: other processes may inflate them (cpu s / median s well "
             "under the thread count means the job waited for a core; see the load average).",
             "tiles: 1 is one pass per level; more: a statistics pass and a transform pass per level, "
             "each tile by tile.",
             "objective: the classic Gatys objective (bench/evaluate.py) at the result's size, lower is "
             "better; 'photo' scores the photo itself, where an optimisation would start."]
    return report("universal", args, rows, checks, notes, COLUMNS, image_dir)
