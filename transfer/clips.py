"""Moving pictures in and out: a clip read frame by frame, painted frames written as an MP4 that Telegram
plays inline (no torch here).

PyAV does both (`av`, its wheel ships FFmpeg with libx264, so nothing else is installed): it decodes
whatever a phone or Telegram sends (MP4, WebM, GIF, MOV) and encodes H.264 in `yuv420p` at even sizes
with the index at the front (`faststart`), which is what Telegram needs to play a clip inline before it is
downloaded whole. Frames stream through one at a time, so memory does not grow with the clip's length.

`probe` decides everything before a frame is painted: refusals (not a clip, no picture in it, too long),
the painted size (long side at most `ClipLimits.side`) and which frames are kept (a clip with more than
`ClipLimits.frames` frames keeps every n-th, at a frame rate divided by n, so its duration is kept).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from transfer.images import ImageError

__all__ = ["ClipLimits", "Clip", "probe", "read_frames", "ClipWriter", "CRF", "ENCODER_PRESET"]

# x264's constant quality and speed. Measured on a 5 s 480 px clip (bench motion, 2 cores): preset
# veryfast encodes 120 frames in 0.6 s; crf 20 keeps brush strokes that crf 23 smears, at about 1 MB.
CRF = 20
ENCODER_PRESET = "veryfast"
AUDIO_RATE = 48000
DEFAULT_RATE = Fraction(24)  # when a clip does not say its frame rate


@dataclass(frozen=True)
class ClipLimits:
    """What a clip may be: `seconds` long at most, `frames` painted at most, frames `side` px at most."""

    seconds: float = 15.0
    frames: int = 360
    side: int = 480
    square: bool = False  # crop to the centred square (a video note)


@dataclass(frozen=True)
class Clip:
    """What `probe` found and decided: painted frame size (even), frame rate, frames kept and the step
    between them, duration, and whether the clip has sound."""

    path: Path
    size: tuple[int, int]
    rate: Fraction
    frames: int
    every: int
    seconds: float
    audio: bool
    crop: tuple[int, int, int, int] | None  # (left, top, width, height) of the decoded frame, for a square

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]


def _damaged() -> ImageError:
    return ImageError("This video is damaged: I could not read its pictures.", "damaged")


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise ImageError(f"This is not a video I can read ({exc.__class__.__name__}).", "not_a_clip") from None


def probe(path: Path, limits: ClipLimits = ClipLimits()) -> Clip:
    """What painting `path` means, decided from its header (and, when the header does not say how long the
    clip is, from decoding it until it is too long). Raises `ImageError` (reasons "not_a_clip",
    "still_clip", "clip_too_long", "damaged") with a message meant for the person who sent it."""
    with _open(path) as container:
        if not container.streams.video:
            raise ImageError("There is no picture in this file, only sound.", "not_a_clip")
        stream = container.streams.video[0]
        audio = bool(container.streams.audio)
        rate = stream.average_rate or stream.guessed_rate or DEFAULT_RATE
        seconds = _duration(container, stream)
        if seconds is not None and seconds > limits.seconds + 0.5 / float(rate):
            raise _too_long(seconds, limits)
        frames, width, height, rotation = _count(container, stream, limits, rate)
    if frames == 0:
        raise ImageError("This video has no frame I can read.", "damaged")
    if frames == 1:
        raise ImageError("This is a still picture, not a clip: send it as a photo.", "still_clip")
    if seconds is None or seconds <= 0:
        seconds = frames / float(rate)
    every = math.ceil(frames / limits.frames)
    if rotation % 180:
        width, height = height, width
    crop = None
    if limits.square and width != height:
        side = min(width, height)
        crop = ((width - side) // 2, (height - side) // 2, side, side)
        width = height = side
    return Clip(path, _even_fit((width, height), limits.side), Fraction(rate) / every, math.ceil(frames / every),
                every, seconds, audio, crop)


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(seconds: float, limits: ClipLimits) -> ImageError:
    return ImageError(f"This video is {seconds:.0f} s long; I paint clips of up to {limits.seconds:g} s.",
                   "clip_too_long", seconds=round(seconds), limit=f"{limits.seconds:g}")


def _count(container: av.container.InputContainer, stream: av.video.stream.VideoStream, limits: ClipLimits,
           rate: Fraction) -> tuple[int, int, int, int]:
    """Frames, width, height and rotation (from the first frame, as a phone recorded it); frames are
    counted by decoding only when the header has no count, and a clip found too long is refused then."""
    most = math.ceil(limits.seconds * float(rate)) + 1
    frames, width, height, rotation = 0, 0, 0, 0
    try:
        for frame in container.decode(stream):
            if frames == 0:
                width, height, rotation = frame.width, frame.height, frame.rotation
                if stream.frames:
                    return stream.frames, width, height, rotation
            frames += 1
            if frames > most:
                raise _too_long(frames / float(rate), limits)
    except av.error.FFmpegError:
        if frames == 0:
            raise _damaged() from None
    return frames, width, height, rotation


def _even_fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` within `side` px (never enlarged), both sides even, as yuv420p needs."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))


def read_frames(clip: Clip) -> Iterator[np.ndarray]:
    """The kept frames of `clip`, upright, at `clip.size`, as (height, width, 3) uint8 RGB arrays, one at a
    time. A frame that fails to decode past the first ends the clip there (a truncated download)."""
    width, height = clip.size
    with _open(clip.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        produced = 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % clip.every:
                    continue
                rgb = _upright(frame.to_ndarray(format="rgb24"), frame.rotation)
                if clip.crop is not None:
                    left, top, side, _ = clip.crop
                    rgb = rgb[top:top + side, left:left + side]
                yield _resized(rgb, width, height)
                produced += 1
                if produced == clip.frames:
                    return
        except av.error.FFmpegError:
            if produced == 0:
                raise _damaged() from None


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as it is meant to be seen: FFmpeg's rotation is counter-clockwise degrees."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")


class ClipWriter:
    """Writes painted frames of `clip` to an MP4 at `path`: H.264, yuv420p, faststart, `clip.rate`; with
    `sound`, the source's sound is re-encoded to AAC at the end (`close`), so any source codec works."""

    def __init__(self, path: Path, clip: Clip, sound: bool = True) -> None:
        self.clip, self.sound = clip, sound and clip.audio
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._container.add_stream("libx264", rate=clip.rate)
        self._video.width, self._video.height = clip.size
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(CRF), "preset": ENCODER_PRESET}
        self._audio = self._container.add_stream("aac", rate=AUDIO_RATE) if self.sound else None
        self.written = 0

    def write(self, rgb: np.ndarray) -> None:
        """One frame, (height, width, 3) uint8 RGB at the clip's size."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.written
        self._container.mux(self._video.encode(frame))
        self.written += 1

    def close(self) -> None:
        """Flush the encoder, add the sound and write the index at the front."""
        self._container.mux(self._video.encode(None))
        if self._audio is not None:
            self._copy_sound(self._audio)
        self._container.close()

    def abort(self) -> None:
        """Stop without finishing the file (the caller deletes it)."""
        try:
            self._container.close()
        except av.error.FFmpegError:
            pass

    def _copy_sound(self, out: av.audio.stream.AudioStream) -> None:
        seconds = self.written / float(self.clip.rate)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        with _open(self.clip.path) as source:
            try:
                for frame in source.decode(source.streams.audio[0]):
                    if frame.time is not None and frame.time >= seconds:
                        break
                    for resampled in resampler.resample(frame):
                        self._container.mux(out.encode(resampled))
            except av.error.FFmpegError:
                pass  # a damaged sound track ends where it breaks; the picture is what was asked for
        for resampled in resampler.resample(None):
            self._container.mux(out.encode(resampled))
        self._container.mux(out.encode(None))

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
