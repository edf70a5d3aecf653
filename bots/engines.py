"""The only door from the bots to the neural networks: images and settings in, an image out.

The bots see engines through three small protocols, so they never handle tensors and any engine that
keeps the conventions (PIL images, `Progress` reports, a cancel check that makes it raise `Cancelled`,
`ImageError` for pictures it refuses) can serve them. `StyleTransfer`, `InstantStylizer` and `Upscaler`
are the real ones.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image

from superres import Upscaler
from superres.srgan import srgan_x4
from transfer import StyleTransfer, TransferSettings
from transfer.images import ImageSource
from transfer.instant import InstantStylizer
from transfer.progress import CancelCheck, ProgressCallback
from transfer.strips import STRIP_PIXELS

__all__ = ["Backbone", "StyleEngine", "InstantEngine", "UpscaleEngine", "Engines", "load_engines",
           "set_compute_threads"]


class StyleEngine(Protocol):
    """Repaints a content image in the style of another (`transfer.StyleTransfer` is one)."""

    def run(self, content: ImageSource, style: ImageSource, settings: TransferSettings | None = None,
            progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> Image.Image: ...


class InstantEngine(Protocol):
    """Repaints an image in one of its own styles in a single pass, in seconds (`InstantStylizer` is one)."""

    @property
    def styles(self) -> list[str]:
        """The keys of the styles it paints, in display order."""

    def stylize(self, image: ImageSource, style: str, strength: float = 1.0, keep_colors: bool = False,
                max_side: int | None = None, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


class UpscaleEngine(Protocol):
    """Makes an image 4x larger (`superres.Upscaler` is one)."""

    def upscale(self, image: ImageSource, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


class Backbone(enum.Enum):
    """The networks a bot can paint with; the value is the short key used in buttons and settings."""

    VGG19 = "vgg19"
    RESNET50 = "resnet50"

    @property
    def label(self) -> str:
        return {"vgg19": "VGG19", "resnet50": "ResNet50"}[self.value]

    def load(self, weights_dir: Path | None = None, strip_pixels: int = STRIP_PIXELS) -> StyleEngine:
        """The real engine with its pretrained weights (raises `weights.WeightsError` if a file is missing);
        `strip_pixels` trades its memory for time (`transfer.strips`)."""
        if self is Backbone.VGG19:
            return StyleTransfer.vgg19(weights_dir, strip_pixels=strip_pixels)
        return StyleTransfer.resnet50(weights_dir, strip_pixels=strip_pixels)


@dataclass(frozen=True)
class Engines:
    """What a bot computes with: one style engine per backbone it offers, the instant styles every bot
    offers, and the upscaler if it has one."""

    styles: Mapping[Backbone, StyleEngine]
    instant: InstantEngine
    upscaler: UpscaleEngine | None = None


def load_engines(backbones: tuple[Backbone, ...], upscaling: bool, weights_dir: Path | None = None,
                 strip_pixels: int = STRIP_PIXELS) -> Engines:
    """Load every network once (seconds), before the bot starts answering, so a missing file stops the
    start rather than a user's job."""
    styles = {backbone: backbone.load(weights_dir, strip_pixels) for backbone in backbones}
    upscaler = Upscaler(srgan_x4(weights_dir)) if upscaling else None
    instant = InstantStylizer(weights_dir)
    for style in instant.styles:
        instant.network(style)
    return Engines(styles, instant, upscaler)


def set_compute_threads(count: int) -> None:
    """CPU threads each engine call may use; torch's default (one per core) oversubscribes a machine
    running several workers or other programs, and then every job runs several times slower."""
    torch.set_num_threads(count)
