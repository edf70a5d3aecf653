"""Command line: ``python -m superres IN -o OUT [--tile N]``.

Same conventions as ``python -m transfer``: a progress bar on stderr, a one-line summary at the end,
and for anything the user can fix (bad image, missing weights, unwritable output) one line
``error: <message>`` on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from superres.srgan import RECEPTIVE_RADIUS
from superres.upscaler import DEFAULT_TILE, MAX_INPUT_PIXELS, MIN_TILE, Upscaler, tile_grid
from transfer.images import ImageError, load_image
from weights import WeightsError

EXIT_BAD_INPUT = 2
WRITABLE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
LOSSY = (".jpg", ".jpeg", ".webp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m superres",
                                     description="Upscale an image x4 with SRGAN (tiled, bounded memory).")
    parser.add_argument("input", type=Path, help="image to upscale (JPEG, PNG, WebP, BMP, TIFF or GIF)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="where to write the result; the format follows the extension")
    parser.add_argument("--tile", type=_at_least(MIN_TILE), default=DEFAULT_TILE,
                        help=f"input pixels per tile side; bigger uses more memory (default {DEFAULT_TILE})")
    parser.add_argument("--margin", type=_at_least(0), default=RECEPTIVE_RADIUS,
                        help=f"context pixels around each tile; below {RECEPTIVE_RADIUS} seams may show "
                             f"(default {RECEPTIVE_RADIUS})")
    parser.add_argument("--max-pixels", type=_at_least(1), default=MAX_INPUT_PIXELS,
                        help=f"refuse inputs with more pixels than this (default {MAX_INPUT_PIXELS})")
    return parser


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than `minimum`."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return convert


def _check_output(path: Path) -> None:
    """Refuse an output we could not write, before any work is done (as the transfer command line)."""
    if Image.registered_extensions().get(path.suffix.lower()) not in WRITABLE_FORMATS:
        raise ValueError(f"cannot write {path}: use a .png, .jpg, .webp, .bmp or .tif file name")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")


def _load(path: Path, max_pixels: int) -> Image.Image:
    try:
        return load_image(path, max_pixels)
    except ImageError as exc:
        raise ImageError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 2 bad input or setup, 130 interrupted)."""
    args = _parser().parse_args(argv)
    try:
        _check_output(args.output)
        image = _load(args.input, args.max_pixels)
        upscaler = Upscaler(tile=args.tile, margin=args.margin, max_input_pixels=args.max_pixels)
        started = time.perf_counter()
        tiles = len(tile_grid(image.width, image.height, args.tile))
        with tqdm(total=tiles, unit="tile", desc="SRGAN x4", dynamic_ncols=True) as bar:
            result = upscaler.upscale(image, progress=lambda p: bar.update(p.step - bar.n))
        # JPEG and WebP at high quality: the point of upscaling is detail.
        result.save(args.output, **({"quality": 95} if args.output.suffix.lower() in LOSSY else {}))
    except (ImageError, WeightsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - started
    print(f"saved {args.output} ({result.width}x{result.height}) in {elapsed:.1f} s")
    return 0
