"""Compact x4 upscalers trained on realistic degradations (Real-ESRGAN's SRVGGNetCompact), laid out so the
published BasicSR weights load key for key.

Why not SRGAN for paintings: the SRGAN generator (`superres.srgan`) was trained on clean photo downscales
and lays a 4-pixel periodic "crackle" over brush strokes. Measured on this repo's paintings (MANIFEST of
the shared weights; `python -m bench hires` measures it again on painted results): the 4x4 grid energy
of a x4 round trip stays at the originals' level (at most 0.37 grey levels RMS) with these networks,
against 0.97-1.76 with SRGAN; they are also faster (LSDIR-C3: 0.21 s per 256x256 input on 2 cores, SRGAN
0.76 s).

The network: conv 3->64, PReLU, `convs` x (conv 64->64, PReLU), conv 64->48, pixel shuffle x4, plus the
input upsampled x4 by nearest neighbour. Every convolution is 3x3, so an output pixel sees
`convs + 2` input pixels around it: `receptive_radius`, what the tiled `Upscaler` reads around a tile.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transfer.device import compute_device
from transfer.precision import network_dtype
from weights import Weights, load_into

__all__ = ["CompactUpscaler", "CompactModel", "compact_x4", "SCALE"]

SCALE = 4
FEATURES = 64


class CompactModel(Enum):
    """The compact x4 networks we have weights for: (weights, body convolutions)."""

    # 4xLSDIRCompactC3 (Philip Hofmann, CC BY 4.0): 16 body convolutions; keeps painted texture
    LSDIR = (Weights.SR_LSDIR_COMPACT_C3_X4, 16)
    # Real-ESRGAN realesr-general-x4v3 (BSD-3): 32 body convolutions; smoother (waxy on fine hatching)
    GENERAL = (Weights.SR_REALESR_GENERAL_X4V3, 32)

    @property
    def weights(self) -> Weights:
        return self.value[0]

    @property
    def convs(self) -> int:
        return self.value[1]


class CompactUpscaler(nn.Module):
    """RGB in [0, 1] of size (H, W) -> RGB in [0, 1] of size (4H, 4W)."""

    def __init__(self, convs: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, FEATURES, 3, padding=1), nn.PReLU(FEATURES)]
        for _ in range(convs):
            layers += [nn.Conv2d(FEATURES, FEATURES, 3, padding=1), nn.PReLU(FEATURES)]
        layers.append(nn.Conv2d(FEATURES, 3 * SCALE * SCALE, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.receptive_radius = convs + 2
        # channels-last, as the SRGAN generator: the CPU convolutions then skip layout conversions
        self.to(memory_format=torch.channels_last)

    @property
    def dtype(self) -> torch.dtype:
        """What the network computes in; it takes and gives float32 images."""
        return self.body[0].weight.dtype

    def forward(self, x: Tensor) -> Tensor:
        residual = self.body(x.to(self.dtype).contiguous(memory_format=torch.channels_last)).float()
        out = F.pixel_shuffle(residual, SCALE) + F.interpolate(x.float(), scale_factor=SCALE, mode="nearest")
        return out.clamp_(0, 1)


def compact_x4(model: CompactModel = CompactModel.GENERAL, weights_dir: Path | None = None,
               download: bool | None = None, device: str | torch.device | None = None,
               precision: str | None = None) -> CompactUpscaler:
    """`model` with its real weights, in eval mode without gradients, on `device` (default
    ``STYLEBOT_DEVICE``) in `precision` (default ``STYLEBOT_PRECISION``: bfloat16 where native)."""
    target = compute_device(device)
    network = CompactUpscaler(model.convs)
    load_into(network, model.weights, weights_dir, download)
    network.eval()
    network.requires_grad_(False)
    return network.to(target, network_dtype(target, precision, f"x4 {model.name.lower()}"))
