"""Image input for every engine: decode anything a user may send, as upright 8-bit RGB, at a safe size.

Users send JPEG, PNG, WebP, BMP, TIFF or GIF, from phones (EXIF rotation), scanners (16-bit, CMYK) and
editors (palettes, transparency). Every refusal is an `ImageError` whose message can be shown to them.
"""
from __future__ import annotations

import io
import math
import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "ImageError",
    "REFUSALS",
    "ImageSource",
    "MIN_SIDE",
    "MAX_INPUT_PIXELS",
    "load_image",
    "to_rgb",
    "fit_size",
    "fit",
    "image_to_tensor",
    "tensor_to_image",
    "keep_colors",
    "blend",
]

MIN_SIDE = 32
MAX_INPUT_PIXELS = 64_000_000  # a 8000x8000 photo; more is a decompression bomb or not a photo
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")

ImageSource = str | Path | bytes | BinaryIO | Image.Image
Image.init()  # register every plugin now, so that `formats=ACCEPTED_FORMATS` finds them all


class ImageError(ValueError):
    """An image we refuse; the message is meant for the person who sent it, and `reason` (one of REFUSALS)
    with its `details` let an interface say it in the person's own language."""

    def __init__(self, message: str, reason: str = "unreadable", **details: object) -> None:
        super().__init__(message)
        self.reason, self.details = reason, details


REFUSALS = ("too_large", "too_small", "too_narrow", "not_an_image", "damaged", "unreadable", "not_found")


def _open(source: ImageSource) -> Image.Image:
    """`source` opened lazily (header read, no pixel decoded), or `ImageError`.

    An image Pillow refuses as a decompression bomb is returned all the same, opened without that check,
    so that `load_image` refuses it as too large, with its size, before decoding anything (`_reopen_bomb`).
    """
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(source, formats=ACCEPTED_FORMATS)
    except FileNotFoundError:
        raise ImageError(f"File not found: {source}", "not_found") from None
    except IsADirectoryError:
        raise ImageError(f"{source} is a folder, not an image", "not_found") from None
    except Image.DecompressionBombError:
        img = _reopen_bomb(source)
        if img is None:
            raise ImageError(f"The image is too large; the limit is {MAX_INPUT_PIXELS / 1e6:.0f} megapixels.",
                             "too_large", megapixels=f"{MAX_INPUT_PIXELS / 1e6:.0f}") from None
        return img
    except UnidentifiedImageError:
        raise ImageError("This is not an image I can read (JPEG, PNG, WebP, BMP, TIFF or GIF).",
                         "not_an_image") from None
    except OSError as exc:
        raise ImageError(f"Could not read the image: {exc}") from None


def _reopen_bomb(source: str | os.PathLike[str] | BinaryIO) -> Image.Image | None:
    """`source`, which `Image.open` refused as a decompression bomb, opened by its format's plugin alone.

    `Image.open` compares the size in the header with the process-wide `Image.MAX_IMAGE_PIXELS`; raising
    that for one call would race other threads, so this repeats `Image.open`'s format loop without the
    check. Only the header is read; `load_image` then refuses the size. None if no plugin reads it.
    """
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                prefix = fh.read(16)
        else:
            source.seek(0)
            prefix = source.read(16)
        for name in ACCEPTED_FORMATS:
            factory, accept = Image.OPEN[name]
            accepted = not accept or accept(prefix)
            if not accepted or isinstance(accepted, str):  # a string is Pillow's "plugin missing" warning
                continue
            if not isinstance(source, (str, os.PathLike)):
                source.seek(0)
            try:
                return factory(source, "")  # a path: the image opens the file itself and closes it with itself
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue
    except (OSError, AttributeError):  # gone since, or a stream that cannot seek back
        pass
    return None


def _to_8bit(img: Image.Image) -> Image.Image:
    """16/32-bit integer and float single-channel images, scaled (not clipped) to 8-bit grayscale."""
    data = np.asarray(img)
    if img.mode == "F":
        lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
        scaled = (data - lo) / (hi - lo) if hi > lo else np.zeros_like(data)
        return Image.fromarray(np.clip(scaled * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    peak = 65535 if data.max(initial=0) > 255 else 255
    return Image.fromarray(np.clip(data.astype(np.float64) * 255 / peak + 0.5, 0, 255).astype(np.uint8), "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright 8-bit RGB: EXIF orientation applied, transparency composited on white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _to_8bit(img)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def load_image(source: ImageSource, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Decode `source` (path, bytes, file object or PIL image) into upright RGB, or raise `ImageError`.

    Animated GIFs give their first frame. Images over `max_pixels` are refused before being decoded.
    """
    img = _open(source)
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(f"The image is too large ({width}x{height}); the limit is "
                         f"{max_pixels / 1e6:.0f} megapixels.", "too_large", megapixels=f"{max_pixels / 1e6:.0f}")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"The image is too small ({width}x{height}); each side needs at least {MIN_SIDE} px.",
                         "too_small", width=width, height=height, min_side=MIN_SIDE)
    try:
        img.seek(0)
        img.load()
        return to_rgb(img)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"The image file is damaged or truncated ({exc}).", "damaged") from None


def fit_size(size: tuple[int, int], long_side: int | None = 512, max_pixels: int | None = None,
             upscale: bool = False) -> tuple[int, int]:
    """The (width, height) that keeps the aspect ratio within `long_side` and `max_pixels`."""
    width, height = size
    scale = math.inf
    if long_side:
        scale = min(scale, long_side / max(width, height))
    if max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if not upscale or scale == math.inf:
        scale = min(scale, 1.0)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if min(new) < MIN_SIDE:
        raise ImageError(f"The image is too narrow: at {new[0]}x{new[1]} a side would be under {MIN_SIDE} px.",
                         "too_narrow", width=new[0], height=new[1], min_side=MIN_SIDE)
    return new


def fit(img: Image.Image, long_side: int | None = 512, max_pixels: int | None = None,
        upscale: bool = False) -> Image.Image:
    """`img` resized to `fit_size` with a high-quality filter; the same object when nothing changes."""
    new = fit_size(img.size, long_side, max_pixels, upscale)
    if new == img.size:
        return img
    return img.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)


def image_to_tensor(img: Image.Image, device: torch.device | None = None) -> torch.Tensor:
    """An RGB image as a float tensor (1, 3, H, W) in [0, 1], on `device` (default: the CPU)."""
    import torch  # here, not at the top: the chat process decodes pictures without loading torch

    array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor in [0, 1] as an RGB image."""
    import torch

    array = tensor.detach().squeeze(0).clamp(0, 1).mul(255).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy(), "RGB")


def keep_colors(result: Image.Image, content: Image.Image) -> Image.Image:
    """`result`'s luminance with `content`'s colours (YCbCr chroma), as in Gatys et al. 2016."""
    if content.size != result.size:
        content = content.resize(result.size, Image.Resampling.BICUBIC)
    luma, _, _ = result.convert("YCbCr").split()
    _, cb, cr = content.convert("YCbCr").split()
    return Image.merge("YCbCr", (luma, cb, cr)).convert("RGB")


def blend(images: Sequence[Image.Image], weights: Sequence[float]) -> Image.Image:
    """Weighted average of same-size RGB images (weights need not sum to 1)."""
    total = float(sum(weights))
    acc = sum(np.asarray(im, dtype=np.float32) * (w / total) for im, w in zip(images, weights))
    return Image.fromarray(np.clip(acc + 0.5, 0, 255).astype(np.uint8), "RGB")
