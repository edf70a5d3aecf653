"""`python run_demo.py`: see every engine at work on the example photo, no Telegram needed.

Without ``BOT_TOKEN`` (environment or `.env`) it paints `docs/astronaut.jpg` into `out/demo/`: the quick
universal result, an instant style, that instant result upscaled x4 (realesr-general-x4v3), and a full VGG19 Gatys
painting. With ``BOT_TOKEN`` set it starts the full bot, exactly as `run_full.py` does.

Errors follow `transfer.console`: one line ``error: ...`` and exit code 2, never a traceback. The engines
(and so torch) are imported only for the demo: the bot's chat process does not import torch (README,
"Operating the bot").
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dotenv import find_dotenv, load_dotenv
from PIL import Image
from tqdm import tqdm

from transfer.progress import Progress, ProgressCallback

REPO = Path(__file__).resolve().parent
PHOTO = REPO / "docs" / "astronaut.jpg"
PAINTING = REPO / "bots" / "styles" / "swirls.jpg"
INSTANT_STYLE = "wave"
EXIT_BAD_INPUT = 2  # as `transfer.console.EXIT_BAD_INPUT`, which cannot be imported without torch


@contextmanager
def _progress_bar(title: str) -> Iterator[ProgressCallback]:
    """A progress bar on stderr that disappears when done, leaving only the summary lines on screen."""
    with tqdm(total=1, desc=title, leave=False, dynamic_ncols=True) as bar:
        def report(progress: Progress) -> None:
            bar.total = progress.total
            bar.update(progress.step - bar.n)

        yield report


def _demo(argv: list[str]) -> int:
    """Paint the example photo with each engine; one summary line per file, then the folder."""
    from superres import Upscaler
    from transfer import StyleTransfer, TransferSettings
    from transfer.console import OneLineParser, run_command, save_image
    from transfer.instant import InstantStylizer
    from transfer.universal import UniversalStylizer

    parser = OneLineParser(
        prog="run_demo.py",
        description=f"Paint {PHOTO.relative_to(REPO)} with every engine (the painting "
                    f"{PAINTING.relative_to(REPO)}, the instant style {INSTANT_STYLE}, x4). "
                    "With BOT_TOKEN set (environment or .env), start the full bot instead.")
    parser.add_argument("--size", type=int, default=256,
                        help="long side of the results in px (default 256; the photo is never enlarged)")
    parser.add_argument("--steps", type=int, default=None,
                        help="Gatys optimisation steps in all (default: the VGG19 preset's)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the results (default out/demo)")
    args = parser.parse_args(argv)
    try:
        settings = TransferSettings(size=args.size, steps=args.steps)  # its checks, before any work
        args.out.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))

    instant_file = f"2-instant-{INSTANT_STYLE}.png"

    def quick() -> Image.Image:
        with _progress_bar("Universal (WCT)") as report:
            return UniversalStylizer().stylize(PHOTO, PAINTING, max_side=args.size, progress=report)

    def instant() -> Image.Image:
        with _progress_bar(f"Instant ({INSTANT_STYLE})") as report:
            return InstantStylizer().stylize(PHOTO, INSTANT_STYLE, max_side=args.size, progress=report)

    def upscaled() -> Image.Image:
        with _progress_bar("x4") as report:
            return Upscaler().upscale(args.out / instant_file, progress=report)  # the saved PNG: lossless

    def gatys() -> Image.Image:
        with _progress_bar("Gatys (VGG19)") as report:
            return StyleTransfer.vgg19().run(PHOTO, PAINTING, settings, progress=report)

    steps: list[tuple[str, str, Callable[[], Image.Image]]] = [  # fastest first: results appear at once
        (f"1-quick-{PAINTING.stem}.png", "universal style transfer, one pass", quick),
        (instant_file, "instant style, one pass", instant),
        (f"3-instant-{INSTANT_STYLE}-x4.png", "x4 of file 2", upscaled),
        (f"4-gatys-vgg19-{PAINTING.stem}.png", "Gatys optimisation on VGG19", gatys),
    ]
    for filename, what, paint in steps:
        def work() -> tuple[Image.Image, Path, str]:  # run at once, with this iteration's step
            image = paint()
            save_image(image, args.out / filename)
            return image, args.out / filename, f" ({what})"

        code = run_command(work)  # prints "saved PATH (WxH) in N s (what)", or one error line
        if code:
            return code
    print(f"results in {args.out}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The demo, or the full bot when a token is set; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    load_dotenv(find_dotenv(usecwd=True), override=False)  # as the bots read it: the environment wins
    if not os.environ.get("BOT_TOKEN", "").strip():
        return _demo(argv)
    if argv:
        print("error: with BOT_TOKEN set, run_demo.py starts the full bot and takes no options "
              "(unset BOT_TOKEN for the demo)", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Imported here, not at the top: the demo does not need Telegram.
    from bots import FullBot
    from bots.app import main as run_bot

    return run_bot(FullBot)


if __name__ == "__main__":
    sys.exit(main())
