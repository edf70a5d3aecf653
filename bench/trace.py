"""Score against time: the image at a few checkpoints of a timed run, scored after it like the final image.

The job only saves the image at each checkpoint (8-bit PNG, as the final one), with the stopwatch paused,
and notes the time on the job's own clock; the parent scores the files after the run with the final
image's judge (`Evaluator.judge`). Scoring inside the job would load a second VGG19 into the measured process (its peak memory)
and cost seconds per point; keeping the images in memory would grow that peak too. So the reported time,
steps and memory are the run's own.

Which image: the one the method would hand back if stopped there. The tutorial returns its current
image; our engine returns the best image of the level it is on, so its checkpoint waits for the first
evaluation at or after the checkpoint step that improves on that level's best. Points on a coarse level
are scored as that smaller image upscaled, as the evaluator treats any result of another size.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from bench.evaluate import Score
from bench.measure import Stopwatch
from transfer.images import tensor_to_image
from transfer.style_transfer import StyleTransfer

__all__ = ["CHECKPOINTS", "checkpoint_steps", "Trace", "TracingStyleTransfer", "score_trace"]

CHECKPOINTS = 8  # log-spaced and as many evenly spaced steps: about 16 points a run


def checkpoint_steps(total: int, count: int = CHECKPOINTS) -> list[int]:
    """The steps to sample in a run of `total`: log-spaced, where the score falls fastest, and evenly
    spaced, for the linear time axis."""
    geometric = {round(total ** (i / count)) for i in range(count + 1)}
    even = {round(total * i / count) for i in range(1, count + 1)}
    return sorted(step for step in geometric | even if step >= 1)


class Trace:
    """Collects the checkpoints of one timed run; `points` travel back in the job's JSON result."""

    def __init__(self, timer: Stopwatch, folder: str) -> None:
        self.timer, self.folder = timer, Path(folder)
        self.points: list[dict[str, Any]] = []
        self._due: list[int] | None = None

    def offer(self, step: int, total: int, image: Tensor) -> None:
        """After an evaluation: save `image` if a checkpoint of a run of `total` steps is due at `step`."""
        if self._due is None:
            self._due = checkpoint_steps(total)
        if not self._due or step < self._due[0]:
            return
        self._due = [due for due in self._due if due > step]
        if image.is_cuda:
            torch.cuda.synchronize(image.device)  # the queued work belongs before this point's time
        seconds = self.timer.elapsed
        with self.timer.paused():
            path = self.folder / f"step-{step:05d}.png"
            tensor_to_image(image).save(path)
        self.points.append({"step": step, "seconds": seconds, "image": str(path)})


class TracingStyleTransfer(StyleTransfer):
    """Our engine, noting the image of its latest evaluation and whether it beat its level's best so far
    (the engine keeps each level's best image): a reference, no copy, so the run is unchanged."""

    latest: Tensor | None = None
    latest_is_best = False

    def _objective(self, *args: Any, **kwargs: Any) -> Callable[[Tensor], Tensor]:
        inner = super()._objective(*args, **kwargs)  # one objective per level
        best = math.inf

        def objective(image: Tensor) -> Tensor:
            nonlocal best
            loss = inner(image)
            value = loss.item()
            self.latest, self.latest_is_best = image.detach(), value < best
            best = min(best, value)
            return loss

        return objective


def score_trace(points: list[dict[str, Any]], judge: Callable[[Image.Image], list[Score]]) -> list[dict[str, Any]]:
    """Each checkpoint's (step, seconds, score) by the final image's judge (`Evaluator.judge`): the lowest
    total over the filters. About 0.2 s a point at 256 px on one core (3x that for a coarse level's)."""
    scored = []
    for point in points:
        with Image.open(point["image"]) as image:
            scores = judge(image)
        scored.append({"step": point["step"], "seconds": point["seconds"], "score": min(s.total for s in scores)})
    return scored
