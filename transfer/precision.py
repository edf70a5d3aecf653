"""The number format the engines' networks compute in: bfloat16 where the device has it natively, else float32.

    dtype = network_dtype(device, precision)   # STYLEBOT_PRECISION: auto (default), float32, bfloat16

`auto` asks the hardware (`bf16_supported`) and never assumes: a CPU with AVX512-BF16 or AMX-BF16, or a
CUDA GPU that reports it. Only the networks' weights and activations change format; what an engine
accumulates or optimises (Gram matrices, loss sums, the image, L-BFGS's history, WCT's statistics) stays in
float32. Each engine's module says what bfloat16 measured for it.
`float32` is there for operators and for comparisons, `bfloat16` to force it (emulated, and slower, on a
CPU without it). The choice is logged once per engine, device and dtype.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISION_SETTING", "PRECISIONS", "PrecisionError", "check_precision_name", "precision_setting",
           "bf16_supported", "network_dtype"]

PRECISION_SETTING = "STYLEBOT_PRECISION"
PRECISIONS = ("auto", "float32", "bfloat16")
_ALIASES = {"fp32": "float32", "bf16": "bfloat16"}
log = logging.getLogger(__name__)
_announced: set[tuple[str, str, str]] = set()


class PrecisionError(ValueError):
    """A precision setting that names no precision; the message lists the ones there are."""


def check_precision_name(name: str) -> str:
    """`name` normalised (auto, float32 or bfloat16; fp32 and bf16 accepted) or `PrecisionError`.

    Needs no torch, so the bot's chat process checks the setting at start without loading it.
    """
    text = name.strip().lower()
    text = _ALIASES.get(text, text)
    if text not in PRECISIONS:
        raise PrecisionError(f"{PRECISION_SETTING} must be auto, float32 or bfloat16, not {name!r}")
    return text


def precision_setting(precision: str | None = None) -> str:
    """`precision` normalised, or when None ``STYLEBOT_PRECISION``'s (default auto); `PrecisionError` if bad.

    Command lines call it before any work, so a bad setting is refused before a progress bar appears."""
    return check_precision_name(precision if precision is not None else os.environ.get(PRECISION_SETTING, "") or "auto")


def bf16_supported(device: torch.device | None = None) -> bool:
    """Whether `device` (default: the CPU) has native bfloat16 arithmetic; never assumed.

    A CUDA GPU is asked through `torch.cuda.is_bf16_supported`. A CPU needs AVX512-BF16 or AMX-BF16: asked
    of torch (`torch.cpu.get_capabilities`) and, failing that, of /proc/cpuinfo's flags. Without native
    support bfloat16 is emulated, and slower than float32.
    """
    import torch

    if device is not None and device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        capabilities = torch.cpu.get_capabilities()  # type: ignore[attr-defined]
        return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))
    except (AttributeError, RuntimeError):
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def network_dtype(device: torch.device, precision: str | None = None, engine: str = "networks") -> torch.dtype:
    """The dtype `engine`'s networks compute in on `device`.

    `precision` None: ``STYLEBOT_PRECISION``, else auto. auto: bfloat16 where the device has it natively,
    else float32. Every engine follows auto: each was measured faster in bfloat16 on such a CPU with its
    result within tolerance of float32's (their docstrings, `bench nst`, `bench instant`, `bench sr`).
    """
    import torch

    text = precision_setting(precision)
    if text == "auto":
        bf16 = bf16_supported(device)
        why = "native on this device" if bf16 else "not native on this device"
    else:
        bf16 = text == "bfloat16"
        why = f"{PRECISION_SETTING} or --precision says {text}"
        if bf16 and not bf16_supported(device):
            why += "; emulated on this device, slower than float32"
    dtype = torch.bfloat16 if bf16 else torch.float32
    key = (engine, str(device), str(dtype))
    if key not in _announced:
        _announced.add(key)
        log.info("%s compute in %s on %s (%s)", engine, "bfloat16" if bf16 else "float32", device, why)
    return dtype
