"""`StyleBot`: one Telegram bot with every chat scenario; subclasses only say which networks it offers.

Handlers are thin: they read the chat event, move the conversation (telebot custom states, kept in the
store so a restart forgets nothing) and hand long work to the job runner, so they return in
milliseconds and /help is answered while jobs run. Every accepted job is journalled before the user is
told it is queued; on start, the jobs a stop or a crash interrupted are resumed. Every handler is
guarded: an unexpected error is logged and the user gets a short apology, and speaks the user's language
(`bots.i18n`). In groups the bot answers only its commands and replies to its own messages.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from telebot import TeleBot, apihelper, util
from telebot.apihelper import ApiTelegramException
from telebot.types import BotCommandScopeChat, CallbackQuery, Message, User

from bots import texts
from bots.admin import stats_text
from bots.admission import Admission
from bots.albums import Album, AlbumCollector
from bots.assembly import StateFilterWithoutStore, build_runner, open_store
from bots.backbone import Backbone
from bots.config import BotConfig, use_api_server
from bots.conversation import Flow
from bots.delivery import Delivery
from bots.jobs import JobState
from bots.groups import ignore, in_group, not_for
from bots.i18n import LANGUAGES, language_for, speaking
from bots.keyboards import (ALBUM, COMPARE, INSTANT, LANGUAGE, PREVIEW_ALL, RESULT, SETTING, STYLE,
                            CallbackDataFilter, album_keyboard, language_keyboard, settings_keyboard, style_keyboard)
from bots.media import Unusable, checked_picture, is_image_document, picture_file_id, wrong_kind
from bots.runner import JobRunner, RunnerUnavailable
from bots.settings import UserSettings, button_change
from bots.store import Store, StoreError
from bots.store.codec import encode_request
from bots.styles import INSTANT_STYLES, builtin_style, instant_title, style_named
from bots.telegram_calls import (PollingGuard, TokenRefused, ack, check_token, close_prompt, say, set_command_menu,
                                 set_command_menus)
from bots.waits import LaneLimits
from bots.webhook import Webhook, drop_webhook
from bots.worker import INSTANT_LANE, TRANSFER_LANE
from bots.workflow import InstantRequest, PaintRequest, Style

__all__ = ["StyleBot", "TRANSFER_LANE", "INSTANT_LANE", "TokenRefused"]

log = logging.getLogger(__name__)
POLL_SECONDS = 20  # long-polling timeout of getUpdates
STEPS = {Flow.style.name: texts.Step.STYLE}
Update = TypeVar("Update", Message, CallbackQuery, Album)


class StyleBot:
    """The bot: owns the TeleBot, its handlers, the store (settings, conversations, results, the job
    journal) and the job runner."""

    backbones: ClassVar[tuple[Backbone, ...]] = ()
    upscaling: ClassVar[bool] = False

    def __init__(self, config: BotConfig, engines: Any = None, store: Store | None = None) -> None:
        """`engines` (a `bots.engines.Engines`): compute in this process with them (tests, debugging);
        None: in supervised worker processes, each loading its own, or with `STYLEBOT_REDIS_URL` on the
        distributed mode's Celery workers. `store` None: the SQLite database in the data folder, or Redis
        in the distributed mode (raises bots.store.StoreError when it cannot be used)."""
        if config.api_url:
            use_api_server(config.api_url)
        apihelper.READ_TIMEOUT = config.telegram_timeout  # telebot keeps it globally, like the URLs
        self.config = config
        self.store = store or open_store(config)
        self.guard = PollingGuard()
        self.telegram = TeleBot(config.token, threaded=True, num_threads=config.update_threads,
                                state_storage=self.store.states, exception_handler=self.guard)
        self.webhook = Webhook(self.telegram, config) if config.webhook_url else None
        self.telegram.add_custom_filter(StateFilterWithoutStore(self.telegram))
        self.telegram.add_custom_filter(CallbackDataFilter())
        self.settings = self.store.settings
        lanes = {TRANSFER_LANE: LaneLimits(config.workers, config.queue_limit, config.transfer_wait_limit),
                 INSTANT_LANE: LaneLimits(1, config.queue_limit, config.instant_wait_limit)}
        self.delivery = Delivery(config.delivery_patience)
        self.runner: JobRunner = build_runner(config, self.telegram, self.store, self.delivery, lanes, engines,
                                              self.backbones, self.upscaling)
        self.admission = Admission(config, self.telegram, self.store.journal, self.runner, self.delivery)
        self.albums = AlbumCollector(self._guard(self.on_album))
        self.started_at = time.time()
        self._started = False
        self._register_handlers()

    @classmethod
    def from_config(cls, config: BotConfig) -> StyleBot:
        """The bot on its data folder, its networks to be loaded by its workers (raises StoreError)."""
        return cls(config)

    def start(self) -> None:
        """Check the token, open the webhook (in webhook mode), sweep what crashed jobs left, start the workers
        and resume the journal's unfinished jobs. Raises TokenRefused, ConfigError (webhook) and
        WorkerSetupError (one-line messages)."""
        check_token(self.telegram)
        if self.webhook is not None:
            self.webhook.open()
        _private_folder(self.config.temp_dir)
        self.runner.start()
        self._started = True
        if self.runner.resumes_journal:
            self.admission.resume()

    def run(self) -> None:
        """Answer chats until `stop()` or Ctrl-C: through the webhook when STYLEBOT_WEBHOOK_URL is set, else by
        long polling, which also stops when another process polls with the same token for too long (then
        `exit_code` is non-zero)."""
        if not self._started:
            self.start()
        set_command_menus(self.telegram)
        if self.webhook is not None:
            self.webhook.serve()
            return
        drop_webhook(self.telegram)  # Telegram refuses getUpdates while a webhook is set
        log.info("%s is polling for updates", type(self).__name__)
        self.guard.on_give_up = self.telegram.stop_polling
        self.telegram.infinity_polling(timeout=POLL_SECONDS + 10, long_polling_timeout=POLL_SECONDS,
                                       logger_level=None)

    @property
    def exit_code(self) -> int:
        """0, or the code to exit with when polling gave up (see `PollingGuard`)."""
        return self.guard.exit_code

    def stop(self, timeout: float | None = 30) -> None:
        """Stop polling (or serving the webhook) and the workers. Unfinished jobs stay in the journal: the next
        start runs them."""
        self.telegram.stop_polling()
        if self.webhook is not None:
            self.webhook.stop()
        self.albums.flush()
        self.runner.shutdown(timeout)

    # ---- registration ---------------------------------------------------------------------------------
    def _register_handlers(self) -> None:
        """Order matters: telebot runs the first handler whose filters match."""
        on_message, on_button = self.telegram.message_handler, self.telegram.callback_query_handler
        everything = util.content_type_media
        on_message(content_types=everything, func=lambda message: not_for(self.telegram.user, message))(ignore)
        on_message(content_types=everything, func=lambda message: message.media_group_id is not None)(
            self.albums.add)
        on_message(commands=["start"])(self._guard(self.on_start))
        on_message(commands=["help"])(self._guard(self.on_help))
        on_message(commands=["cancel"])(self._guard(self.on_cancel))
        on_message(commands=["settings"])(self._guard(self.on_settings))
        on_message(commands=["language"])(self._guard(self.on_language))
        on_message(commands=["stats"], func=lambda m: m.from_user.id in self.config.admins)(
            self._guard(self.on_stats))
        on_message(state=Flow.style, content_types=["photo"])(self._guard(self.on_style_picture))
        on_message(state=Flow.style, content_types=["document"], func=is_image_document)(
            self._guard(self.on_style_picture))
        on_message(content_types=["photo"])(self._guard(self.on_content_picture))
        on_message(content_types=["document"], func=is_image_document)(self._guard(self.on_content_picture))
        on_message(content_types=everything)(self._guard(self.on_wrong_input))
        on_button(func=None, config=SETTING.filter())(self._guard(self.on_setting))
        on_button(func=None, config=LANGUAGE.filter())(self._guard(self.on_language_choice))
        on_button(func=None, state=Flow.style, config=ALBUM.filter())(self._guard(self.on_album_choice))
        on_button(func=None, state=Flow.style, config=STYLE.filter())(self._guard(self.on_builtin_style))
        on_button(func=None, state=Flow.style, config=INSTANT.filter())(self._guard(self.on_instant_style))
        on_button(func=None, config=RESULT.filter())(self._guard(self.on_result_button))
        on_button(func=lambda call: True)(self._guard(self.on_expired_button))

    def _guard(self, handler: Callable[[Update], None]) -> Callable[[Update], None]:
        """Run `handler` in the user's language; on an unexpected error log it and apologise, so no update
        goes unanswered."""
        @functools.wraps(handler)
        def guarded(update: Update) -> None:
            chat_id = update.message.chat.id if isinstance(update, CallbackQuery) else update.chat.id
            with speaking(self._language(update.from_user)):
                try:
                    handler(update)
                except (StoreError, RunnerUnavailable) as exc:  # the distributed mode's Redis is down
                    log.warning("%s: %s", handler.__name__, exc)
                    say(self.telegram, chat_id, texts.BUSY)
                except Exception:
                    log.exception("%s failed", handler.__name__)
                    say(self.telegram, chat_id, texts.HANDLER_FAILED)

        return guarded

    # ---- commands -------------------------------------------------------------------------------------
    def on_start(self, message: Message) -> None:
        self.telegram.delete_state(message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help(message))

    def on_help(self, message: Message) -> None:
        step = self._step(message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help(message) + texts.help_step(step))

    def on_language(self, message: Message) -> None:
        self.telegram.send_message(message.chat.id, texts.ASK_LANGUAGE,
                                   reply_markup=language_keyboard(self._language(message.from_user)))

    def on_language_choice(self, call: CallbackQuery) -> None:
        """Keep the choice with the user's settings, say so in the new language and, in a private chat, give
        the chat the command menu in it too."""
        code = LANGUAGE.parse(call.data)["code"]
        if code not in LANGUAGES:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        self.settings.change(call.from_user.id, language=code)
        with speaking(code):
            ack(self.telegram, call)
            close_prompt(self.telegram, call, texts.LANGUAGE_CHOSEN)
            if call.message.chat.type == "private":
                set_command_menu(self.telegram, BotCommandScopeChat(call.message.chat.id))

    def on_cancel(self, message: Message) -> None:
        user, chat = message.from_user.id, message.chat.id
        had_draft = self.telegram.delete_state(user, chat)
        job = self.runner.cancel(user)
        if job is None:
            say(self.telegram, chat, texts.CANCELLED_DRAFT if had_draft else texts.NOTHING_TO_CANCEL)
        elif job.state is JobState.DROPPED:
            say(self.telegram, chat, texts.CANCELLED_QUEUED)
        else:
            say(self.telegram, chat, texts.CANCELLING_RUNNING)

    def on_stats(self, message: Message) -> None:
        """For admins only (others get the unknown-command answer): the state of the queue and workers."""
        say(self.telegram, message.chat.id, stats_text(self.runner.stats(), self.store.journal, self.started_at))

    def on_settings(self, message: Message) -> None:
        settings = self.settings.get(message.from_user.id)
        self.telegram.send_message(message.chat.id, self._settings_text(settings),
                                   reply_markup=settings_keyboard(settings, self.config.sizes, self.backbones))

    def on_setting(self, call: CallbackQuery) -> None:
        choice = SETTING.parse(call.data)
        changes = button_change(choice["name"], choice["value"], self.config.sizes, self.backbones)
        if changes is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        settings = self.settings.change(call.from_user.id, **changes)
        try:
            self.telegram.edit_message_text(self._settings_text(settings), call.message.chat.id,
                                            call.message.message_id,
                                            reply_markup=settings_keyboard(settings, self.config.sizes, self.backbones))
        except ApiTelegramException as exc:
            if "message is not modified" not in (exc.description or ""):
                raise

    # ---- the main flow --------------------------------------------------------------------------------
    def on_content_picture(self, message: Message) -> None:
        """The photo to repaint; its caption may name a built-in style ("wave", "удни"): then no question."""
        user, chat = message.from_user.id, message.chat.id
        if self.admission.busy(user, chat):
            return
        picture = self._receive_picture(message)
        if picture is None:
            return
        self.telegram.set_state(user, Flow.style, chat)
        self.telegram.add_data(user, chat, content=picture)
        named = style_named(message.caption)
        if named is None:
            self.telegram.send_message(chat, texts.ASK_STYLE, reply_markup=style_keyboard(INSTANT_STYLES))
        elif named.instant:
            say(self.telegram, chat, texts.STYLE_CHOSEN.format(title=instant_title(named.key)))
            self._instant(user, chat, picture, named.key)
        else:
            say(self.telegram, chat, texts.STYLE_CHOSEN.format(title=builtin_style(named.key).title))
            self._style_chosen(user, chat, Style(builtin=named.key))

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
        if len(pictures) < 2:
            (self.on_content_picture if pictures else self.on_wrong_input)((pictures or album.messages)[0])
            return
        if self.admission.busy(user, chat):
            return
        content = self._receive_picture(pictures[0])
        if content is None:
            return
        self.telegram.set_state(user, Flow.style, chat)
        self.telegram.add_data(user, chat, content=content)
        if len(pictures) > 2:
            self.telegram.add_data(user, chat, paintings=[picture_file_id(m) for m in pictures[1:]])
            self.telegram.send_message(chat, texts.ALBUM_PICK, reply_markup=album_keyboard(len(pictures),
                                                                                          INSTANT_STYLES))
            return
        painting = self._receive_picture(pictures[1])  # refused: the photo waits for another painting
        if painting is not None:
            say(self.telegram, chat, texts.ALBUM_TAKEN)
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
        choice = RESULT.parse(call.data)
        action, backbone = choice["action"], next((b for b in self.backbones if b.value == choice["backbone"]), None)
        remembered = self.store.results.recall(int(choice["result"]), chat) if choice["result"].isdigit() else None
        if remembered is None:
            forgotten = texts.forgotten_result(self.config.result_days)
            ack(self.telegram, call, forgotten)
            say(self.telegram, chat, forgotten)
            return
        ack(self.telegram, call)
        request = remembered.request
        if action == "again":
            self.telegram.set_state(user, Flow.style, chat)
            self.telegram.add_data(user, chat, content=request.content)
            self.telegram.send_message(chat, texts.ASK_STYLE_AGAIN,
                                       reply_markup=style_keyboard(INSTANT_STYLES))
        elif action in ("paint", COMPARE) and backbone and isinstance(request, PaintRequest):
            backbones = self.backbones if action == COMPARE else (backbone,)
            self._paint(user, chat, PaintRequest(request.content, request.style, backbones, self.settings.get(user)))
        elif action == "upscale" and self.upscaling and (picture := remembered.picture(backbone, call.message)):
            self.admission.take(user, chat, TRANSFER_LANE, "upscale", {"picture": picture})
        else:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)

    def on_expired_button(self, call: CallbackQuery) -> None:
        ack(self.telegram, call, texts.EXPIRED_BUTTON)

    def on_wrong_input(self, message: Message) -> None:
        step = self._step(message.from_user.id, message.chat.id)
        self.telegram.reply_to(message, texts.wrong_input(wrong_kind(message), step))

    # ---- helpers --------------------------------------------------------------------------------------
    def _language(self, user: User) -> str:
        """The language to speak to `user`: their /language choice, else their Telegram's."""
        try:
            chosen = self.settings.get(user.id).language
        except StoreError:  # Redis down: their Telegram's language is still right for most
            chosen = None
        return chosen or language_for(user.language_code)

    def _help(self, message: Message) -> str:
        return texts.help_text([b.label for b in self.backbones], self.upscaling, in_group(message))

    def _step(self, user: int, chat: int) -> str:
        try:
            return STEPS.get(self.telegram.get_state(user, chat), texts.Step.CONTENT)
        except StoreError:  # Redis down: /help still answers, without the step
            return texts.Step.CONTENT

    def _settings_text(self, settings: UserSettings) -> str:
        full = settings.backbone if settings.backbone in self.backbones else None
        full_with = None if full is None else full.label if len(self.backbones) > 1 else ""
        return texts.settings_text(settings.strength, settings.size, settings.keep_colors, full_with)

    def _receive_picture(self, message: Message) -> str | None:
        """The file id of the picture in `message` once checked; None after telling the user what is wrong."""
        try:
            return checked_picture(self.telegram, message, self.config.download_limit, self.delivery)
        except Unusable as exc:
            self.telegram.reply_to(message, str(exc))
            return None

    def _style_chosen(self, user: int, chat: int, style: Style) -> None:
        with self.telegram.retrieve_data(user, chat) as data:
            content = data.get("content")
        if content is None:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)
            return
        self.telegram.delete_state(user, chat)
        settings = self.settings.get(user)
        quick = PaintRequest(content, style, (), settings)
        then = None
        if settings.backbone in self.backbones:  # the user's setting: paint fully right after, no question
            full = PaintRequest(content, style, (settings.backbone,), settings)
            then = {"kind": "paint", "lane": TRANSFER_LANE, "payload": {"request": encode_request(full)}}
        self.admission.take(user, chat, INSTANT_LANE, "quick", {"request": encode_request(quick), "then": then})

    def _instant(self, user: int, chat: int, content: str, key: str) -> None:
        """Queue the photo `content` in the instant style `key`, or in all of them as a preview (PREVIEW_ALL,
        which keeps the draft: the user then picks from the styles sent after it)."""
        if key != PREVIEW_ALL:
            self.telegram.delete_state(user, chat)
        styles = INSTANT_STYLES if key == PREVIEW_ALL else (key,)
        request = InstantRequest(content, styles, self.settings.get(user))
        self.admission.take(user, chat, INSTANT_LANE, "instant", {"request": encode_request(request)})

    def _paint(self, user: int, chat: int, request: PaintRequest) -> None:
        self.admission.take(user, chat, TRANSFER_LANE, "paint", {"request": encode_request(request)})


def _private_folder(folder: os.PathLike) -> None:
    """The jobs' temporary folder, readable by this user only, emptied of what crashed jobs left."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    for leftover in os.scandir(folder):
        if leftover.is_dir(follow_symlinks=False):
            shutil.rmtree(leftover.path, ignore_errors=True)
        else:
            os.unlink(leftover.path)
