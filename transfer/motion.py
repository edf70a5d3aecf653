"""Painting a clip without flicker (no torch here).

A feed-forward network paints each frame on its own, and a tiny change of the frame changes where its
strokes fall: painted frame by frame, a clip's strokes crawl and boil. `Steadier` follows Ruder et al.
("Artistic style transfer for videos", 2016) without their optimisation: the optical flow from each frame
back to the previous one (OpenCV's DIS, no weights) carries the previous *painted* frame onto the new one,
and where that flow is reliable the carried painting is kept, blended with the new frame's own painting
(`KEEP`); where it is not (something uncovered, the edge of a moving thing, the border the camera reveals)
the new painting shows alone, and after a scene cut the frame is painted afresh.

Blending two paintings whose strokes differ averages their texture away: a blurred, duller clip that the
style loss sees (1.8x per-frame painting's with the quick engine at KEEP 0.8). So the blend's finest
detail (what a Gaussian of `DETAIL_SIGMA` px removes) is brought back to the local strength it has in the
new frame's own painting, as Heitz and Neyret's variance-preserving blending does for textures; and the
previous frame is carried with Lanczos interpolation: bilinear or bicubic would blur it a little more at
each frame.

Reliability is the forward-backward check of Sundaram et al. (2010), as Ruder et al. use it: following
the flow back and then forward again must come home, within a tolerance that grows with the motion.

`warping_error` is the measure of video style transfer (Lai et al., "Learning blind video temporal
consistency", 2018): consecutive painted frames compared after warping by the *input's* flow, on the
pixels that flow finds reliable, mean squared difference of RGB in [0, 1].
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["KEEP", "CUT", "Steadier", "FlowField", "warping_error"]

# What the previous painted frame, carried along the flow, keeps of each reliable pixel; and the share of
# reliable pixels below which a frame is taken for a scene cut. Measured on bench/clip.py's clip (480 px,
# udnie and the quick engine with candy; warping error and style loss as multiples of per-frame painting's):
# KEEP 0.6 0.27x / 1.01x, 0.7 0.22x / 1.01x, 0.8 0.19x / 1.01x (quick), 0.25x / 0.99x (udnie); without
# restoring the detail, 0.8 gave 0.13x / 1.84x (quick), and with it but carried by bicubic interpolation
# 0.18x / 1.19x (Lanczos costs 10 ms a 480x360 frame, bicubic 3).
KEEP = 0.8
CUT = 0.4
EDGE = 2.0  # px: the reliability mask is softened over this radius, so a kept region has no hard rim
# The blend's detail finer than this Gaussian (px) is restored to the strength it has in the new painting,
# at most MAX_GAIN times: sigma 0.7, 1, 1.5, 2 and 4 gave style loss 0.98x, 1.01x, 1.11x, 1.32x and 1.54x
# (quick, KEEP 0.8 / 0.5), the warping error rising little (0.19x at 1, 0.17x at 2).
DETAIL_SIGMA = 1.0
MAX_GAIN = 2.0


class FlowField:
    """Dense optical flow between grey frames (DIS, `cv2.DISOpticalFlow`); one per thread (it keeps state)."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST) -> None:
        self._dis = cv2.DISOpticalFlow_create(preset)

    def between(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(H, W, 2) float32: where each pixel of `source` is in `target`, as (dx, dy)."""
        return self._dis.calc(source, target, None)

    def backward(self, now: np.ndarray, before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The flow from `now` back to `before` and the (H, W) float32 mask of its reliable pixels."""
        back = self.between(now, before)
        forth = self.between(before, now)
        return back, reliable(back, forth)


def grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


@functools.lru_cache(maxsize=4)
def _grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32: each pixel's own (x, y), which a flow is added to."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.stack([grid_x, grid_y], axis=2)


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` (of the earlier frame) carried onto the later one along `flow` (later -> earlier)."""
    return cv2.remap(image, _grid(*flow.shape[:2]) + flow, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def _detail_kept(blend: np.ndarray, painted: np.ndarray) -> np.ndarray:
    """`blend` (float32 RGB) with its finest detail as strong, locally, as in `painted`'s (see above)."""
    low = cv2.GaussianBlur(blend, (0, 0), DETAIL_SIGMA)
    detail = blend - low
    own = painted - cv2.GaussianBlur(painted, (0, 0), DETAIL_SIGMA)
    wanted = cv2.GaussianBlur(np.sum(own ** 2, axis=2), (0, 0), 2 * DETAIL_SIGMA)
    have = cv2.GaussianBlur(np.sum(detail ** 2, axis=2), (0, 0), 2 * DETAIL_SIGMA)
    gain = np.clip(np.sqrt((wanted + 1) / (have + 1)), 1, MAX_GAIN)
    return low + detail * gain[..., None]


def reliable(back: np.ndarray, forth: np.ndarray) -> np.ndarray:
    """1.0 where following `back` then `forth` returns to the start (Sundaram et al.) and stays inside
    the frame, else 0.0."""
    height, width = back.shape[:2]
    there = _grid(height, width) + back
    forth_there = cv2.remap(forth, there, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    error = cv2.magnitude(*cv2.split(back + forth_there)) ** 2
    tolerance = 0.01 * (cv2.magnitude(*cv2.split(back)) ** 2 + cv2.magnitude(*cv2.split(forth_there)) ** 2) + 0.5
    inside = cv2.inRange(there, (0.0, 0.0), (width - 1.0, height - 1.0)) > 0
    return ((error <= tolerance) & inside).astype(np.float32)


class Steadier:
    """Makes frames painted one by one consistent over time: call it on each frame, in order, with its own
    painting; it returns the frame to show. `keep` 0 gives the per-frame paintings back."""

    def __init__(self, keep: float = KEEP, cut: float = CUT, flow: FlowField | None = None) -> None:
        if not 0 <= keep < 1:
            raise ValueError(f"keep must be from 0 to below 1, not {keep}")
        self.keep, self.cut = keep, cut
        self.flow = flow or FlowField()
        self._grey: np.ndarray | None = None
        self._shown: np.ndarray | None = None
        self.cuts = 0  # scene cuts seen

    def __call__(self, frame: np.ndarray, painted: np.ndarray) -> np.ndarray:
        """`painted` (frame's own painting, uint8 RGB of its size) made consistent with what came before."""
        now = grey(frame)
        shown = painted
        if self._grey is not None and self._shown is not None and self.keep > 0:
            back, mask = self.flow.backward(now, self._grey)
            if mask.mean() < self.cut:
                self.cuts += 1
            else:
                weight = self.keep * cv2.GaussianBlur(mask, (0, 0), EDGE)[..., None]
                carried = warp(self._shown, back, cv2.INTER_LANCZOS4).astype(np.float32)
                own = painted.astype(np.float32)
                blend = _detail_kept(weight * carried + (1 - weight) * own, own)
                shown = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
        self._grey, self._shown = now, shown
        return shown


def warping_error(painted: list[np.ndarray], flows: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over consecutive pairs of the mean squared RGB difference ([0, 1]) between painted frame t and
    painted frame t-1 warped onto it, on reliable pixels; `flows(t)` gives the input's backward flow from
    t to t-1 and its reliability mask (pairs with fewer reliable pixels than CUT, a scene cut, are left out)."""
    errors = []
    for t in range(1, len(painted)):
        back, mask = flows(t)
        if mask.mean() < CUT:
            continue
        diff = (painted[t].astype(np.float32) - warp(painted[t - 1], back).astype(np.float32)) / 255.0
        errors.append(float((np.sum(diff ** 2, axis=2) * mask).sum() / max(mask.sum(), 1.0) / 3))
    return float(np.mean(errors)) if errors else 0.0
