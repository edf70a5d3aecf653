"""Coarse-to-fine levels, and one steady progress report over all of them."""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from torch import Tensor

from transfer.images import tensor_to_image
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel

__all__ = ["Level", "LevelProgress", "PREVIEW_SIDE", "SKETCH_STEP"]

PREVIEW_SIDE = 256
SKETCH_STEP = 10  # a coarse first level also sends a preview after this many evaluations: a sketch in seconds


@dataclass
class Level:
    """One level of a run: the image size it optimises and its evaluations; `refining`: it refines a working
    painting at the result's size (`TransferSettings.working`), starting from that painting carried there."""

    size: tuple[int, int]
    steps: int
    refining: bool = False


class LevelProgress:
    """Turns evaluations on levels of different sizes into one steady progress report, and checks cancel.

    A step's share of the work is proportional to its level's pixel count, so the reported fraction
    moves with wall time rather than racing through the cheap coarse levels. Previews (thumbnails) go
    out at the end of every level but the last, every `preview_every` steps if asked, and once early in
    the first level, so that a first sketch arrives within seconds.
    """

    def __init__(self, levels: list[Level], callback: ProgressCallback | None, cancel: CancelCheck | None,
                 preview_every: int = 0) -> None:
        self.callback, self.cancel, self.preview_every = callback, cancel, preview_every
        self.costs = [level.size[0] * level.size[1] for level in levels]
        self.steps = [level.steps for level in levels]
        self.total_cost = sum(c * s for c, s in zip(self.costs, self.steps))
        self.total = sum(self.steps)
        self.level = 0
        self.step_count = 0
        self.work_done = 0.0
        self.last_loss: float | None = None

    def step(self, loss: float, image: Tensor) -> None:
        check_cancel(self.cancel)
        self.step_count += 1
        self.work_done += self.costs[self.level]
        self.last_loss = loss
        if self.callback is None:
            return
        preview = None
        if (self.preview_every and self.step_count % self.preview_every == 0) or self._sketch_due():
            preview = self._thumbnail(image)
        self.callback(Progress(min(self.step_count, self.total), self.total, loss, preview,
                               self.work_done / self.total_cost))

    def _sketch_due(self) -> bool:
        """Whether this step is SKETCH_STEP of a first level that has more steps and a level after it."""
        return self.level == 0 and len(self.steps) > 1 and self.step_count == SKETCH_STEP < self.steps[0]

    def skip(self) -> None:
        check_cancel(self.cancel)

    def level_done(self, image: Tensor) -> None:
        """Align the count with the plan (a level may stop early) and send its result as a preview."""
        self.work_done = sum(c * s for c, s in zip(self.costs[: self.level + 1], self.steps[: self.level + 1]))
        self.step_count = sum(self.steps[: self.level + 1])
        self.level += 1
        if self.callback is not None and self.level < len(self.steps):
            self.callback(Progress(self.step_count, self.total, self.last_loss, self._thumbnail(image),
                                   self.work_done / self.total_cost))

    @staticmethod
    def _thumbnail(image: Tensor) -> Image.Image:
        small = tensor_to_image(image)
        small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        return small
