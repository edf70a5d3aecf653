"""What a user asks for, as the chat takes it, the journal keeps it and a worker runs it: a request names
its pictures (Telegram file ids, or a built-in style) and how to paint them; a `Remembered` result keeps
the request that made it, for the buttons under it.

Buttons under a result ("new style", "compare", "upscale") need the request that made it: the store's
results keep a `Remembered` for each under a number their buttons carry. The number is given before the
result is sent, so a button pressed at once already finds its request.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telebot.types import Message

from bots.common.backbone import Backbone
from bots.common.settings import UserSettings
from bots.common.styles import builtin_style
from transfer.images import ImageError

__all__ = ["Style", "PaintRequest", "InstantRequest", "ClipRequest", "Remembered", "PREVIEW_SIDE", "CLIP_KINDS"]

PREVIEW_SIDE = 384  # px, long side at most of each picture in a preview of every instant style


@dataclass(frozen=True)
class Style:
    """A style picture: one of the built-in styles (`builtin` key) or the user's own (`file_id`)."""

    builtin: str | None = None
    file_id: str | None = None

    def __post_init__(self) -> None:
        if (self.builtin is None) == (self.file_id is None):
            raise ValueError("a style is either built-in or the user's own picture")

    def builtin_path(self) -> Path:
        """The built-in style's file; ImageError if the key is unknown (a button from an old version)."""
        style = builtin_style(self.builtin or "")
        if style is None:
            raise ImageError(f"The style {self.builtin!r} no longer exists.", "style_gone")
        return style.path


@dataclass(frozen=True)
class PaintRequest:
    """Paint the `content` photo (a Telegram file id) in `style` with each of `backbones`; none: its quick
    (universal) version."""

    content: str
    style: Style
    backbones: tuple[Backbone, ...]
    settings: UserSettings


@dataclass(frozen=True)
class InstantRequest:
    """Paint the `content` photo (a Telegram file id) in each instant style of `styles` (their keys): one
    style gives a result, several a preview, whose pictures are at most PREVIEW_SIDE px."""

    content: str
    styles: tuple[str, ...]
    settings: UserSettings


# What Telegram calls a moving picture: a GIF (sent as a silent MP4), a video, a round video note; a clip
# sent as a file is a "video" (its sound, if any, is kept).
CLIP_KINDS = ("animation", "video", "video_note")


@dataclass(frozen=True)
class ClipRequest:
    """Paint the clip `content` (a Telegram file id of a `kind` in CLIP_KINDS: `seconds` long, `frames` to
    paint of `pixels` each, as the chat found when it checked it) in the instant style `instant`, or else in
    `style` through the quick (universal) engine."""

    content: str
    kind: str
    seconds: float
    frames: int
    pixels: int
    settings: UserSettings
    instant: str | None = None
    style: Style | None = None

    def __post_init__(self) -> None:
        if self.kind not in CLIP_KINDS:
            raise ValueError(f"a clip is one of {', '.join(CLIP_KINDS)}, not {self.kind!r}")
        if (self.instant is None) == (self.style is None):
            raise ValueError("a clip is painted either in an instant style or in a painting's style")


@dataclass(frozen=True)
class Remembered:
    """A result: its chat, the request that made it and, for a comparison, the file id of each picture
    (a single result's picture is the message its buttons are on)."""

    chat_id: int
    request: PaintRequest | InstantRequest | ClipRequest
    pictures: Mapping[Backbone, str] = field(default_factory=dict)

    def picture(self, backbone: Backbone | None, message: Message) -> str | None:
        """The file id of the picture painted with `backbone`: from a comparison, or the single result
        `message` (the one whose button was pressed) carries."""
        if backbone in self.pictures:
            return self.pictures[backbone]
        return message.photo[-1].file_id if message.photo else None
