"""Neural style transfer engines (no Telegram here): Gatys optimisation on VGG19 or ResNet50 features."""
from transfer.images import ImageError, load_image
from transfer.progress import Cancelled, Progress
from transfer.style_transfer import StyleTransfer, TransferSettings

__all__ = ["StyleTransfer", "TransferSettings", "Progress", "Cancelled", "ImageError", "load_image"]
