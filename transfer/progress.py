"""Progress reports and cooperative cancellation, shared by every long-running engine."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

__all__ = ["Progress", "ProgressCallback", "CancelCheck", "Cancelled", "check_cancel"]


@dataclass(frozen=True)
class Progress:
    """One step of a long job: `step` of `total` done, the current loss, and sometimes a low-res preview.

    `done` is the share of the work done, for jobs whose steps differ in cost (coarse-to-fine levels).
    """

    step: int
    total: int
    loss: float | None = None
    preview: Image.Image | None = None
    done: float | None = None

    @property
    def fraction(self) -> float:
        if self.done is not None:
            return min(1.0, self.done)
        return min(1.0, self.step / self.total) if self.total else 1.0


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]  # e.g. threading.Event().is_set


class Cancelled(Exception):
    """Raised inside an engine when its `cancel` check answered True; nothing is returned."""


def check_cancel(cancel: CancelCheck | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
