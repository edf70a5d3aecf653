"""The Gatys et al. style loss (Gram-matrix MSE) and total variation; the content error is in `strips`.

Each is normalised by the size of what it compares, so a weight means the same at 128 px as at 1024 px.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["gram_matrix", "gram_sum", "gram_sum_backward", "StyleLoss", "total_variation"]


class _GramSum(torch.autograd.Function):
    """FᵀF of a (positions, channels) matrix whose backward is one matrix product: autograd's would do two,
    one per factor of the product. The Gram products are a fifth of a VGG19 step's time at 256 px.

    The sum is returned in float32 whatever the features' dtype: a bfloat16 network's product is accumulated
    in float32 inside the matrix kernel and rounded once to bfloat16 (3 significant digits) as it comes out;
    the strips' sums, the targets and the loss are then float32 (`_product`).
    """

    @staticmethod
    def forward(ctx, positions: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(positions)
        return _product(positions)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (positions,) = ctx.saved_tensors
        return positions @ (grad + grad.t()).to(positions.dtype)


def _product(positions: Tensor) -> Tensor:
    """PᵀP in float32. For bfloat16 positions the product runs in bfloat16 (its kernel accumulates in float32)
    and only the C x C result is widened: casting the positions to float32 first made a 512 px VGG19
    evaluation 2.5x slower (1.9 s against 0.77 s on 2 cores of an AVX512-BF16 EPYC) for the same loss to
    four digits."""
    product = positions.t() @ positions
    return product.float() if product.dtype == torch.bfloat16 else product


def _positions(features: Tensor) -> Tensor:
    """A (1, C, H, W) feature map as an (H*W, C) matrix: a view, without a copy, of a channels-last map.

    The backbones compute in channels-last (`transfer.backbones`), so the Gram products read the
    convolutions' output in place and their gradients come back in the layout the convolutions want.
    """
    return features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])


def gram_sum(features: Tensor) -> Tensor:
    """F Fᵀ of a (1, C, H, W) feature map, not divided by anything (strips add these up)."""
    return _GramSum.apply(_positions(features))


def gram_sum_backward(features: Tensor, grad: Tensor) -> Tensor:
    """The gradient that `grad` on `gram_sum(features)` sends to `features`, without building the Gram."""
    _, channels, height, width = features.shape
    positions = _positions(features)
    return (positions @ (grad + grad.t()).to(positions.dtype)).reshape(1, height, width, channels).permute(0, 3, 1, 2)


def gram_matrix(features: Tensor) -> Tensor:
    """Channel correlations of a (1, C, H, W) feature map, divided by C*H*W (independent of image size)."""
    return gram_sum(features) / features[0].numel()


class StyleLoss(nn.Module):
    """Weighted MSE between Gram matrices and a blend of the style images' Gram matrices, per layer."""

    def __init__(self, targets: Mapping[str, Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.targets = {name: targets[name].detach() for name in self.layer_weights}

    @classmethod
    def blended(cls, style_grams: Sequence[Mapping[str, Tensor]], blend: Sequence[float],
                layer_weights: Mapping[str, float]) -> StyleLoss:
        """Targets from several style images' Gram matrices, averaged with `blend` weights."""
        total = float(sum(blend))
        targets = {name: sum(g[name] * (b / total) for g, b in zip(style_grams, blend)) for name in layer_weights}
        return cls(targets, layer_weights)

    def forward(self, grams: Mapping[str, Tensor]) -> Tensor:
        return sum(w * F.mse_loss(grams[name], self.targets[name]) for name, w in self.layer_weights.items())


def total_variation(image: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels: penalises high-frequency noise."""
    return ((image[..., 1:, :] - image[..., :-1, :]).abs().mean()
            + (image[..., :, 1:] - image[..., :, :-1]).abs().mean())

