"""Expected waits: how long a job would wait in its lane, so that a lane admits by time, not by count.

Sixty instant jobs are a few seconds of work and twenty Gatys jobs most of an hour, so a lane takes a new
job while the wait it can expect is under the lane's limit (`LaneLimits.wait`); the count limit only guards
memory. Waits come from each job's estimated seconds:

- a *prior*, stamped into the job's payload when it is taken (`stamp`): the presets' measured seconds per
  megapixel (README, "Benchmarks") times the job's pixels;
- times a *calibration* per kind of job: the median of (seconds it really ran / its prior) over the last
  delivered jobs of that kind in the journal (`Calibration`). The journal is shared by every worker of the
  distributed mode, so every chat process and worker learns this deployment's speed from all of them.

A lane's wait is then a FIFO simulation over its slots (`starts`): exact for first-come,
first-served lanes, given the estimates.
"""
from __future__ import annotations

import heapq
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bots.common.lanes import PRIOR_KEY
from bots.common.requests import PREVIEW_SIDE
from transfer.resolution import BRUSH_SIDES, DEFAULT_BRUSH, REFINE_SIDE, REFINE_STEPS, WORKING_SHARE, X4_FROM

__all__ = ["LaneLimits", "prior_seconds", "stamp", "Calibration", "starts", "left_of", "refusal",
           "retry_after"]

# Seconds per megapixel of the result (and a fixed part: download, delivery), measured on a 2-core AVX2-only
# EPYC, the slower of the two CPUs we run on: the instant styles 3.1 s/MP (1024 px in 3.2 s), the universal
# quick version 25 s/MP (512 px in 6.6 s), the VGG19 preset 880 s/MP (256 px in 43-60 s, 512 px in 190-580 s),
# ResNet50 a quarter of that per step (0.095 s against 0.379 s at 256 px). Calibration corrects them within a
# few jobs.
# The engines paint at the brush's working size (`transfer.resolution`): those rates apply to its megapixels;
# carrying the painting to a larger result runs the x4 network on the working picture (512x512: 2.3 s with
# bfloat16, twice that in float32) and x4 upscaling on the result (realesr-general-x4v3: 512x512 in 2.0 s
# bfloat16, 3.9 s float32); per working or input megapixel, float32: CARRY 18, upscale 16; then the resize
# and the photo's detail, per result megapixel: "finish" 0.5 (a 2048 px result in 1.9 s).
FIXED_SECONDS = 0.3
SECONDS_PER_MEGAPIXEL = {"instant": 3.1, "quick": 25.0, "vgg19": 880.0, "resnet50": 220.0, "upscale": 16.0,
                         "carry": 18.0, "finish": 0.5, "quick_frame": 5.5}
# A clip's frame in the quick (universal) engine costs far less than a quick version ("quick_frame": its
# painting is encoded once per clip; 480x360 frames in 0.38 s with bfloat16, about 2.5x that in float32).
# A clip's frame, besides its painting: decoding, two optical flows, blending, encoding (`bench motion`: 480x360
# frames in 27 ms on a bfloat16 EPYC, doubled for the AVX2-only one)
CLIP_SECONDS_PER_MEGAPIXEL = 0.3
# A result at the photo's own size: a photo sent as a photo reaches bots at most 1280 px on its long side
# (2560 in HD), the size to expect
PHOTO_SIDE_GUESS = 1280
PRESET_STEPS = 160  # the VGG19 preset's evaluations, which its rate above covers: a refining one costs 1/160 of it
CALIBRATION_JOBS = 20  # the last delivered jobs of a kind that calibrate its estimates
CALIBRATION_HOURS = 6.0
CALIBRATION_TTL = 5.0  # seconds a calibration is reused before the journal is read again
OVERRUN_SHARE = 0.1  # a job past its estimate is expected to need this share of it again


@dataclass(frozen=True)
class LaneLimits:
    """A lane's limits: `slots` jobs computed at once, at most `count` waiting (a memory guard), and a new
    job admitted while it can expect to start within `wait` seconds."""

    slots: int
    count: int
    wait: float


def prior_seconds(kind: str, request: Mapping[str, Any] | None, default_size: int) -> float:
    """The prior estimate of a job's seconds from its kind and its encoded request (`bots.store.codec`):
    its size from the user's settings, the number of instant styles, its backbones."""
    request = request or {}
    settings = request.get("settings", {})
    size = int(settings.get("size", default_size)) or PHOTO_SIDE_GUESS
    working = min(size, BRUSH_SIDES.get(settings.get("brush"), BRUSH_SIDES[DEFAULT_BRUSH]))
    megapixels = working * working / 1e6
    carry = _carry_seconds(working, size)
    if kind == "instant":
        styles = len(request.get("styles", ())) or 1
        if styles > 1:  # a preview: small pictures, no carrying
            side = min(size, PREVIEW_SIDE)
            return FIXED_SECONDS + styles * SECONDS_PER_MEGAPIXEL["instant"] * side * side / 1e6
        return FIXED_SECONDS + SECONDS_PER_MEGAPIXEL["instant"] * megapixels + carry
    if kind == "paint":  # painted at the working size, refined at the result's (up to REFINE_SIDE), carried
        backbones = request.get("backbones") or ["vgg19"]
        refined = min(size, REFINE_SIDE)
        painted, start = megapixels, 0.0
        if refined > working:  # a share of the preset at the working size, carried up and refined there
            painted = WORKING_SHARE * megapixels + REFINE_STEPS / PRESET_STEPS * refined * refined / 1e6
            start = _carry_seconds(working, refined)
        carry = _carry_seconds(refined, size)
        return FIXED_SECONDS + sum(SECONDS_PER_MEGAPIXEL.get(b, SECONDS_PER_MEGAPIXEL["vgg19"]) * painted + start
                                   + carry for b in backbones)
    if kind == "upscale":
        return FIXED_SECONDS + SECONDS_PER_MEGAPIXEL["upscale"] * size * size / 1e6
    if kind == "clip":  # every frame painted by a one-pass engine at its own size, then steadied and encoded
        engine = "instant" if request.get("instant") else "quick_frame"
        frame = request.get("pixels", 480 * 360) / 1e6
        per_frame = (SECONDS_PER_MEGAPIXEL[engine] + CLIP_SECONDS_PER_MEGAPIXEL) * frame
        return FIXED_SECONDS + request.get("frames", 1) * per_frame
    return FIXED_SECONDS + SECONDS_PER_MEGAPIXEL["quick"] * megapixels + carry


def _carry_seconds(painted: int, size: int) -> float:
    """Carrying a painting of long side `painted` to `size`: the x4 network from X4_FROM times its size
    (`transfer.resolution`), then the resize and the photo's detail."""
    if size <= painted:
        return 0.0
    network = SECONDS_PER_MEGAPIXEL["carry"] * painted * painted / 1e6 if size >= X4_FROM * painted else 0.0
    return network + SECONDS_PER_MEGAPIXEL["finish"] * size * size / 1e6


def stamp(kind: str, payload: dict[str, Any], default_size: int) -> dict[str, Any]:
    """`payload` with its prior (`PRIOR_KEY`), and its follow-up's (a quick version's full painting)."""
    stamped = {**payload, PRIOR_KEY: round(prior_seconds(kind, payload.get("request"), default_size), 3)}
    if then := stamped.get("then"):
        stamped["then"] = {**then, "payload": stamp(then["kind"], then["payload"], default_size)}
    return stamped


class Runs(Protocol):
    """Where calibration reads recent jobs: the journal (`bots.store.JobJournal.delivered_since`)."""

    def delivered_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]: ...


class Calibration:
    """This deployment's seconds per prior second, per kind of job, from the journal's recent deliveries;
    read again at most every CALIBRATION_TTL seconds (thread-safe)."""

    def __init__(self, runs: Runs, default_size: int, clock: Callable[[], float] = time.time) -> None:
        self.runs, self.default_size, self.clock = runs, default_size, clock
        self._lock = threading.Lock()
        self._factors: dict[str, float] = {}
        self._read = -float("inf")

    def factors(self) -> dict[str, float]:
        """Per kind, the median ratio of real to prior seconds (a kind not seen lately keeps its prior: the
        kinds gain differently from a faster CPU, e.g. bfloat16 speeds the quick version up 1.6x, a Gatys
        painting 1.8x)."""
        with self._lock:
            now = self.clock()
            if now - self._read >= CALIBRATION_TTL:
                self._factors = _factors(self.runs.delivered_since(now - CALIBRATION_HOURS * 3600,
                                                                   CALIBRATION_JOBS * 10))
                self._read = now
            return self._factors

    def estimate(self, kind: str, payload: Mapping[str, Any]) -> float:
        """A job's expected seconds: its prior (from before the prior existed: computed now) calibrated."""
        prior = payload.get(PRIOR_KEY)
        if prior is None:
            prior = prior_seconds(kind, payload.get("request"), self.default_size)
        factors = self.factors()
        return float(prior) * factors.get(kind, 1.0)


def _factors(runs: Iterable[tuple[str, float, float | None]]) -> dict[str, float]:
    """Newest first: (kind, seconds, prior) -> the median ratio of each kind's last CALIBRATION_JOBS."""
    ratios: dict[str, list[float]] = {}
    for kind, seconds, prior in runs:
        if prior and seconds >= 0 and len(ratios.setdefault(kind, [])) < CALIBRATION_JOBS:
            ratios[kind].append(seconds / prior)
    return {kind: statistics.median(values) for kind, values in ratios.items() if values}


def left_of(estimate: float, running_for: float) -> float:
    """The seconds a running job still needs: its estimate less its time so far, or, past its estimate, a
    share of it (it is late, so it may still take a while)."""
    return max(estimate - running_for, OVERRUN_SHARE * estimate)


def starts(running_left: Sequence[float], waiting: Sequence[float], slots: int) -> list[float]:
    """Seconds until each job of a FIFO lane starts, and then a new one (the last item): the lane has
    `slots` slots, its running jobs still need `running_left` seconds, its `waiting` jobs (in order) need
    theirs."""
    free_at = sorted(running_left)[:slots] + [0.0] * max(0, slots - len(running_left))
    heapq.heapify(free_at)
    result = []
    for seconds in waiting:
        result.append(free_at[0])
        heapq.heapreplace(free_at, free_at[0] + seconds)
    result.append(free_at[0])
    return result


def refusal(ahead: int, wait: float, count: int, limit: float) -> float | None:
    """Whether a lane holding at most `count` waiting jobs and admitting waits up to `limit` seconds refuses a
    job with `ahead` jobs waiting before it and `wait` seconds to wait: None if it takes it, else the seconds
    after which trying again should succeed (over the count, a memory guard: once all those ahead run)."""
    if ahead >= count:
        return retry_after(wait, 0.0)
    return retry_after(wait, limit) if wait > limit else None


def retry_after(wait: float, limit: float) -> float:
    """When a refused user may try again: once the lane's wait has fallen under its limit, if no one else
    comes; a minute at least."""
    return max(60.0, wait - limit)
