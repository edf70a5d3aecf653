"""Conventions shared by every command line (`python -m transfer`, `python -m superres`).

Anything the user can fix (a bad image or argument, missing weights, an unwritable output) ends with one
line ``error: <message>`` on stderr and exit code 2, never a traceback; Ctrl-C ends with ``cancelled``.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, Protocol

from PIL import Image

from transfer.device import DEVICE_SETTING
from transfer.images import MAX_INPUT_PIXELS, ImageError, load_image
from transfer.precision import PRECISION_SETTING, PrecisionError, check_precision_name
from weights import WeightsError

__all__ = ["EXIT_BAD_INPUT", "OneLineParser", "add_compute_options", "check_output", "load_input", "save_image",
           "run_command"]

EXIT_BAD_INPUT = 2
WRITABLE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
LOSSY = (".jpg", ".jpeg", ".webp")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with a pointer to --help), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def add_compute_options(parser: argparse.ArgumentParser) -> None:
    """--device and --precision, which every command line offers, as the settings of the same names do."""
    parser.add_argument("--device", default=None,
                        help=f"auto, cpu, cuda or cuda:N (default: {DEVICE_SETTING}, else auto: a CUDA GPU "
                             "when there is one)")
    parser.add_argument("--precision", type=_precision, default=None,
                        help=f"auto, float32 or bfloat16: what the networks compute in (default: "
                             f"{PRECISION_SETTING}, else auto: bfloat16 where the device has it natively)")


def _precision(text: str) -> str:
    try:
        return check_precision_name(text)
    except PrecisionError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(f"{PRECISION_SETTING} must", "must")) from None


def check_output(path: Path) -> None:
    """Refuse an output we could not write, before any work is done."""
    if Image.registered_extensions().get(path.suffix.lower()) not in WRITABLE_FORMATS:
        raise ValueError(f"cannot write {path}: use a .png, .jpg, .webp, .bmp or .tif file name")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")


def load_input(path: Path, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """`load_image`, with the file name in the error message."""
    try:
        return load_image(path, max_pixels)
    except ImageError as exc:
        raise ImageError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None


def save_image(image: Image.Image, path: Path) -> None:
    """Save in the format of the extension; JPEG and WebP at high quality, since detail is the point."""
    image.save(path, **({"quality": 95} if path.suffix.lower() in LOSSY else {}))


class Result(Protocol):
    """What a command made: a picture, or a clip (`transfer.clips.Clip`)."""

    width: int
    height: int


def run_command(work: Callable[[], tuple[Result, Path, str]]) -> int:
    """Run `work` (returns the result, where it was saved, and extra summary text) with the conventions."""
    started = time.perf_counter()
    try:
        result, path, extra = work()
    except (ImageError, WeightsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    print(f"saved {path} ({result.width}x{result.height}) in {time.perf_counter() - started:.1f} s{extra}")
    return 0
