"""Where the engines compute: the CPU, or the CUDA GPU named by ``STYLEBOT_DEVICE``.

Every engine (Gatys on both backbones, the instant styles, the universal stylizer, the upscaler) runs the
same code on either; only the size of what it computes at once changes. On the CPU those sizes are
today's (bounded by the host's memory, `bots.common.budget`); on a GPU they grow to what its free memory holds
(`gpu_budget` and each engine's bytes-per-pixel figure), since there a bigger batch of pixels costs
almost no extra time while every extra strip or tile costs a launch and a recomputed halo.

    device = compute_device()          # STYLEBOT_DEVICE: auto (default), cpu, cuda, cuda:N
    budget = gpu_budget(device)        # bytes a job may use on the GPU; None on the CPU
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICE_SETTING", "DeviceError", "check_device_name", "compute_device", "gpu_budget", "sized",
           "share_gpu"]

DEVICE_SETTING = "STYLEBOT_DEVICE"
_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")
# Share of a GPU's free memory one job may plan for: the rest is left to the CUDA context and the caching
# allocator's slack; processes sharing the GPU (the bot's workers) divide it further (`share_gpu`).
GPU_SHARE = 0.5
_sharers = 1


class DeviceError(ValueError):
    """A device setting that names no device this host has; the message says what to set instead."""


def check_device_name(name: str) -> str:
    """`name` normalised (lower case, no spaces) if it is a device name; else `DeviceError`.

    Needs no torch, so the bot's chat process checks the setting at start without loading it.
    """
    text = name.strip().lower()
    if not _NAME.fullmatch(text):
        raise DeviceError(f"{DEVICE_SETTING} must be auto, cpu, cuda or cuda:N (N a GPU number), not {name!r}")
    return text


def compute_device(name: str | torch.device | None = None) -> torch.device:
    """The device `name` names (default: ``STYLEBOT_DEVICE``, else auto); `DeviceError` if this host lacks it.

    auto: the current CUDA GPU when torch sees one, else the CPU. cuda without a number: the current GPU.
    """
    import torch

    if isinstance(name, torch.device):
        return name
    text = check_device_name(name if name is not None else os.environ.get(DEVICE_SETTING, "") or "auto")
    if text == "cpu" or (text == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"{DEVICE_SETTING}={text}, but this torch sees no CUDA GPU "
                          f"(torch {torch.__version__}, CUDA {torch.version.cuda or 'not built in'}); "
                          f"set {DEVICE_SETTING}=cpu or auto")
    index = int(text.partition(":")[2] or torch.cuda.current_device())
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"{DEVICE_SETTING}={text}, but this host has {count} CUDA GPU(s), "
                          f"numbered 0 to {count - 1}")
    return torch.device("cuda", index)


def share_gpu(processes: int) -> None:
    """Tell `gpu_budget` that `processes` processes (this one included) compute on the same GPU."""
    global _sharers
    _sharers = max(1, processes)


def gpu_budget(device: torch.device) -> int | None:
    """Bytes one job may use on `device`: `GPU_SHARE` of its free memory now, divided among the processes
    that share it (`share_gpu`); None on the CPU."""
    import torch

    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return int(free * GPU_SHARE / _sharers)


def sized(cpu_size: int, budget: int | None, bytes_per_unit: float, largest: int) -> int:
    """The size an engine computes at once: `cpu_size` on the CPU (`budget` None); on a GPU as many units
    as `budget` holds at `bytes_per_unit` each, at most `largest` and never below `cpu_size`."""
    if budget is None:
        return cpu_size
    return max(cpu_size, min(largest, int(budget / bytes_per_unit)))
