"""Make the README's pictures (docs/pictures/*.jpg) with the real engines, from images shipped in the repo only.

Sources: the photo docs/astronaut.jpg (Eileen Collins, NASA, public domain) and the procedural painting
bots/styles/swirls.jpg (original to this repo, made by docs/make_gallery.py). No other image goes in.

- transfer.jpg: photo | painting | the quick universal result (WCT, one pass, `UniversalStylizer`) |
  the VGG19 Gatys result (`StyleTransfer.vgg19()`, its default preset, warm-started from the quick result
  as `python -m transfer` does), each with its time on this machine.
- instant.jpg: the photo in the six instant styles (`InstantStylizer`, one forward pass each).
- upscale.jpg: the quick result with the face marked | that crop x4 with bicubic | the same crop of the
  SRGAN x4 result | and of the compact x4 network's the bots use (`Upscaler()`, realesr-general-x4v3), each
  of the whole picture upscaled, as the bots do.
- hires.jpg, only with `--hires-photo` (a photo of 1000 px or more; the repo ships none, this project's
  environment has ../shared/images/content/amber.jpg, BSD-3, pytorch/examples): the quick result at the
  photo's own size by the bots' path (`transfer.resolution`) with a region marked | that region at 100% by
  the old path (the result at 512 px, then SRGAN x4, brought to the same size) | by the new path.

The engines work at `--size` px (long side; the photo is 384 px, never enlarged); tiles are shown at
288 px with a caption, and saved as JPEG quality 82 (the whole set is well under 2 MB). Regenerate with

    STYLEBOT_WEIGHTS_DIR=../shared/weights .venv/bin/python docs/make_pictures.py   # a few minutes on a CPU

Times in the captions are the run's own (they differ per machine); `--steps` shortens the Gatys run (tests).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from superres import Upscaler
from superres.srgan import srgan_x4
from transfer import StyleTransfer, TransferSettings, load_image
from transfer.device import compute_device
from transfer.instant import InstantStylizer
from transfer.instant_styles import InstantStyle
from transfer.resolution import Enlarger, working_size
from transfer.universal import UniversalStylizer

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "docs" / "astronaut.jpg"
PAINTING = REPO / "bots" / "styles" / "swirls.jpg"
FACE = (0.443, 0.221, 0.1875)  # the face's centre (x, y) and the crop's side, as shares of the long side
TILE = 288  # shown tile side: large enough to see brushwork, small enough for ~100-400 KB files
GAP = 8
CAPTION = 44  # two lines of FONT under each tile
FONT = ImageFont.load_default(size=15)
QUALITY = 82


def tile_box(column: int, row: int) -> tuple[int, int, int, int]:
    """Where the tile at (column, row) lies on a sheet (the tests crop tiles with it)."""
    left, top = GAP + column * (TILE + GAP), GAP + row * (TILE + CAPTION + GAP)
    return left, top, left + TILE, top + TILE


def sheet(tiles: list[tuple[Image.Image, str]], columns: int) -> Image.Image:
    """Tiles (image, caption: one or two lines) on white in a grid, each fitted into TILE x TILE, centred."""
    rows = -(-len(tiles) // columns)
    canvas = Image.new("RGB", (GAP + columns * (TILE + GAP), GAP + rows * (TILE + CAPTION + GAP)), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (image, caption) in enumerate(tiles):
        left, top, right, bottom = tile_box(index % columns, index // columns)
        shown = image.resize((TILE, round(TILE * image.height / image.width)) if image.width >= image.height
                             else (round(TILE * image.width / image.height), TILE), Image.Resampling.LANCZOS)
        canvas.paste(shown, (left + (TILE - shown.width) // 2, top + (TILE - shown.height) // 2))
        draw.multiline_text(((left + right) // 2, bottom + 4), caption, fill=(30, 30, 30), font=FONT,
                            anchor="ma", align="center", spacing=4)
    return canvas


def computer() -> str:
    """What the times were measured on, for the captions: they mean little without it."""
    device, threads = compute_device(), torch.get_num_threads()
    return f"{threads} CPU thread{'s' * (threads > 1)}" if device.type == "cpu" else str(device)


def transfer_picture(photo: Image.Image, painting: Image.Image, size: int, steps: int | None) -> Image.Image:
    """The Gatys pipeline as a user meets it: the quick version in seconds, the full painting in minutes."""
    quick_engine = UniversalStylizer()
    quick_engine.networks()  # loading is not part of the time shown
    started = time.perf_counter()
    quick = quick_engine.stylize(photo, painting, max_side=size)
    quick_s = time.perf_counter() - started
    gatys_engine = StyleTransfer.vgg19()
    settings = TransferSettings(size=size, steps=steps)
    started = time.perf_counter()
    gatys = gatys_engine.run(photo, painting, settings)  # computes its own warm start, as the CLI does
    gatys_s = time.perf_counter() - started
    gatys_steps = steps or gatys_engine.default_steps()
    print(f"  quick universal (WCT): {quick.width}x{quick.height}, {quick_s:.1f} s; VGG19 Gatys preset, "
          f"{gatys_steps} steps, warm start from the quick result: {gatys.width}x{gatys.height}, {gatys_s:.1f} s")
    return sheet([(photo, "photo\ndocs/astronaut.jpg"), (painting, "painting\nbots/styles/swirls.jpg"),
                  (quick, f"quick, one pass (WCT)\n{quick_s:.1f} s, {computer()}"),
                  (gatys, f"Gatys, VGG19, {gatys_steps} steps\n{gatys_s:.0f} s, {computer()}")], columns=4)


def instant_picture(photo: Image.Image, size: int) -> Image.Image:
    """Each built-in style once: what the bots' "Preview all" album shows."""
    stylizer = InstantStylizer()
    tiles = []
    for style in InstantStyle:
        stylizer.network(style)  # loading is not part of the time shown
        started = time.perf_counter()
        result = stylizer.stylize(photo, style, max_side=size)
        tiles.append((result, f"{style.title}\n{time.perf_counter() - started:.1f} s"))
    print(f"  {', '.join(style.key for style in InstantStyle)}: {size} px, one pass each")
    return sheet(tiles, columns=3)


def upscale_picture(photo: Image.Image, painting: Image.Image, size: int) -> Image.Image:
    """Bicubic, SRGAN and the compact x4 network on the same face crop of the quick result: blur, crackle
    over the strokes, crisp strokes."""
    styled = UniversalStylizer().stylize(photo, painting, max_side=size)
    started = time.perf_counter()
    big = Upscaler(srgan_x4()).upscale(styled)
    srgan_s = time.perf_counter() - started
    started = time.perf_counter()
    compact = Upscaler().upscale(styled)
    compact_s = time.perf_counter() - started
    long_side = max(styled.size)
    side = round(FACE[2] * long_side)
    left, top = round(FACE[0] * long_side - side / 2), round(FACE[1] * long_side - side / 2)
    crop = styled.crop((left, top, left + side, top + side))
    marked = styled.copy()
    ImageDraw.Draw(marked).rectangle((left, top, left + side - 1, top + side - 1), outline=(255, 40, 40),
                                     width=max(1, long_side // 128))
    bicubic = crop.resize((4 * side, 4 * side), Image.Resampling.BICUBIC)
    box = (4 * left, 4 * top, 4 * (left + side), 4 * (top + side))
    print(f"  quick result at {styled.width}x{styled.height}, x4 of the whole picture: {big.width}x{big.height}, "
          f"SRGAN {srgan_s:.1f} s, realesr-general-x4v3 {compact_s:.1f} s; crop {side} px -> {4 * side} px")
    return sheet([(marked, f"quick result, {styled.width} px\nface crop marked"),
                  (bicubic, f"crop x4, bicubic\n{side} -> {4 * side} px"),
                  (big.crop(box), f"crop x4, SRGAN\n(whole picture: {srgan_s:.1f} s)"),
                  (compact.crop(box), f"crop x4, realesr-general-x4v3\n(whole picture: {compact_s:.1f} s)")],
                 columns=4)


def hires_picture(photo: Image.Image, painting: Image.Image) -> Image.Image:
    """A quick result at the photo's own size, and one region of it at 100% by the old and the new path."""
    quick = UniversalStylizer()
    old = Upscaler(srgan_x4()).upscale(quick.stylize(photo, painting, max_side=512))
    old = old.resize(photo.size, Image.Resampling.LANCZOS)
    started = time.perf_counter()
    painted = quick.stylize(photo, painting, max_side=max(working_size(photo.size)))
    new = Enlarger(Upscaler()).carry(painted, photo, photo.size)
    new_s = time.perf_counter() - started
    side = TILE
    left, top = round(0.45 * photo.width - side / 2), round(0.30 * photo.height - side / 2)
    box = (left, top, left + side, top + side)
    marked = new.copy()
    ImageDraw.Draw(marked).rectangle((left, top, left + side - 1, top + side - 1), outline=(255, 40, 40),
                                     width=max(2, photo.width // 200))
    print(f"  quick result at {new.width}x{new.height} ({new_s:.1f} s); 100% crops of {side} px")
    return sheet([(marked, f"quick result at the photo's size\n{new.width}x{new.height}, {new_s:.1f} s"),
                  (old.crop(box), "100%: old path\n512 px, SRGAN x4, resized"),
                  (new.crop(box), "100%: new path\n512 px, x4 + the photo's detail")], columns=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384, help="the engines' long side in px (default 384)")
    parser.add_argument("--steps", type=int, help="Gatys steps (default: the VGG19 preset's)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "pictures", help="default docs/pictures")
    parser.add_argument("--hires-photo", type=Path, help="also make hires.jpg from this photo (1000 px or more)")
    parser.add_argument("--hires-painting", type=Path, help="the painting for hires.jpg (default: swirls.jpg)")
    parser.add_argument("--only", nargs="+", help="make only these pictures (e.g. hires.jpg)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    photo, painting = load_image(PHOTO), load_image(PAINTING)
    print(f"photo {PHOTO.relative_to(REPO)} ({photo.width}x{photo.height}, NASA, public domain), painting "
          f"{PAINTING.relative_to(REPO)} (procedural, docs/make_gallery.py); engines at {args.size} px "
          f"on {computer()}")
    makers = {"transfer.jpg": lambda: transfer_picture(photo, painting, args.size, args.steps),
              "instant.jpg": lambda: instant_picture(photo, args.size),
              "upscale.jpg": lambda: upscale_picture(photo, painting, args.size)}
    if args.hires_photo:
        makers["hires.jpg"] = lambda: hires_picture(load_image(args.hires_photo),
                                                    load_image(args.hires_painting or PAINTING))
    total = 0
    for name, make in makers.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        path = args.out / name
        print(f"{name}:")
        make().save(path, "JPEG", quality=QUALITY, optimize=True)
        total += path.stat().st_size
        print(f"  -> {path}: {path.stat().st_size / 1024:.0f} KB in {time.perf_counter() - started:.0f} s")
    print(f"total {total / 1024:.0f} KB; regenerate: .venv/bin/python docs/make_pictures.py --size {args.size}"
          + (f" --steps {args.steps}" if args.steps else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
