"""The only door from the bots to the neural networks: images and settings in, an image out.

The bots see engines through small protocols, so they never handle tensors and any engine that keeps the
conventions (PIL images, `Progress` reports, a cancel check that makes it raise `Cancelled`, `ImageError`
for pictures it refuses) can serve them. `StyleTransfer`, `InstantStylizer`, `UniversalStylizer` and
`Upscaler` are the real ones. This is the one module of `bots` that imports torch, `superres`, `weights`
and transfer's engines; only worker processes import it (and the tests), never the chat process.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from PIL import Image

from bots.common.backbone import Backbone
from bots.common.budget import job_sizes, rss_mb
from bots.common.config import BotConfig
from bots.common.lanes import INSTANT_LANE, TRANSFER_LANE
from bots.common.settings import UserSettings
from superres import Upscaler
from superres.compact import compact_x4
from transfer import StyleTransfer, TransferSettings
from transfer.clips import Clip
from transfer.device import DeviceError, compute_device, share_gpu
from transfer.images import ImageSource
from transfer.instant import InstantStylizer
from transfer.motion import Steadier
from transfer.progress import CancelCheck, ProgressCallback
from transfer.resolution import Enlarger
from transfer.style_transfer import Carry
from transfer.universal import UniversalStylizer
from transfer.video import instant_painter, universal_painter
from transfer.video import paint_clip as paint_frames
from weights import WeightsError

__all__ = ["Backbone", "StyleEngine", "load_style_engine", "InstantEngine", "UpscaleEngine", "UniversalEngine",
           "Engines", "load_engines", "load_lane_engines", "EnginesUnavailable", "transfer_settings",
           "ResultEnlarger", "paint_clip"]

log = logging.getLogger(__name__)
# Memory the rest of the bot holds besides the workers' baselines: the chat process (65 MB in the soak
# benchmark) and one instant-style job (288 MB at 1024 px, bench instant), rounded up.
OTHERS_RESERVE = 400 * 1024 * 1024


class EnginesUnavailable(Exception):
    """The networks cannot be loaded: a weights file is missing or damaged, or the device is not on this
    host; the message says which, in one line."""


class StyleEngine(Protocol):
    """Repaints a content image in the style of another (`transfer.StyleTransfer` is one)."""

    def run(self, content: ImageSource, style: ImageSource, settings: TransferSettings | None = None,
            progress: ProgressCallback | None = None, cancel: CancelCheck | None = None,
            carry: Carry | None = None) -> Image.Image: ...


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


class ResultEnlarger(Protocol):
    """Carries a painting from its working size to the result's (`transfer.resolution.Enlarger` is one)."""

    def carry(self, painting: Image.Image, photo: Image.Image, size: tuple[int, int],
              progress: ProgressCallback | None = None, cancel: CancelCheck | None = None) -> Image.Image: ...


class UpscaleEngine(Protocol):
    """Makes an image 4x larger (`superres.Upscaler` is one)."""

    def upscale(self, image: ImageSource, progress: ProgressCallback | None = None,
                cancel: CancelCheck | None = None) -> Image.Image: ...


def load_style_engine(backbone: Backbone, weights_dir: Path | None = None, strip_pixels: int | None = None,
                      device: torch.device | None = None, precision: str | None = None) -> StyleEngine:
    """The real engine with its pretrained weights (raises `weights.WeightsError` if a file is missing);
    `strip_pixels` trades its memory for time (`transfer.strips`; None: the device's default)."""
    load = StyleTransfer.vgg19 if backbone is Backbone.VGG19 else StyleTransfer.resnet50
    return load(weights_dir, strip_pixels=strip_pixels, device=device, precision=precision)


@dataclass(frozen=True)
class Engines:
    """What a worker computes with: one style engine per backbone its bot offers, the instant styles, the
    universal stylizer (quick versions), the upscaler if the bot has one, and the enlarger that carries
    paintings to the photo's size (None: results stay at the working size); a worker of one lane loads
    only that lane's (None for the others)."""

    styles: Mapping[Backbone, StyleEngine]
    instant: InstantEngine | None
    upscaler: UpscaleEngine | None = None
    universal: UniversalEngine | None = None
    enlarger: ResultEnlarger | None = None


def load_engines(backbones: tuple[Backbone, ...], upscaling: bool, weights_dir: Path | None = None,
                 strip_pixels: int | None = None, tile: int | None = None, instant: bool = True,
                 device: torch.device | None = None, precision: str | None = None) -> Engines:
    """Load every network once (seconds), before the worker takes jobs, so a missing file stops the
    start rather than a user's job; the x4 network serves both the upscaling and the enlarger. `strip_pixels`
    and `tile` bound the memory of a Gatys job and of an upscaling or enlarging (`bots.common.budget`; None:
    the device's defaults, `transfer.device`); `instant`: the fast lane's networks (instant styles, quick
    versions); `device`: where they all compute, `precision`: in what (`transfer.precision`)."""
    styles = {backbone: load_style_engine(backbone, weights_dir, strip_pixels, device, precision)
              for backbone in backbones}
    x4 = Upscaler(compact_x4(weights_dir=weights_dir, device=device, precision=precision), tile=tile)
    upscaler = x4 if upscaling else None
    stylizer = InstantStylizer(weights_dir, device=device, precision=precision) if instant else None
    for style in stylizer.styles if stylizer else ():
        stylizer.network(style)
    universal = UniversalStylizer(weights_dir, device=device, precision=precision) if instant else None
    if universal is not None:
        universal.networks()
    return Engines(styles, stylizer, upscaler, universal, Enlarger(x4))


def load_lane_engines(config: BotConfig, lanes: Collection[str], backbones: tuple[Backbone, ...],
                      upscaling: bool) -> Engines:
    """A worker's engines: the networks of `lanes` on the configured device, sized to this worker's share
    of the memory; raises EnginesUnavailable.

    On the CPU, Gatys strips and upscaler tiles fit the memory limit (`bots.common.budget`): what is left
    of it once every worker holds what this one holds after importing torch (its RSS counts the shared
    libraries, so this errs on the safe side) and the chat process and an instant job are served, shared
    by the Gatys slots. On a GPU (``STYLEBOT_DEVICE``) they fit this worker's share of its free memory
    (`transfer.device`). `STYLEBOT_COMPUTE_THREADS` caps the CPU threads of each engine call: torch's
    default (one per core) oversubscribes a machine running several workers or other programs, and then
    every job runs several times slower.
    """
    if config.compute_threads:
        torch.set_num_threads(config.compute_threads)
    try:
        device = compute_device(config.device)
        if device.type == "cuda":
            share_gpu(config.workers + 1)  # the Gatys workers and the instant one
            strip_pixels, tile = config.strip_pixels, None
        else:
            baseline = int((rss_mb() or 0) * 1024 * 1024)
            sizes = job_sizes(config.memory_limit, config.workers,
                              baseline * (config.workers + 1) + OTHERS_RESERVE)
            strip_pixels, tile = config.strip_pixels or sizes.strip_pixels, sizes.tile
        painting = TRANSFER_LANE in lanes
        # the one-pass networks serve the fast lane and the clips, which the transfer lane paints
        engines = load_engines(backbones if painting else (), upscaling and painting, config.weights_dir,
                               strip_pixels, tile=tile, instant=INSTANT_LANE in lanes or painting, device=device,
                               precision=config.precision)
    except (WeightsError, DeviceError) as exc:
        raise EnginesUnavailable(str(exc)) from None
    log.info("networks loaded for lane %s on %s (strips of %s pixels, tiles of %s px)", ", ".join(lanes), device,
             strip_pixels or "GPU-sized", tile or "GPU-sized")
    return engines


def transfer_settings(settings: UserSettings, size: int, working: int, steps: int | None) -> TransferSettings:
    """What a style engine gets for a user's settings: a result of long side `size`, painted at `working` and
    refined at `size`; `steps` is the bot's setting (None: the backbone's preset)."""
    return TransferSettings(size=size, steps=steps, style_strength=settings.style_strength,
                            keep_colors=settings.keep_colors, working=working)


def paint_clip(engines: Engines, clip: Clip, output: Path, settings: UserSettings, instant: str | None,
               style: Path | None, sound: bool, progress: ProgressCallback, cancel: CancelCheck) -> int:
    """`clip` painted frame by frame into the MP4 `output`, steady over time (`transfer.video`): in the instant
    style `instant`, else in the painting `style` (the quick engine, which encodes it once); returns the
    frames written. Raises `Cancelled`, `ImageError`; RuntimeError if this worker has no one-pass engines."""
    if engines.instant is None or engines.universal is None:
        raise RuntimeError("this worker has no one-pass engines")
    strength = settings.instant_strength
    if instant is not None:
        painter = instant_painter(engines.instant, instant, strength, settings.keep_colors)
    else:
        painter = universal_painter(engines.universal, style, strength, settings.keep_colors,
                                    cancel=cancel)
    return paint_frames(clip, painter, output, Steadier(), sound=sound, progress=progress, cancel=cancel)
