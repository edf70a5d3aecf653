"""The fast-style networks' original files: where they are published and how to read their raw layout.

The six Johnson et al. networks trained by Logan Engstrom are published, as headerless little-endian
fp16 blobs, in ColorfulSoft/StyleTransfer-Colorization-SuperResolution (MIT). We pin one commit and
the sha256 of every blob, so a download is either exactly the file we converted or refused.

Raw layout, layer after layer in `LAYERS` order: the kernel in TensorFlow order, ``[kh][kw][in][out]``
for convolutions and ``[kh][kw][out][in]`` for transposed ones, then the InstanceNorm shift (our
``<name>_in.bias``), then its scale (``<name>_in.weight``). Nothing else: no header, no padding.
"""
from __future__ import annotations

from urllib.parse import quote

import numpy as np
import torch
from torch import Tensor

__all__ = ["STYLES", "LAYERS", "BLOB_BYTES", "RAW_SHA256", "FILE_SHA256", "raw_url",
           "convert_fast_style_blob"]

REPOSITORY = "ColorfulSoft/StyleTransfer-Colorization-SuperResolution"
COMMIT = "9c26d715408fbb816f9cc68b0a273c86e317a522"
MODELS_PATH = ("Style Transfer/2016. Perceptual Losses for Real-Time Style Transfer and Super-Resolution/"
               "Implementation/src/Resources/Models")

STYLES = ("la_muse", "rain_princess", "scream", "udnie", "wave", "wreck")

# sha256 of the published raw blobs (checked after download) ...
RAW_SHA256 = {
    "la_muse": "173d75dec853951b011126fa9c9882188e3f8e0f09677d508c40f8a5d96b62d7",
    "rain_princess": "d9f18931d786afd3be076a590e38e9f303f82202f0aa584ff9bb557d9eeb93d9",
    "scream": "1dd574b66da93c4d5330ee7eaa5c84fe465cab2d712a3223c46396df16745186",
    "udnie": "f58aa8afcb7ce74f930788063cc16a2ac216006353f4672006bf84d6dffd7614",
    "wave": "fc65b7e3a1325b16ee5175854ef747a1dffaaa04252e974bdf3d054a528dce3a",
    "wreck": "19b63092d97ff9193fd6d2fdecfb788cb1b4d281e4efdce224f24382e583ed3a",
}
# ... and of our converted files (`torch.save` of `convert_fast_style_blob`'s result), checked on load.
FILE_SHA256 = {
    "la_muse": "804a4fc1cdd7c67e49b9f0deccc632ee31ee185bb7539fbfb3f07ac80991b6c6",
    "rain_princess": "53dfb4fa4a98b03c5016fd6371f3f6b3d541abae825effdc050712030b220a5b",
    "scream": "f02ca606f2fabf753586fdd1b4337d2c69240599e76c0e0d6bdc321e3c9dfc27",
    "udnie": "2f75383a2f4c15c15570f436702d2697de619fb516ee9776ef8a1ea0fd9ff2c5",
    "wave": "7a645c98291ceaf8de0adb7a0f9502273f835bbdfd45413bdbfe8b1a46ae54d9",
    "wreck": "450aa11181d2508d5ba1daacc5f51b95732d28300237bf14291c65b6a069f4e5",
}

# (name, in channels, out channels, kernel size, transposed), in blob order.
LAYERS: tuple[tuple[str, int, int, int, bool], ...] = (
    ("conv1", 3, 32, 9, False),
    ("conv2", 32, 64, 3, False),
    ("conv3", 64, 128, 3, False),
    *((f"res{i}_conv{j}", 128, 128, 3, False) for i in range(1, 6) for j in (1, 2)),
    ("deconv1", 128, 64, 3, True),
    ("deconv2", 64, 32, 3, True),
    ("deconv3", 32, 3, 9, False),
)
BLOB_BYTES = 2 * sum(k * k * cin * cout + 2 * cout for _, cin, cout, k, _ in LAYERS)  # 3,355,276


def raw_url(style: str) -> str:
    """The raw-file URL of `style`'s blob at the pinned commit."""
    path = quote(f"{MODELS_PATH}/{style}.HModel")
    return f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{path}"


def convert_fast_style_blob(data: bytes) -> dict[str, Tensor]:
    """Our state dict (fp16, PyTorch kernel order, keys as in `transfer.instant.TransformerNet`) of a raw blob.

    PyTorch wants ``[out][in][kh][kw]`` for convolutions and ``[in][out][kh][kw]`` for transposed ones;
    both come from the TensorFlow order by the same axis permutation (3, 2, 0, 1).
    """
    if len(data) != BLOB_BYTES:
        raise ValueError(f"a fast-style blob has {BLOB_BYTES} bytes, this one {len(data)}")
    values = np.frombuffer(data, dtype="<f2")
    state: dict[str, Tensor] = {}
    offset = 0

    def take(count: int) -> np.ndarray:
        nonlocal offset
        offset += count
        return values[offset - count:offset]

    for name, cin, cout, k, transposed in LAYERS:
        kernel = take(k * k * cin * cout).reshape((k, k, cout, cin) if transposed else (k, k, cin, cout))
        shift, scale = take(cout), take(cout)
        state[f"{name}.weight"] = _owned(kernel.transpose(3, 2, 0, 1))
        state[f"{name}_in.weight"] = _owned(scale)
        state[f"{name}_in.bias"] = _owned(shift)
    return state


def _owned(array: np.ndarray) -> Tensor:
    """A C-ordered fp16 copy in a storage of its own, so that `torch.save` writes exactly this tensor."""
    return torch.from_numpy(np.array(array, dtype=np.float16, order="C"))
