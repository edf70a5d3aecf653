"""The only door from the bots to the neural networks: images and settings in, an image out.

The bots see engines through three small protocols, so they never handle tensors and any engine that
keeps the conventions (PIL images, `Progress` reports, a cancel check that makes it raise `Cancelled`,
`ImageError` for pictures it refuses) can serve them. `StyleTransfer`, `InstantStylizer` and `Upscaler`
are the real ones.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image

from bots.backbone import Backbone
from superres import Upscaler
from superres.srgan import srgan_x4
from transfer import StyleTransfer, TransferSettings
from transfer.images import ImageSource
from transfer.instant import InstantStylizer
from transfer.universal import UniversalStylizer
from transfer.progress import CancelCheck, ProgressCallback

__all__ = ["Backbone", "StyleEngine", "load_style_engine", "InstantEngine", "UpscaleEngine", "UniversalEngine", "Engines", "load_engines",
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


class UniversalEngine(Protocol):
    """Repaints an image in the style of any painting in one pass, in seconds (`UniversalStylizer` is one)."""

    def stylize(self, content: ImageSource, style_or_styles: ImageSource, strength: float = 1.0,
                keep_colors: bool = False, max_side: int | None = None, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


class UpscaleEngine(Protocol):
    """Makes an image 4x larger (`superres.Upscaler` is one)."""

    def upscale(self, image: ImageSource, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


def load_style_engine(backbone: Backbone, weights_dir: Path | None = None, strip_pixels: int | None = None,
                      device: torch.device | None = None) -> StyleEngine:
    """The real engine with its pretrained weights (raises `weights.WeightsError` if a file is missing);
    `strip_pixels` trades its memory for time (`transfer.strips`; None: the device's default)."""
    load = StyleTransfer.vgg19 if backbone is Backbone.VGG19 else StyleTransfer.resnet50
    return load(weights_dir, strip_pixels=strip_pixels, device=device)


@dataclass(frozen=True)
class Engines:
    """What a worker computes with: one style engine per backbone its bot offers, the instant styles, the
    universal stylizer (quick versions) and the upscaler if the bot has one; a worker of one lane loads
    only that lane's (None for the others)."""

    styles: Mapping[Backbone, StyleEngine]
    instant: InstantEngine | None
    upscaler: UpscaleEngine | None = None
    universal: UniversalEngine | None = None


def load_engines(backbones: tuple[Backbone, ...], upscaling: bool, weights_dir: Path | None = None,
                 strip_pixels: int | None = None, tile: int | None = None, instant: bool = True,
                 device: torch.device | None = None) -> Engines:
    """Load every network once (seconds), before the worker takes jobs, so a missing file stops the
    start rather than a user's job; `strip_pixels` and `tile` bound the memory of a Gatys job and of an
    upscaling (`bots.budget`; None: the device's defaults, `transfer.device`); `instant`: the fast
    lane's networks (instant styles, quick versions); `device`: where they all compute."""
    styles = {backbone: load_style_engine(backbone, weights_dir, strip_pixels, device) for backbone in backbones}
    upscaler = Upscaler(srgan_x4(weights_dir, device=device), tile=tile) if upscaling else None
    stylizer = InstantStylizer(weights_dir, device=device) if instant else None
    for style in stylizer.styles if stylizer else ():
        stylizer.network(style)
    universal = UniversalStylizer(weights_dir, device=device) if instant else None
    if universal is not None:
        universal.networks()
    return Engines(styles, stylizer, upscaler, universal)


def set_compute_threads(count: int) -> None:
    """CPU threads each engine call may use; torch's default (one per core) oversubscribes a machine
    running several workers or other programs, and then every job runs several times slower."""
    torch.set_num_threads(count)
