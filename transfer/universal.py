"""Universal style transfer: any painting, one pass, no training per style (Li et al. 2017, WCT).

An encoder (the "normalised" VGG19 up to relu3_1) and three decoders trained only to invert its features
at relu1_1, relu2_1 and relu3_1 (`weights.Weights.WCT_*`; no licence stated: research use, credit Li et
al. 2017). Stylising needs no optimisation: at each level, coarse to fine (relu3_1, relu2_1, relu1_1),
the photo's features are whitened (their covariance made the identity) and coloured with the painting's
covariance and mean, then decoded into a picture, which the next level encodes again.

The painting is encoded once, tapped at the three levels; its statistics are computed once per request.
The photo's statistics are whole-image ones at every level (float32 covariances of every position, no
sampling, so the output is deterministic). Photos above `ONE_PASS_PIXELS` go tile by tile, with a halo
wider than the networks' receptive field and tiles on the pooling grid, so that every tile computes
exactly what one pass would: first the statistics (accumulated tile by tile), then the transform and
the decoder. Memory is bounded by the tile, not the photo.

Measured on a 2-core machine of this project (AMD EPYC with AVX512-BF16, torch 2.14; `python -m bench
universal`, amber.jpg + candy.jpg, median of 3 per run, several runs with no other job running): 0.81-
0.96 s at 512x512 (one pass, 208-239 MB peak above the import baseline) and 2.6-3.1 s at 1024x1024
(16 tiles, 193-221 MB). In float32 (`precision="float32"`, what a CPU without bfloat16 gets): 1.53-1.79 s and
6.2-6.4 s, 340 MB and 275-350 MB. With another busy process on the machine, torch's two OpenMP threads
spin-wait for each other and a 512 px request took 6-7 s (one thread: 1.5 s; GOMP_SPINCOUNT=1000:
1.5 s): set that, or one thread, for the process on a shared machine (the bot's workers do).
On an AVX2-only EPYC (no bfloat16: float32), one core: 6.6 s at 512 px, 24-26 s at 1024 px; a request
is about 275 GFLOP at 512 px (the painting's encoding at 768 px alone 130) against about 43 GFLOP/s per
core there, so such a host cannot reach 1.5 s whatever the tuning.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from transfer.device import compute_device, gpu_budget, sized
from transfer.images import ImageSource, fit, load_image
from transfer.images import keep_colors as with_content_colors
from transfer.precision import network_dtype
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel
from weights import Weights, load_into

__all__ = ["UniversalStylizer", "Encoder", "Decoder", "FeatureStats", "EncodedStyle", "LEVELS",
           "STYLE_SIDE", "ONE_PASS_PIXELS", "TILE_PIXELS", "TILE_PIXELS_FLOAT32", "HALO", "STATS_HALO", "EIG_FLOOR"]

LEVELS = (3, 2, 1)  # coarse to fine: relu3_1, relu2_1, relu1_1
CHANNELS = {1: 64, 2: 128, 3: 256}  # feature channels at relu{level}_1
STYLE_SIDE = 768  # the painting's long side when it is encoded (see `UniversalStylizer`)
ONE_PASS_PIXELS = 512 * 512  # photos up to this go through each level in one pass (see `UniversalStylizer`)
TILE_PIXELS = 100_000  # larger ones in tiles of at most this many pixels, halo included (same)
# In float32 (no bfloat16 on the CPU) every buffer is twice as large: 100,000-pixel tiles peaked at 337 MB
# above the import baseline at 1024 px, 60,000 at 285 MB for 10% more time (36 tiles instead of 16; AVX2
# EPYC, one core, `bench universal --size 1024 --tile-pixels 60000`).
TILE_PIXELS_FLOAT32 = 60_000
HALO = 24  # px of context around a tile for encoder + decoder (see `_tiles`)
STATS_HALO = 12  # px of context around a tile for the encoder alone (see `_tiles`)
EIG_FLOOR = 1e-6  # eigenvalues under this share of the largest are noise (see `_power`)
STATS_CHUNK = 16_384  # feature positions copied to float32 at a time for the statistics (16 MB at relu3_1)
# On a GPU, one pass and tiles as large as its free memory holds: the float32 peaks on the CPU were
# 275-350 MB for 262,144 px (one pass at 512 px), about 1.3 kB per pixel; 2 kB leaves room to spare.
GPU_BYTES_PER_PIXEL = 2_000
GPU_MAX_PIXELS = 16_000_000  # a 4000x4000 photo in one pass

Box = tuple[int, int, int, int]  # top, bottom, left, right
Affine = tuple[Tensor, Tensor]  # (matrix (C, C), bias (C,)), float32: f -> matrix f + bias at every position


def _pad() -> nn.Module:
    return nn.ReflectionPad2d(1)


class Encoder(nn.Sequential):
    """The normalised VGG19 up to relu3_1, as in ../shared/weights/MANIFEST.md (`Weights.WCT_ENCODER`).

    Input: RGB in [0, 1] (layer 0, a 1x1 convolution, turns it into Caffe's BGR x 255 minus the means),
    height and width multiples of 4. One file serves the three levels: the encoder to relu1_1 and to
    relu2_1 are its first layers.
    """

    TAPS = {1: 4, 2: 11, 3: 18}  # number of layers up to and including relu{level}_1

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(3, 3, 1), _pad(), nn.Conv2d(3, 64, 3), nn.ReLU(inplace=True),  # relu1_1
            _pad(), nn.Conv2d(64, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            _pad(), nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True),  # relu2_1
            _pad(), nn.Conv2d(128, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            _pad(), nn.Conv2d(128, 256, 3), nn.ReLU(inplace=True),  # relu3_1
        )

    def taps(self, x: Tensor, levels: Sequence[int] = LEVELS) -> dict[int, Tensor]:
        """relu{level}_1 for each of `levels`, from one pass that stops at the deepest of them.

        No in-place ReLU touches a tapped tensor: each tap is followed by a padding, which copies.
        """
        taps = {}
        last = self.TAPS[max(levels)]
        for index, layer in enumerate(list(self)[:last], start=1):
            x = layer(x)
            for level in levels:
                if index == self.TAPS[level]:
                    taps[level] = x
        return taps

    def features(self, x: Tensor, level: int) -> Tensor:
        return self.taps(x, (level,))[level]


class Decoder(nn.Sequential):
    """The decoder from relu{level}_1 back to RGB in [0, 1] (unclamped), as in the MANIFEST."""

    def __init__(self, level: int) -> None:
        def up() -> nn.Module:
            return nn.Upsample(scale_factor=2, mode="nearest")

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [_pad(), nn.Conv2d(cin, cout, 3), nn.ReLU(inplace=True)]

        layers = {
            1: [_pad(), nn.Conv2d(64, 3, 3)],
            2: [*block(128, 64), up(), *block(64, 64), _pad(), nn.Conv2d(64, 3, 3)],
            3: [*block(256, 128), up(), *block(128, 128), *block(128, 64), up(), *block(64, 64),
                _pad(), nn.Conv2d(64, 3, 3)],
        }[level]
        super().__init__(*layers)
        self.level = level
        self._phases: dict[int, tuple[Tensor, Tensor]] = {}

    def prepare(self) -> Decoder:
        """Precompute the sub-pixel kernels of `forward` in the weights' dtype (after any `.to`)."""
        self._phases = {index: _phase_kernels(self[index + 2]) for index, layer in enumerate(self)
                        if isinstance(layer, nn.Upsample)}
        return self

    def forward(self, x: Tensor, affine: Affine | None = None) -> Tensor:
        """Decode `x`, after the per-position affine map `affine` when given.

        The map is folded into the first convolution, with which the reflection padding before it
        commutes: conv(pad(M f + b)) = conv'(pad(f)) with W' = W M and b' = b_conv + W b. So the
        transform costs nothing per pixel (applied to the features, it took 0.13 s of a 512 px request).
        Each upsample + pad + 3x3 convolution runs as four 2x2 convolutions of the small input
        (`_upsample_conv`): the same values, 4/9 of the multiply-adds, no upsampled copy.
        """
        layers = list(self)
        index = 0
        if affine is not None:
            x = F.conv2d(layers[0](x), *_fold(layers[1], affine, x.dtype))
            index = 2
        while index < len(layers):
            if isinstance(layers[index], nn.Upsample):
                kernels = self._phases.get(index) or _phase_kernels(layers[index + 2])
                x = _upsample_conv(x, *kernels)
                index += 3  # upsample, pad, convolution
            else:
                x = layers[index](x)
                index += 1
        return x


def _phase_kernels(conv: nn.Conv2d) -> tuple[Tensor, Tensor]:
    """The four 2x2 kernels (stacked: (4 Cout, Cin, 2, 2)) and biases of `conv` after a 2x upsampling.

    Output pixel (2i + a, 2j + b) of conv(reflect_pad(upsample(x))) reads x's rows i - 1 + a .. i + a
    and columns j - 1 + b .. j + b only: kernel rows (0 | 1 + 2) for a = 0, (0 + 1 | 2) for a = 1, the
    same for columns; and reflecting the upsampled picture is replicating x's edge.
    """
    weight = conv.weight.float()
    rows = [torch.stack([weight[:, :, 0], weight[:, :, 1] + weight[:, :, 2]], 2),
            torch.stack([weight[:, :, 0] + weight[:, :, 1], weight[:, :, 2]], 2)]
    kernels = [torch.stack([r[..., 0], r[..., 1] + r[..., 2]], 3) if b == 0 else
               torch.stack([r[..., 0] + r[..., 1], r[..., 2]], 3) for r in rows for b in (0, 1)]
    stacked = torch.cat(kernels).to(conv.weight.dtype).contiguous(memory_format=torch.channels_last)
    return stacked, conv.bias.repeat(4)


def _upsample_conv(x: Tensor, kernels: Tensor, biases: Tensor) -> Tensor:
    """conv(reflect_pad(nearest_upsample_2x(x))) from `_phase_kernels`, channels last.

    Measured, 64->64 from 256x256 to 512x512 in float32: 47 ms (41 for the 2x2 convolutions, 4 to
    interleave the four phases) against 105 ms (upsample 21, pad 20, 3x3 convolution 64). Whole decoders
    at 512 px, bfloat16: relu3_1's 161 -> 120 ms, relu2_1's 119 -> 94 ms (float32: 281 -> 231, 191 -> 153).
    """
    n, _, height, width = x.shape
    channels = kernels.shape[0] // 4
    phases = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels, biases).permute(0, 2, 3, 1)
    out = torch.empty((n, channels, 2 * height, 2 * width), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    grid = out.permute(0, 2, 3, 1).view(n, height, 2, width, 2, channels)
    for a in (0, 1):
        for b in (0, 1):
            group = 2 * a + b
            grid[:, :, a, :, b, :] = phases[:, a:a + height, b:b + width, group * channels:(group + 1) * channels]
    return out


def _fold(conv: nn.Conv2d, affine: Affine, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """The weight and bias of `conv` applied after the per-position map `affine`, in `dtype`."""
    matrix, bias = affine
    weight = conv.weight.float()
    folded = torch.einsum("ojyx,ji->oiyx", weight, matrix)
    shift = conv.bias.float() + torch.einsum("ojyx,j->o", weight, bias)
    return folded.to(dtype).contiguous(memory_format=torch.channels_last), shift.to(dtype)


@dataclass(frozen=True)
class FeatureStats:
    """Mean (C,) and covariance (C, C) of a feature map's channels over its positions, in float64."""

    mean: Tensor
    cov: Tensor
    count: int

    @staticmethod
    def mixture(parts: Sequence[FeatureStats], weights: Sequence[float]) -> FeatureStats:
        """The statistics of a mixture: means weighted, covariances sum w_i (C_i + m_i m_i^T) - m m^T.

        Weights are normalised to sum to 1. A single part comes back as it is (no rounding at all).
        """
        if len(parts) == 1:
            return parts[0]
        total = float(sum(weights))
        shares = [float(w) / total for w in weights]
        mean = sum(w * p.mean for w, p in zip(shares, parts))
        second = sum(w * (p.cov + torch.outer(p.mean, p.mean)) for w, p in zip(shares, parts))
        return FeatureStats(mean, second - torch.outer(mean, mean), sum(p.count for p in parts))


@dataclass(frozen=True)
class EncodedStyle:
    """A painting (or a mixture of several) as the universal engine uses it: its statistics per level."""

    levels: dict[int, FeatureStats]


class _Moments:
    """Mean and covariance of feature positions, accumulated tile by tile (Chan et al.'s pairwise merge).

    Each piece is centred on its own mean in float32 and merged in float64, so neither a large mean nor
    a million positions costs precision; float32 copies are made `STATS_CHUNK` positions at a time.
    """

    def __init__(self, channels: int, device: torch.device) -> None:
        self.count = 0
        self.mean = torch.zeros(channels, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(channels, channels, dtype=torch.float64, device=device)

    def add(self, features: Tensor) -> None:
        """Add every position of a (1, C, h, w) feature map."""
        flat = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])  # a view when channels last
        for chunk in flat.split(STATS_CHUNK):
            centred = chunk.to(torch.float32, copy=True)
            n = centred.shape[0]
            mean = centred.mean(0)
            centred -= mean
            delta = mean.double() - self.mean
            total = self.count + n
            self.m2 += (centred.T @ centred).double() + torch.outer(delta, delta) * (self.count * n / total)
            self.mean += delta * (n / total)
            self.count = total

    def stats(self) -> FeatureStats:
        return FeatureStats(self.mean.clone(), self.m2 / max(1, self.count), self.count)


@functools.lru_cache(maxsize=1)
def _mkl_local_threads() -> Callable[[int], int] | None:
    """MKL's `MKL_Set_Num_Threads_Local` from torch's own library, or None where torch has no MKL."""
    try:
        library = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        setter = library.MKL_Set_Num_Threads_Local
    except (OSError, AttributeError):
        return None
    setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
    return setter


@contextlib.contextmanager
def _one_lapack_thread() -> Iterator[None]:
    """LAPACK on one thread, for this thread only (MKL's thread-local setting; torch's is process-wide).

    `torch.linalg.eigh` of a 256x256 matrix takes 5 ms on one core, but MKL splits it into hundreds of
    parallel steps: on this 2-core machine with other work running, measured 8 ms to 2 s per call on 2
    threads against 12-19 ms on one (and 64x64: 60-100 ms against 0.3 ms). Without MKL this does nothing.
    """
    setter = _mkl_local_threads()
    if setter is None:
        yield
        return
    previous = setter(1)
    try:
        yield
    finally:
        setter(previous)


def _power(cov: Tensor, exponent: float) -> Tensor:
    """cov ** exponent (+1/2 colours, -1/2 whitens) by `torch.linalg.eigh` in float64.

    Eigenvalues under `EIG_FLOOR` x the largest are dropped (as Li et al.'s code drops those under an
    absolute 1e-5): they are the null space of a rank-deficient covariance (a small photo's relu3_1
    has fewer positions than its 256 channels), and whitening them would amplify rounding noise.
    Measured on the shared photos and paintings: real eigenvalues are at least 1.1e-5 of the largest
    (relu1_1 of the paintings), the null space of a 48 px photo's relu3_1 (144 positions: 113 zero
    eigenvalues) comes out at most 9e-8 of it; the floor sits a decade from both. Dropping real ones
    matters (a 1e-3 floor moves a 512 px result by 27 dB PSNR), admitting null ones little (52 dB).
    eigh in float64 rather than float32: 4.7 ms against 2.4 ms per 256x256 matrix on one core, six per
    request, for results 59-70 dB PSNR apart: the safe choice costs 1% of a 512 px request.
    """
    with _one_lapack_thread():  # on the CPU whatever the device: 6 small matrices, no transfer worth a GPU
        values, vectors = torch.linalg.eigh(cov.double().cpu())
    keep = values > EIG_FLOOR * values.max().clamp_min(1e-30)
    scaled = torch.where(keep, values.clamp_min(1e-30) ** exponent, torch.zeros_like(values))
    return ((vectors * scaled) @ vectors.T).to(cov.device)


def _transform(content: FeatureStats, style: FeatureStats, strength: float) -> Affine:
    """The affine map of whitening, colouring and the strength blend, as a float32 (matrix, bias).

    wct(f) = S^1/2 C^-1/2 (f - m_c) + m_s, and strength a gives a * wct(f) + (1 - a) * f.
    """
    matrix = _power(style.cov, 0.5) @ _power(content.cov, -0.5)
    bias = style.mean - matrix @ content.mean
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    return (strength * matrix + (1 - strength) * eye).float(), (strength * bias).float()


def _spans(length: int, core: int) -> list[tuple[int, int]]:
    """`length` (a multiple of 4) cut into near-equal spans of at most ~`core`, edges on multiples of 4."""
    parts = max(1, math.ceil(length / core))
    edges = [4 * round(i * length / 4 / parts) for i in range(parts + 1)]
    return list(zip(edges, edges[1:]))


def _tiles(height: int, width: int, tile_pixels: int) -> list[Box]:
    """Cores covering a (height, width) canvas (multiples of 4), each with its 2 HALO within `tile_pixels`.

    Edges of cores and tiles are on multiples of 4 (HALO and STATS_HALO are), so the two 2x2 poolings
    see the same grid as in one pass, and with a halo at least the receptive field every tile computes
    exactly the one-pass values. Measured (float32, a 256x195 photo in 64 px cores, largest pixel
    difference from one pass): transform-pass halo 8/12/16/20/24 px -> 95/54/16/3/1, statistics-pass
    halo 0/4/8/12 px -> 95/78/9/1; 1 is float rounding. Hence 24 and 12, which match the networks'
    receptive field (the encoder reads 10 px around a relu3_1 position's 4x4 pixels; the decoder adds
    2 positions, 8 px, around them).
    """
    if height * width <= tile_pixels:
        return [(0, height, 0, width)]
    side = max(4, (math.isqrt(tile_pixels) - 2 * HALO) // 4 * 4)
    return [(t, b, l, r) for t, b in _spans(height, side) for l, r in _spans(width, side)]


def _grow(box: Box, margin: int, height: int, width: int) -> Box:
    top, bottom, left, right = box
    return max(0, top - margin), min(height, bottom + margin), max(0, left - margin), min(width, right + margin)


def _canvas(x: Tensor, dtype: torch.dtype) -> Tensor:
    """`x` in `dtype`, its bottom and right edges reflected out to multiples of 4 (for the poolings)."""
    pad_h, pad_w = -x.shape[2] % 4, -x.shape[3] % 4
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    return x.to(dtype, memory_format=torch.channels_last)


def _crop(x: Tensor, box: Box) -> Tensor:
    top, bottom, left, right = box
    return x[:, :, top:bottom, left:right].contiguous(memory_format=torch.channels_last)


def _image_tensor(image: Image.Image, device: torch.device) -> Tensor:
    """An RGB image as a (1, 3, H, W) float32 tensor in [0, 1] on `device`, channels last."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).to(device)
    return tensor.contiguous(memory_format=torch.channels_last)


def _padded_size(image: Image.Image) -> tuple[int, int]:
    return image.height + -image.height % 4, image.width + -image.width % 4


class UniversalStylizer:
    """Stylises photos with any painting(s): the encoder and three decoders, loaded once and then kept.

    Thread-safe: the networks are read-only after loading, loading is serialised, and a request keeps
    all of its state on its own stack.

    `one_pass_pixels`: a photo up to this size (padded to multiples of 4) goes through each level in
    one pass, whose features serve both the statistics and the decoder; a larger one is cut into tiles
    of at most `tile_pixels`, halo included, and each level then encodes every tile twice (statistics
    pass, transform pass: about 35% more work). Defaults, measured (bfloat16, peaks above the import
    baseline): a 512 px photo in one pass takes 0.81-0.96 s and 208-239 MB, where tiles would cost the
    second encoding; at 1024 px, tiles of at most 100,000 px (16 of 304x304) took 2.6-3.2 s and 190-225 MB,
    against 3.1-3.5 s and 254-296 MB for 9 tiles of 389x389 and 4.5-4.7 s and 267-278 MB for 4 of 560x560:
    small tiles waste some halo, but their buffers stay under glibc's 32 MiB mmap threshold and are
    reused instead of being mapped and faulted in afresh at every layer (with that threshold raised by
    MALLOC_MMAP_THRESHOLD_, 4 tiles took 2.7 s, but 324 MB). In float32 the tiles are smaller
    (`TILE_PIXELS_FLOAT32`).

    `style_side`: the painting's long side when it is encoded (a smaller painting is not enlarged).
    Larger keeps more of its brushwork: the classic Gatys objective of the result (bench/evaluate.py,
    amber.jpg) falls from 5,350 to 3,409 (side 512 -> 768) with candy.jpg and from 4,842 to 2,559 with
    rain-princess.jpg at 512 px, from 12,872 to 8,322 with candy at 1024 px (1024: 3,149, 2,704,
    5,841). Encoding costs 0.16-0.21 s at 512, 0.37-0.39 s at 768, 0.66-0.69 s at 1024: 768 is the most
    that keeps a 512 px request well inside its 1.5 s.

    `precision` (default ``STYLEBOT_PRECISION``, `transfer.precision`): auto runs the networks in bfloat16
    where the device has it natively (measured on 2 cores of an AVX512-BF16 AMD EPYC: a 64->64 3x3
    convolution at 512x512 in 68 ms against 132 ms in float32; a request 0.81-0.96 s against 1.53-1.79 s at
    512 px, 2.6-3.1 s against 6.2-6.4 s at 1024 px; the result 43 dB PSNR from float32's on three
    paintings), while the statistics, eigendecompositions and the transform stay in float32/float64.
    Explicit bfloat16 weights rather than `torch.autocast`: the weights are cast once instead of every call.
    `device` (default ``STYLEBOT_DEVICE``, `transfer.device`): on a GPU, `one_pass_pixels` and
    `tile_pixels` default to what its free memory holds (`GPU_BYTES_PER_PIXEL`).
    """

    def __init__(self, weights_dir: Path | None = None, download: bool | None = None,
                 one_pass_pixels: int | None = None, tile_pixels: int | None = None,
                 style_side: int = STYLE_SIDE, device: str | torch.device | None = None,
                 precision: str | None = None) -> None:
        """`download` None: fetch missing networks unless ``STYLEBOT_OFFLINE`` is set (`weights`)."""
        self.device = compute_device(device)
        self.dtype = network_dtype(self.device, precision, "the universal (quick) networks")
        self.bf16 = self.dtype == torch.bfloat16
        budget = gpu_budget(self.device)
        if one_pass_pixels is None:
            one_pass_pixels = sized(ONE_PASS_PIXELS, budget, GPU_BYTES_PER_PIXEL, GPU_MAX_PIXELS)
        if tile_pixels is None:
            cpu_tile = TILE_PIXELS if self.bf16 else TILE_PIXELS_FLOAT32
            tile_pixels = sized(cpu_tile, budget, GPU_BYTES_PER_PIXEL, GPU_MAX_PIXELS)
        if tile_pixels < (64 + 2 * HALO) ** 2:
            raise ValueError(f"tile_pixels must be at least {(64 + 2 * HALO) ** 2}")
        self.weights_dir = weights_dir
        self.download = download
        self.one_pass_pixels = one_pass_pixels
        self.tile_pixels = tile_pixels
        self.style_side = style_side
        self._networks: tuple[Encoder, dict[int, Decoder]] | None = None
        self._lock = threading.Lock()

    def networks(self) -> tuple[Encoder, dict[int, Decoder]]:
        """The encoder and the decoders by level, loaded on first use, in the compute dtype, channels last.

        Raises `weights.WeightsError` when a file is unavailable.
        """
        with self._lock:
            if self._networks is None:
                def prepared(net: nn.Module, weights: Weights) -> nn.Module:
                    net = load_into(net, weights, self.weights_dir, self.download).eval().requires_grad_(False)
                    net = net.to(self.device, self.dtype, memory_format=torch.channels_last)
                    return net.prepare() if isinstance(net, Decoder) else net

                encoder = prepared(Encoder(), Weights.WCT_ENCODER)
                decoders = {level: prepared(Decoder(level), weights) for level, weights in
                            ((1, Weights.WCT_DECODER_1), (2, Weights.WCT_DECODER_2), (3, Weights.WCT_DECODER_3))}
                self._networks = encoder, decoders
            return self._networks

    def tiles(self, image: Image.Image) -> list[Box] | None:
        """The tiles a photo of this size is cut into, or None when it goes through in one pass."""
        height, width = _padded_size(image)
        return None if height * width <= self.one_pass_pixels else _tiles(height, width, self.tile_pixels)

    def stylize(self, content: ImageSource, style_or_styles: ImageSource | Sequence[ImageSource] | EncodedStyle,
                strength: float = 1.0, keep_colors: bool = False, max_side: int | None = 512,
                progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
                weights: Sequence[float] | None = None) -> Image.Image:
        """`content` repainted with the painting(s), at its size fitted within `max_side` (never enlarged).

        `style_or_styles`: one image source or a list/tuple of them, blended by mixing their feature
        statistics with `weights` (default: equal; a weight of 0 leaves that painting out), or what
        `encode_style` made of them (the frames of a clip encode their painting once).
        `strength` in [0, 1] blends the transformed features with the photo's at each level (0 gives the
        photo back through the decoders: nearly the photo). `keep_colors` keeps the photo's colours.
        Raises `ImageError` for a picture we refuse, `ValueError` for bad arguments, `Cancelled` when
        `cancel` answers True (checked between tiles and levels), `weights.WeightsError`.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError("strength must be between 0 and 1")
        photo = load_image(content)
        if max_side is not None:
            photo = fit(photo, long_side=max_side)
        tiles = self.tiles(photo)
        per_level = 1 if tiles is None else 2 * len(tiles)
        paintings = [] if isinstance(style_or_styles, EncodedStyle) else self._paintings(style_or_styles, weights)
        total = len(LEVELS) * per_level + sum(len(_tiles(*_padded_size(p), self.tile_pixels)) for p, _ in paintings)
        done = 0

        def report() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(Progress(done, total))

        style = style_or_styles if isinstance(style_or_styles, EncodedStyle) else \
            self._encode(paintings, report, cancel)
        with torch.inference_mode():
            x = _image_tensor(photo, self.device)
            for level in LEVELS:
                x = self._level(x, level, style.levels[level], strength, tiles, report, cancel)
            pixels = x[0].mul(255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
        result = Image.fromarray(pixels, "RGB")
        return with_content_colors(result, photo) if keep_colors else result

    def encode_style(self, style_or_styles: ImageSource | Sequence[ImageSource],
                     weights: Sequence[float] | None = None, cancel: CancelCheck | None = None) -> EncodedStyle:
        """The painting(s)' feature statistics at every level, mixed with `weights` (see `stylize`): what
        `stylize` needs of them, computed once for many pictures. Raises as `stylize` does."""
        return self._encode(self._paintings(style_or_styles, weights), lambda: None, cancel)

    def _encode(self, paintings: list[tuple[Image.Image, float]], report: Callable[[], None],
                cancel: CancelCheck | None) -> EncodedStyle:
        self.networks()
        with torch.inference_mode():
            per_painting = [self._statistics(_canvas(_image_tensor(p, self.device), self.dtype), LEVELS, report,
                                             cancel)
                            for p, _ in paintings]
        return EncodedStyle({level: FeatureStats.mixture([s[level] for s in per_painting],
                                                         [w for _, w in paintings]) for level in LEVELS})

    def _paintings(self, style_or_styles: ImageSource | Sequence[ImageSource],
                   weights: Sequence[float] | None) -> list[tuple[Image.Image, float]]:
        """The paintings with a weight above 0, loaded and fitted to `style_side`; ValueError for bad weights."""
        sources = list(style_or_styles) if isinstance(style_or_styles, (list, tuple)) else [style_or_styles]
        if not sources:
            raise ValueError("give at least one style image")
        weights = [1.0] * len(sources) if weights is None else [float(w) for w in weights]
        if len(weights) != len(sources):
            raise ValueError(f"give one weight per style image ({len(sources)}), not {len(weights)}")
        if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("style weights must be non-negative numbers, not all 0")
        return [(fit(load_image(source), long_side=self.style_side), w)
                for source, w in zip(sources, weights) if w > 0]

    def _statistics(self, canvas: Tensor, levels: Sequence[int], report: Callable[[], None],
                    cancel: CancelCheck | None) -> dict[int, FeatureStats]:
        """Whole-image feature statistics of `canvas` at `levels`, accumulated tile by tile."""
        encoder, _ = self.networks()
        height, width = canvas.shape[2:]
        moments = {level: _Moments(CHANNELS[level], canvas.device) for level in levels}
        for box in _tiles(height, width, self.tile_pixels):
            check_cancel(cancel)
            top, bottom, left, right = box
            y0, y1, x0, x1 = tile = _grow(box, STATS_HALO, height, width)
            for level, features in encoder.taps(_crop(canvas, tile), levels).items():
                scale = 2 ** (level - 1)  # pixels per feature position
                moments[level].add(features[:, :, (top - y0) // scale:(bottom - y0) // scale,
                                            (left - x0) // scale:(right - x0) // scale])
            report()
        return {level: m.stats() for level, m in moments.items()}

    def _level(self, x: Tensor, level: int, style: FeatureStats, strength: float, tiles: list[Box] | None,
               report: Callable[[], None], cancel: CancelCheck | None) -> Tensor:
        """One level on the (1, 3, H, W) float32 picture `x`: the next picture, clamped to [0, 1]."""
        encoder, decoders = self.networks()
        height, width = x.shape[2:]
        canvas = _canvas(x, self.dtype)
        if tiles is None:  # one pass: the features serve both the statistics and the decoder
            check_cancel(cancel)
            features = encoder.features(canvas, level)
            moments = _Moments(CHANNELS[level], canvas.device)
            moments.add(features)
            out = decoders[level](features, _transform(moments.stats(), style, strength))
            report()
            return out[:, :, :height, :width].float().clamp_(0, 1).contiguous(memory_format=torch.channels_last)

        affine = _transform(self._statistics(canvas, (level,), report, cancel)[level], style, strength)
        out = torch.empty(1, 3, height, width, device=x.device).contiguous(memory_format=torch.channels_last)
        for box in tiles:
            check_cancel(cancel)
            top, bottom, left, right = box
            y0, _, x0, _ = tile = _grow(box, HALO, *canvas.shape[2:])
            result = decoders[level](encoder.features(_crop(canvas, tile), level), affine)
            bottom, right = min(bottom, height), min(right, width)  # the canvas's padding is not kept
            out[:, :, top:bottom, left:right] = result[:, :, top - y0:bottom - y0, left - x0:right - x0]
            report()
        return out.clamp_(0, 1)
