"""The bot's requests and results as JSON, and back exactly: what a store keeps must outlive the process,
so no pickles (a renamed class would make old rows unreadable, and a pickle can run code).

Every object becomes a dict with a "kind" tag: "style", "settings", "paint" (a `PaintRequest`), "instant"
(an `InstantRequest`), "clip" (a `ClipRequest`), "result" (a `Remembered`). A backbone is its `.value`.
Decoding something that is not what it says raises `CodecError`.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from bots.common.backbone import Backbone
from bots.common.requests import ClipRequest, InstantRequest, PaintRequest, Remembered, Style
from bots.common.settings import UserSettings
from transfer.resolution import BRUSHES

__all__ = ["CodecError", "encode_style", "decode_style", "encode_settings", "decode_settings", "settings_fields",
           "encode_request", "decode_request", "encode_result", "decode_result", "read_result", "encode_payload",
           "dumps", "DAY"]

log = logging.getLogger(__name__)
Json = dict[str, Any]
DAY = 24 * 3600.0  # retention periods are in days; stores count in seconds


def dumps(value: object, what: str) -> str:
    """Strict JSON (no NaN), so that any other backend reads it too; TypeError naming `what` otherwise."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON (str, int, float, bool, None, lists, dicts): {exc}") from None


def encode_payload(payload: dict[str, Any]) -> str:
    """A job's payload as the journal keeps it; TypeError if it is not a JSON object."""
    if not isinstance(payload, dict):
        raise TypeError(f"a job's payload is a dict, not {type(payload).__name__}")
    return dumps(payload, "a job's payload")


def read_result(text: str, number: int) -> Remembered | None:
    """A kept result from its JSON; None (logged) when it cannot be read, as if it had expired."""
    try:
        return decode_result(json.loads(text))
    except (CodecError, ValueError) as exc:
        log.warning("result %d cannot be read: %s", number, exc)
        return None


class CodecError(ValueError):
    """Stored JSON that does not decode: written by another version, or damaged."""


def encode_style(style: Style) -> Json:
    return {"kind": "style", "builtin": style.builtin, "file_id": style.file_id}


def decode_style(data: Mapping[str, Any]) -> Style:
    _expect(data, "style")
    try:
        return Style(builtin=data.get("builtin"), file_id=data.get("file_id"))
    except ValueError as exc:
        raise CodecError(f"bad style {dict(data)!r}: {exc}") from None


def encode_settings(settings: UserSettings) -> Json:
    return {"kind": "settings", **settings_fields({f.name: getattr(settings, f.name) for f in fields(settings)})}


def settings_fields(values: Mapping[str, object]) -> Json:
    """Some fields of UserSettings (`values`, by name) as JSON values."""
    return {name: value.value if isinstance(value, Backbone) else value for name, value in values.items()}


def decode_settings(data: Mapping[str, Any], base: UserSettings | None = None) -> UserSettings:
    """`base` (UserSettings() if None) with the fields `data` holds; unknown names (a field a newer or
    older version had) are skipped, a value of the wrong kind raises CodecError."""
    if "kind" in data:
        _expect(data, "settings")
    known = {f.name for f in fields(UserSettings)}
    changes: dict[str, object] = {}
    for name, value in data.items():
        if name not in known:
            continue
        if name == "backbone":
            changes[name] = None if value is None else _backbone(value)
        elif name == "size" and (not isinstance(value, int) or isinstance(value, bool)):
            raise CodecError(f"bad size {value!r}")
        elif name == "keep_colors" and not isinstance(value, bool):
            raise CodecError(f"bad keep_colors {value!r}")
        elif name == "strength" and not isinstance(value, str):
            raise CodecError(f"bad strength {value!r}")
        elif name == "brush" and value not in BRUSHES:
            raise CodecError(f"bad brush {value!r}")
        elif name == "language" and value is not None and not isinstance(value, str):
            raise CodecError(f"bad language {value!r}")
        else:
            changes[name] = value
    return replace(base if base is not None else UserSettings(), **changes)


def encode_request(request: PaintRequest | InstantRequest | ClipRequest) -> Json:
    if isinstance(request, PaintRequest):
        return {"kind": "paint", "content": request.content, "style": encode_style(request.style),
                "backbones": [b.value for b in request.backbones], "settings": encode_settings(request.settings)}
    if isinstance(request, InstantRequest):
        return {"kind": "instant", "content": request.content, "styles": list(request.styles),
                "settings": encode_settings(request.settings)}
    if isinstance(request, ClipRequest):
        return {"kind": "clip", "content": request.content, "clip": request.kind, "seconds": request.seconds,
                "frames": request.frames, "pixels": request.pixels, "instant": request.instant,
                "style": encode_style(request.style) if request.style else None,
                "settings": encode_settings(request.settings)}
    raise TypeError(f"not a request: {request!r}")


def decode_request(data: Mapping[str, Any]) -> PaintRequest | InstantRequest | ClipRequest:
    kind = data.get("kind") if isinstance(data, Mapping) else None
    try:
        if kind == "paint":
            return PaintRequest(content=_text(data["content"]), style=decode_style(data["style"]),
                                backbones=tuple(_backbone(v) for v in data["backbones"]),
                                settings=decode_settings(data["settings"]))
        if kind == "instant":
            return InstantRequest(content=_text(data["content"]), styles=tuple(_text(s) for s in data["styles"]),
                                  settings=decode_settings(data["settings"]))
        if kind == "clip":
            seconds, frames, pixels = data["seconds"], data["frames"], data["pixels"]
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                raise TypeError(f"seconds {seconds!r}")
            if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in (frames, pixels)):
                raise TypeError(f"frames {frames!r}, pixels {pixels!r}")
            return ClipRequest(content=_text(data["content"]), kind=_text(data["clip"]), seconds=float(seconds),
                               frames=frames, pixels=pixels, settings=decode_settings(data["settings"]),
                               instant=None if data.get("instant") is None else _text(data["instant"]),
                               style=None if data.get("style") is None else decode_style(data["style"]))
    except ValueError as exc:
        raise CodecError(f"bad {kind} request: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"bad {kind} request: {exc!r}") from None
    raise CodecError(f"not a request: kind {kind!r}")


def encode_result(result: Remembered) -> Json:
    return {"kind": "result", "chat_id": result.chat_id, "request": encode_request(result.request),
            "pictures": {backbone.value: file_id for backbone, file_id in result.pictures.items()}}


def decode_result(data: Mapping[str, Any]) -> Remembered:
    _expect(data, "result")
    try:
        pictures = {_backbone(key): _text(file_id) for key, file_id in data.get("pictures", {}).items()}
        chat_id = data["chat_id"]
        if not isinstance(chat_id, int):
            raise TypeError(f"chat_id {chat_id!r}")
        return Remembered(chat_id=chat_id, request=decode_request(data["request"]), pictures=pictures)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CodecError(f"bad result: {exc!r}") from None


def _expect(data: Mapping[str, Any], kind: str) -> None:
    if not isinstance(data, Mapping) or data.get("kind") != kind:
        raise CodecError(f"expected a {kind}, got {data!r}")


def _backbone(value: object) -> Backbone:
    try:
        return Backbone(value)
    except ValueError:
        raise CodecError(f"unknown backbone {value!r}") from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise CodecError(f"expected text, got {value!r}")
    return value
