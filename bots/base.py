"""`StyleBot`: one Telegram bot with every chat scenario; subclasses only say which networks it offers.

Handlers are thin: they read the chat event, move the conversation (telebot custom states) and hand
long work to the job queue, so they return in milliseconds and /help is answered while jobs run.
Every handler is guarded: an unexpected error is logged and the user gets a short apology.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ClassVar, TypeVar

from requests import RequestException
from telebot import TeleBot, util
from telebot.apihelper import ApiException, ApiTelegramException
from telebot.custom_filters import StateFilter
from telebot.storage import StateMemoryStorage
from telebot.types import BotCommand, CallbackQuery, Message

from bots import texts
from bots.config import BotConfig, use_api_server
from bots.conversation import Flow, ResultMemory
from bots.engines import Backbone, Engines, load_engines
from bots.jobs import AlreadyQueued, JobQueue, JobState, QueueFull
from bots.keyboards import (COMPARE, INSTANT, NETWORK, PREVIEW_ALL, RESULT, SETTING, STYLE, CallbackDataFilter,
                            backbone_keyboard, settings_keyboard, style_keyboard)
from bots.media import Unusable, checked_picture, is_image_document, wrong_kind
from bots.progress import StatusMessage
from bots.settings import SettingsStore, UserSettings, button_change
from bots.styles import builtin_style, instant_title
from bots.tasks import ChatTask, InstantTask, PaintTask, Services, UpscaleTask
from bots.telegram_calls import LogPollingErrors, ack, close_prompt, say
from bots.workflow import InstantRequest, PaintRequest, Style, TransferWorkflow

__all__ = ["StyleBot", "TRANSFER_LANE", "INSTANT_LANE"]

log = logging.getLogger(__name__)
# The job queue's lanes: instant styles (seconds) have their own worker, so they never wait behind the
# style transfers and upscalings (minutes). A user still has one job at a time, whatever its lane.
TRANSFER_LANE, INSTANT_LANE = "transfer", "instant"
POLL_SECONDS = 20  # long-polling timeout of getUpdates
STEPS = {Flow.style.name: texts.Step.STYLE, Flow.backbone.name: texts.Step.BACKBONE}
Update = TypeVar("Update", Message, CallbackQuery)


class StyleBot:
    """The bot: owns the TeleBot, its handlers, the conversation states, the job queue and the workflow."""

    backbones: ClassVar[tuple[Backbone, ...]] = ()
    upscaling: ClassVar[bool] = False

    def __init__(self, config: BotConfig, engines: Engines) -> None:
        if set(engines.styles) != set(self.backbones) or (engines.upscaler is not None) != self.upscaling:
            raise ValueError(f"{type(self).__name__} needs engines for {[b.label for b in self.backbones]}"
                             f"{' and an upscaler' if self.upscaling else ' and no upscaler'}")
        if config.api_url:
            use_api_server(config.api_url)
        self.config = config
        self.telegram = TeleBot(config.token, threaded=True, num_threads=config.update_threads,
                                state_storage=StateMemoryStorage(), exception_handler=LogPollingErrors())
        self.telegram.add_custom_filter(StateFilter(self.telegram))
        self.telegram.add_custom_filter(CallbackDataFilter())
        self.settings = SettingsStore(UserSettings(size=config.default_size))
        self.queue = JobQueue({TRANSFER_LANE: (config.workers, config.queue_limit),
                               INSTANT_LANE: (1, config.queue_limit)})
        self.services = Services(self.telegram, TransferWorkflow(engines, config.steps), ResultMemory(), config,
                                 self.backbones, self.upscaling, tuple(engines.instant.styles))
        self._register_handlers()

    @classmethod
    def from_config(cls, config: BotConfig) -> StyleBot:
        """The bot with its networks loaded from the weights folder (raises weights.WeightsError)."""
        return cls(config, load_engines(cls.backbones, cls.upscaling, config.weights_dir, config.strip_pixels))

    def run(self) -> None:
        """Answer chats by long polling until `stop()` or Ctrl-C."""
        try:
            self.telegram.set_my_commands([BotCommand(name, what) for name, what in texts.COMMANDS.items()])
        except (ApiException, RequestException) as exc:
            log.warning("could not set the command menu: %s", exc)
        log.info("%s is polling for updates", type(self).__name__)
        self.telegram.infinity_polling(timeout=POLL_SECONDS + 10, long_polling_timeout=POLL_SECONDS,
                                       logger_level=None)

    def stop(self, timeout: float | None = 30) -> None:
        """Stop polling, tell users whose jobs will not finish, cancel the running ones and wait for them."""
        self.telegram.stop_polling()
        self.queue.shutdown(timeout)

    # ---- registration ---------------------------------------------------------------------------------
    def _register_handlers(self) -> None:
        """Order matters: telebot runs the first handler whose filters match."""
        on_message, on_button = self.telegram.message_handler, self.telegram.callback_query_handler
        everything = util.content_type_media
        on_message(commands=["start"])(self._guard(self.on_start))
        on_message(commands=["help"])(self._guard(self.on_help))
        on_message(commands=["cancel"])(self._guard(self.on_cancel))
        on_message(commands=["settings"])(self._guard(self.on_settings))
        on_message(state=Flow.style, content_types=["photo"])(self._guard(self.on_style_picture))
        on_message(state=Flow.style, content_types=["document"], func=is_image_document)(
            self._guard(self.on_style_picture))
        on_message(state=Flow.backbone, content_types=everything)(self._guard(self.on_wrong_input))
        on_message(content_types=["photo"])(self._guard(self.on_content_picture))
        on_message(content_types=["document"], func=is_image_document)(self._guard(self.on_content_picture))
        on_message(content_types=everything)(self._guard(self.on_wrong_input))
        on_button(func=None, config=SETTING.filter())(self._guard(self.on_setting))
        on_button(func=None, state=Flow.style, config=STYLE.filter())(self._guard(self.on_builtin_style))
        on_button(func=None, state=Flow.style, config=INSTANT.filter())(self._guard(self.on_instant_style))
        on_button(func=None, state=Flow.backbone, config=NETWORK.filter())(self._guard(self.on_backbone))
        on_button(func=None, config=RESULT.filter())(self._guard(self.on_result_button))
        on_button(func=lambda call: True)(self._guard(self.on_expired_button))

    def _guard(self, handler: Callable[[Update], None]) -> Callable[[Update], None]:
        """Run `handler`; on an unexpected error log it and apologise, so no update goes unanswered."""
        @functools.wraps(handler)
        def guarded(update: Update) -> None:
            try:
                handler(update)
            except Exception:
                log.exception("%s failed", handler.__name__)
                chat_id = update.message.chat.id if isinstance(update, CallbackQuery) else update.chat.id
                say(self.telegram, chat_id, texts.HANDLER_FAILED)

        return guarded

    # ---- commands -------------------------------------------------------------------------------------
    def on_start(self, message: Message) -> None:
        self.telegram.delete_state(message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help())

    def on_help(self, message: Message) -> None:
        step = self._step(message.from_user.id, message.chat.id)
        say(self.telegram, message.chat.id, self._help() + texts.HELP_STEP[step])

    def on_cancel(self, message: Message) -> None:
        user, chat = message.from_user.id, message.chat.id
        had_draft = self.telegram.delete_state(user, chat)
        job = self.queue.cancel(user)
        if job is None:
            say(self.telegram, chat, texts.CANCELLED_DRAFT if had_draft else texts.NOTHING_TO_CANCEL)
        elif job.state is JobState.DROPPED:
            say(self.telegram, chat, texts.CANCELLED_QUEUED)
        else:
            say(self.telegram, chat, texts.CANCELLING_RUNNING)

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
        user, chat = message.from_user.id, message.chat.id
        if self._tell_if_busy(user, chat):
            return
        picture = self._receive_picture(message)
        if picture is None:
            return
        self.telegram.set_state(user, Flow.style, chat)
        self.telegram.add_data(user, chat, content=picture)
        self.telegram.send_message(chat, texts.ASK_STYLE, reply_markup=style_keyboard(self.services.instant_styles))

    def on_style_picture(self, message: Message) -> None:
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
        styles = self.services.instant_styles if key == PREVIEW_ALL else (key,)
        with self.telegram.retrieve_data(user, chat) as data:
            content = data.get("content")
        if not set(styles) <= set(self.services.instant_styles) or content is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        if key == PREVIEW_ALL:
            close_prompt(self.telegram, call, texts.PREVIEW_CHOSEN)
        else:
            close_prompt(self.telegram, call, texts.STYLE_CHOSEN.format(title=instant_title(key)))
            self.telegram.delete_state(user, chat)
        request = InstantRequest(content, styles, self.settings.get(user))
        self._queue(user, chat, lambda status: InstantTask(self.services, chat, status, request), INSTANT_LANE)

    def on_backbone(self, call: CallbackQuery) -> None:
        user, chat = call.from_user.id, call.message.chat.id
        choice = NETWORK.parse(call.data)["choice"]
        backbones = self.backbones if choice == COMPARE else tuple(b for b in self.backbones if b.value == choice)
        with self.telegram.retrieve_data(user, chat) as data:
            content, style = data.get("content"), data.get("style")
        if not backbones or content is None or style is None:
            ack(self.telegram, call, texts.EXPIRED_BUTTON)
            return
        ack(self.telegram, call)
        label = texts.COMPARE_BOTH if choice == COMPARE else backbones[0].label
        close_prompt(self.telegram, call, texts.BACKBONE_CHOSEN.format(label=label))
        self.telegram.delete_state(user, chat)
        self._paint(user, chat, PaintRequest(content, style, backbones, self.settings.get(user)))

    def on_result_button(self, call: CallbackQuery) -> None:
        user, chat = call.from_user.id, call.message.chat.id
        choice = RESULT.parse(call.data)
        action, backbone = choice["action"], next((b for b in self.backbones if b.value == choice["backbone"]), None)
        remembered = self.services.results.recall(int(choice["result"]), chat) if choice["result"].isdigit() else None
        if remembered is None:
            ack(self.telegram, call, texts.FORGOTTEN_RESULT)
            say(self.telegram, chat, texts.FORGOTTEN_RESULT)
            return
        ack(self.telegram, call)
        request = remembered.request
        if action == "again":
            self.telegram.set_state(user, Flow.style, chat)
            self.telegram.add_data(user, chat, content=request.content)
            self.telegram.send_message(chat, texts.ASK_STYLE_AGAIN,
                                       reply_markup=style_keyboard(self.services.instant_styles))
        elif action in ("paint", COMPARE) and backbone and isinstance(request, PaintRequest):
            backbones = self.backbones if action == COMPARE else (backbone,)
            self._paint(user, chat, PaintRequest(request.content, request.style, backbones, self.settings.get(user)))
        elif action == "upscale" and self.upscaling and (picture := remembered.picture(backbone, call.message)):
            self._queue(user, chat, lambda status: UpscaleTask(self.services, chat, status, picture), TRANSFER_LANE)
        else:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)

    def on_expired_button(self, call: CallbackQuery) -> None:
        ack(self.telegram, call, texts.EXPIRED_BUTTON)

    def on_wrong_input(self, message: Message) -> None:
        step = self._step(message.from_user.id, message.chat.id)
        self.telegram.reply_to(message, texts.wrong_input(wrong_kind(message), step))

    # ---- helpers --------------------------------------------------------------------------------------
    def _help(self) -> str:
        return texts.help_text([b.label for b in self.backbones], self.upscaling)

    def _step(self, user: int, chat: int) -> str:
        return STEPS.get(self.telegram.get_state(user, chat), texts.Step.CONTENT)

    def _settings_text(self, settings: UserSettings) -> str:
        network = None if len(self.backbones) < 2 else settings.backbone.label if settings.backbone else ""
        return texts.settings_text(settings.strength, settings.size, settings.keep_colors, network)

    def _receive_picture(self, message: Message) -> str | None:
        """The file id of the picture in `message` once checked; None after telling the user what is wrong."""
        try:
            return checked_picture(self.telegram, message, self.config.download_limit)
        except Unusable as exc:
            self.telegram.reply_to(message, str(exc))
            return None

    def _style_chosen(self, user: int, chat: int, style: Style) -> None:
        with self.telegram.retrieve_data(user, chat) as data:
            content = data.get("content")
            data["style"] = style
        if content is None:
            say(self.telegram, chat, texts.EXPIRED_BUTTON)
            return
        settings = self.settings.get(user)
        if len(self.backbones) > 1 and settings.backbone not in self.backbones:
            self.telegram.set_state(user, Flow.backbone, chat)
            self.telegram.send_message(chat, texts.ASK_BACKBONE, reply_markup=backbone_keyboard(self.backbones))
            return
        self.telegram.delete_state(user, chat)
        backbone = settings.backbone if settings.backbone in self.backbones else self.backbones[0]
        self._paint(user, chat, PaintRequest(content, style, (backbone,), settings))

    def _tell_if_busy(self, user: int, chat: int) -> bool:
        """One job per user: if they have one, say where it stands and return True."""
        active = self.queue.active(user)
        if active is not None:
            say(self.telegram, chat, texts.already_queued(active[1]))
        return active is not None

    def _paint(self, user: int, chat: int, request: PaintRequest) -> None:
        self._queue(user, chat, lambda status: PaintTask(self.services, chat, status, request), TRANSFER_LANE)

    def _queue(self, user: int, chat: int, make_task: Callable[[StatusMessage], ChatTask], lane: str) -> None:
        """Queue a job with its status message, which then shows the place, the progress and the outcome."""
        if self._tell_if_busy(user, chat):
            return
        sent = self.telegram.send_message(chat, texts.queued(0))
        status = StatusMessage(self.telegram, chat, sent.message_id, self.config.progress_interval)
        task = make_task(status)
        try:
            job, position = self.queue.submit(user, task, lane)
        except AlreadyQueued as exc:
            status.show(texts.already_queued(exc.position))
        except QueueFull:
            status.show(texts.QUEUE_FULL)
        else:
            if position:
                task.moved(job, position)
