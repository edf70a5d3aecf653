"""How much of an image a worker computes at once, sized to the memory the bot may use (no torch here).

The bot computes in worker processes: one for instant styles and `STYLEBOT_WORKERS` for Gatys transfers
and ×4 upscales, each of which holds one job at a time. A Gatys job's memory is bounded by its strip size
(`transfer/strips.py`) and an upscale's, or the carrying of a painting to the photo's size, by its tile
(`superres/upscaler.py`): smaller is slower and needs less. `cgroup_memory_limit()` finds what this
container allows (the setting `STYLEBOT_MEMORY_LIMIT` wins over it: `bots.common.config.memory_limit`),
and `job_sizes()` picks the fastest strip and tile whose measured peak fits each job's share of it:

    limit = config.memory_limit                 # STYLEBOT_MEMORY_LIMIT, else the cgroup's limit, else None
    sizes = job_sizes(limit, job_slots=workers, reserved=already_used)
    sizes.strip_pixels, sizes.tile

`rss_mb()` reads what a process holds now (the workers' baselines, /stats).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MB", "SAFETY_MARGIN", "STRIP_PEAK_MB", "TILE_PEAK_MB", "JobSizes", "cgroup_memory_limit", "job_sizes",
           "rss_mb"]

MB = 1 << 20  # the figures below are MB as the kernel counts resident memory (VmHWM kB / 1024)
UNLIMITED_V1 = 1 << 60  # cgroup v1 writes "no limit" as a huge number (9223372036854771712 on x86-64)
SAFETY_MARGIN = 0.10  # a size fits when its measured peak plus 10% fits: runs vary by a few percent

# Peak resident memory of ONE job above its process's `import torch` baseline, in MB, largest (fastest)
# size first; what a job holds beyond it (weights already loaded, the import itself) is in `reserved`.
#
# Gatys strips (pixels computed at once): a 512 px VGG19 job, amber + candy, on this repo's 2 shared AMD
# EPYC cores, torch 2.14 CPU, 2 threads, `python -m bench nst --size 512 --methods vgg --strip-pixels N`.
# 65536 and 16384: the full preset (160 evaluations), README "Benchmarks": 719 MB in 200.6 s, 464 MB in
# 302.7 s. 8192: 395 MB in 442.5 s there; 402 MB (kept: the larger) in 100.4 s with `--engine-steps 48`
# on 2026-12-02, a short run that peaks like a full one. 4096: the same 48-step command that day,
# 402 MB in 392.8 s (under a load of 3 from other jobs): below 8192 pixels the peak no longer falls (it
# is then set by what the job keeps whatever the strip: the content target, L-BFGS's history, the
# coarse level), so 4096 only costs time and is never chosen (ties go to the larger, faster size).
STRIP_PEAK_MB: Mapping[int, float] = {65_536: 719.0, 16_384: 464.0, 8_192: 402.0, 4_096: 402.0}

# x4 tiles (input pixels per side computed at once) of the compact upscaler (`superres.compact`,
# realesr-general-x4v3), which both upscales results and carries paintings to the photo's size: the largest
# job it does, x4 of a 1024x1024 picture (a 4096 px result, `STYLEBOT_UPSCALE_MAX_SIDE`'s default), in
# float32 (the heavier precision), each tile in a fresh process (bench.measure), 2026-12-05, 2 cores:
#   tile 320: 370 MB   tile 192: 296 MB   tile 128: 215 MB   tile 64: 170 MB
# (the 48 MB result image is part of every peak). Carrying a 512 px painting to 2048 px, detail layer
# included, peaked at 180-223 MB whatever the tile (bench hires, `carry`). Smaller tiles cost time: 1.4x
# (192), 2x (128) and 4x (64) the 320 px tile's, measured the same day under load.
TILE_PEAK_MB: Mapping[int, float] = {320: 370.0, 192: 296.0, 128: 215.0, 64: 170.0}


@dataclass(frozen=True)
class JobSizes:
    """What one Gatys job computes at once (`strip_pixels`) and one upscale (`tile`, px per side)."""

    strip_pixels: int
    tile: int


FASTEST = JobSizes(strip_pixels=max(STRIP_PEAK_MB), tile=max(TILE_PEAK_MB))  # today's defaults


def cgroup_memory_limit(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The bytes this container may use, or None when no limit is known: the cgroup v2 limit (`memory.max`)
    or the cgroup v1 one (`memory/memory.limit_in_bytes`) under `cgroup_root`; an unreadable or odd cgroup
    file counts as no limit."""
    v2 = _read_cgroup_file(cgroup_root / "memory.max")
    if v2 is not None:
        return None if v2 == "max" else _bytes(v2)
    v1 = _bytes(_read_cgroup_file(cgroup_root / "memory" / "memory.limit_in_bytes"))
    return None if v1 is None or v1 >= UNLIMITED_V1 else v1


def rss_mb(pid: int | None = None) -> float | None:
    """The resident memory of a process (default: this one) in MB, from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _read_cgroup_file(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _bytes(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None


def job_sizes(limit: int | None, job_slots: int, reserved: int) -> JobSizes:
    """The largest strip and tile whose measured peak (plus `SAFETY_MARGIN`) fits one job's budget.

    `limit`: bytes the bot may use (`memory_limit()`), None for no limit (the fastest sizes);
    `reserved`: bytes already taken (import baselines, the chat process, the instant-style worker);
    `job_slots`: jobs that may run at once. A job's budget is (limit - reserved) / job_slots; when
    nothing fits, the sizes with the smallest measured peak (the job may still fit: the margin is a
    margin); of sizes with equal peaks the larger, which is faster.
    """
    if job_slots < 1:
        raise ValueError(f"job_slots must be at least 1, not {job_slots}")
    if limit is None:
        return FASTEST
    budget_mb = (limit - reserved) / job_slots / MB
    return JobSizes(strip_pixels=_largest_fitting(STRIP_PEAK_MB, budget_mb),
                    tile=_largest_fitting(TILE_PEAK_MB, budget_mb))


def _largest_fitting(peaks: Mapping[int, float], budget_mb: float) -> int:
    """The largest size whose peak fits; else the one with the lowest peak (the largest of equal ones)."""
    fitting = [size for size, peak in peaks.items() if peak * (1 + SAFETY_MARGIN) <= budget_mb]
    return max(fitting) if fitting else min(peaks, key=lambda size: (peaks[size], -size))
