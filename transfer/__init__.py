"""Neural style transfer engines (no Telegram here): Gatys optimisation on VGG19 or ResNet50 features.

The engines are imported on first use (PEP 562), so that `transfer.images` and the other torch-free
modules can be imported by the chat process without loading torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["StyleTransfer", "TransferSettings", "Progress", "Cancelled", "ImageError", "load_image"]
_HOMES = {"StyleTransfer": "transfer.style_transfer", "TransferSettings": "transfer.style_transfer",
          "Progress": "transfer.progress", "Cancelled": "transfer.progress",
          "ImageError": "transfer.images", "load_image": "transfer.images"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'transfer' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
