"""x4 super-resolution (no Telegram here): `Upscaler(...).upscale(image)` -> PIL image at 4x; a compact
Real-ESRGAN-class network by default (`superres.compact`), SRGAN on request (`superres.srgan`)."""
from superres.compact import CompactModel, CompactUpscaler, compact_x4
from superres.srgan import Generator, srgan_x4
from superres.upscaler import DEFAULT_TILE, MAX_INPUT_PIXELS, Upscaler
from transfer.images import ImageError
from transfer.progress import Cancelled, Progress

__all__ = ["Upscaler", "CompactModel", "CompactUpscaler", "compact_x4", "Generator", "srgan_x4", "DEFAULT_TILE",
           "MAX_INPUT_PIXELS", "Progress", "Cancelled", "ImageError"]
