"""The Gatys objective computed over horizontal strips of the image, with exact values and gradients.

At 512 px the first VGG19 layers produce 64 MB feature maps, and autograd keeps a dozen of them: memory,
not arithmetic, is what a small host runs out of (and memory traffic is what makes a 512 px step cost 7x
a 256 px one). Every layer before the losses is local, and the losses are sums over positions (Gram
matrices) or means (content), so the work splits into strips, each with a halo of extra rows that covers
the receptive field:

1. forward, without autograd: strip by strip, add up each layer's Gram matrix and content error;
2. backward: strip by strip again, recompute that strip with autograd and backpropagate
   <dL/dG, G_strip> + dL/dcontent * content_strip, whose gradient is exactly the strip's share of dL/dx.

Memory is bounded by the strip size, whatever the image size, for about one extra forward pass.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from transfer.backbones import FeatureExtractor
from transfer.device import gpu_budget, sized
from transfer.losses import gram_sum, gram_sum_backward
from transfer.presets import STRIP_PIXELS

__all__ = ["STRIP_PIXELS", "Strip", "strips", "strip_grams", "strip_features", "GatysTerms", "device_strip_pixels"]

# On a GPU a strip is as large as its memory allows. What a strip costs per pixel is the slope of the
# peaks measured on the CPU (float32, the same tensors a GPU holds): a 512 px VGG19 job peaked at 719 MB
# with 65,536-pixel strips and at 464 MB with 16,384, i.e. 5.4 kB per strip pixel; 8 kB leaves room for
# the allocator's rounding. 4 Mpx (2048x2048) is more than any size the bots offer: one strip, no halo.
GPU_STRIP_BYTES_PER_PIXEL = 8_000
GPU_MAX_STRIP_PIXELS = 1 << 22


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on other C libraries."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


# An evaluation over strips frees many strip-sized buffers; glibc keeps them and, with a fragmented heap,
# cannot reuse them all, so the resident size creeps up step by step. Handing them back after each
# evaluation cost no measurable time at 512 px and lowered the peak (a 30-step 512 px job with 16k strips:
# 478 -> 451 MB). Not done for one-strip images: there it made a 256 px step ~10% slower (the next step
# faults the pages back in).
_TRIM = _malloc_trim()


def _compact(target: Tensor) -> Tensor:
    """A content target in float16 where it fits: half the memory of the biggest array a level keeps (34 MB
    at 512 px). VGG19's features stay far inside its range (|x| < 130 on the shared photos, paintings and a
    worst-case stripe pattern) and its rounding (< 0.03 there) is negligible against the content error."""
    return target.to(torch.float16) if target.abs().max() < torch.finfo(torch.float16).max else target


@dataclass(frozen=True)
class Strip:
    """Rows [own_start, own_end) are this strip's; the network sees [in_start, in_end) around them."""

    own_start: int
    own_end: int
    in_start: int
    in_end: int
    last: bool

    def owned(self, features: Tensor, stride: int) -> Tensor:
        """The rows of a feature map (computed on this strip's input) that belong to this strip."""
        first = (self.own_start - self.in_start) // stride
        if self.last:
            return features[..., first:, :]
        return features[..., first:first + (self.own_end - self.own_start) // stride, :]


def strips(height: int, width: int, extractor: FeatureExtractor, strip_pixels: int = STRIP_PIXELS) -> list[Strip]:
    """Strips of about `strip_pixels` pixels; boundaries on multiples of the network's total stride."""
    step = extractor.max_stride
    rows = max(step, (strip_pixels // max(width, 1)) // step * step)
    halo = -(-extractor.halo // step) * step
    if rows + 2 * halo >= height:
        return [Strip(0, height, 0, height, True)]
    bounds = list(range(0, height, rows))
    if height - bounds[-1] < halo:  # a sliver at the bottom: give it to the strip above
        bounds.pop()
    result = []
    for i, start in enumerate(bounds):
        last = i == len(bounds) - 1
        end = height if last else bounds[i + 1]
        result.append(Strip(start, end, max(0, start - halo), height if last else min(height, end + halo), last))
    return result


def _grams(extractor: FeatureExtractor, image: Tensor, layers: list[str], strip_pixels: int,
           content: GatysTerms | None = None) -> tuple[Tensor | None, dict[str, Tensor], dict[str, int]]:
    """Gram matrices (divided by C*H*W, as `gram_matrix`) of `layers`; with `content`, its error too."""
    sums: dict[str, Tensor] = {}
    sizes: dict[str, int] = {}
    error = image.new_zeros(()) if content is not None else None
    wanted = content.layers if content is not None else layers
    for strip, features in _run(extractor, image, wanted, strip_pixels):
        if content is not None:
            if content.pulse is not None:
                content.pulse()
            error = error + content.strip_content(strip, features)
        for name in layers:
            owned = strip.owned(features[name], extractor.strides[name])
            gram = gram_sum(owned)  # not yet divided: the divisor is the whole image's C*H*W
            sums[name] = sums[name] + gram if name in sums else gram
            sizes[name] = sizes.get(name, 0) + owned[0].numel()
    return error, {name: sums[name] / sizes[name] for name in layers}, sizes


@torch.no_grad()
def strip_grams(extractor: FeatureExtractor, image: Tensor, layers: list[str],
                strip_pixels: int = STRIP_PIXELS) -> dict[str, Tensor]:
    """The Gram matrices (divided by C*H*W) of `layers`, as `gram_matrix` gives them, in bounded memory."""
    return _grams(extractor, image, layers, strip_pixels)[1]


@torch.no_grad()
def strip_features(extractor: FeatureExtractor, image: Tensor, layers: list[str],
                   strip_pixels: int = STRIP_PIXELS) -> dict[str, Tensor]:
    """The feature maps of `layers`, assembled from strips (only the requested maps are ever whole)."""
    parts: dict[str, list[Tensor]] = {name: [] for name in layers}
    for strip, features in _run(extractor, image, layers, strip_pixels):
        for name, f in features.items():
            parts[name].append(strip.owned(f, extractor.strides[name]))
    return {name: torch.cat(p, dim=-2) for name, p in parts.items()}


def _run(extractor: FeatureExtractor, image: Tensor, layers: list[str],
         strip_pixels: int) -> Iterator[tuple[Strip, dict[str, Tensor]]]:
    height, width = image.shape[-2:]
    for strip in strips(height, width, extractor, strip_pixels):
        yield strip, extractor(image[..., strip.in_start:strip.in_end, :], layers)


def device_strip_pixels(device: torch.device) -> int:
    """The strip size for `device`: `STRIP_PIXELS` on the CPU, what the GPU's free memory holds on CUDA."""
    return sized(STRIP_PIXELS, gpu_budget(device), GPU_STRIP_BYTES_PER_PIXEL, GPU_MAX_STRIP_PIXELS)


class GatysTerms:
    """Content error and Gram matrices of an image, over strips, as one differentiable function.

    `__call__(image)` returns ``(content_error, {layer: gram})``: the content error is the weighted MSE
    against the content features; the Gram matrices feed any style loss. Both carry exact gradients.
    """

    def __init__(self, extractor: FeatureExtractor, content_targets: Mapping[str, Tensor],
                 content_weights: Mapping[str, float], style_layers: list[str],
                 strip_pixels: int = STRIP_PIXELS, pulse: Callable[[], object] | None = None) -> None:
        self.extractor = extractor
        self.pulse = pulse  # called at every strip, its answer ignored: a caller's heartbeat inside a step
        self.content_targets = {name: _compact(target) for name, target in content_targets.items()}
        self.content_weights = dict(content_weights)
        self.style_layers = list(style_layers)
        self.layers = sorted(set(style_layers) | set(content_weights), key=extractor.layer_names.index)
        self.strip_pixels = strip_pixels

    def __call__(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if len(strips(*image.shape[-2:], self.extractor, self.strip_pixels)) == 1:
            # small images fit in one strip: plain autograd, without recomputing the forward pass
            content, grams, _ = _grams(self.extractor, image, self.style_layers, self.strip_pixels, self)
            return content, grams
        content, *grams = _GatysTermsFunction.apply(image, self)
        return content, dict(zip(self.style_layers, grams))

    def strip_content(self, strip: Strip, features: Mapping[str, Tensor]) -> Tensor:
        """This strip's share of the content error (a weighted mean over the whole image)."""
        error = features[self.layers[0]].new_zeros(())
        for name, weight in self.content_weights.items():
            difference = self._difference(strip, name, features[name])
            error = error + difference.pow(2).sum() * (weight / self.content_targets[name].numel())
        return error

    def strip_gradients(self, strip: Strip, features: Mapping[str, Tensor], grad_content: Tensor,
                        grad_grams: Sequence[Tensor], sizes: Mapping[str, int]) -> dict[str, Tensor]:
        """d(loss)/d(feature map) of each layer for this strip, given the loss's gradients with respect to
        the content error and the (divided) Gram matrices; zero on the halo rows.

        Written out rather than left to autograd: autograd would backpropagate through the row slices,
        building and adding up a zero-padded copy of every feature map per loss term.
        """
        grads = {name: torch.zeros_like(features[name]) for name in self.layers}
        for name, grad_gram in zip(self.style_layers, grad_grams):
            owned = strip.owned(features[name], self.extractor.strides[name])
            strip.owned(grads[name], self.extractor.strides[name]).add_(
                gram_sum_backward(owned, grad_gram / sizes[name]))
        for name, weight in self.content_weights.items():
            scale = grad_content * (2 * weight / self.content_targets[name].numel())
            strip.owned(grads[name], self.extractor.strides[name]).add_(
                self._difference(strip, name, features[name]) * scale)
        return grads

    def _difference(self, strip: Strip, name: str, features: Tensor) -> Tensor:
        """The strip's own rows of `features` minus the content target's same rows."""
        stride = self.extractor.strides[name]
        ours = strip.owned(features, stride)
        first = strip.own_start // stride
        return ours - self.content_targets[name][..., first:first + ours.shape[-2], :]


class _GatysTermsFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, image: Tensor, terms: GatysTerms) -> tuple[Tensor, ...]:  # type: ignore[override]
        content, grams, sizes = _grams(terms.extractor, image, terms.style_layers, terms.strip_pixels, terms)
        ctx.terms, ctx.sizes = terms, sizes
        ctx.save_for_backward(image)
        return (content, *grams.values())

    @staticmethod
    def backward(ctx, grad_content: Tensor, *grad_grams: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (image,) = ctx.saved_tensors
        terms: GatysTerms = ctx.terms
        grad = torch.zeros_like(image)
        for strip in strips(*image.shape[-2:], terms.extractor, terms.strip_pixels):
            if terms.pulse is not None:
                terms.pulse()
            with torch.enable_grad():
                piece = image[..., strip.in_start:strip.in_end, :].detach().requires_grad_(True)
                features = terms.extractor(piece, terms.layers)
                grads = terms.strip_gradients(strip, features, grad_content, grad_grams, ctx.sizes)
                (piece_grad,) = torch.autograd.grad([features[n] for n in terms.layers], piece,
                                                    [grads[n] for n in terms.layers])
            grad[..., strip.in_start:strip.in_end, :] += piece_grad
        if _TRIM is not None:
            _TRIM(0)
        return grad, None
