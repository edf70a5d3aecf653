"""`python -m bench instant`: time and peak memory of one instant (feed-forward) stylization.

Each (style, size) runs in its own subprocess (bench.measure): the network is loaded and warmed up on a
small image untimed, then one `InstantStylizer.stylize` call at that size is timed. Peak memory is the
resident high-water mark above the `import torch` baseline. The photo is the content image resized to
the given long side; sizes above the engine's pixel budget show its tiled path.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench instant                 # wave, 512 and 1024 px
    python -m bench instant --styles wave udnie --size 512 1024 4000
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import (REPO, MeasureError, Stopwatch, describe, format_table, json_path, machine_info,
                           run_measured, write_json)

COLUMNS = [("style", "style", ""), ("image_size", "image", ""), ("megapixels", "MP", ".2f"),
           ("passes", "passes", "d"), ("wall_s", "wall s", ".2f"), ("cpu_s", "cpu s", ".2f"),
           ("s_per_mp", "s/MP", ".2f"), ("peak_mb", "peak MB above import", ".0f")]


def stylize_job(timer: Stopwatch, content: str, style: str, size: int) -> dict[str, Any]:
    """Subprocess job: load and warm the network untimed, then time one stylization at `size`."""
    from PIL import Image

    from transfer.images import fit
    from transfer.instant import InstantStylizer

    stylizer = InstantStylizer(download=False)
    with Image.open(content) as img:
        photo = img.convert("RGB")
    stylizer.stylize(fit(photo, long_side=256), style)  # first-call set-up, not part of a request
    photo = fit(photo, long_side=size, upscale=True)
    passes = [0]

    def progress(report: Any) -> None:
        passes[0] = report.total

    with timer:
        result = stylizer.stylize(photo, style, progress=progress)
    assert result.size == photo.size
    return {"image_size": f"{photo.width}x{photo.height}", "megapixels": photo.width * photo.height / 1e6,
            "passes": passes[0]}


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    parser = argparse.ArgumentParser(prog="python -m bench instant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="+", default=[512, 1024], help="long sides (default: 512 1024)")
    parser.add_argument("--styles", nargs="+", default=["wave"], help="instant style keys (default: wave)")
    parser.add_argument("--content", type=Path, default=default_images / "content" / "amber.jpg",
                        help="the photo (default: <images>/content/amber.jpg, 1080x1080)")
    parser.add_argument("--out", type=json_path, default=REPO / "bench" / "results" / "instant.json",
                        help="JSON results (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.content.is_file():
        print(f"bench instant: no photo at {args.content}", file=sys.stderr)
        return 1
    rows: list[dict[str, Any]] = []
    for size in args.size:
        for style in args.styles:
            row: dict[str, Any] = {"style": style, "size": size}
            print(f"[{size} px] {style} ...", flush=True)
            try:
                m = run_measured("bench.instant:stylize_job", {"content": str(args.content), "style": style,
                                                               "size": size})
            except MeasureError as exc:
                print(f"[{size} px] {style} FAILED: {exc}", file=sys.stderr, flush=True)
                rows.append({**row, "style": f"{style} FAILED", "error": str(exc)})
                continue
            row.update(m.result, wall_s=m.wall_s, cpu_s=m.cpu_s, s_per_mp=m.wall_s / m.result["megapixels"],
                       peak_mb=m.peak_mb, import_mb=m.import_mb, torch_threads=m.torch_threads)
            rows.append(row)
    machine = machine_info()
    notes = ["Timings are on a shared machine: other processes may inflate them (cpu s / wall s well "
             "under the thread count means the job waited for a core).",
             "passes: network passes (1: the whole image at once; more: one downscaled pass for the "
             "InstanceNorm statistics, then full-resolution tiles)."]
    print("\n" + format_table(rows, COLUMNS))
    print("\n".join(["", *notes, f"Machine: {describe(machine)}."]))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": "instant", "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine, "settings": settings, "notes": notes, "results": rows})
    print(f"Results: {path}")
    return 1 if any(r.get("error") for r in rows) else 0
