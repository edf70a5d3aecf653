"""Pictures users send: which messages carry one, and fetching it from Telegram within the download limit.

Photos come in several sizes (the largest is taken); pictures sent as files come at full resolution.
A self-hosted Bot API server in ``--local`` mode answers getFile with a path on its own disk: when the
bot runs on the same machine it reads the file there instead of downloading it.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

from PIL import Image
from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException, ApiTelegramException
from telebot.types import Message

from bots.botapi.delivery import Delivery
from bots.common import texts
from bots.common.config import PUBLIC_DOWNLOAD_LIMIT
from transfer.images import ImageError, load_image

__all__ = ["Unusable", "is_image_document", "download", "picture_file_id", "checked_picture", "wrong_kind", "jpeg"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
JPEG_QUALITY = 95


def jpeg(image: Image.Image) -> bytes:
    """The picture as JPEG bytes, as the bots send pictures."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class Unusable(Exception):
    """A picture that cannot be used (too big, not downloadable, refused by the engines); the message
    says why, for the user."""


def is_image_document(message: Message) -> bool:
    """A file whose type or name says it is a picture (its content is checked when downloaded)."""
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return (document.mime_type or "").startswith("image/") or name.endswith(IMAGE_EXTENSIONS)


def download(bot: TeleBot, file_id: str, limit: int, size: int | None = None,
             delivery: Delivery | None = None) -> bytes:
    """The file's bytes, or Unusable: over `limit` (checked before asking when `size` is known, from the
    message, then from getFile's answer), refused as too big by the server, or not downloadable (after
    `delivery`'s retries of Telegram's passing errors: 429, 5xx, resets, timeouts)."""
    if size is not None and size > limit:
        raise Unusable(texts.too_big(size, limit))
    retry = delivery or Delivery(patience=0)
    try:
        info = retry.call(f"file {file_id}'s path", lambda: bot.get_file(file_id))
        if info.file_size is not None and info.file_size > limit:
            raise Unusable(texts.too_big(info.file_size, limit))
        local = Path(info.file_path)
        if local.is_absolute() and local.is_file():
            return local.read_bytes()
        return retry.call(f"file {file_id}", lambda: bot.download_file(info.file_path))
    except ApiTelegramException as exc:
        if "file is too big" in (exc.description or ""):  # the server's own limit: Telegram's, presumably
            raise Unusable(texts.too_big(size, min(limit, PUBLIC_DOWNLOAD_LIMIT))) from None
        log.warning("could not download file %s: %s", file_id, exc)
        raise Unusable(texts.DOWNLOAD_FAILED) from None
    except (ApiException, RequestException) as exc:
        log.warning("could not download file %s: %s", file_id, exc)
        raise Unusable(texts.DOWNLOAD_FAILED) from None


def _picture_file(message: Message) -> tuple[str, int | None]:
    """The file id and size of the picture a photo or image-file message carries: the largest photo size,
    or the file at full resolution."""
    if message.photo:
        return message.photo[-1].file_id, message.photo[-1].file_size
    return message.document.file_id, message.document.file_size


def picture_file_id(message: Message) -> str:
    """The file id of the picture a photo or image-file message carries (not checked: its job will)."""
    return _picture_file(message)[0]


def checked_picture(bot: TeleBot, message: Message, limit: int, delivery: Delivery | None = None) -> str:
    """The file id of the picture a photo or image-file message carries, once downloaded and accepted by the
    engines' own loader; else Unusable."""
    file_id, size = _picture_file(message)
    try:
        load_image(download(bot, file_id, limit, size, delivery))
    except ImageError as exc:
        raise Unusable(texts.refused_image(exc.reason, exc.details)) from None
    return file_id


def wrong_kind(message: Message) -> str:
    """What kind of unusable input a message is, for the hint (see texts.WRONG_KIND)."""
    kind = message.content_type
    if kind == "text":
        return "command" if (message.text or "").startswith("/") else "text"
    if kind == "photo" or is_image_document(message):
        return "picture"
    if kind in ("video", "animation", "video_note"):
        return "video"
    if kind in ("sticker", "document"):
        return kind
    return "other"
