"""x4 upscaling of images of any size, tile by tile, so time and memory stay bounded.

The network is a compact Real-ESRGAN-class one by default (`superres.compact`: no periodic crackle on
paintings) or SRGAN (`superres.srgan`); both are tiled the same way.

Whole-image inference keeps 64- to 256-channel activations of the full 4x output alive at once
(about 1 GB per feature map for a 512x512 input, 2.4 GB peak), growing with the image; tiles keep
the working set to a few hundred MB whatever the image size.

Seams: each tile is computed from its box plus `margin` pixels of real image context on every side,
and only the box is kept (overlap-and-crop). With the default margin, the generator's receptive
radius (18 input pixels), every kept output pixel sees exactly the inputs it sees in whole-image
inference, so the result equals the whole-image one up to float rounding: nothing to blend, hence no
seam (the compact networks: their radius, `convs + 2`). Blending overlapping tiles with a weight ramp
would cost as much extra context and still mix in pixels computed next to a tile's artificial zero-padded
edge.

Cost: the context is computed and thrown away. The generator runs in two stages, cheap features at
input resolution (radius 15) then the x4 upsampling (radius 3, most of the work), so each tile
computes features over box + 18 but upsamples only box + 3.
"""
from __future__ import annotations

import math

import torch
from PIL import Image

from superres.compact import CompactUpscaler, compact_x4
from superres.srgan import SCALE, UPSAMPLE_RADIUS, Generator
from transfer.device import gpu_budget, sized
from transfer.images import ImageSource, image_to_tensor, load_image, tensor_to_image
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel

__all__ = ["Upscaler", "DEFAULT_TILE", "MIN_TILE", "MAX_INPUT_PIXELS", "tile_grid"]

# Measured on the 2 shared CPU cores here. Quiet moments (best of 4, 256x256 input): tile 64 2.4 s,
# 96 2.0 s, 128 2.1 s, whole image 2.2 s, so size barely matters. Under load each tile costs thread
# synchronisation and fewer tiles win (512x512, load 3.3: tile 128 26 s, 192 20 s, 256 16 s) while
# peak memory grows (302, 394, 745 MB above import). 192 keeps well under the 1 GB budget.
DEFAULT_TILE = 192
# The compact networks (`superres.compact`) hold 64 channels at input resolution only, a few hundred bytes
# per pixel: tiles can be larger, and must be, as their context (34 px for realesr-general-x4v3) is wide.
# A 512x512 painting x4 in bfloat16, 2 cores: tile 192 2.5 s, 320 2.0 s, 512 2.5 s.
COMPACT_TILE = 320
# 2 MP in (e.g. 1600x1200) is 32 MP out: a 96 MB RGB result, about a minute on 2 quiet cores.
MAX_INPUT_PIXELS = 2_000_000

MIN_TILE = 8
# On a GPU a tile is as large as its free memory holds: tile 192 peaked at 462 MB above the import on the
# CPU (bots/common/budget.py), 12.5 kB per input pixel (16 output pixels of 64-channel maps); 20 kB to spare.
GPU_BYTES_PER_TILE_PIXEL = 20_000
GPU_MAX_TILE = 1024

Box = tuple[int, int, int, int]  # left, top, right, bottom in input pixels


def _splits(length: int, tile: int) -> list[int]:
    """Edges of ceil(length / tile) near-equal pieces, so the last piece is never a sliver."""
    count = math.ceil(length / tile)
    return [round(i * length / count) for i in range(count + 1)]


def tile_grid(width: int, height: int, tile: int) -> list[Box]:
    """The tiles (at most `tile` x `tile`) covering a `width` x `height` image, row by row."""
    xs, ys = _splits(width, tile), _splits(height, tile)
    return [(x0, y0, x1, y1) for y0, y1 in zip(ys, ys[1:]) for x0, x1 in zip(xs, xs[1:])]


Network = Generator | CompactUpscaler


class Upscaler:
    """Upscales images x4; one instance can serve many images (it holds the network).

    `network`: a compact upscaler (default: `compact_x4()`, realesr-general-x4v3) or the SRGAN generator.
    `tile` is the side of the input area computed at once (bigger: fewer tiles, more memory; None:
    `COMPACT_TILE` or SRGAN's `DEFAULT_TILE` on the CPU, what a GPU's free memory holds on CUDA); `margin`
    the context read around each tile (None: the network's receptive radius); inputs over `max_input_pixels`
    are refused. It computes on the network's device (``STYLEBOT_DEVICE`` by default). `upscale` keeps no
    state, so threads may share an instance.
    """

    scale = SCALE

    def __init__(self, network: Network | None = None, tile: int | None = None,
                 margin: int | None = None, max_input_pixels: int = MAX_INPUT_PIXELS) -> None:
        self.network = network if network is not None else compact_x4()
        self.device = next(self.network.parameters()).device
        if margin is None:
            margin = self.network.receptive_radius
        if tile is None:
            cpu_tile = DEFAULT_TILE if isinstance(self.network, Generator) else COMPACT_TILE
            side = math.isqrt(sized(cpu_tile ** 2, gpu_budget(self.device), GPU_BYTES_PER_TILE_PIXEL,
                                    GPU_MAX_TILE ** 2))
            tile = max(cpu_tile, side)
        if tile < MIN_TILE:
            raise ValueError(f"tile must be at least {MIN_TILE} pixels, not {tile}")
        if margin < 0:
            raise ValueError(f"margin must be 0 or more, not {margin}")
        if max_input_pixels < 1:
            raise ValueError(f"max_input_pixels must be positive, not {max_input_pixels}")
        self.tile = tile
        self.margin = margin
        self.max_input_pixels = max_input_pixels

    def upscale(self, image: ImageSource, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image:
        """`image` (PIL image, path, bytes or file) as RGB at exactly 4x its upright width and height.

        Raises `ImageError` for unreadable or too-large input, `Cancelled` as soon as `cancel()` is
        true between tiles. `progress` gets `Progress(tiles_done, tiles_total)` after each tile.
        """
        img = load_image(image, self.max_input_pixels)
        pixels = image_to_tensor(img, self.device)
        width, height = img.size
        boxes = tile_grid(width, height, self.tile)
        result = Image.new("RGB", (width * SCALE, height * SCALE))
        check_cancel(cancel)
        with torch.inference_mode():
            for done, box in enumerate(boxes, start=1):
                tile = self._upscale_tile(pixels, box)
                result.paste(tensor_to_image(tile), (box[0] * SCALE, box[1] * SCALE))
                if progress is not None:
                    progress(Progress(done, len(boxes)))
                check_cancel(cancel)
        return result

    def _upscale_tile(self, pixels: torch.Tensor, box: Box) -> torch.Tensor:
        """The x4 output of `box`, computed from the box + `margin` context. SRGAN: features over box +
        margin, upsampled over box + 3 only (the upsampling is most of its work)."""
        left, top, right, bottom = box
        height, width = pixels.shape[-2:]
        outer = _grow(box, self.margin, width, height)
        if isinstance(self.network, Generator):
            inner = _grow(box, min(self.margin, UPSAMPLE_RADIUS), width, height)
            features = self.network.features(pixels[..., outer[1]:outer[3], outer[0]:outer[2]])
            features = features[..., inner[1] - outer[1]:inner[3] - outer[1],
                                inner[0] - outer[0]:inner[2] - outer[0]]
            out = self.network.upsample(features)
        else:
            inner = outer
            out = self.network(pixels[..., outer[1]:outer[3], outer[0]:outer[2]])
        x0, y0 = (left - inner[0]) * SCALE, (top - inner[1]) * SCALE
        return out[..., y0:y0 + (bottom - top) * SCALE, x0:x0 + (right - left) * SCALE]


def _grow(box: Box, by: int, width: int, height: int) -> Box:
    """`box` enlarged by `by` pixels on every side, clipped to the image."""
    left, top, right, bottom = box
    return max(0, left - by), max(0, top - by), min(width, right + by), min(height, bottom + by)
