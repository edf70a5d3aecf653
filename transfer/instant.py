"""Instant styles: one forward pass of a pretrained feed-forward network per painting (Johnson et al. 2016).

The gallery's six networks were trained by Logan Engstrom; `weights.fast_style` fetches and converts
them. A 512 px photo takes about a second on a CPU, against minutes for the Gatys optimisation.

Large photos. One pass peaks at about 230 bytes per pixel, so a 12 MP photo in one pass would need
nearly 3 GB. Cutting the photo into tiles bounds memory, but each InstanceNorm would then normalise
every tile with its own statistics and the tiles would not match. So a large photo is done in two
passes: first the whole photo, downscaled to the pixel budget, gives every InstanceNorm's per-channel
mean and variance; then overlapping full-resolution tiles run with those statistics frozen, which turns
each norm into a fixed per-channel affine map. With a margin wider than the network's receptive field
(57 px) every output pixel is then exactly what one pass would give with those statistics: no seams,
full detail. Only the statistics are approximate. Measured on a 1080x1080 photo with statistics from
0.3 MP: 26-30 dB PSNR from the one-pass result (wave, udnie, scream), where stylizing at 0.35 MP and
upscaling gives 18-19 dB: a capped resolution would lose the detail the photo was sent for.
A 12 MP photo then peaks at about 630 MB above the imports.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from transfer.instant_styles import InstantStyle
from transfer.device import compute_device, gpu_budget, sized
from transfer.images import MAX_INPUT_PIXELS, ImageSource, blend, fit, load_image
from transfer.images import keep_colors as with_content_colors
from transfer.precision import network_dtype
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel
from weights import load_into

__all__ = ["InstantStyle", "InstantStylizer", "TransformerNet", "InstanceNorm", "run_network", "MAX_PIXELS"]

MAX_PIXELS = 2_000_000  # a photo above this is tiled; one pass of this size peaks at ~0.5 GB
MARGIN = 64  # tile overlap on each side: the receptive field's radius (57 px) rounded up to a multiple of 4
EPS = 1e-3  # the InstanceNorm epsilon the networks were trained with
GPU_BYTES_PER_PIXEL = 500  # a pass's peak per pixel: ~230 bytes channels last (module docstring), doubled
NormStats = tuple[Tensor, Tensor]  # per-channel (mean, variance), each (1, C, 1, 1)


class InstanceNorm(nn.Module):
    """Affine instance normalisation, in place, with the statistics of its input or with given ones."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, stats: NormStats) -> Tensor:
        mean, var = stats
        scale = self.weight.view(1, -1, 1, 1).float() * torch.rsqrt(var + EPS)
        shift = self.bias.view(1, -1, 1, 1).float() - mean * scale
        return x.mul_(scale.to(x.dtype)).add_(shift.to(x.dtype))


def instance_stats(x: Tensor) -> NormStats:
    """The per-channel mean and (biased) variance an InstanceNorm normalises `x` with, in float32 whatever
    `x` is in: a bfloat16 sum over a million positions would lose the mean's digits."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    return mean, var


class TransformerNet(nn.Module):
    """The Johnson et al. transformation network, as described in ../shared/weights/MANIFEST.md.

    Every convolution (no bias) is followed by an InstanceNorm named ``<conv>_in``: the attributes are
    flat so that the state-dict keys are exactly the converted files' (``conv1.weight``,
    ``res1_conv1_in.bias``, ...). Input: RGB in [0, 255], height and width multiples of 4.
    Output: RGB in [0, 255], the same size.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conv("conv1", nn.Conv2d(3, 32, 9, padding=4, bias=False))
        self._conv("conv2", nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False))
        self._conv("conv3", nn.Conv2d(64, 128, 3, stride=2, padding=1, bias=False))
        for i in range(1, 6):
            for j in (1, 2):
                self._conv(f"res{i}_conv{j}", nn.Conv2d(128, 128, 3, padding=1, bias=False))
        self._conv("deconv1", nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1, output_padding=1, bias=False))
        self._conv("deconv2", nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1, bias=False))
        self._conv("deconv3", nn.Conv2d(32, 3, 9, padding=4, bias=False))

    def _conv(self, name: str, conv: nn.Module) -> None:
        self.add_module(name, conv)
        self.add_module(f"{name}_in", InstanceNorm(conv.out_channels))

    def forward(self, x: Tensor, stats: list[NormStats] | None = None) -> Tensor:
        """The stylized image (float32); `stats` (from `statistics`) replaces every InstanceNorm's own, in order."""
        return self._run(x, iter(stats) if stats is not None else None, None)

    def statistics(self, x: Tensor) -> list[NormStats]:
        """Every InstanceNorm's statistics for `x`, in network order, to reuse on tiles of a larger `x`."""
        recorded: list[NormStats] = []
        self._run(x, None, recorded)
        return recorded

    def _run(self, x: Tensor, given: Iterator[NormStats] | None, recorded: list[NormStats] | None) -> Tensor:
        def layer(name: str, x: Tensor, relu: bool = True) -> Tensor:
            y = getattr(self, name)(x)
            stats = next(given) if given is not None else instance_stats(y)
            if recorded is not None:
                recorded.append(stats)
            y = getattr(self, f"{name}_in")(y, stats)
            return y.relu_() if relu else y

        x = layer("conv3", layer("conv2", layer("conv1", x.to(self.conv1.weight.dtype))))
        for i in range(1, 6):
            x = layer(f"res{i}_conv2", layer(f"res{i}_conv1", x), relu=False).add_(x)
        x = layer("deconv3", layer("deconv2", layer("deconv1", x)), relu=False).float()
        return x.tanh_().mul_(150).add_(127.5).clamp_(0, 255)


def _as_input(pixels: np.ndarray, device: torch.device) -> Tensor:
    """An (H, W, 3) uint8 array as the network's (1, 3, H, W) float input in [0, 255], channels last.

    Channels last (NHWC) spares the CPU convolutions their layout conversions: half the peak memory
    (about 230 bytes per pixel instead of 480) and slightly faster.
    """
    tensor = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
    return tensor.to(device, torch.float32, memory_format=torch.channels_last)


def _pad4(pixels: np.ndarray) -> np.ndarray:
    """Mirror-pad the bottom and right edges to multiples of 4, which the two stride-2 layers need."""
    height, width = pixels.shape[:2]
    return np.pad(pixels, ((0, -height % 4), (0, -width % 4), (0, 0)), mode="reflect")


def _statistics_input(image: Image.Image, padded: np.ndarray, max_pixels: int) -> np.ndarray:
    """What the statistics pass sees: `padded` itself when it fits, else a downscale within the budget.

    The downscale's sides are rounded down to multiples of 4 rather than padded, so it stays in budget.
    """
    if padded.shape[0] * padded.shape[1] <= max_pixels:
        return padded
    scale = math.sqrt(max_pixels / (image.width * image.height))
    size = (max(4, int(image.width * scale) // 4 * 4), max(4, int(image.height * scale) // 4 * 4))
    return np.array(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))  # writable, as torch likes


def _spans(length: int, core: int) -> list[tuple[int, int]]:
    """`length` (a multiple of 4) cut into near-equal spans of at most ~`core`, edges on multiples of 4."""
    parts = math.ceil(length / core)
    edges = [4 * round(i * length / 4 / parts) for i in range(parts + 1)]
    return list(zip(edges, edges[1:]))


def run_network(net: TransformerNet, image: Image.Image, max_pixels: int = MAX_PIXELS,
                stats_pixels: int | None = None, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image:
    """`net` applied to an RGB `image`, output the same size; no pass sees more than `max_pixels` pixels.

    Up to `max_pixels` the whole image goes through at once. Above, InstanceNorm statistics come from
    the image downscaled to `stats_pixels` (default `max_pixels`) and tiles reuse them (module docstring).
    """
    core = (math.isqrt(max_pixels) - 2 * MARGIN) // 4 * 4
    if core < 64:
        raise ValueError(f"max_pixels must be at least {(64 + 2 * MARGIN) ** 2}")
    image = image if image.mode == "RGB" else image.convert("RGB")
    width, height = image.size
    padded = _pad4(np.asarray(image))
    padded_h, padded_w = padded.shape[:2]
    one_pass = padded_h * padded_w <= max_pixels
    if one_pass:
        rows, cols = [(0, padded_h)], [(0, padded_w)]
    else:
        rows, cols = _spans(padded_h, core), _spans(padded_w, core)
    tiles = [(row, col) for row in rows for col in cols]
    passes = len(tiles) + (not one_pass)  # progress counts the statistics pass too

    def report(done: int) -> None:
        if progress is not None:
            progress(Progress(done, passes))

    out = np.empty((height, width, 3), np.uint8)
    device = next(net.parameters()).device
    with torch.inference_mode():
        stats = None
        if not one_pass:
            check_cancel(cancel)
            stats = net.statistics(_as_input(_statistics_input(image, padded, stats_pixels or max_pixels), device))
            report(1)
        for done, ((top, bottom), (left, right)) in enumerate(tiles, start=passes - len(tiles) + 1):
            check_cancel(cancel)
            y0, x0 = max(0, top - MARGIN), max(0, left - MARGIN)
            y1, x1 = min(padded_h, bottom + MARGIN), min(padded_w, right + MARGIN)
            result = net(_as_input(padded[y0:y1, x0:x1], device), stats)
            kept_h, kept_w = min(bottom, height) - top, min(right, width) - left  # drop the mirror padding
            tile = result[0, :, top - y0:top - y0 + kept_h, left - x0:left - x0 + kept_w]
            out[top:top + kept_h, left:left + kept_w] = tile.round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            report(done)
    return Image.fromarray(out, "RGB")


class InstantStylizer:
    """Stylizes photos with the gallery's networks, each loaded on first use and then kept.

    Thread-safe: networks are read-only after loading, and loading is serialised. They compute on
    `device` (default ``STYLEBOT_DEVICE``, `transfer.device`); on a GPU `max_pixels` defaults to what its
    free memory holds in one pass (`GPU_BYTES_PER_PIXEL`), so large photos need no tiles there.

    `precision` (default ``STYLEBOT_PRECISION``, `transfer.precision`): auto runs the networks in bfloat16
    where the device has it natively, the InstanceNorm statistics and the output in float32. Measured on
    2 cores of an AVX512-BF16 EPYC at 512 px (amber.jpg): 0.43-0.91 s against 0.57-1.48 s in float32 for
    the six styles, the result 49-53 dB PSNR from float32's.
    """

    def __init__(self, weights_dir: Path | None = None, download: bool | None = None,
                 max_pixels: int | None = None, device: str | torch.device | None = None,
                 precision: str | None = None) -> None:
        """`download` None: fetch missing networks unless ``STYLEBOT_OFFLINE`` is set (`weights`)."""
        self.weights_dir = weights_dir
        self.download = download
        self.device = compute_device(device)
        self.dtype = network_dtype(self.device, precision, "the instant style networks")
        if max_pixels is None:
            max_pixels = sized(MAX_PIXELS, gpu_budget(self.device), GPU_BYTES_PER_PIXEL, MAX_INPUT_PIXELS)
        self.max_pixels = max_pixels
        self._networks: dict[InstantStyle, TransformerNet] = {}
        self._lock = threading.Lock()

    @property
    def styles(self) -> list[str]:
        """The gallery's style keys, in display order."""
        return [style.key for style in InstantStyle]

    def network(self, style: str | InstantStyle) -> TransformerNet:
        """The loaded network of `style`; raises `weights.WeightsError` when its file is unavailable."""
        style = InstantStyle.parse(style)
        with self._lock:
            if style not in self._networks:
                net = load_into(TransformerNet(), style.weights, self.weights_dir, self.download)
                self._networks[style] = net.eval().requires_grad_(False).to(self.device, self.dtype)
            return self._networks[style]

    def stylize(self, image: ImageSource, style: str | InstantStyle, strength: float = 1.0,
                keep_colors: bool = False, max_side: int | None = None,
                progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> Image.Image:
        """`image` in `style`, at the photo's size (or fitted within `max_side` when given).

        `strength` in [0, 1] blends the result with the photo (0 gives the photo back); `keep_colors`
        keeps the photo's colours and takes only the painting's texture and light.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError("strength must be between 0 and 1")
        net = self.network(style)
        content = load_image(image)
        if max_side is not None:
            content = fit(content, long_side=max_side)
        if strength == 0.0:
            return content.copy()
        result = run_network(net, content, self.max_pixels, progress=progress, cancel=cancel)
        if keep_colors:
            result = with_content_colors(result, content)
        return result if strength == 1.0 else blend([result, content], [strength, 1.0 - strength])
