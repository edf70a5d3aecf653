"""`python -m transfer`: stylize a photo from the command line, with a progress bar.

Errors follow `transfer.console`: one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from transfer.clips import Clip, ClipLimits, probe
from transfer.console import (OneLineParser, Result, add_compute_options, check_output, load_input, run_command,
                              save_image)
from transfer.device import compute_device
from transfer.instant import InstantStyle, InstantStylizer
from transfer.motion import Steadier
from transfer.precision import precision_setting
from transfer.progress import Progress
from transfer.resolution import BRUSHES, Enlarger, output_size, working_size
from transfer.strips import STRIP_PIXELS
from transfer.style_transfer import StyleTransfer, TransferSettings
from transfer.universal import UniversalStylizer
from transfer.video import instant_painter, paint_clip, universal_painter

BACKBONES = {"vgg": StyleTransfer.vgg19, "resnet": StyleTransfer.resnet50}
PHOTO_SIDE_LIMIT = 2560  # --size photo: what Telegram keeps of a photo, and about 6.5 MP
CLIP_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".gif", ".avi")
CLIP_SIDE = 480  # px, a clip's frames' long side by default: as the bots paint them
CLIP_SECONDS = 60.0
CLIP_FRAMES = 1_000_000  # the CLI keeps every frame of a clip it accepts


def _size(text: str) -> int:
    """argparse type of --size: px, or "photo" (0: the photo's own long side, up to PHOTO_SIDE_LIMIT)."""
    if text == "photo":
        return 0
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of px nor 'photo'") from None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m transfer",
        description="Repaint CONTENT in the style of one or more STYLE images (Gatys et al.; in seconds with "
                    "--quick), or instantly in a built-in style (--instant).")
    parser.add_argument("content", type=Path, nargs="?",
                        help="the photo to repaint, or a clip (.mp4, .webm, .gif, .mov: --instant or --quick, "
                             "written as an .mp4)")
    parser.add_argument("styles", type=Path, nargs="*", metavar="STYLE", help="style image(s)")
    parser.add_argument("-o", "--output", type=Path, help="where to write the result")
    parser.add_argument("--instant", metavar="NAME",
                        help="a built-in style network instead of STYLE images (seconds, not minutes)")
    parser.add_argument("--list-styles", action="store_true", help="list the built-in styles and exit")
    parser.add_argument("--quick", action="store_true",
                        help="any STYLE image(s) in one pass (universal style transfer, Li et al. 2017): "
                             "seconds, no optimisation")
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="vgg")
    parser.add_argument("--size", type=_size, default=None,
                        help="long side of the result in px, or 'photo' for the photo's own (up to "
                             f"{PHOTO_SIDE_LIMIT}); default 512, and {CLIP_SIDE} for a clip's frames")
    parser.add_argument("--max-seconds", type=float, default=CLIP_SECONDS,
                        help="the longest clip painted, in seconds (default %(default)s)")
    parser.add_argument("--brush", choices=BRUSHES,
                        help="paint at this brush's working size (bold: larger strokes) and carry the painting to "
                             "--size with the x4 network and the photo's detail (python -m bench hires); default: "
                             "paint at --size itself")
    parser.add_argument("--steps", type=int, help="optimisation steps in all (default: the backbone's preset)")
    parser.add_argument("--fast", action="store_true", help="a quick, less refined result (seconds at 512 px)")
    parser.add_argument("--style-weight", type=float, default=1.0,
                        help="style strength relative to the preset (default 1.0; 0.5 keeps more of the photo); "
                             "with --instant, 0 to 1: how much of the styled image is blended over the photo; "
                             "with --quick, clamped to [0, 1]: how far the photo's features move to the style's")
    parser.add_argument("--blend", type=float, nargs="+", metavar="W",
                        help="relative weight of each style image (default: equal)")
    parser.add_argument("--keep-colors", action="store_true", help="keep the photo's colours")
    parser.add_argument("--optimizer", choices=["lbfgs", "adam"], help="default: the backbone's preset")
    parser.add_argument("--strip-pixels", type=int, default=None, metavar="N",
                        help=f"pixels computed at once (default {STRIP_PIXELS} on the CPU, as many as fit on a "
                             "GPU); smaller: less memory, slower")
    add_compute_options(parser)
    return parser


def _check_arguments(args: argparse.Namespace) -> InstantStyle | None:
    """Refuse bad arguments before any work; the instant style asked for, if any."""
    if args.content is None or args.output is None:
        raise ValueError("give a CONTENT photo and -o OUTPUT (or --list-styles)")
    if args.instant is not None and args.styles:
        raise ValueError("give either STYLE images or --instant NAME, not both")
    if args.instant is not None and args.quick:
        raise ValueError("--quick uses STYLE images: give either --quick or --instant NAME, not both")
    if args.quick and not math.isfinite(args.style_weight):
        raise ValueError("--style-weight must be a number")
    if args.quick and args.blend is not None and (min(args.blend) < 0 or sum(args.blend) <= 0):
        raise ValueError("--blend weights must be non-negative, not all 0")
    instant = InstantStyle.parse(args.instant) if args.instant is not None else None
    if instant is not None:
        if not 0 <= args.style_weight <= 1:
            raise ValueError("with --instant, --style-weight goes from 0 (the photo) to 1 (fully styled)")
    if args.instant is None and not args.styles:
        raise ValueError("give one or more STYLE images, or --instant NAME (see --list-styles)")
    if args.blend is not None and len(args.blend) != len(args.styles):
        raise ValueError(f"--blend needs one weight per style image ({len(args.styles)}), got {len(args.blend)}")
    if args.strip_pixels is not None and args.strip_pixels < 1:
        raise ValueError("--strip-pixels must be at least 1")
    if _is_clip(args):
        if instant is None and not args.quick:
            raise ValueError("a clip is painted with --instant NAME or --quick (the full painting takes minutes "
                             "a frame)")
        if args.output.suffix.lower() != ".mp4":
            raise ValueError(f"cannot write {args.output}: a painted clip is an .mp4 file")
        if not args.output.parent.is_dir():
            raise ValueError(f"cannot write {args.output}: folder {args.output.parent} does not exist")
        if not args.max_seconds > 0:
            raise ValueError("--max-seconds must be above 0")
    else:
        check_output(args.output)
    args.device = compute_device(args.device)
    args.precision = precision_setting(args.precision)
    return instant


def _is_clip(args: argparse.Namespace) -> bool:
    return args.content.suffix.lower() in CLIP_SUFFIXES or args.output.suffix.lower() == ".mp4"


def _paint_clip(args: argparse.Namespace, instant: InstantStyle | None) -> tuple[Clip, Path, str]:
    """A clip painted frame by frame, steady over time (`transfer.video`), into the .mp4 `args.output`."""
    side = CLIP_SIDE if args.size is None else args.size or PHOTO_SIDE_LIMIT
    clip = probe(args.content, ClipLimits(seconds=args.max_seconds, frames=CLIP_FRAMES, side=side))
    if instant is not None:
        paint = instant_painter(InstantStylizer(device=args.device, precision=args.precision), instant.key,
                                strength=args.style_weight, keep_colors=args.keep_colors)
    else:
        paint = universal_painter(UniversalStylizer(device=args.device, precision=args.precision),
                                  [load_input(path) for path in args.styles], weights=args.blend,
                                  strength=min(1.0, max(0.0, args.style_weight)), keep_colors=args.keep_colors)
    with tqdm(total=clip.frames, unit="frame", desc=instant.title if instant else "Universal (WCT)",
              dynamic_ncols=True) as bar:
        frames = paint_clip(clip, paint, args.output, Steadier(), progress=lambda p: bar.update(p.step - bar.n))
    return clip, args.output, f", {frames} frames at {float(clip.rate):g} fps"


def _stylize_instantly(args: argparse.Namespace, style: InstantStyle, content: Image.Image) -> Image.Image:
    with tqdm(total=1, unit="pass", desc=style.title, dynamic_ncols=True) as bar:
        def report(progress: Progress) -> None:
            bar.total = progress.total
            bar.update(progress.step - bar.n)

        stylizer = InstantStylizer(device=args.device, precision=args.precision)
        return stylizer.stylize(content, style, strength=args.style_weight, keep_colors=args.keep_colors,
                                max_side=args.size, progress=report)


def _stylize_quickly(args: argparse.Namespace, content: Image.Image) -> Image.Image:
    """Universal style transfer; --style-weight is clamped to the engine's [0, 1], as --help says."""
    styles = [load_input(path) for path in args.styles]
    engine = UniversalStylizer(device=args.device, precision=args.precision)
    engine.networks()  # a missing weights file is reported before the progress bar appears
    with tqdm(total=1, unit="step", desc="Universal (WCT)", dynamic_ncols=True) as bar:
        def report(progress: Progress) -> None:
            bar.total = progress.total
            bar.update(progress.step - bar.n)

        return engine.stylize(content, styles, strength=min(1.0, max(0.0, args.style_weight)),
                              keep_colors=args.keep_colors, max_side=args.size, progress=report, weights=args.blend)


def _transfer(args: argparse.Namespace, content: Image.Image, losses: list[float]) -> Image.Image:
    settings = TransferSettings(size=args.size, steps=args.steps, style_strength=args.style_weight,
                                style_blend=args.blend, keep_colors=args.keep_colors,
                                optimizer=args.optimizer, fast=args.fast)
    styles = [load_input(path) for path in args.styles]
    engine = BACKBONES[args.backbone](strip_pixels=args.strip_pixels, device=args.device, precision=args.precision)
    with tqdm(total=settings.steps or engine.default_steps(args.fast), unit="step", desc=engine.name,
              dynamic_ncols=True) as bar:
        def report(progress: Progress) -> None:
            bar.total = progress.total
            bar.update(progress.step - bar.n)
            if progress.loss is not None:
                losses.append(progress.loss)
                bar.set_postfix(loss=f"{progress.loss:.4g}", refresh=False)

        return engine.run(content, styles, settings, progress=report)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_styles:
        for style in InstantStyle:
            print(f"{style.key:14} {style.title}")
        return 0

    def work() -> tuple[Result, Path, str]:
        instant = _check_arguments(args)
        if _is_clip(args):
            return _paint_clip(args, instant)
        if args.size is None:
            args.size = 512
        content = load_input(args.content)
        size = output_size(content.size, args.size or PHOTO_SIDE_LIMIT)
        if args.brush or not args.size:
            args.size = max(working_size(size, args.brush or "medium"))
        losses: list[float] = []
        if instant:
            result = _stylize_instantly(args, instant, content)
        elif args.quick:
            result = _stylize_quickly(args, content)
        else:
            result = _transfer(args, content, losses)
        if max(size) > max(result.size):
            from superres import Upscaler  # here: only this path loads the x4 network
            from superres.compact import compact_x4

            upscaler = Upscaler(compact_x4(device=args.device, precision=args.precision))
            result = Enlarger(upscaler).carry(result, content, size)
        save_image(result, args.output)
        return result, args.output, f", final loss {losses[-1]:.4g}" if losses else ""

    return run_command(work)
