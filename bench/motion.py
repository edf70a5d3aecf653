"""`python -m bench motion`: painted clips, each frame on its own against steady (`transfer.motion`).

The clip is `bench.clip`'s: a pan and zoom over one photo, a cut, a disk crossing another (5 s, 24 fps,
480x360 by default). Each engine (an instant style, and the quick engine with any painting) paints it
twice in its own subprocess (`bench.measure`: the networks loaded untimed; decoding, painting, steadying
and encoding timed; peak memory above the import baseline): every frame alone, then steady. A clip twice
as long, steady, shows whether memory grows with the length. Then, for each result:

- warping error (Lai et al. 2018): consecutive frames compared after warping by the *input's* flow (DIS at
  its finest preset, finer than the one `Steadier` uses), on the pixels that flow finds reliable;
- style loss: the Gram term of the classic objective (bench/evaluate.py) of every sixth frame against the
  painting, at 480 px, mean.

Both are taken of the frames as painted (saved losslessly, untimed: the targets) and of the MP4 as
delivered: H.264 smooths what changes from frame to frame, a flickering clip's texture most, which lowers
its style loss (by 3.5x for udnie painted frame by frame) and its warping error, so the MP4's figures mix
the encoder's doing with the method's.

    STYLEBOT_WEIGHTS_DIR=../shared/weights python -m bench motion
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from bench.measure import Stopwatch, image_folder, json_path, measured, report

INSTANT = ("udnie", "udnie.jpg")  # an instant style whose painting we have, for its style loss
QUICK = "candy.jpg"
WARP_RATIO = 1 / 3  # steady's warping error at most this share of per-frame painting's
STYLE_RATIO = 1.10  # steady's style loss at most this multiple of per-frame painting's
REALTIME = {"instant": 2.0, "quick": 10.0}  # the whole clip in at most this multiple of its duration
MEMORY_MB = 1024.0  # a worker's peak above the import baseline
COLUMNS = [("engine", "engine", ""), ("method", "method", ""), ("seconds", "clip s", ".0f"),
           ("frames", "frames", "d"), ("wall_s", "paint s", ".1f"), ("realtime", "x duration", ".2f"),
           ("ms_per_frame", "ms/frame", ".0f"), ("peak_mb", "peak MB", ".0f"), ("warp", "warping error", ".5f"),
           ("style", "style loss", ".1f"), ("warp_mp4", "warping (MP4)", ".5f"), ("style_mp4", "style (MP4)", ".1f")]


def paint_job(timer: Stopwatch, engine: str, clip: str, style: str, out: str, steady: bool,
              side: int, frames_dir: str | None = None) -> dict[str, Any]:
    """Subprocess job: load the engine untimed, then decode, paint, steady (or not) and encode, timed;
    `frames_dir`: every frame as shown also saved there as a PNG, untimed (the encoder's losses left out)."""
    import numpy as np
    from PIL import Image

    from transfer.clips import ClipLimits, probe
    from transfer.instant import InstantStylizer
    from transfer.motion import Steadier
    from transfer.universal import UniversalStylizer
    from transfer.video import instant_painter, paint_clip, universal_painter

    found = probe(Path(clip), ClipLimits(seconds=600, frames=100_000, side=side))
    if engine == "instant":
        stylizer = InstantStylizer(download=False)
        stylizer.stylize(_tiny(), style)  # loaded, and its first-call set-up done
        make = lambda: instant_painter(stylizer, style)  # noqa: E731
    else:
        universal = UniversalStylizer(download=False)
        universal.stylize(_tiny(), style)
        make = lambda: universal_painter(universal, style)  # noqa: E731  (encodes the painting: timed)
    steadier = Steadier() if steady else None
    saved: list[int] = []

    def shown(frame: np.ndarray, painted: np.ndarray) -> np.ndarray:
        picture = steadier(frame, painted) if steadier is not None else painted
        if frames_dir is not None:
            with timer.paused():
                Image.fromarray(picture).save(Path(frames_dir) / f"{len(saved):04d}.png", compress_level=1)
                saved.append(1)
        return picture

    with timer:
        frames = paint_clip(found, make(), Path(out), shown)
    return {"frames": frames, "seconds": found.seconds, "size": list(found.size)}


def _tiny() -> Any:
    from PIL import Image

    return Image.new("RGB", (64, 48), (120, 90, 60))


def score_job(timer: Stopwatch, painted: str, source: str, style: str, side: int,
              frames_dir: str) -> dict[str, float]:
    """Warping error (by the input's flow) and mean style loss of a painted clip: of its frames as painted
    (`frames_dir`'s PNGs) and as delivered (the MP4 `painted`)."""
    import cv2
    import numpy as np
    from PIL import Image

    from bench.evaluate import Evaluator
    from transfer.clips import ClipLimits, probe, read_frames
    from transfer.motion import FlowField, grey, warping_error

    limits = ClipLimits(seconds=600, frames=100_000, side=side)
    frames = list(read_frames(probe(Path(source), limits)))
    delivered = list(read_frames(probe(Path(painted), limits)))
    shown = [np.asarray(Image.open(path)) for path in sorted(Path(frames_dir).glob("*.png"))]
    assert len(frames) == len(delivered) == len(shown), (len(frames), len(delivered), len(shown))
    flow = FlowField(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    greys = [grey(f) for f in frames]
    flows = {t: flow.backward(greys[t], greys[t - 1]) for t in range(1, len(frames))}
    evaluator = Evaluator()
    painting = Image.open(style).convert("RGB")
    judges = {t: evaluator.judge(Image.fromarray(frames[t]), painting, side, ("bicubic",))
              for t in range(0, len(frames), 6)}

    def style_loss(result: list[np.ndarray]) -> float:
        return float(np.mean([judge(Image.fromarray(result[t]))[0].style for t, judge in judges.items()]))

    return {"warp": warping_error(shown, flows.__getitem__), "style": style_loss(shown),
            "warp_mp4": warping_error(delivered, flows.__getitem__), "style_mp4": style_loss(delivered)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    default_images = Path(os.environ.get("STYLEBOT_IMAGES_DIR", "../shared/images"))
    parser = argparse.ArgumentParser(prog="python -m bench motion", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=default_images, help="default: %(default)s")
    parser.add_argument("--scenes", nargs=2, default=["amber.jpg", "chelsea.jpg"], metavar="PHOTO",
                        help="the two scenes' photos, in IMAGES/content (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--side", type=int, default=480, help="the frames' long side, px (default %(default)s)")
    parser.add_argument("--engines", nargs="+", choices=("instant", "quick"), default=["instant", "quick"])
    parser.add_argument("--out", type=json_path, default=Path("bench/results/motion.json"))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    from PIL import Image

    from bench.clip import make_clip

    args = parse_args(argv)
    folder = image_folder(args.out)
    first, second = (Image.open(args.images / "content" / name) for name in args.scenes)
    size = (args.side, args.side * 3 // 4)
    clips = {args.seconds: make_clip(folder / "clip.mp4", first, second, size, args.seconds, args.fps),
             2 * args.seconds: make_clip(folder / "clip-long.mp4", first, second, size, 2 * args.seconds, args.fps)}
    rows: list[dict[str, Any]] = []
    for engine in args.engines:
        style = INSTANT[0] if engine == "instant" else str(args.images / "style" / QUICK)
        painting = str(args.images / "style" / (INSTANT[1] if engine == "instant" else QUICK))
        runs = [("per-frame", args.seconds, False), ("steady", args.seconds, True)]
        runs += [("steady", 2 * args.seconds, True)] if engine == "instant" else []
        for method, seconds, steady in runs:
            out = folder / f"{engine}-{method}-{seconds:g}s.mp4"
            row: dict[str, Any] = {"engine": engine, "method": method, "seconds": seconds, "video": str(out)}
            shown = folder / f"{engine}-{method}-frames" if seconds == args.seconds else None
            if shown is not None:
                shutil.rmtree(shown, ignore_errors=True)
                shown.mkdir()
            m = measured("bench.motion:paint_job", {"engine": engine, "clip": str(clips[seconds]), "style": style,
                                                    "out": str(out), "steady": steady, "side": args.side,
                                                    "frames_dir": str(shown) if shown else None},
                         f"{engine} {method} {seconds:g} s")
            if m is None:
                rows.append({**row, "error": "failed"})
                continue
            row.update(m.result, wall_s=m.wall_s, realtime=m.wall_s / seconds, peak_mb=m.peak_mb,
                       ms_per_frame=1000 * m.wall_s / m.result["frames"])
            if shown is not None:
                scored = measured("bench.motion:score_job", {"painted": str(out), "source": str(clips[seconds]),
                                                             "style": painting, "side": args.side,
                                                             "frames_dir": str(shown)},
                                  f"{engine} {method} scoring")
                row.update(scored.result if scored else {"error": "scoring failed"})
                shutil.rmtree(shown, ignore_errors=True)
            rows.append(row)
    return report("motion", args, rows, _checks(rows, args.seconds), [
        "paint s: decoding, painting, steadying and encoding the whole clip (networks loaded before).",
        "warping error: mean squared RGB difference in [0, 1] after warping by the input's flow; lower is steadier.",
        "warping error, style loss: of the frames as painted (the targets); (MP4): as delivered, after H.264.",
        "style loss: the Gram term of the classic objective against the painting (udnie for the instant style, "
        "candy for the quick engine); lower is closer."], COLUMNS, folder)


def _checks(rows: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    checks = []
    ok = [r for r in rows if "error" not in r]
    for engine in ("instant", "quick"):
        alone = next((r for r in ok if r["engine"] == engine and r["method"] == "per-frame"), None)
        steady = next((r for r in ok if r["engine"] == engine and r["method"] == "steady"
                       and r["seconds"] == seconds), None)
        if alone and steady:
            warp, style = steady["warp"] / alone["warp"], steady["style"] / alone["style"]
            checks.append({"target": f"{engine}: warping error", "met": warp <= WARP_RATIO,
                           "text": f"steady {warp:.2f}x per-frame's (target <= {WARP_RATIO:.2f}x)"})
            checks.append({"target": f"{engine}: style loss", "met": style <= STYLE_RATIO,
                           "text": f"steady {style:.2f}x per-frame's (target <= {STYLE_RATIO:.2f}x)"})
        if steady:
            checks.append({"target": f"{engine}: time", "met": steady["realtime"] <= REALTIME[engine],
                           "text": f"{steady['wall_s']:.1f} s for a {seconds:g} s clip, {steady['realtime']:.2f}x "
                                   f"its duration (target <= {REALTIME[engine]:g}x)"})
    peaks = [r["peak_mb"] for r in ok]
    if peaks:
        checks.append({"target": "memory", "met": max(peaks) <= MEMORY_MB,
                       "text": f"largest peak {max(peaks):.0f} MB above the import baseline (target <= "
                               f"{MEMORY_MB:.0f} MB)"})
    short = next((r for r in ok if r["engine"] == "instant" and r["method"] == "steady" and r["seconds"] == seconds),
                 None)
    long = next((r for r in ok if r["engine"] == "instant" and r["seconds"] == 2 * seconds), None)
    if short and long:
        checks.append({"target": "memory against length", "met": long["peak_mb"] <= short["peak_mb"] * 1.1 + 10,
                       "text": f"{long['peak_mb']:.0f} MB for {2 * seconds:g} s against {short['peak_mb']:.0f} MB "
                               f"for {seconds:g} s"})
    return checks
