"""The SRGAN x4 generator (Ledig et al. 2017), laid out so the leftthomas/SRGAN weights load key for key.

Module names (``block1`` .. ``block8``, ``conv1``/``bn1``/``prelu`` ...) are those of the published
state dict, so `weights.load_into` can check every key and shape. The network is used for inference
only, hence frozen batch norms: they hold exactly the four tensors the file stores (no
``num_batches_tracked``) and cannot be switched back into training statistics by mistake.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

from transfer.device import compute_device
from transfer.precision import network_dtype
from weights import Weights, load_into

__all__ = ["Generator", "srgan_x4", "SCALE", "FEATURES_RADIUS", "UPSAMPLE_RADIUS", "RECEPTIVE_RADIUS"]

SCALE = 4
CHANNELS = 64
RESIDUAL_BLOCKS = 5
# How far (in input pixels) each stage sees. Features: 9x9 head (4) + 5 residual blocks of two 3x3 (10)
# + 3x3 (1) = 15. Upsampling: 3x3 at x1 (1), 3x3 at x2 (1/2), 9x9 at x4 (1) = 2.5, rounded up to 3.
FEATURES_RADIUS = 15
UPSAMPLE_RADIUS = 3
RECEPTIVE_RADIUS = FEATURES_RADIUS + UPSAMPLE_RADIUS


class ResidualBlock(nn.Module):
    """conv-BN-PReLU-conv-BN plus the input, at constant width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn1 = FrozenBatchNorm2d(channels)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn2 = FrozenBatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class UpsampleBlock(nn.Module):
    """x2 sub-pixel convolution: conv to 4x the channels, pixel shuffle, PReLU."""

    def __init__(self, channels: int, factor: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * factor**2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(factor)
        self.prelu = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(self.pixel_shuffle(self.conv(x)))


class Generator(nn.Module):
    """RGB in [0, 1] of size (H, W) -> RGB in [0, 1] of size (4H, 4W)."""

    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, CHANNELS, kernel_size=9, padding=4), nn.PReLU())
        for i in range(RESIDUAL_BLOCKS):
            self.add_module(f"block{i + 2}", ResidualBlock(CHANNELS))
        self.block7 = nn.Sequential(nn.Conv2d(CHANNELS, CHANNELS, kernel_size=3, padding=1), nn.PReLU())
        self.block8 = nn.Sequential(UpsampleBlock(CHANNELS), UpsampleBlock(CHANNELS),
                                    nn.Conv2d(CHANNELS, 3, kernel_size=9, padding=4))
        self.receptive_radius = RECEPTIVE_RADIUS
        # channels-last: the CPU convolutions run without converting layouts between layers (a 512 px
        # image took 6.0 s instead of 7.5 s, tiled); loading weights keeps the layout
        self.to(memory_format=torch.channels_last)

    @property
    def dtype(self) -> torch.dtype:
        """What the network computes in (`srgan_x4`'s precision); it takes and gives float32 images."""
        return self.block7[0].weight.dtype

    def features(self, x: Tensor) -> Tensor:
        """The 64-channel features at input resolution (head + body, the long skip included)."""
        head = self.block1(x.to(self.dtype).contiguous(memory_format=torch.channels_last))
        body = head
        for i in range(RESIDUAL_BLOCKS):
            body = getattr(self, f"block{i + 2}")(body)
        return head + self.block7(body)

    def upsample(self, features: Tensor) -> Tensor:
        """Features (64, H, W) -> RGB (3, 4H, 4W) in [0, 1]; the same function as ``block8``, faster.

        The last 9x9 convolution (64 -> 3 channels at 4x) is 18% of the work but ran at a quarter of
        the other layers' speed. It is applied instead before the last pixel shuffle, as the
        equivalent 5x5 convolution from 256 channels to 3 x 4 sub-pixels (`_subpixel_kernel`), and
        the shuffle moves only 12 channels; the PReLU commutes with the shuffle (one shared slope).
        The output is float32 whatever the network computes in: bfloat16's step near 1.0 is 1/256, as
        coarse as the 8-bit image it becomes.
        """
        first, second, last = self.block8
        x = second.prelu(second.conv(first(features)))
        x = F.conv2d(x, _subpixel_kernel(last.weight), last.bias.repeat_interleave(4), padding=2).float()
        return (torch.tanh(F.pixel_shuffle(x, 2)) + 1) / 2

    def forward(self, x: Tensor) -> Tensor:
        return self.upsample(self.features(x))


def _subpixel_kernel(weight: Tensor) -> Tensor:
    """A 9x9 kernel (O, C, 9, 9) meant for `pixel_shuffle(x, 2)`, as a 5x5 kernel (4O, 4C, 5, 5) for `x`.

    Output sub-pixel (p, q) of the shuffled grid reads input sub-pixel (a, b) at a coarse offset D:
    fine offset 2D + a - p, i.e. tap 2D + a - p + 4 of the 9x9 kernel (zero outside it).
    """
    padded = F.pad(weight, (1, 1, 1, 1))  # taps -1 and 9 read zeros
    sub, offset = torch.arange(2, device=weight.device), torch.arange(-2, 3, device=weight.device)
    tap = 2 * offset.view(1, 1, 5) + sub.view(1, 2, 1) - sub.view(2, 1, 1) + 5  # [p, a, D], padded
    kernel = padded[:, :, tap.view(2, 2, 5, 1, 1, 1), tap.view(1, 1, 1, 2, 2, 5)]  # o c p a Dy q b Dx
    out_channels, in_channels = weight.shape[:2]
    return kernel.permute(0, 2, 5, 1, 3, 6, 4, 7).reshape(4 * out_channels, 4 * in_channels, 5, 5)


def srgan_x4(weights_dir: Path | None = None, download: bool | None = None,
             device: str | torch.device | None = None, precision: str | None = None) -> Generator:
    """The generator with the real SRGAN x4 weights, in eval mode and without gradients, on `device`
    (default: ``STYLEBOT_DEVICE``, `transfer.device`), in `precision` (default: ``STYLEBOT_PRECISION``,
    `transfer.precision`). auto: bfloat16 where the device has it natively; measured on 2 cores of an
    AVX512-BF16 EPYC, a 256 px picture x4 in 0.79 s against 2.65 s in float32, the result 49.3 dB PSNR from
    float32's (amber.jpg); the bench's `sr` runs measure it again.

    The file ``srgan_netG_x4.pth`` is looked up in `weights_dir` (default: `weights.weights_dir()`);
    if it is absent, the `WeightsError` says where to put it and where to get it.
    """
    target = compute_device(device)  # an unusable setting is refused before any file is read
    generator = Generator()
    load_into(generator, Weights.SRGAN_X4, weights_dir, download)
    generator.eval()
    generator.requires_grad_(False)
    return generator.to(target, network_dtype(target, precision, "SRGAN x4"))
