"""Results' full-quality files, behind their "Full quality" button: PNGs in the data folder, kept as long as
the results' buttons work (`STYLEBOT_RESULT_DAYS`).

Telegram recompresses a photo to JPEG; the painting as the worker made it exists only here. The worker that
paints saves it before sending the photo (no file, no button), the chat process sends it as a document when
the button is pressed. Files are named by the result's number, which the store's results check belongs to
the chat asking. In the distributed mode the workers' and the chat's hosts must share the data folder for
the button to find the file; otherwise the user is told the file is no longer kept.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bots.common.config import BotConfig

__all__ = ["Originals"]

log = logging.getLogger(__name__)
DAY = 86_400.0
PRUNE_EVERY = 600.0  # seconds between two sweeps of expired files


class Originals:
    """The full-quality files in `folder`, kept `days` days."""

    def __init__(self, folder: Path, days: float, clock: Callable[[], float] = time.time) -> None:
        self.folder, self.days, self.clock = Path(folder), days, clock
        self._pruned = -PRUNE_EVERY

    @classmethod
    def of(cls, config: BotConfig) -> Originals:
        """The bot's: `originals` in its data folder, kept as long as results (`STYLEBOT_RESULT_DAYS`)."""
        return cls(config.data_dir / "originals", config.result_days)

    def path(self, number: int) -> Path:
        return self.folder / f"{number}.png"

    def keep(self, number: int, image: Image.Image) -> bool:
        """Save `image` as result `number`'s file; False (logged) when it cannot be written, e.g. a full disk."""
        self._prune()
        target = self.path(number)
        partial = target.with_suffix(".partial")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            image.save(partial, "PNG")
            partial.replace(target)
        except OSError as exc:
            log.warning("could not keep the full-quality file of result %d: %s", number, exc)
            partial.unlink(missing_ok=True)
            return False
        return True

    def find(self, number: int) -> Path | None:
        """Result `number`'s file, if it is still kept."""
        path = self.path(number)
        try:
            fresh = self.clock() - path.stat().st_mtime < self.days * DAY
        except OSError:
            return None
        return path if fresh else None

    def _prune(self) -> None:
        now = self.clock()
        if now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for entry in entries:
            try:
                if now - entry.stat().st_mtime >= self.days * DAY:
                    os.unlink(entry.path)
            except OSError:
                continue
