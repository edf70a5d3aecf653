"""The Gatys et al. style loss (Gram-matrix MSE) and total variation; the content error is in `strips`.

Each is normalised by the size of what it compares, so a weight means the same at 128 px as at 1024 px.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["gram_matrix", "StyleLoss", "total_variation"]


def gram_matrix(features: Tensor) -> Tensor:
    """Channel correlations of a (1, C, H, W) feature map, divided by C*H*W (independent of image size)."""
    _, channels, height, width = features.shape
    flat = features.reshape(channels, height * width)
    return flat @ flat.t() / (channels * height * width)


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

