"""The transfer workflow: what a request asks for, and running it on the engines (no Telegram here).

A request names its pictures (Telegram file ids or a built-in style) and the backbones to paint with,
or, for instant styles, the style networks; `TransferWorkflow` turns local picture files into results,
one backbone (or instant style) after the other, with a single progress report over all of them and the
time each took.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from bots import texts
from bots.backbone import Backbone
from bots.settings import UserSettings
from bots.styles import builtin_style, instant_title
from transfer.images import ImageError
from transfer.progress import CancelCheck, Progress, ProgressCallback

if TYPE_CHECKING:
    from bots.engines import Engines

__all__ = ["Style", "PaintRequest", "InstantRequest", "Painting", "InstantPainting", "TransferWorkflow",
           "StageReport", "PREVIEW_SIDE"]

# (stage title, fraction of the whole request done)
StageReport = Callable[[str, float], None]
PREVIEW_SIDE = 384  # px, long side at most of each picture in a preview of every instant style


@dataclass(frozen=True)
class Style:
    """A style picture: one of the built-in styles (`builtin` key) or the user's own (`file_id`)."""

    builtin: str | None = None
    file_id: str | None = None

    def __post_init__(self) -> None:
        if (self.builtin is None) == (self.file_id is None):
            raise ValueError("a style is either built-in or the user's own picture")

    def builtin_path(self) -> Path:
        """The built-in style's file; ImageError if the key is unknown (a button from an old version)."""
        style = builtin_style(self.builtin or "")
        if style is None:
            raise ImageError(f"The style {self.builtin!r} no longer exists.", "style_gone")
        return style.path


@dataclass(frozen=True)
class PaintRequest:
    """Paint the `content` photo (a Telegram file id) in `style` with each of `backbones`."""

    content: str
    style: Style
    backbones: tuple[Backbone, ...]
    settings: UserSettings


@dataclass(frozen=True)
class InstantRequest:
    """Paint the `content` photo (a Telegram file id) in each instant style of `styles` (their keys): one
    style gives a result, several a preview, whose pictures are at most PREVIEW_SIDE px."""

    content: str
    styles: tuple[str, ...]
    settings: UserSettings


@dataclass(frozen=True)
class Painting:
    backbone: Backbone
    image: Image.Image
    seconds: float


@dataclass(frozen=True)
class InstantPainting:
    style: str  # the instant style's key ("quick" for a universal quick version)
    image: Image.Image
    seconds: float


class TransferWorkflow:
    """Runs requests on the bot's engines; safe to call from several worker threads."""

    def __init__(self, engines: Engines, steps: int | None = None) -> None:
        self.engines = engines
        self.steps = steps  # None: each backbone's preset

    def paint(self, content: Path, style: Path, backbones: tuple[Backbone, ...], settings: UserSettings,
              report: StageReport, cancel: CancelCheck) -> list[Painting]:
        """One painting per backbone, in order. Raises ImageError for refused
        pictures, Cancelled."""
        transfer = settings.transfer_settings(self.steps)
        titles = [texts.painting(backbone.label, n, len(backbones)) for n, backbone in enumerate(backbones, 1)]

        def run(stage: int, progress: ProgressCallback) -> Image.Image:
            return self.engines.styles[backbones[stage]].run(content, style, transfer, progress=progress,
                                                              cancel=cancel)

        return [Painting(backbone, image, seconds)
                for backbone, (image, seconds) in zip(backbones, _in_stages(titles, run, report))]

    def stylize(self, content: Path, styles: tuple[str, ...], settings: UserSettings, report: StageReport,
                cancel: CancelCheck) -> list[InstantPainting]:
        """One picture per instant style (key), in order; several are a preview, each at most PREVIEW_SIDE
        px. Raises ImageError for refused pictures, Cancelled."""
        if self.engines.instant is None:
            raise RuntimeError("this worker has no instant styles")
        instant = self.engines.instant
        side = settings.size if len(styles) == 1 else min(settings.size, PREVIEW_SIDE)
        titles = [texts.painting_instant(instant_title(key), n, len(styles)) for n, key in enumerate(styles, 1)]

        def run(stage: int, progress: ProgressCallback) -> Image.Image:
            return instant.stylize(content, styles[stage], strength=settings.instant_strength,
                                                keep_colors=settings.keep_colors, max_side=side,
                                                progress=progress, cancel=cancel)

        return [InstantPainting(key, image, seconds)
                for key, (image, seconds) in zip(styles, _in_stages(titles, run, report))]

    def quick(self, content: Path, style: Path, settings: UserSettings, report: StageReport,
              cancel: CancelCheck) -> InstantPainting:
        """The quick (universal) version of a painting request, at the user's size and strength. Raises
        ImageError for refused pictures, Cancelled; RuntimeError if this worker has no universal engine."""
        if self.engines.universal is None:
            raise RuntimeError("this worker has no universal stylizer")
        universal = self.engines.universal
        report(texts.QUICK_STAGE, 0.0)
        started = time.perf_counter()
        image = universal.stylize(content, style, strength=settings.instant_strength,
                                  keep_colors=settings.keep_colors, max_side=settings.size,
                                  progress=lambda p: report(texts.QUICK_STAGE, p.fraction), cancel=cancel)
        return InstantPainting("quick", image, time.perf_counter() - started)

    def upscale(self, image: Path, report: StageReport, cancel: CancelCheck) -> Image.Image:
        """The picture 4x larger. Raises ImageError, Cancelled; RuntimeError if the bot cannot upscale."""
        if self.engines.upscaler is None:
            raise RuntimeError("this bot has no upscaler")
        report(texts.UPSCALING, 0.0)
        return self.engines.upscaler.upscale(image, progress=lambda p: report(texts.UPSCALING, p.fraction),
                                             cancel=cancel)


def _in_stages(titles: Sequence[str], run: Callable[[int, ProgressCallback], Image.Image],
               report: StageReport) -> list[tuple[Image.Image, float]]:
    """`run(stage, progress)` for each stage in order, reported as one progress over all of them under each
    stage's title; returns each stage's picture and the seconds it took."""
    done = []
    for stage, title in enumerate(titles):
        def progress(p: Progress, stage: int = stage, title: str = title) -> None:
            report(title, (stage + p.fraction) / len(titles))

        report(title, stage / len(titles))
        started = time.perf_counter()
        image = run(stage, progress)
        done.append((image, time.perf_counter() - started))
    return done
