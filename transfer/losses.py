"""The Gatys et al. losses: content (feature MSE), style (Gram-matrix MSE) and total variation.

Each is normalised by the size of what it compares, so a weight means the same at 128 px as at 1024 px.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["gram_matrix", "ContentLoss", "StyleLoss", "total_variation"]


def gram_matrix(features: Tensor) -> Tensor:
    """Channel correlations of a (1, C, H, W) feature map, divided by C*H*W (independent of image size)."""
    _, channels, height, width = features.shape
    flat = features.reshape(channels, height * width)
    return flat @ flat.t() / (channels * height * width)


class ContentLoss(nn.Module):
    """Weighted MSE between feature maps and the content image's, per layer."""

    def __init__(self, targets: Mapping[str, Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.targets = {name: targets[name].detach() for name in self.layer_weights}

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return sum(w * F.mse_loss(features[name], self.targets[name])
                   for name, w in self.layer_weights.items())


class StyleLoss(nn.Module):
    """Weighted MSE between Gram matrices and a blend of the style images' Gram matrices, per layer."""

    def __init__(self, targets: Mapping[str, Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.targets = {name: targets[name].detach() for name in self.layer_weights}

    @classmethod
    def blended(cls, style_features: Sequence[Mapping[str, Tensor]], blend: Sequence[float],
                layer_weights: Mapping[str, float]) -> StyleLoss:
        """Targets from several style images: their Gram matrices averaged with `blend` weights."""
        total = float(sum(blend))
        targets = {name: sum(gram_matrix(f[name]) * (b / total) for f, b in zip(style_features, blend))
                   for name in layer_weights}
        return cls(targets, layer_weights)

    def forward(self, features: Mapping[str, Tensor]) -> Tensor:
        return sum(w * F.mse_loss(gram_matrix(features[name]), self.targets[name])
                   for name, w in self.layer_weights.items())


def total_variation(image: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels: penalises high-frequency noise."""
    return ((image[..., 1:, :] - image[..., :-1, :]).abs().mean()
            + (image[..., :, 1:] - image[..., :, :-1]).abs().mean())

