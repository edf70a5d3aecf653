"""A test clip made from still pictures: what `bench motion`, the tests and the README's animation paint.

Two scenes joined by a cut, each half of the clip: a camera panning and zooming over the first picture, then
the second picture, panned slowly, with a disk cut from the first crossing it (a moving object, whose edges
uncover and cover the scene behind it). Optionally a sound (a tone), so a clip's sound can be checked.
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

__all__ = ["make_clip"]


def _view(picture: Image.Image, size: tuple[int, int], centre: tuple[float, float], zoom: float) -> Image.Image:
    """The part of `picture` a camera at `centre` (fractions of it) sees at `zoom` (1: the largest view of
    `size`'s shape that fits), resized to `size`."""
    width, height = size
    scale = min(picture.width / width, picture.height / height) / zoom
    w, h = width * scale, height * scale
    left = min(max(centre[0] * picture.width - w / 2, 0), picture.width - w)
    top = min(max(centre[1] * picture.height - h / 2, 0), picture.height - h)
    return picture.resize(size, Image.Resampling.BICUBIC, box=(left, top, left + w, top + h))


def _frames(first: Image.Image, second: Image.Image, size: tuple[int, int], count: int) -> list[Image.Image]:
    first, second = first.convert("RGB"), second.convert("RGB")
    cut = count // 2
    radius = min(size) // 5
    disk = _view(first, (2 * radius, 2 * radius), (0.5, 0.4), 1.0)
    mask = Image.new("L", disk.size)
    ImageDraw.Draw(mask).ellipse((0, 0, 2 * radius - 1, 2 * radius - 1), fill=255)
    frames = []
    for index in range(count):
        if index < cut:  # pan left to right and zoom in
            t = index / max(cut - 1, 1)
            frames.append(_view(first, size, (0.35 + 0.3 * t, 0.45 + 0.1 * t), 1.15 + 0.35 * t))
        else:  # a slow pan, and the disk crossing along a gentle arc
            t = (index - cut) / max(count - cut - 1, 1)
            frame = _view(second, size, (0.45 + 0.1 * t, 0.5), 1.1)
            x = round(-radius + t * size[0])
            y = round(size[1] / 2 - radius + 0.15 * size[1] * math.sin(math.pi * t))
            frame.paste(disk, (x, y), mask)
            frames.append(frame)
    return frames


def make_clip(path: Path, first: Image.Image, second: Image.Image, size: tuple[int, int] = (480, 360),
              seconds: float = 5.0, fps: int = 24, sound: bool = False) -> Path:
    """Write the test clip to the MP4 `path` (H.264; with `sound`, a 440 Hz tone in AAC) and return it."""
    container = av.open(str(path), "w", format="mp4")
    video = container.add_stream("libx264", rate=Fraction(fps))
    video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
    video.options = {"crf": "16", "preset": "veryfast"}
    audio = container.add_stream("aac", rate=48000) if sound else None
    for index, frame in enumerate(_frames(first, second, size, round(seconds * fps))):
        encoded = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
        encoded.pts = index
        container.mux(video.encode(encoded))
    container.mux(video.encode(None))
    if audio is not None:
        samples = round(seconds * 48000)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        stereo = np.ascontiguousarray(np.stack([tone, tone]))
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(stereo[:, start:start + 1024], format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 48000, start
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))
    container.close()
    return path
