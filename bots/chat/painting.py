"""The painting flow: a photo, then a style (a painting sent after it, a gallery or instant style button, a
caption naming one, or the second picture of an album), then jobs handed to the admission; and the
buttons under results (paint fully, compare, upscale, a new style).

Handlers are thin: they move the conversation (telebot custom states, kept in the store so a restart
forgets nothing) and hand the long work to `bots.jobs.admission`, so they return in milliseconds.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

from PIL import Image
from telebot.types import CallbackQuery, Message

from bots.botapi.calls import ack, close_prompt, say
from bots.botapi.keyboards import (ALBUM, COMPARE, INSTANT, ORIGINAL, PREVIEW_ALL, RESULT, STYLE, album_keyboard,
                                   style_keyboard)
from bots.botapi.media import (Unusable, checked_clip, checked_picture, clip_file, clip_limits, is_image_document,
                               picture_file_id, wrong_kind)
from bots.chat.albums import Album
from bots.chat.conversation import Flow, step
from bots.chat.parts import ChatParts
from bots.common import texts
from bots.common.lanes import COST_KEY, INSTANT_LANE, TRANSFER_LANE
from bots.common.requests import ClipRequest, InstantRequest, PaintRequest, Style
from bots.common.settings import UserSettings
from bots.common.styles import INSTANT_STYLES, builtin_style, instant_title, style_named
from bots.store.codec import encode_request

__all__ = ["PaintingFlow"]


class PaintingFlow:
    """The handlers of the painting flow (registered by `bots.chat.bot.ChatBot`)."""

    def __init__(self, parts: ChatParts) -> None:
        self.parts, self.telegram, self.admission = parts, parts.telegram, parts.admission

    def on_content_picture(self, message: Message) -> None:
        """The photo to repaint; its caption may name a built-in style ("wave", "удни"): then no question."""
        user, chat = message.from_user.id, message.chat.id
        if self.admission.busy(user, chat):
            return
        picture = self._receive_picture(message)
        if picture is not None:
            self._drafted(user, chat, picture, None, message.caption)

    def on_clip(self, message: Message) -> None:
        """A GIF, video, video note or clip file to repaint, checked at once (nothing is computed for one we
        refuse); its caption may name a style, as a photo's."""
        user, chat = message.from_user.id, message.chat.id
        if self.admission.busy(user, chat):
            return
        clip = self._receive_clip(message)
        if clip is not None:
            self._drafted(user, chat, clip["file_id"], clip, message.caption)

    def _drafted(self, user: int, chat: int, content: str, clip: dict | None, caption: str | None) -> None:
        """A new draft of the photo or clip `content`: the style is asked for, unless `caption` names one."""
        self._start_draft(user, chat, content, clip)
        named = style_named(caption)
        if named is None:
            self.telegram.send_message(chat, texts.ASK_CLIP_STYLE if clip else texts.ASK_STYLE,
                                       reply_markup=style_keyboard(INSTANT_STYLES, preview=clip is None))
        elif named.instant:
            say(self.telegram, chat, texts.STYLE_CHOSEN.format(title=instant_title(named.key)))
            self._instant(user, chat, content, named.key)
        else:
            say(self.telegram, chat, texts.STYLE_CHOSEN.format(title=builtin_style(named.key).title))
            self._style_chosen(user, chat, Style(builtin=named.key))

    def _start_draft(self, user: int, chat: int, content: str, clip: dict | None = None) -> None:
        """The conversation waits for the style of `content` (a photo's file id, or a clip's: `clip`)."""
        self.telegram.set_state(user, Flow.style, chat)
        self.telegram.add_data(user, chat, content=content, clip=clip)

    def on_style_picture(self, message: Message) -> None:
        """The painting; or, with a caption naming a built-in style, a new photo for that style."""
        if style_named(message.caption):
            self.on_content_picture(message)
            return
        picture = self._receive_picture(message)
        if picture is not None:
            self._style_chosen(message.from_user.id, message.chat.id, Style(file_id=picture))

    def on_builtin_style(self, call: CallbackQuery) -> None:
        style = builtin_style(STYLE.parse(call.data)["key"])
        if style is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        close_prompt(self.telegram, call, texts.STYLE_CHOSEN.format(title=style.title))
        self._style_chosen(call.from_user.id, call.message.chat.id, Style(builtin=style.key))

    def on_instant_style(self, call: CallbackQuery) -> None:
        """An instant style needs no network: queue it at once. A preview keeps the draft, so that the
        user then picks from the styles sent after it."""
        user, chat = call.from_user.id, call.message.chat.id
        key = INSTANT.parse(call.data)["key"]
        with self.telegram.retrieve_data(user, chat) as data:
            content = data.get("content")
        if not (key == PREVIEW_ALL or key in INSTANT_STYLES) or content is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        close_prompt(self.telegram, call, texts.PREVIEW_CHOSEN if key == PREVIEW_ALL
                     else texts.STYLE_CHOSEN.format(title=instant_title(key)))
        self._instant(user, chat, content, key)

    def on_album(self, album: Album) -> None:
        """An album: two pictures are the photo and the painting, in the order sent; with more, the first is
        the photo and the user picks the painting among the others (or one of the bot's styles)."""
        user, chat = album.from_user.id, album.chat.id
        pictures = [m for m in album.messages if m.photo or is_image_document(m)]
        clips = [m for m in album.messages if clip_file(m) is not None]
        if clips and pictures:  # a clip and its painting
            self._clip_with_painting(clips[0], pictures[0])
            return
        if clips:
            self.on_clip(clips[0])
            return
        if len(pictures) < 2:
            (self.on_content_picture if pictures else self.on_wrong_input)((pictures or album.messages)[0])
            return
        if self.admission.busy(user, chat):
            return
        content = self._receive_picture(pictures[0])
        if content is None:
            return
        self._start_draft(user, chat, content)
        if len(pictures) > 2:
            self.telegram.add_data(user, chat, paintings=[picture_file_id(m) for m in pictures[1:]])
            self.telegram.send_message(chat, texts.ALBUM_PICK, reply_markup=album_keyboard(len(pictures),
                                                                                          INSTANT_STYLES))
            return
        painting = self._receive_picture(pictures[1])  # refused: the photo waits for another painting
        if painting is not None:
            say(self.telegram, chat, texts.ALBUM_TAKEN)
            self._style_chosen(user, chat, Style(file_id=painting))

    def _clip_with_painting(self, clip_message: Message, painting_message: Message) -> None:
        user, chat = clip_message.from_user.id, clip_message.chat.id
        if self.admission.busy(user, chat):
            return
        clip = self._receive_clip(clip_message)
        if clip is None:
            return
        self._start_draft(user, chat, clip["file_id"], clip)
        painting = self._receive_picture(painting_message)  # refused: the clip waits for another painting
        if painting is not None:
            say(self.telegram, chat, texts.ALBUM_CLIP_TAKEN)
            self._style_chosen(user, chat, Style(file_id=painting))

    def on_album_choice(self, call: CallbackQuery) -> None:
        user, chat = call.from_user.id, call.message.chat.id
        index = ALBUM.parse(call.data)["index"]
        with self.telegram.retrieve_data(user, chat) as data:
            paintings = data.get("paintings") or []
        if not index.isdigit() or int(index) >= len(paintings):
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        close_prompt(self.telegram, call, texts.STYLE_CHOSEN.format(title=texts.album_choice(int(index) + 2)))
        self._style_chosen(user, chat, Style(file_id=paintings[int(index)]))

    def on_result_button(self, call: CallbackQuery) -> None:
        user, chat = call.from_user.id, call.message.chat.id
        parts, choice = self.parts, RESULT.parse(call.data)
        action = choice["action"]
        backbone = next((b for b in parts.backbones if b.value == choice["backbone"]), None)
        remembered = parts.store.results.recall(int(choice["result"]), chat) if choice["result"].isdigit() else None
        if remembered is None:
            forgotten = texts.forgotten_result(parts.config.result_days)
            ack(self.telegram, call, forgotten)
            say(self.telegram, chat, forgotten)
            return
        ack(self.telegram, call)
        request = remembered.request
        if action == "again" and isinstance(request, ClipRequest):  # the same clip, another style
            self._start_draft(user, chat, request.content, _clip_draft(request))
            self.telegram.send_message(chat, texts.ASK_CLIP_STYLE, reply_markup=style_keyboard(INSTANT_STYLES,
                                                                                              preview=False))
        elif action == "again":
            self._start_draft(user, chat, request.content)
            self.telegram.send_message(chat, texts.ASK_STYLE_AGAIN,
                                       reply_markup=style_keyboard(INSTANT_STYLES))
        elif action in ("paint", COMPARE) and backbone and isinstance(request, PaintRequest):
            backbones = parts.backbones if action == COMPARE else (backbone,)
            self._paint(user, chat, PaintRequest(request.content, request.style, backbones, parts.settings.get(user)))
        elif action == "upscale" and parts.upscaling and (picture := remembered.picture(backbone, call.message)):
            side = 4 * max(call.message.photo[-1].width, call.message.photo[-1].height) if call.message.photo else 0
            if side > parts.config.upscale_max_side:  # a comparison's pictures: their worker checks
                say(self.telegram, chat, texts.upscale_too_large(side, parts.config.upscale_max_side))
            else:
                self.admission.take(user, chat, TRANSFER_LANE, "upscale", {"picture": picture})
        elif action == ORIGINAL:
            self._send_original(chat, int(choice["result"]))
        else:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)

    def _send_original(self, chat: int, number: int) -> None:
        """The result's full-quality file, as a document (retried through Telegram's errors)."""
        path = self.parts.originals.find(number)
        if path is None:
            say(self.telegram, chat, texts.full_quality_gone(self.parts.config.result_days))
            return
        data = path.read_bytes()
        with Image.open(path) as picture:
            caption = texts.full_quality(*picture.size)
        self.parts.delivery.call(f"a full-quality file to chat {chat}", lambda: self.telegram.send_document(
            chat, data, visible_file_name=f"stylebot-{number}.png", caption=caption))

    def on_expired_button(self, call: CallbackQuery) -> None:
        ack(self.telegram, call, texts.EXPIRED_BUTTON)

    def on_wrong_input(self, message: Message) -> None:
        where = step(self.telegram, message.from_user.id, message.chat.id)
        self.telegram.reply_to(message, texts.wrong_input(wrong_kind(message), where))

    def _receive_picture(self, message: Message) -> str | None:
        """The file id of the picture in `message` once checked; None after telling the user what is wrong."""
        try:
            return checked_picture(self.telegram, message, self.parts.config.download_limit, self.parts.delivery)
        except Unusable as exc:
            self.telegram.reply_to(message, str(exc))
            return None

    def _receive_clip(self, message: Message) -> dict[str, object] | None:
        """The clip in `message` once downloaded and probed (as the draft keeps it: file id, kind, seconds);
        None after telling the user what is wrong."""
        found = clip_file(message)
        if found is None:
            return None
        config = self.parts.config
        limits = clip_limits(config, found.kind)
        Path(config.temp_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(prefix="clip-", dir=config.temp_dir) as folder:
                clip = checked_clip(self.telegram, found, config.download_limit, limits, Path(folder),
                                    self.parts.delivery)
        except Unusable as exc:
            self.telegram.reply_to(message, str(exc))
            return None
        return {"file_id": found.file_id, "kind": found.kind, "seconds": round(clip.seconds, 3),
                "frames": clip.frames, "pixels": clip.width * clip.height}

    def _style_chosen(self, user: int, chat: int, style: Style) -> None:
        with self.telegram.retrieve_data(user, chat) as data:
            content, clip = data.get("content"), data.get("clip")
        if content is None:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)
            return
        self.telegram.delete_state(user, chat)
        settings = self.parts.settings.get(user)
        if clip:
            self._clip(user, chat, _clip_request(clip, settings, style=style))
            return
        quick = PaintRequest(content, style, (), settings)
        then = None
        if settings.backbone in self.parts.backbones:  # the user's setting: paint fully right after, no question
            full = PaintRequest(content, style, (settings.backbone,), settings)
            then = {"kind": "paint", "lane": TRANSFER_LANE, "payload": {"request": encode_request(full)}}
        self.admission.take(user, chat, INSTANT_LANE, "quick", {"request": encode_request(quick), "then": then})

    def _instant(self, user: int, chat: int, content: str, key: str) -> None:
        """Queue the photo `content` in the instant style `key`, or in all of them as a preview (PREVIEW_ALL,
        which keeps the draft: the user then picks from the styles sent after it)."""
        with self.telegram.retrieve_data(user, chat) as data:
            clip = data.get("clip")
        if clip and key == PREVIEW_ALL:  # a button of an older keyboard: clips have no preview
            say(self.telegram, chat, texts.CLIP_PREVIEW)
            return
        if key != PREVIEW_ALL:
            self.telegram.delete_state(user, chat)
        if clip:
            self._clip(user, chat, _clip_request(clip, self.parts.settings.get(user), instant=key))
            return
        styles = INSTANT_STYLES if key == PREVIEW_ALL else (key,)
        request = InstantRequest(content, styles, self.parts.settings.get(user))
        self.admission.take(user, chat, INSTANT_LANE, "instant", {"request": encode_request(request)})

    def _clip(self, user: int, chat: int, request: ClipRequest) -> None:
        """Queue a clip on the transfer lane: it takes minutes, as a full painting does, and the fast lane
        stays fast. In the hourly limit it counts as one picture per second of it."""
        self.admission.take(user, chat, TRANSFER_LANE, "clip", {"request": encode_request(request),
                                                                COST_KEY: max(1, math.ceil(request.seconds))})

    def _paint(self, user: int, chat: int, request: PaintRequest) -> None:
        self.admission.take(user, chat, TRANSFER_LANE, "paint", {"request": encode_request(request)})


def _clip_request(clip: dict, settings: UserSettings, instant: str | None = None,
                  style: Style | None = None) -> ClipRequest:
    """The request for a clip as the draft keeps it (`PaintingFlow._receive_clip`)."""
    return ClipRequest(clip["file_id"], clip["kind"], clip["seconds"], clip["frames"], clip["pixels"], settings,
                       instant=instant, style=style)


def _clip_draft(request: ClipRequest) -> dict:
    """The draft of a clip painted before (`_clip_request`'s other way)."""
    return {"file_id": request.content, "kind": request.kind, "seconds": request.seconds, "frames": request.frames,
            "pixels": request.pixels}
