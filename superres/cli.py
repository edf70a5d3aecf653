"""Command line: ``python -m superres IN -o OUT [--model general|lsdir|srgan] [--tile N]``.

Same conventions as ``python -m transfer``: a progress bar on stderr, a one-line summary at the end,
and for anything the user can fix (bad image, missing weights, unwritable output) one line
``error: <message>`` on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from superres.compact import CompactModel, compact_x4
from superres.srgan import srgan_x4
from superres.upscaler import COMPACT_TILE, MAX_INPUT_PIXELS, MIN_TILE, Upscaler, tile_grid
from transfer.console import OneLineParser, add_compute_options, check_output, load_input, run_command, save_image
from transfer.device import compute_device
from transfer.precision import precision_setting

MODELS = {"general": "realesr-general-x4v3 (Real-ESRGAN, compact; no crackle on paintings)",
          "lsdir": "4xLSDIRCompactC3 (compact, fastest, keeps more texture)",
          "srgan": "SRGAN (trained on clean photos: a 4 px crackle over brush strokes)"}


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m superres",
                                     description="Upscale an image x4 (tiled, bounded memory).")
    parser.add_argument("input", type=Path, help="image to upscale (JPEG, PNG, WebP, BMP, TIFF or GIF)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="where to write the result; the format follows the extension")
    parser.add_argument("--model", choices=sorted(MODELS), default="general",
                        help="; ".join(f"{name}: {what}" for name, what in MODELS.items()) + " (default general)")
    parser.add_argument("--tile", type=_at_least(MIN_TILE), default=None,
                        help=f"input pixels per tile side; bigger uses more memory (default {COMPACT_TILE} on "
                             "the CPU for the compact models, 192 for SRGAN, as large as fits on a GPU)")
    parser.add_argument("--margin", type=_at_least(0), default=None,
                        help="context pixels around each tile; below the model's receptive radius (the default: "
                             "34 general, 18 lsdir and srgan) seams may show")
    add_compute_options(parser)
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 2 bad input or setup, 130 interrupted)."""
    args = _parser().parse_args(argv)

    def work() -> tuple[Image.Image, Path, str]:
        check_output(args.output)
        precision = precision_setting(args.precision)
        image = load_input(args.input, args.max_pixels)
        device = compute_device(args.device)
        network = srgan_x4(device=device, precision=precision) if args.model == "srgan" else \
            compact_x4(CompactModel[args.model.upper()], device=device, precision=precision)
        upscaler = Upscaler(network, tile=args.tile, margin=args.margin, max_input_pixels=args.max_pixels)
        tiles = len(tile_grid(image.width, image.height, upscaler.tile))
        with tqdm(total=tiles, unit="tile", desc=f"x4 {args.model}", dynamic_ncols=True) as bar:
            result = upscaler.upscale(image, progress=lambda p: bar.update(p.step - bar.n))
        save_image(result, args.output)
        return result, args.output, ""

    return run_command(work)
