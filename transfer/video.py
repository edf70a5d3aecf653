"""A clip painted frame by frame, steady over time, streamed from its file to an MP4.

`paint_clip` reads a frame (`transfer.clips`), has it painted, makes the painting consistent with the
frames before it (a `transfer.motion.Steadier`) and encodes it, one frame at a time: memory does not grow
with the clip. The painters are the one-pass engines: an instant style (`instant_painter`) or any painting
through the universal engine, whose painting is encoded once for the whole clip (`universal_painter`).
Gatys' optimisation takes minutes a picture and is not offered for clips.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from transfer.clips import Clip, ClipWriter, read_frames
from transfer.images import ImageSource
from transfer.instant import InstantStylizer
from transfer.progress import CancelCheck, Progress, ProgressCallback, check_cancel
from transfer.universal import UniversalStylizer

__all__ = ["FramePainter", "FrameShower", "paint_clip", "instant_painter", "universal_painter"]

FramePainter = Callable[[np.ndarray], np.ndarray]  # (H, W, 3) uint8 RGB in, its painting of the same size out
# (frame, its painting) in, the frame to show out: a `Steadier`, or anything that watches or changes them
FrameShower = Callable[[np.ndarray, np.ndarray], np.ndarray]


def paint_clip(clip: Clip, paint: FramePainter, output: Path, steadier: FrameShower | None = None,
               sound: bool = True, progress: ProgressCallback | None = None,
               cancel: CancelCheck | None = None) -> int:
    """Paint every kept frame of `clip` into the MP4 `output` (`steadier` None: each frame on its own;
    `sound`: the clip's sound kept); returns the frames written. Raises `Cancelled` between frames when
    `cancel()` turns true (nothing is left at `output` then), `ImageError` for a clip that cannot be read."""
    written = 0
    try:
        with ClipWriter(output, clip, sound) as writer:
            for frame in read_frames(clip):
                check_cancel(cancel)
                painted = paint(frame)
                writer.write(steadier(frame, painted) if steadier is not None else painted)
                written += 1
                if progress is not None:
                    progress(Progress(written, clip.frames))
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    return written


def _painter(stylize: Callable[[Image.Image], Image.Image]) -> FramePainter:
    """A frame painter from an engine's call on a picture, which paints it at its own size."""
    return lambda frame: np.asarray(stylize(Image.fromarray(frame, "RGB")))


def instant_painter(stylizer: InstantStylizer, style: str, strength: float = 1.0,
                    keep_colors: bool = False) -> FramePainter:
    """Frames in one of the instant styles (`InstantStylizer.stylize`'s options)."""
    stylizer.network(style)  # an unknown style fails here, before any frame
    return _painter(lambda image: stylizer.stylize(image, style, strength=strength, keep_colors=keep_colors))


def universal_painter(stylizer: UniversalStylizer, style_or_styles: ImageSource | Sequence[ImageSource],
                      strength: float = 1.0, keep_colors: bool = False, weights: Sequence[float] | None = None,
                      cancel: CancelCheck | None = None) -> FramePainter:
    """Frames in the style of any painting(s), encoded once here (`UniversalStylizer.stylize`'s options)."""
    style = stylizer.encode_style(style_or_styles, weights, cancel=cancel)
    return _painter(lambda image: stylizer.stylize(image, style, strength=strength, keep_colors=keep_colors,
                                                   max_side=None))
