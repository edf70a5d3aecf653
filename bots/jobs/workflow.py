"""The transfer workflow: running a request (`bots.common.requests`) on the engines (no Telegram here).

`TransferWorkflow` turns local picture files into results, one backbone (or instant style) after the
other, with a single progress report over all of them and the time each took.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bots.common import texts
from bots.common.backbone import Backbone
from bots.common.requests import PREVIEW_SIDE
from bots.common.settings import UserSettings
from bots.common.styles import instant_title
from bots.jobs.engines import Engines, transfer_settings
from transfer.progress import CancelCheck, Progress, ProgressCallback

__all__ = ["Painting", "InstantPainting", "TransferWorkflow", "StageReport"]

# (stage title, fraction of the whole request done)
StageReport = Callable[[str, float], None]


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
        transfer = transfer_settings(settings, self.steps)
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
