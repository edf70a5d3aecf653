"""The transfer workflow: running a request (`bots.common.requests`) on the engines (no Telegram here).

`TransferWorkflow` turns local picture files into results, one backbone (or instant style) after the
other, with a single progress report over all of them and the time each took. Results come at the photo's
own size (capped by the user's size and `STYLEBOT_MAX_SIDE`): the engines paint at the working size of the
user's brush and the enlarger carries the painting to the result's size (`transfer.resolution`); Gatys
refines its painting at the result's size first (up to `REFINE_SIDE`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from bots.common import texts
from bots.common.backbone import Backbone
from bots.common.requests import PREVIEW_SIDE, ClipRequest
from bots.common.settings import UserSettings
from bots.common.styles import instant_title
from bots.jobs.engines import Engines, paint_clip, transfer_settings
from transfer.clips import Clip
from transfer.images import load_image
from transfer.progress import CancelCheck, Progress, ProgressCallback
from transfer.resolution import REFINE_SIDE, output_size, working_size

__all__ = ["Painting", "InstantPainting", "ClipPainting", "TransferWorkflow", "StageReport"]

# (stage title, fraction of the whole request done)
StageReport = Callable[[str, float], None]
# The share of a stage's progress that is the painting (Gatys: painted and refined), the rest being the
# carrying to the result's size (`python -m bench hires`, 2 cores, bfloat16, 1280 px from 512: quick 1.0 +
# 2.3 s, instant 0.4 + 2.3 s; Gatys 173 s painted, carried and refined at 1024 px, then well under a second)
PAINTING_SHARE = {"quick": 0.3, "instant": 0.15, "paint": 0.95}


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


@dataclass(frozen=True)
class ClipPainting:
    frames: int
    seconds: float


class TransferWorkflow:
    """Runs requests on the bot's engines; safe to call from several worker threads."""

    def __init__(self, engines: Engines, steps: int | None = None, max_side: int = 2048) -> None:
        self.engines = engines
        self.steps = steps  # None: each backbone's preset
        self.max_side = max_side  # STYLEBOT_MAX_SIDE: the long side of any result at most

    def paint(self, content: Path, style: Path, backbones: tuple[Backbone, ...], settings: UserSettings,
              report: StageReport, cancel: CancelCheck) -> list[Painting]:
        """One painting per backbone, in order. Raises ImageError for refused
        pictures, Cancelled."""
        photo, size, side = self._sizes(content, settings)
        refined = output_size(photo.size, min(max(size), REFINE_SIDE))  # then carried to `size`
        transfer = transfer_settings(settings, max(refined), side, self.steps)
        titles = [texts.painting(backbone.label, n, len(backbones)) for n, backbone in enumerate(backbones, 1)]

        carry = self.engines.enlarger.carry if self.engines.enlarger is not None else None

        def run(stage: int, progress: ProgressCallback) -> Image.Image:
            return self._at_size(lambda painting: self.engines.styles[backbones[stage]].run(
                photo, style, transfer, progress=painting, cancel=cancel, carry=carry), photo, size, "paint",
                progress, cancel)

        return [Painting(backbone, image, seconds)
                for backbone, (image, seconds) in zip(backbones, _in_stages(titles, run, report))]

    def stylize(self, content: Path, styles: tuple[str, ...], settings: UserSettings, report: StageReport,
                cancel: CancelCheck) -> list[InstantPainting]:
        """One picture per instant style (key), in order; several are a preview, each at most PREVIEW_SIDE
        px. Raises ImageError for refused pictures, Cancelled."""
        if self.engines.instant is None:
            raise RuntimeError("this worker has no instant styles")
        instant = self.engines.instant
        photo, size, side = self._sizes(content, settings)
        if len(styles) > 1:  # a preview: small pictures, painted at their size
            size = output_size(photo.size, min(settings.long_side(self.max_side), PREVIEW_SIDE))
            side = max(size)
        titles = [texts.painting_instant(instant_title(key), n, len(styles)) for n, key in enumerate(styles, 1)]

        def run(stage: int, progress: ProgressCallback) -> Image.Image:
            return self._at_size(lambda painting: instant.stylize(
                photo, styles[stage], strength=settings.instant_strength, keep_colors=settings.keep_colors,
                max_side=side, progress=painting, cancel=cancel), photo, size, "instant", progress, cancel)

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
        photo, size, side = self._sizes(content, settings)
        image = self._at_size(lambda painting: universal.stylize(
            photo, style, strength=settings.instant_strength, keep_colors=settings.keep_colors, max_side=side,
            progress=painting, cancel=cancel), photo, size, "quick",
            lambda p: report(texts.QUICK_STAGE, p.fraction), cancel)
        return InstantPainting("quick", image, time.perf_counter() - started)

    def _sizes(self, content: Path, settings: UserSettings) -> tuple[Image.Image, tuple[int, int], int]:
        """The photo, the result's size and the long side the engines paint at (the brush's working size)."""
        photo = load_image(content)
        size = output_size(photo.size, settings.long_side(self.max_side))
        return photo, size, max(working_size(size, settings.brush))

    def _at_size(self, paint: Callable[[ProgressCallback], Image.Image], photo: Image.Image, size: tuple[int, int],
                 kind: str, progress: ProgressCallback, cancel: CancelCheck) -> Image.Image:
        """`paint(progress)`'s picture carried to `size` by the enlarger; one progress over both."""
        share = PAINTING_SHARE[kind] if self.engines.enlarger is not None else 1.0
        image = paint(lambda p: progress(replace(p, done=share * p.fraction)))
        if self.engines.enlarger is None or image.size == size:
            progress(Progress(1, 1))
            return image
        return self.engines.enlarger.carry(image, photo, size, cancel=cancel, progress=lambda p: progress(
            replace(p, done=share + (1 - share) * p.fraction)))

    def clip(self, clip: Clip, style: Path | None, request: ClipRequest, output: Path, report: StageReport,
             cancel: CancelCheck) -> ClipPainting:
        """The clip painted into the MP4 `output` in the request's instant style, or else in `style` (a
        painting's file); the sound of a video or a video note kept. Raises ImageError, Cancelled."""
        report(texts.CLIP_STAGE, 0.0)
        started = time.perf_counter()
        frames = paint_clip(self.engines, clip, output, request.settings, request.instant, style,
                            sound=request.kind != "animation", progress=lambda p: report(texts.CLIP_STAGE, p.fraction),
                            cancel=cancel)
        return ClipPainting(frames, time.perf_counter() - started)

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
