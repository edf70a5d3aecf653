"""Stand-in ResNet50 weights with random values, because no real ImageNet ResNet50 file exists offline.

The file has exactly the layout of ``Weights.RESNET50`` (stem, layer1 and layer2[0] of torchvision's
resnet50), so code that loads it runs as in production: time and memory are meaningful, any quality
measured with it is not. Anything using it must say the weights are random.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torchvision

from weights import RESNET50_KEPT_PREFIXES, Weights

__all__ = ["write_random_resnet50", "random_resnet50_dir"]


def write_random_resnet50(directory: Path, seed: int = 0) -> Path:
    """Save torchvision's randomly initialised resnet50, trimmed like the real file, in `directory`."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet50(weights=None)
    state = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(RESNET50_KEPT_PREFIXES)}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / Weights.RESNET50.spec.filename
    torch.save(state, path)
    return path


def random_resnet50_dir(directory: Path) -> Path:
    """`directory` as a weights folder: random ResNet50 weights, and links to the real VGG19 file and the
    universal stylizer's folder (the ResNet50 preset's warm start)."""
    from weights import weights_dir

    write_random_resnet50(directory)
    for real in (weights_dir() / Weights.VGG19.spec.filename, weights_dir() / "wct"):
        if real.exists():
            (directory / real.name).symlink_to(real)
    return directory
