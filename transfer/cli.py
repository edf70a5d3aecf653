"""`python -m transfer`: stylize a photo from the command line, with a progress bar.

Bad input ends with one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from transfer.images import ImageError, load_image
from transfer.progress import Progress
from transfer.style_transfer import StyleTransfer, TransferSettings
from weights import WeightsError

BACKBONES = {"vgg": StyleTransfer.vgg19, "resnet": StyleTransfer.resnet50}
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m transfer",
        description="Repaint CONTENT in the style of one or more STYLE images (Gatys et al.).")
    parser.add_argument("content", type=Path, help="the photo to repaint")
    parser.add_argument("styles", type=Path, nargs="+", metavar="STYLE", help="style image(s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the result")
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="vgg")
    parser.add_argument("--size", type=int, default=512, help="long side of the result in px (default 512)")
    parser.add_argument("--steps", type=int, help="optimisation steps in all (default: the backbone's preset)")
    parser.add_argument("--style-weight", type=float, default=1.0,
                        help="style strength relative to the preset (default 1.0; 0.5 keeps more of the photo)")
    parser.add_argument("--blend", type=float, nargs="+", metavar="W",
                        help="relative weight of each style image (default: equal)")
    parser.add_argument("--keep-colors", action="store_true", help="keep the photo's colours")
    parser.add_argument("--optimizer", choices=["lbfgs", "adam"], help="default: the backbone's preset")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _check_output(path: Path) -> None:
    extension = path.suffix.lower()
    if extension not in Image.registered_extensions() or Image.registered_extensions()[extension] not in (
            "PNG", "JPEG", "WEBP", "BMP", "TIFF"):
        raise ValueError(f"cannot write {path}: use a .png, .jpg, .webp, .bmp or .tif file name")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {path.parent} does not exist")


def _load(path: Path) -> Image.Image:
    try:
        return load_image(path)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def _save(image: Image.Image, path: Path) -> None:
    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    image.save(path, **options)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_output(args.output)
        if args.blend is not None and len(args.blend) != len(args.styles):
            raise ValueError(f"--blend needs one weight per style image ({len(args.styles)}), got {len(args.blend)}")
        settings = TransferSettings(size=args.size, steps=args.steps, style_strength=args.style_weight,
                                    style_blend=args.blend, keep_colors=args.keep_colors,
                                    optimizer=args.optimizer, seed=args.seed)
        content = _load(args.content)
        styles = [_load(path) for path in args.styles]
        engine = BACKBONES[args.backbone]()
        started = time.perf_counter()
        losses: list[float] = []
        with tqdm(total=settings.steps or engine.default_steps(), unit="step", desc=engine.name,
                  dynamic_ncols=True) as bar:
            def report(progress: Progress) -> None:
                bar.total = progress.total
                bar.update(progress.step - bar.n)
                if progress.loss is not None:
                    losses.append(progress.loss)
                    bar.set_postfix(loss=f"{progress.loss:.4g}", refresh=False)

            result = engine.run(content, styles, settings, progress=report)
        _save(result, args.output)
    except (ImageError, WeightsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - started
    final = f", final loss {losses[-1]:.4g}" if losses else ""
    print(f"saved {args.output} ({result.width}x{result.height}) in {elapsed:.1f} s{final}")
    return 0
