"""The neutral judge: the classic objective computed the same way on every method's final image.

score = 1e6 * sum over conv1_1..conv3_1 of MSE(Gram(result), Gram(style)) + MSE(conv2_2(result), conv2_2(content))

with Gram = F F^T / (a*b*c*d) and VGG19 ImageNet features taken before their ReLU (torchvision's in-place
ReLUs replaced, or they would overwrite four of the five taps), exactly the loss of the classic tutorial.
It is computed at the *evaluation size*: the content fitted to that long side with its aspect kept (up-
or down-scaled); a result of another size (e.g. the baseline's squashed square) is resized to exactly
that size first. The style image is fitted to the same long side with its
aspect kept. Self-contained on purpose, so no method's own code decides how it is judged.

Why several resampling filters: near convergence the objective is dominated by how the style image was
downscaled. Measured at 256 px (amber + candy): the baseline's result scores 43 against a bilinear
style target (the tutorial's own, via torchvision) and 9744 against a Lanczos one; a result optimised
against Lanczos targets scores 9787 and 102 - the verdict would follow the filter, not the method.
So the score is the lowest total over the standard filters (``FILTERS``), each applied to the content,
the style and a resized result alike: no method is penalised for which standard filter it used.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from bench.baseline import load_vgg19_features

__all__ = ["Score", "Evaluator", "STYLE_WEIGHT", "FILTERS", "fit_long_side"]

STYLE_WEIGHT = 1e6
STYLE_TAPS = (0, 2, 5, 7, 10)  # indices in vgg19().features of conv1_1, conv1_2, conv2_1, conv2_2, conv3_1
CONTENT_TAP = 7  # conv2_2
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "lanczos": Image.Resampling.LANCZOS}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class Score:
    """The objective (lower is better) and its two parts; `style` already includes the 1e6 weight."""

    total: float
    style: float
    content: float
    filter: str  # the resampling filter this score was computed with


def fit_long_side(image: Image.Image, long_side: int, resample: Image.Resampling) -> Image.Image:
    """`image` resized so its long side is `long_side`, aspect kept; as is if already that size."""
    width, height = image.size
    scale = long_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if size == image.size else image.resize(size, resample)


def _to_tensor(image: Image.Image) -> Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def _gram(features: Tensor) -> Tensor:
    a, b, c, d = features.shape
    flat = features.reshape(a * b, c * d)
    return flat @ flat.t() / (a * b * c * d)


class Evaluator:
    """Holds the real VGG19 conv1_1..conv3_1; call it on (result, content, style, size) to get a `Score`."""

    def __init__(self, weights_directory: Path | None = None) -> None:
        self.features: nn.Sequential = load_vgg19_features(weights_directory)
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.ReLU):  # torchvision's are in-place: they would overwrite the taps
                self.features[index] = nn.ReLU(inplace=False)

    def _taps(self, image: Image.Image) -> dict[int, Tensor]:
        x = (_to_tensor(image) - MEAN) / STD
        taps = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in STYLE_TAPS or index == CONTENT_TAP:
                taps[index] = x
        return taps

    @torch.no_grad()
    def judge(self, content: Image.Image, style: Image.Image, size: int,
              filters: Sequence[str] = tuple(FILTERS)) -> Callable[[Image.Image], list[Score]]:
        """A scorer of results against this content and style at long side `size`, one `Score` per filter.

        The targets are computed once, and a result already at the evaluation size goes through VGG19 once
        for all filters: scoring a run's checkpoints costs about a ninth of calling `scores` on each.
        """
        content, style = content.convert("RGB"), style.convert("RGB")
        targets = {}
        for name in filters:
            sized = fit_long_side(content, size, FILTERS[name])
            painting = self._taps(fit_long_side(style, size, FILTERS[name]))
            targets[name] = (sized.size, self._taps(sized)[CONTENT_TAP], {i: _gram(painting[i]) for i in STYLE_TAPS})

        @torch.no_grad()
        def scores(result: Image.Image) -> list[Score]:
            result = result.convert("RGB")
            taps: dict[str | None, dict[int, Tensor]] = {}  # None: the result as it is, else resized by that filter
            judged = []
            for name, (shape, content_target, grams) in targets.items():
                key = None if result.size == shape else name
                if key not in taps:
                    taps[key] = self._taps(result if key is None else result.resize(shape, FILTERS[name]))
                ours = taps[key]
                style_loss = sum(F.mse_loss(_gram(ours[i]), grams[i]).item() for i in STYLE_TAPS)
                content_loss = F.mse_loss(ours[CONTENT_TAP], content_target).item()
                judged.append(Score(total=STYLE_WEIGHT * style_loss + content_loss, style=STYLE_WEIGHT * style_loss,
                                    content=content_loss, filter=name))
            return judged

        return scores

    def score_with(self, filter_name: str, result: Image.Image, content: Image.Image, style: Image.Image,
                   size: int) -> Score:
        """The objective with content, style (and `result` if its size differs) resized by one filter."""
        return self.judge(content, style, size, (filter_name,))(result)[0]

    def scores(self, result: Image.Image, content: Image.Image, style: Image.Image, size: int) -> list[Score]:
        """The objective under every filter in `FILTERS`."""
        return self.judge(content, style, size)(result)

    def __call__(self, result: Image.Image, content: Image.Image, style: Image.Image, size: int) -> Score:
        """Score `result` (an 8-bit image, e.g. reloaded from the PNG a method saved) at long side `size`."""
        return min(self.scores(result, content, style, size), key=lambda score: score.total)
