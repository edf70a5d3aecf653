"""`python -m bench hires`: results at 1024-2048 px, by every way of getting there, judged as a viewer sees them.

For each pair and engine (quick = universal, instant, gatys = VGG19), the engine paints once at the working
size (512 px, the medium brush) in its own subprocess (bench.measure: time, peak memory above the import
baseline); then each method carries that painting to the output size, measured the same way:

- ``bicubic``: today's result (512 px) resized with bicubic;
- ``srgan``: SRGAN x4, then Lanczos to the output size (what "Upscale x4" did);
- ``x4``: the compact x4 upscaler (`superres.compact`, realesr-general-x4v3), then Lanczos; no photo detail;
- ``new``: the bots' path (`transfer.resolution.Enlarger`): ``x4`` plus the photo's finer detail; for gatys
  its own run: `WORKING_SHARE` of the preset's levels at 512 px, then `REFINE_STEPS` evaluations at the
  output size (up to `REFINE_SIDE`, carried beyond by the enlarger) from the painting carried there;
- ``direct``: the engine asked for the full size at once (gatys only at 1024 px: the reference, the VGG19
  preset's 160 evaluations at full size; the classic tutorial's 300 would take about twice as long).

A method's time is the painting's plus its own. Every result is then judged (bench/viewing.py): detail
against the photo at full size, likeness to the painting at the working size and on 100% crops, and the
periodic (2/4 px) energy against bicubic's. Photos smaller than the output are enlarged with Lanczos first
(amber is 1080x1080): "the photo at full size" is then that enlargement. The 4:3 pair crops chicago.jpg.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench hires                       # everything
    python -m bench hires --sizes 1280 --engines quick instant --pairs amber:udnie        # the time targets
"""
from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from bench.measure import REPO, Stopwatch, image_folder, json_path, measured, report

WORKING = 512  # the medium brush's working size (`--working` for quicker runs, e.g. in tests)
ENGINES = ("quick", "instant", "gatys")
METHODS = ("bicubic", "srgan", "x4", "new", "direct")
INSTANT_STYLES = {"udnie": "udnie", "rain-princess": "rain_princess"}  # paintings we have a network for
DEFAULT_PAIRS = ("amber:candy", "amber:udnie", "amber:rain-princess", "chicago:mosaic")
FOUR_THIRDS = ("chicago",)  # photos cropped to 4:3 (the others to squares)
# targets on 2 cores with bfloat16 (AVX2 only: 3x the times); time of the new path at 1280 px
TIME_TARGETS_S = {"quick": 4.0, "instant": 3.0, "gatys": 180.0}
TARGET_SIDE = 1280
WORKER_PEAK_MB = 1536.0  # a worker's whole resident memory (import baseline included) at 2048 px
ARTEFACT_RATIO = 1.2  # x4 of a painted 512 px result against bicubic's periodic energy
QUALITY_MARGIN = 0.10  # gatys' new path against the reference at 1024 px
COLUMNS = [("engine", "engine", ""), ("pair", "pair", ""), ("size", "size", "d"), ("method", "method", ""),
           ("seconds", "s", ".2f"), ("peak_mb", "peak MB", ".0f"), ("detail", "detail", ".3f"),
           ("likeness_working", "likeness@512", ".0f"), ("likeness_crops", "likeness 100%", ".0f"),
           ("artefact", "artefact", ".3f"), ("artefact_ratio", "/bicubic", ".2f")]


def _photo(path: str, size: int | None) -> Any:
    """The photo cropped to a square (4:3 for FOUR_THIRDS), at `size` long side (Lanczos) if given."""
    from PIL import Image

    with Image.open(path) as img:
        photo = img.convert("RGB")
    width, height = photo.size
    if Path(path).stem in FOUR_THIRDS:
        crop = (min(width, height * 4 // 3), min(height, width * 3 // 4))
    else:
        crop = (min(width, height),) * 2
    left, top = (width - crop[0]) // 2, (height - crop[1]) // 2
    photo = photo.crop((left, top, left + crop[0], top + crop[1]))
    if size is not None:
        scale = size / max(photo.size)
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    return photo


def _paint(engine: str, photo: Any, style_path: str, side: int, working: int | None = None) -> Any:
    """`photo` painted by `engine` with its long side at `side` (the networks loaded outside the timer);
    gatys with `working`: the bots' path, painted at `working`, refined at `side` up to REFINE_SIDE, carried."""
    from PIL import Image

    if engine == "quick":
        from transfer.universal import UniversalStylizer

        stylizer = UniversalStylizer(download=False)
        stylizer.networks()
        return lambda timer: _timed(timer, lambda: stylizer.stylize(photo, Image.open(style_path), max_side=side))
    if engine == "instant":
        from transfer.instant import InstantStylizer

        instant = InstantStylizer(download=False)
        style = INSTANT_STYLES[Path(style_path).stem]
        instant.network(style)
        return lambda timer: _timed(timer, lambda: instant.stylize(photo, style, max_side=side))
    from transfer import StyleTransfer, TransferSettings

    transfer = StyleTransfer.vgg19(download=False)
    if working is None:
        settings = TransferSettings(size=side, upscale=True)
        return lambda timer: _timed(timer, lambda: transfer.run(photo, Image.open(style_path), settings))
    from superres import Upscaler
    from transfer.resolution import REFINE_SIDE, Enlarger

    enlarger = Enlarger(Upscaler())
    settings = TransferSettings(size=min(side, REFINE_SIDE), upscale=True, working=working)
    return lambda timer: _timed(timer, lambda: enlarger.carry(
        transfer.run(photo, Image.open(style_path), settings, carry=enlarger.carry), photo, photo.size))


def _timed(timer: Stopwatch, work: Any) -> Any:
    with timer:
        return work()


def paint_job(timer: Stopwatch, engine: str, content: str, style: str, side: int, photo_side: int | None,
              out: str, working: int | None = None) -> dict[str, Any]:
    """Subprocess job: the engine's painting of the photo at long side `side` (gatys with `working`: the
    bots' path, see `_paint`), saved to `out`."""
    photo = _photo(content, photo_side)
    image = _paint(engine, photo, style, side, working)(timer)
    image.save(out)
    return {"image_size": f"{image.width}x{image.height}"}


def carry_job(timer: Stopwatch, method: str, painting: str, content: str, size: int, out: str) -> dict[str, Any]:
    """Subprocess job: `painting` carried to long side `size` by `method` (bicubic, srgan, x4, new)."""
    from PIL import Image

    from superres import Upscaler
    from superres.compact import CompactModel, compact_x4
    from superres.srgan import srgan_x4
    from transfer.resolution import DETAIL, Enlarger

    with Image.open(painting) as img:
        small = img.convert("RGB")
    photo = _photo(content, size)
    if method == "bicubic":
        enlarger = None
    elif method == "srgan":
        enlarger = Enlarger(Upscaler(srgan_x4(download=False)), detail=0.0)
    else:
        upscaler = Upscaler(compact_x4(CompactModel.GENERAL, download=False))
        enlarger = Enlarger(upscaler, detail=0.0 if method == "x4" else DETAIL)
    with timer:
        if enlarger is None:
            result = small.resize(photo.size, Image.Resampling.BICUBIC)
        else:
            result = enlarger.carry(small, photo, photo.size)
    result.save(out)
    return {"image_size": f"{result.width}x{result.height}"}


def score_job(timer: Stopwatch, result: str, content: str, style: str, bicubic: str | None,
              working: int = WORKING) -> dict[str, Any]:
    """Subprocess job: the viewer's numbers of `result` (bench/viewing.py)."""
    from PIL import Image

    from bench.viewing import Viewer, grid_energy

    viewer = Viewer()
    with Image.open(result) as img, Image.open(style) as painting:
        ours, art = img.convert("RGB"), painting.convert("RGB")
    photo = _photo(content, max(ours.size))
    with timer:
        scores = {"detail": viewer.detail(ours, photo), "likeness_working": viewer.likeness_working(ours, art, working),
                  "likeness_crops": viewer.likeness_crops(ours, art), "artefact": grid_energy(ours)}
    if bicubic is not None:
        with Image.open(bicubic) as img:
            scores["artefact_ratio"] = scores["artefact"] / grid_energy(img)
    return scores


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", REPO.parent / "shared" / "images"))
    parser = argparse.ArgumentParser(prog="python -m bench hires", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, TARGET_SIDE, 2048],
                        help="output long sides (default: 1024 1280 2048)")
    parser.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), metavar="CONTENT:STYLE",
                        help="image stems in <images>/content (or reference) and <images>/style")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--working", type=int, default=WORKING, help="the working size, px (default %(default)s)")
    parser.add_argument("--images", type=Path, default=default_images, help="default: %(default)s")
    parser.add_argument("--out", type=json_path, default=REPO / "bench" / "results" / "hires.json",
                        help="JSON results; images go to the folder of the same name (default: %(default)s)")
    args = parser.parse_args(argv)
    args.pair_paths = []
    for pair in args.pairs:
        content, _, style = pair.partition(":")
        content_path = next((p for p in (args.images / d / f"{content}.jpg" for d in ("content", "reference"))
                             if p.is_file()), None)
        style_path = args.images / "style" / f"{style}.jpg"
        if content_path is None or not style_path.is_file():
            parser.error(f"--pairs {pair}: no {content}.jpg in content/ or reference/, or no style/{style}.jpg")
        args.pair_paths.append((pair, str(content_path), str(style_path)))
    return args


def _run_pair(args: argparse.Namespace, engine: str, pair: str, content: str, style: str,
              image_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    stem = f"{engine}-{pair.replace(':', '-')}"
    small = image_dir / f"{stem}-{args.working}.png"
    painted = measured("bench.hires:paint_job", {"engine": engine, "content": content, "style": style,
                                                 "side": args.working, "photo_side": None, "out": str(small)},
                       f"{stem} paint at {args.working}")
    for size in args.sizes:
        for method in args.methods:
            row: dict[str, Any] = {"engine": engine, "pair": pair, "size": size, "method": method}
            out = image_dir / f"{stem}-{size}-{method}.png"
            if method == "new" and engine == "gatys":  # its own run: painted, refined at the size, carried
                m = measured("bench.hires:paint_job", {"engine": engine, "content": content, "style": style,
                                                       "side": size, "photo_side": size, "out": str(out),
                                                       "working": args.working}, f"{stem} new at {size}")
                if m is None:
                    rows.append({**row, "error": "failed"})
                    continue
                row.update(m.result, seconds=m.wall_s, peak_mb=m.peak_mb, worker_mb=m.peak_mb + m.import_mb)
            elif method == "direct":
                if engine == "gatys" and size != 1024:
                    continue
                m = measured("bench.hires:paint_job", {"engine": engine, "content": content, "style": style,
                                                       "side": size, "photo_side": size, "out": str(out)},
                             f"{stem} direct at {size}")
                if m is None:
                    rows.append({**row, "error": "failed"})
                    continue
                row.update(m.result, seconds=m.wall_s, peak_mb=m.peak_mb, worker_mb=m.peak_mb + m.import_mb)
            else:
                if painted is None:
                    rows.append({**row, "error": "painting failed"})
                    continue
                m = measured("bench.hires:carry_job", {"method": method, "painting": str(small), "content": content,
                                                       "size": size, "out": str(out)}, f"{stem} {method} {size}")
                if m is None:
                    rows.append({**row, "error": "failed"})
                    continue
                row.update(m.result, seconds=painted.wall_s + m.wall_s, carry_s=m.wall_s,
                           peak_mb=max(painted.peak_mb, m.peak_mb),
                           worker_mb=max(painted.peak_mb + painted.import_mb, m.peak_mb + m.import_mb))
            row["image"] = str(out)
            rows.append(row)
    for row in (r for r in rows if "error" not in r):
        bicubic = image_dir / f"{stem}-{row['size']}-bicubic.png"
        scored = measured("bench.hires:score_job", {"result": row["image"], "content": content, "style": style,
                                                     "bicubic": str(bicubic) if bicubic.exists() else None,
                                                     "working": args.working},
                          f"{stem} {row['method']} {row['size']} scoring")
        if scored is not None:
            row.update(scored.result)
    return rows


def _check_targets(rows: list[dict[str, Any]], working: int = WORKING) -> list[dict[str, Any]]:
    ok = [r for r in rows if "error" not in r]
    checks = []
    for engine, limit in TIME_TARGETS_S.items():
        times = [r["seconds"] for r in ok
                 if r["engine"] == engine and r["method"] == "new" and r["size"] == TARGET_SIDE]
        if times:
            mean = statistics.mean(times)
            checks.append({"target": f"{engine} at {TARGET_SIDE} px", "met": mean <= limit,
                           "text": f"mean {mean:.1f} s over {len(times)} pairs vs {limit:.0f} s"})
    peaks = [r["worker_mb"] for r in ok if r["method"] == "new" and r["size"] == 2048]
    if peaks:
        checks.append({"target": "worker memory at 2048 px", "met": max(peaks) <= WORKER_PEAK_MB,
                       "text": f"largest worker peak {max(peaks):.0f} MB (import baseline included) vs "
                               f"{WORKER_PEAK_MB:.0f} MB"})
    ratios = [r["artefact_ratio"] for r in ok if r["method"] == "x4" and r["size"] == 4 * working
              and "artefact_ratio" in r]
    if ratios:
        checks.append({"target": "x4 periodic energy", "met": max(ratios) <= ARTEFACT_RATIO,
                       "text": f"at most {max(ratios):.2f}x bicubic's (mean {statistics.mean(ratios):.2f}x) "
                               f"vs {ARTEFACT_RATIO}x; srgan: " + ", ".join(
                                   f"{r['artefact_ratio']:.2f}x" for r in ok if r["method"] == "srgan"
                                   and r["size"] == 4 * working and "artefact_ratio" in r)})
    for key in ("detail", "likeness_working", "likeness_crops"):
        ours = [r[key] for r in ok
                if r["engine"] == "gatys" and r["method"] == "new" and r["size"] == 1024 and key in r]
        reference = [r[key] for r in ok if r["engine"] == "gatys" and r["method"] == "direct" and key in r]
        if ours and reference:
            a, b = statistics.mean(ours), statistics.mean(reference)
            checks.append({"target": f"gatys {key} at 1024 px", "met": a <= b * (1 + QUALITY_MARGIN),
                           "text": f"new {a:.4g} vs reference {b:.4g} (lower is better; within 10% passes)"})
    return checks


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    image_dir = image_folder(args.out)
    rows: list[dict[str, Any]] = []
    for engine in args.engines:
        for pair, content, style in args.pair_paths:
            if engine == "instant" and Path(style).stem not in INSTANT_STYLES:
                continue
            rows += _run_pair(args, engine, pair, content, style, image_dir)
    notes = [f"s: painting at {args.working} px plus the method's own carrying (direct: the engine at full size "
             "alone).",
             "peak MB: above the import baseline (the larger of the painting's and the carrying's subprocess).",
             "detail, likeness: lower is better (bench/viewing.py); artefact: grey levels RMS of the 4x4 grid.",
             "instant: only paintings with a network of their own (udnie, rain-princess)."]
    return report("hires", args, rows, _check_targets(rows, args.working), notes, COLUMNS, image_dir)
