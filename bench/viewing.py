"""What a viewer sees in a big result, as three numbers (`python -m bench hires`; README, "Photo-sized results").

- **detail** (lower is better): how much of the photo's fine structure the result kept, at full size: the
  mean squared difference of VGG19 conv1_2 and conv2_2 features (pre-ReLU, the classic content layers'
  neighbours: edges and small textures, 5 and 10 px receptive fields) between the result and the photo at
  the result's size. A blurred result or one whose marks ignore the photo's edges scores higher.
- **likeness** (lower is better), two readings of the classic Gatys style loss (1e6 x the summed MSE of the
  Gram matrices of conv1_1..conv3_1): `likeness_working`, the result reduced to the working size against
  the painting at that size (the overall look: colours and strokes as painted); `likeness_crops`, 256 px
  crops of the result at 100% against 256 px crops of the painting at its own resolution (do the strokes
  look painted when zoomed in).
- **artefact** (grey levels, lower is better): the periodic energy at the x4 generators' 2- and 4-pixel
  periods: the RMS over the 16 phases of a 4x4 grid of the mean luminance at each phase, less the overall
  mean. Content averages out over a phase's pixels (each phase holds 1/16 of the image), a grid pattern
  does not: SRGAN's "crackle" is exactly such a pattern. Compared with bicubic's on the same input.

The features are computed in tiles with a margin wider than conv3_1's receptive field, so a 2048 px result
is judged in bounded memory and exactly as in one pass.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from bench.evaluate import MEAN, STD, STYLE_WEIGHT, Evaluator, _gram, _to_tensor

__all__ = ["Viewer", "grid_energy", "crops"]

CONTENT_TAPS = (2, 7)  # conv1_2, conv2_2 in vgg19().features
STYLE_TAPS = (0, 2, 5, 7, 10)  # conv1_1, conv1_2, conv2_1, conv2_2, conv3_1
TILE = 384
MARGIN = 32  # > conv3_1's receptive radius (about 22 input px after two poolings)
CROP = 256
BLOCK = 64  # px: a 16x16 grid of 4x4 cells, small enough to follow the crackle where strokes change


def grid_energy(image: Image.Image, period: int = 4, block: int = BLOCK) -> float:
    """RMS (grey levels) of the mean luminance at each phase of a `period` x `period` grid, less the mean,
    within each `block` x `block` square (a local crackle would cancel out over the whole picture)."""
    luma = np.asarray(image.convert("L"), dtype=np.float64)
    height, width = (side - side % block for side in luma.shape)
    if not height or not width:
        raise ValueError(f"the image ({image.width}x{image.height}) is smaller than one {block} px block")
    blocks = luma[:height, :width].reshape(height // block, block // period, period, width // block, block // period,
                                           period)
    phases = blocks.mean(axis=(1, 4))  # (rows, period, cols, period)
    means = phases.mean(axis=(1, 3), keepdims=True)
    return float(np.sqrt(np.mean((phases - means) ** 2)))


def crops(image: Image.Image, size: int = CROP, count: int = 3) -> list[Image.Image]:
    """`count` x `count` crops of `size` px spread evenly over `image` (fewer when it is small)."""
    width, height = image.size
    xs = np.linspace(0, max(0, width - size), count).round().astype(int)
    ys = np.linspace(0, max(0, height - size), count).round().astype(int)
    return [image.crop((x, y, min(width, x + size), min(height, y + size)))
            for y in sorted(set(ys)) for x in sorted(set(xs))]


def _tiles(height: int, width: int) -> Iterator[tuple[int, int, int, int]]:
    for top in range(0, height, TILE):
        for left in range(0, width, TILE):
            yield top, min(height, top + TILE), left, min(width, left + TILE)


class Viewer:
    """Holds the real VGG19 conv1_1..conv3_1 and scores results (see the module's docstring)."""

    def __init__(self, weights_directory: Path | None = None) -> None:
        self.features = Evaluator(weights_directory).features  # VGG19 with its taps kept (no in-place ReLU)

    def _taps(self, x: Tensor, taps: Sequence[int]) -> dict[int, Tensor]:
        x = (x - MEAN) / STD
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in taps:
                out[index] = x
            if index >= max(taps):
                break
        return out

    @torch.no_grad()
    def detail(self, result: Image.Image, photo: Image.Image) -> float:
        """Mean over conv1_2 and conv2_2 of the features' MSE, result against the photo at its size."""
        if photo.size != result.size:
            photo = photo.resize(result.size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        ours, theirs = _to_tensor(result), _to_tensor(photo)
        height, width = ours.shape[-2:]
        sums = dict.fromkeys(CONTENT_TAPS, 0.0)
        counts = dict.fromkeys(CONTENT_TAPS, 0)
        for top, bottom, left, right in _tiles(height, width):
            box = (max(0, top - MARGIN), min(height, bottom + MARGIN),
                   max(0, left - MARGIN), min(width, right + MARGIN))
            a = self._taps(ours[..., box[0]:box[1], box[2]:box[3]], CONTENT_TAPS)
            b = self._taps(theirs[..., box[0]:box[1], box[2]:box[3]], CONTENT_TAPS)
            for tap in CONTENT_TAPS:
                scale = a[tap].shape[-1] / (box[3] - box[2])  # conv2_2 is at half resolution
                y0, y1 = round((top - box[0]) * scale), round((bottom - box[0]) * scale)
                x0, x1 = round((left - box[2]) * scale), round((right - box[2]) * scale)
                diff = a[tap][..., y0:y1, x0:x1] - b[tap][..., y0:y1, x0:x1]
                sums[tap] += float(diff.pow(2).sum())
                counts[tap] += diff.numel()
        return float(np.mean([sums[tap] / counts[tap] for tap in CONTENT_TAPS]))

    @torch.no_grad()
    def _grams(self, images: Sequence[Image.Image]) -> dict[int, Tensor]:
        """The Gram matrices of the style layers, averaged over `images`."""
        grams: dict[int, Tensor] = {}
        for image in images:
            taps = self._taps(_to_tensor(image), STYLE_TAPS)
            for tap in STYLE_TAPS:
                grams[tap] = grams.get(tap, 0) + _gram(taps[tap]) / len(images)
        return grams

    def _style_loss(self, ours: Sequence[Image.Image], theirs: Sequence[Image.Image]) -> float:
        a, b = self._grams(ours), self._grams(theirs)
        return STYLE_WEIGHT * sum(float(torch.mean((a[t] - b[t]) ** 2)) for t in STYLE_TAPS)

    def likeness_working(self, result: Image.Image, painting: Image.Image, working_side: int) -> float:
        """The style loss of `result` reduced to `working_side` against the painting at that long side."""
        def fitted(image: Image.Image) -> Image.Image:
            scale = working_side / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)

        return self._style_loss([fitted(result)], [fitted(painting)])

    def likeness_crops(self, result: Image.Image, painting: Image.Image) -> float:
        """The style loss of 100% crops of `result` against crops of the painting at its own resolution."""
        return self._style_loss(crops(result), crops(painting))
