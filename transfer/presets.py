"""Per-backbone defaults: which layers to read, how strong each loss is, and how to optimise.

A preset is what "default settings" means for a backbone; `TransferSettings` tweaks it per request.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["STRIP_PIXELS", "Preset", "VGG19_PRESET", "RESNET50_PRESET", "Scale", "LEARNING_RATES"]

STRIP_PIXELS = 65_536  # a 256x256 image's worth: fast per pixel on a small CPU cache, small in memory
Optimizer = Literal["lbfgs", "adam"]
# Starting step sizes on pixels in [0, 1]; the divergence guard halves them when the loss jumps.
LEARNING_RATES: Mapping[str, float] = {"lbfgs": 1.0, "adam": 0.02}


@dataclass(frozen=True)
class Scale:
    """One level of coarse-to-fine optimisation: a fraction of the output's long side and its steps."""

    fraction: float
    steps: int


@dataclass(frozen=True)
class Preset:
    style_layers: Mapping[str, float]
    content_layers: Mapping[str, float]
    style_weight: float
    content_weight: float = 1.0
    tv_weight: float = 0.0
    optimizer: Optimizer = "lbfgs"
    lbfgs_history: int = 100  # most (step, gradient change) pairs L-BFGS keeps; more is a better model
    lbfgs_memory_mb: float = 96.0  # ...but the pairs may take at most this much: fewer pairs on big images
    line_search: bool = False  # L-BFGS with a strong-Wolfe line search instead of fixed steps
    pyramid: bool = False  # optimise the image as a `PixelPyramid` (a preconditioner) instead of raw pixels
    scales: tuple[Scale, ...] = field(default=(Scale(1.0, 300),))
    # the "fast" preset: most steps on cheap levels, a few at full size: a first useful result in seconds
    fast_scales: tuple[Scale, ...] = field(default=(Scale(0.25, 20), Scale(0.5, 25), Scale(1.0, 2)))
    min_side: int = 64  # coarse levels stop shrinking here: below it the network sees no texture
    warm_start: bool = False  # start from the quick universal result (`transfer.universal`), not the photo


# VGG19: the classic Gatys layer set on the pre-ReLU convolutions, style weight 1e6 (the PyTorch tutorial's
# objective, which is also what the benchmark scores). L-BFGS: on this smooth objective it converges in
# far fewer evaluations than Adam; a strong-Wolfe line search makes each step count (~10% lower loss at
# equal evaluations) and the pixel pyramid moves large areas early (at 256 px, 120 evaluations: 66 against
# 169 on raw pixels). Coarse-to-fine over two levels: the 1/2 level places the strokes, so the expensive
# full-resolution level only refines texture. A 1/4 level as well ended in a more stylised, less faithful
# image: at 256 px 48.1 against 45.8 (and 26.0 against 23.4 at 512 px) on the classic objective.
# Warm start: the coarse level starts from the quick universal (WCT) result instead of the photo, in the
# same time (the quick pass is 1% of it); measured in `bench nst --square` (see the README's table).
VGG19_PRESET = Preset(
    style_layers={"conv1_1": 1.0, "conv1_2": 1.0, "conv2_1": 1.0, "conv2_2": 1.0, "conv3_1": 1.0},
    content_layers={"conv2_2": 1.0},
    style_weight=1e6,
    optimizer="lbfgs",
    line_search=True,
    pyramid=True,
    scales=(Scale(0.5, 40), Scale(1.0, 120)),
    warm_start=True,
)

# ResNet50: the stem, layer1's three blocks and layer2's first block for style (textures at 1/2 to 1/8
# resolution), the end of layer1 for content. Its strided convolutions and BatchNorm make the loss
# surface rough: L-BFGS's curvature model is thrown off by the loss spikes and diverges, so Adam, with
# a scheduler that halves the step (and restores the best image) when the loss jumps or plateaus.
# Warm start as VGG19's: the quick pass costs about 1 s of a run of minutes (Adam's 260 evaluations), and
# in the chat the full painting then refines the quick version the user saw rather than a different
# picture. Whether it also lowers the score could not be measured: no ImageNet ResNet50 weights offline.
RESNET50_PRESET = Preset(
    style_layers={"stem": 1.0, "layer1.0": 1.0, "layer1.1": 1.0, "layer1.2": 1.0, "layer2.0": 1.0},
    content_layers={"layer1.2": 1.0},
    style_weight=1e6,
    tv_weight=0.0,
    optimizer="adam",
    scales=(Scale(0.25, 80), Scale(0.5, 80), Scale(1.0, 100)),
    warm_start=True,
)
