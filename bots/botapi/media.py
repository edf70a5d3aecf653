"""Pictures users send: which messages carry one, and fetching it from Telegram within the download limit.

Photos come in several sizes (the largest is taken); pictures sent as files come at full resolution.
A self-hosted Bot API server in ``--local`` mode answers getFile with a path on its own disk: when the
bot runs on the same machine it reads the file there instead of downloading it.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from requests import RequestException
from telebot import TeleBot
from telebot.apihelper import ApiException, ApiTelegramException
from telebot.types import Message

from bots.botapi.delivery import Delivery
from bots.common import texts
from bots.common.config import PUBLIC_DOWNLOAD_LIMIT, BotConfig
from transfer.clips import Clip, ClipLimits, probe
from transfer.images import ImageError, load_image

__all__ = ["Unusable", "is_image_document", "is_clip_document", "download", "picture_file_id", "checked_picture",
           "wrong_kind", "jpeg", "ClipFile", "clip_file", "clip_limits", "checked_clip", "probed"]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# A GIF sent as a file is taken for a clip (Telegram turns GIFs people send into animations); a still one is
# then refused with the advice to send it as a photo.
CLIP_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".gif")
VIDEO_NOTE_SIDE = 640  # px: the largest round video note Telegram takes
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
    name, mime = (document.file_name or "").lower(), document.mime_type or ""
    return (mime.startswith("image/") and mime != "image/gif" or name.endswith(IMAGE_EXTENSIONS)) \
        and not is_clip_document(message)


def is_clip_document(message: Message) -> bool:
    """A file whose type or name says it is a clip (a video, or a GIF)."""
    document = message.document
    if document is None or message.animation is not None:
        return False
    name, mime = (document.file_name or "").lower(), document.mime_type or ""
    return mime.startswith("video/") or mime == "image/gif" or name.endswith(CLIP_EXTENSIONS)


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


@dataclass(frozen=True)
class ClipFile:
    """A clip a message carries: its file id, kind (`bots.common.requests.CLIP_KINDS`), duration and size
    as the message says them (None where it does not)."""

    file_id: str
    kind: str
    seconds: float | None
    size: int | None


def clip_file(message: Message) -> ClipFile | None:
    """The clip of an animation, video, video note or clip-file message; None for any other message."""
    for kind in ("animation", "video", "video_note"):
        media = getattr(message, kind, None)
        if media is not None:
            return ClipFile(media.file_id, kind, media.duration, media.file_size)
    if is_clip_document(message):  # a GIF file comes back as an animation, any other clip as a video
        document = message.document
        gif = document.mime_type == "image/gif" or (document.file_name or "").lower().endswith(".gif")
        return ClipFile(document.file_id, "animation" if gif else "video", None, document.file_size)
    return None


def clip_limits(config: BotConfig, kind: str) -> ClipLimits:
    """The bot's limits on a clip of `kind` (a video note comes back square, as Telegram needs one, and at
    most VIDEO_NOTE_SIDE px)."""
    note = kind == "video_note"
    side = min(config.video_side, VIDEO_NOTE_SIDE) if note else config.video_side
    return ClipLimits(config.video_seconds, config.video_frames, side, square=note)


def checked_clip(bot: TeleBot, clip: ClipFile, limit: int, limits: ClipLimits, folder: Path,
                 delivery: Delivery | None = None) -> Clip:
    """What `transfer.clips.probe` finds in the clip once downloaded into `folder` (within `limit` bytes and
    `limits`); else Unusable, saying why. A clip whose message says it is too long is refused unseen."""
    if clip.seconds is not None and clip.seconds > limits.seconds:
        raise Unusable(texts.refused_clip("clip_too_long", {"seconds": round(clip.seconds),
                                                            "limit": f"{limits.seconds:g}"}))
    path = folder / "clip"
    path.write_bytes(download(bot, clip.file_id, limit, clip.size, delivery))
    return probed(path, limits)


def probed(path: Path, limits: ClipLimits) -> Clip:
    """`transfer.clips.probe` of a downloaded clip, its refusal as Unusable in the user's words."""
    try:
        return probe(path, limits)
    except ImageError as exc:
        raise Unusable(texts.refused_clip(exc.reason, exc.details)) from None


def wrong_kind(message: Message) -> str:
    """What kind of unusable input a message is, for the hint (see texts.WRONG_KIND)."""
    kind = message.content_type
    if kind == "text":
        return "command" if (message.text or "").startswith("/") else "text"
    if kind == "photo" or is_image_document(message):
        return "picture"
    if kind in ("sticker", "document"):
        return kind
    return "other"
