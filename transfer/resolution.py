"""Results at the photo's own resolution, with strokes that read at that size (no torch here).

Every engine's strokes have a size in pixels: the instant networks learnt theirs, the universal engine's
come from the painting encoded at 768 px, and Gatys' textures are bounded by VGG19's receptive fields
(about 24 px at conv3_1). Asked directly for 1600 px, an engine paints marks as small as on a 512 px
picture, a colour filter over a big photo. So the engines paint at a *working* size set by the user's
brush (`BRUSH_SIDES`), and `Enlarger` carries that painting to the output size:

1. a x4 upscaler trained on realistic degradations (`superres.compact`) makes the strokes crisp at up to
   4x the working size (a plain bicubic resize leaves them blurred), from `X4_FROM` times it (below that,
   Lanczos keeps more);
2. then the photo's own detail that the working size could not hold (the photo minus its working-size
   copy brought back up) is laid over the luminance, `DETAIL` of it.

Gatys then refines its working painting at the result's size (`REFINE_STEPS` evaluations, up to
`REFINE_SIDE`; `TransferSettings.working`), as coarse-to-fine optimisation does, starting from the carried
painting made consistent with the working one (`back_project`): carried alone, its likeness to the
painting stayed far from Gatys run directly at that size (amber + candy at 1024 px: likeness@512 5176,
100% crops 7643, against the direct run's 264 and 107).

Measured with `python -m bench hires` (amber + udnie at 1024 px, quick version): against bicubic, the x4
network brought the detail score from 6.48 to 5.98 and the likeness of 100% crops from 2919 to 1308, and
the detail layer to 4.86 and 900, each better than the engine asked for 1024 px directly (6.03, 1013);
`DETAIL` 0.3, 0.6 and 1.0 improved both monotonically on three paintings (candy, udnie, rain-princess), so
all of the missing detail is laid over.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
from PIL import Image

from transfer.images import fit_size
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel

__all__ = ["BRUSH_SIDES", "BRUSHES", "DEFAULT_BRUSH", "DETAIL", "REFINE_SIDE", "REFINE_STEPS", "WORKING_SHARE",
           "X4_FROM", "back_project", "check_brush", "output_size", "working_size", "with_photo_detail", "Enlarger",
           "X4Upscaler"]

# The working long side per brush: the bigger the working picture, the smaller the strokes on the result.
# medium is the size every engine was tuned at (the Gatys presets, the README's benchmarks); fine and bold
# are 1.5x either side of it.
BRUSH_SIDES = {"fine": 768, "medium": 512, "bold": 352}
BRUSHES = tuple(BRUSH_SIDES)
DEFAULT_BRUSH = "medium"
# Gatys refines its working painting at the result's size up to this long side (`TransferSettings.working`),
# and the enlarger carries it further: a refining level's memory and time grow with its pixels (the content
# target, L-BFGS's pairs, the strips). Measured (`bench hires`, amber + candy, 2 cores, bfloat16, default
# strips): an evaluation at 1024 px takes 3.6 s, 4.6x one at 512 px; at 1280 px the worker peaked at 1.89 GB.
REFINE_SIDE = 1024
# Evaluations of that refining level, and the share of the preset's evaluations the working painting keeps
# when one follows. Measured on amber + candy at 1024 px (the direct run: detail 12.34, likeness@512 264,
# 100% crops 107, in 8 minutes), refining from the bicubic start of every other level, 40 evaluations gave
# 13.87 / 576 / 222; from the carried painting, back-projected, 20 gave 12.89 / 287 / 213, 30 gave
# 12.80 / 191 / 159 and 40 12.85 / 148 / 162: so 30, and the working painting shortened to pay for them.
REFINE_STEPS = 30
WORKING_SHARE = 0.6
BACK_PROJECTION_ROUNDS = 4  # each halves what is left of the difference at the working size, or better
DETAIL = 1.0  # the share of the photo's finer-than-working-size detail laid over the carried painting
# The x4 network carries a painting enlarged at least this much; less, Lanczos does (plus the detail layer).
# Measured (`bench hires` numbers, amber + candy, Gatys refined at 1024 px): carried to 1280 px, Lanczos
# beat the network on every number (detail 12.00 vs 12.96, likeness@512 455 vs 2225, 100% crops 2586 vs
# 5244) in 0.08 s against 9.4 s; to 2048 px the network kept the crisper crops (10340 vs 13036) and detail
# (10.20 vs 10.66); from 512 to 1280 px (2.5x) crops 8985 vs 10268.
X4_FROM = 1.5


def check_brush(name: str) -> str:
    """`name` if it is a brush, else ValueError with the choices."""
    if name not in BRUSH_SIDES:
        raise ValueError(f"brush must be one of {', '.join(BRUSHES)}, not {name!r}")
    return name


def output_size(photo: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The result's size: the photo's own, its long side capped at `max_side` (never enlarged)."""
    return fit_size(photo, max_side)


def working_size(output: tuple[int, int], brush: str = DEFAULT_BRUSH) -> tuple[int, int]:
    """Where the engines paint for an `output` of that size: the brush's long side, or the output if smaller."""
    return fit_size(output, BRUSH_SIDES[check_brush(brush)])


class X4Upscaler(Protocol):
    """Makes an image 4x larger, tile by tile (`superres.Upscaler` is one)."""

    def upscale(self, image: Image.Image, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


class Enlarger:
    """Carries a painting from its working size to the output size (see the module's docstring).

    `upscaler` None: a Lanczos resize instead of the x4 network (what the bench compares it with);
    `detail` 0: no detail from the photo. Safe to share between threads.
    """

    def __init__(self, upscaler: X4Upscaler | None, detail: float = DETAIL) -> None:
        if not 0 <= detail <= 1:
            raise ValueError(f"detail must be from 0 to 1, not {detail}")
        self.upscaler, self.detail = upscaler, detail

    def carry(self, painting: Image.Image, photo: Image.Image, size: tuple[int, int],
              progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> Image.Image:
        """`painting` (the photo painted at a smaller size) at `size`, which is `photo`'s own size or less.

        Raises `Cancelled` when `cancel()` turns true; `progress` gets the upscaler's tiles as fractions.
        """
        if painting.size == size:
            return painting
        check_cancel(cancel)
        larger = painting
        if self.upscaler is not None and max(size) >= X4_FROM * max(painting.size):
            larger = self.upscaler.upscale(painting, progress=progress, cancel=cancel)
        result = larger.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        check_cancel(cancel)
        if self.detail > 0:
            result = with_photo_detail(result, photo, painting.size, self.detail)
        if progress is not None:
            progress(Progress(1, 1))
        return result


def with_photo_detail(result: Image.Image, photo: Image.Image, working: tuple[int, int],
                      share: float) -> Image.Image:
    """`result` with `share` of the photo's luminance detail finer than the `working` size added.

    The detail is the photo at the result's size minus the photo brought down to `working` and back up
    (bicubic): exactly what painting at the working size could not see. Luminance only, so the painting's
    colours stay; one float32 plane of the output size at a time (16 MB at 2048 px).
    """
    sized = photo.resize(result.size, Image.Resampling.LANCZOS, reducing_gap=3.0) \
        if photo.size != result.size else photo
    low = sized.resize(working, Image.Resampling.BOX).resize(result.size, Image.Resampling.BICUBIC)
    detail = _luma(sized)
    detail -= _luma(low)
    y, cb, cr = result.convert("YCbCr").split()
    luma = np.asarray(y, dtype=np.float32) + share * detail
    merged = Image.merge("YCbCr", (Image.fromarray(np.clip(luma + 0.5, 0, 255).astype(np.uint8), "L"), cb, cr))
    return merged.convert("RGB")


def back_project(result: Image.Image, painting: Image.Image, rounds: int = BACK_PROJECTION_ROUNDS) -> Image.Image:
    """`result` corrected so that, reduced to `painting`'s size, it is `painting` (iterative back-projection).

    Reduced as the engines size their levels (Pillow's bilinear); each round adds the remaining difference
    brought up with bicubic. Gatys' working painting holds its likeness in pixel-level texture that any
    carrying softens (carried alone, amber + candy: likeness@512 5176; back-projected: 100, and the 100%
    crops 7643 -> 2271): the refining level then starts from the painting's own look at the working size.
    """
    planes = []
    for big, small in zip(result.convert("RGB").split(), painting.convert("RGB").split()):
        values = np.asarray(big, dtype=np.float32)
        target = np.asarray(small, dtype=np.float32)
        for _ in range(rounds):
            reduced = np.asarray(Image.fromarray(values, "F").resize(painting.size, Image.Resampling.BILINEAR))
            values = values + np.asarray(Image.fromarray(target - reduced, "F").resize(result.size,
                                                                                      Image.Resampling.BICUBIC))
        planes.append(Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8), "L"))
    return Image.merge("RGB", planes)


def _luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)

