"""Make the README's clip (docs/pictures/clip.gif) with the real engines, from pictures shipped in the repo only.

The clip is bench/clip.py's test clip made from docs/astronaut.jpg (Eileen Collins, NASA, public domain) and
bots/styles/waves.jpg (original to this repo): a pan and zoom, a cut, a disk crossing the second scene. It is
painted in the instant style Wave, frame by frame and steady (`transfer.video`, as the bots paint clips),
and shown side by side with the input as a looping GIF, small enough for the README (well under 2 MB).
Regenerate with

    STYLEBOT_WEIGHTS_DIR=../shared/weights .venv/bin/python docs/make_clip.py   # about half a minute on a CPU
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.clip import make_clip  # noqa: E402
from transfer.clips import ClipLimits, probe, read_frames  # noqa: E402
from transfer.instant import InstantStylizer  # noqa: E402
from transfer.motion import Steadier  # noqa: E402
from transfer.video import instant_painter, paint_clip  # noqa: E402

SIZE = (224, 168)  # each half of the side-by-side frame
SECONDS, FPS = 3.0, 10


def make(out: Path, style: str = "wave") -> Path:
    """Write the side-by-side GIF (input | painted) to `out` and return it."""
    with tempfile.TemporaryDirectory() as folder:
        source = make_clip(Path(folder) / "clip.mp4", Image.open(REPO / "docs" / "astronaut.jpg"),
                           Image.open(REPO / "bots" / "styles" / "waves.jpg"), SIZE, SECONDS, FPS)
        clip = probe(source, ClipLimits(side=max(SIZE)))
        painted = Path(folder) / "painted.mp4"
        paint_clip(clip, instant_painter(InstantStylizer(), style), painted, Steadier())
        frames = []
        for before, after in zip(read_frames(clip), read_frames(probe(painted, ClipLimits(side=max(SIZE))))):
            pair = Image.new("RGB", (2 * SIZE[0], SIZE[1]))
            pair.paste(Image.fromarray(before), (0, 0))
            pair.paste(Image.fromarray(after), (SIZE[0], 0))
            frames.append(pair.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=round(1000 / FPS), loop=0,
                   optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "pictures" / "clip.gif")
    parser.add_argument("--style", default="wave", help="an instant style (default %(default)s)")
    args = parser.parse_args(argv)
    out = make(args.out, args.style)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
