"""The transfer workflow: what a request asks for, and running it on the engines (no Telegram here).

A request names its pictures (Telegram file ids or a built-in style) and the backbones to paint with;
`TransferWorkflow` turns local picture files into results, one backbone after the other, with a single
progress report over all of them and the time each took.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bots import texts
from bots.engines import Backbone, Engines
from bots.settings import UserSettings
from bots.styles import builtin_style
from transfer.images import ImageError
from transfer.progress import CancelCheck, Progress

__all__ = ["Style", "PaintRequest", "Painting", "TransferWorkflow", "StageReport"]

# (stage title, fraction of the whole request done)
StageReport = Callable[[str, float], None]


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
            raise ImageError(f"The style {self.builtin!r} no longer exists.")
        return style.path


@dataclass(frozen=True)
class PaintRequest:
    """Paint the `content` photo (a Telegram file id) in `style` with each of `backbones`."""

    content: str
    style: Style
    backbones: tuple[Backbone, ...]
    settings: UserSettings


@dataclass(frozen=True)
class Painting:
    backbone: Backbone
    image: Image.Image
    seconds: float


class TransferWorkflow:
    """Runs requests on the bot's engines; safe to call from several worker threads."""

    def __init__(self, engines: Engines, steps: int | None = None) -> None:
        self.engines = engines
        self.steps = steps  # None: each backbone's preset

    def paint(self, content: Path, style: Path, backbones: tuple[Backbone, ...], settings: UserSettings,
              report: StageReport, cancel: CancelCheck) -> list[Painting]:
        """One painting per backbone, in order. Raises ImageError for refused pictures, Cancelled."""
        transfer = settings.transfer_settings(self.steps)
        paintings = []
        for stage, backbone in enumerate(backbones):
            title = texts.painting(backbone.label, stage + 1, len(backbones))

            def progress(p: Progress, stage: int = stage, title: str = title) -> None:
                report(title, (stage + p.fraction) / len(backbones))

            report(title, stage / len(backbones))
            started = time.perf_counter()
            image = self.engines.styles[backbone].run(content, style, transfer, progress=progress, cancel=cancel)
            paintings.append(Painting(backbone, image, time.perf_counter() - started))
        return paintings

    def upscale(self, image: Path, report: StageReport, cancel: CancelCheck) -> Image.Image:
        """The picture 4x larger. Raises ImageError, Cancelled; RuntimeError if the bot cannot upscale."""
        if self.engines.upscaler is None:
            raise RuntimeError("this bot has no upscaler")
        report(texts.UPSCALING, 0.0)
        return self.engines.upscaler.upscale(image, progress=lambda p: report(texts.UPSCALING, p.fraction),
                                             cancel=cancel)

