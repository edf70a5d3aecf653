"""`ChatBot`: one Telegram bot's life cycle and its handlers; `bots.variants` makes it a `StyleBot` wired
by configuration (`bots.assembly`), and subclasses only say which networks it offers.

Every accepted job is journalled before the user is told it is queued; on start, the jobs a stop or a
crash interrupted are resumed. Every handler is guarded: an unexpected error is logged and the user gets
a short apology; and it speaks the user's language (`bots.common.i18n`). In groups the bot answers only
its commands and replies to its own messages (`bots.chat.groups`).
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Callable
from typing import ClassVar, TypeVar

from telebot import util
from telebot.types import CallbackQuery, Message

from bots.botapi.calls import check_token, say, set_command_menus
from bots.botapi.keyboards import ALBUM, INSTANT, LANGUAGE, RESULT, SETTING, STYLE
from bots.botapi.media import is_clip_document, is_image_document
from bots.chat.albums import Album, AlbumCollector
from bots.chat.commands import Commands
from bots.chat.conversation import Flow
from bots.chat.filters import CallbackDataFilter, StateFilterWithoutStore
from bots.chat.groups import ignore, not_for
from bots.chat.health import Health
from bots.chat.painting import PaintingFlow
from bots.chat.parts import ChatParts
from bots.chat.webhook import Webhook, drop_webhook
from bots.common import metrics, texts
from bots.common.backbone import Backbone
from bots.common.i18n import speaking
from bots.common.serving import HealthServer
from bots.jobs.runner import RunnerUnavailable
from bots.store import StoreError, StoreFull

__all__ = ["ChatBot"]

log = logging.getLogger(__name__)
POLL_SECONDS = 20  # long-polling timeout of getUpdates
Update = TypeVar("Update", Message, CallbackQuery, Album)
T = TypeVar("T")


class ChatBot:
    """The bot over its parts: answers updates (polling or webhook) with the commands and the painting
    flow, and starts and stops the job runner."""

    backbones: ClassVar[tuple[Backbone, ...]] = ()
    upscaling: ClassVar[bool] = False

    def __init__(self, parts: ChatParts) -> None:
        self.parts = parts
        self.config, self.store, self.telegram = parts.config, parts.store, parts.telegram
        self.guard, self.runner, self.admission = parts.guard, parts.runner, parts.admission
        self.health = Health(self.config, self.store, self.runner)
        self.webhook = Webhook(self.telegram, self.config, self.health.app) if self.config.webhook_url else None
        self.health_server = (HealthServer(self.health.app, self.config.health_listen)
                              if self.config.health_listen and self.webhook is None else None)
        self.telegram.add_custom_filter(StateFilterWithoutStore(self.telegram))
        self.telegram.add_custom_filter(CallbackDataFilter())
        self.commands, self.flow = Commands(parts), PaintingFlow(parts)
        self.albums = AlbumCollector(self._guard(self.flow.on_album))
        self._started = False
        self._register_handlers()

    def start(self) -> None:
        """Check the token, open the webhook (in webhook mode), sweep what crashed jobs left, start the workers
        and resume the journal's unfinished jobs. Raises TokenRefused, ConfigError (webhook) and
        WorkerSetupError (one-line messages)."""
        check_token(self.telegram)
        if self.webhook is not None:
            self.webhook.open()
        if self.health_server is not None:
            self.health_server.start()
        _private_folder(self.config.temp_dir)
        metrics.reset_folder(self.config.metrics_dir)
        self.runner.start()
        self._started = self.health.started = True
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
        self.telegram.get_updates = _reporting(self.telegram.get_updates, self.health.polled)
        self.health.polled()
        self.telegram.infinity_polling(timeout=POLL_SECONDS + 10, long_polling_timeout=POLL_SECONDS,
                                       logger_level=None)

    @property
    def exit_code(self) -> int:
        """0, or the code to exit with when polling gave up (see `PollingGuard`)."""
        return self.guard.exit_code

    def stop(self, timeout: float | None = 30) -> None:
        """Stop polling (or serving the webhook) and the workers. Unfinished jobs stay in the journal: the next
        start runs them."""
        self.health.stopping = True
        self.telegram.stop_polling()
        if self.webhook is not None:
            self.webhook.stop()
        self.albums.flush()
        self.runner.shutdown(timeout)
        if self.health_server is not None:
            self.health_server.stop()

    def _register_handlers(self) -> None:
        """Order matters: telebot runs the first handler whose filters match."""
        on_message, on_button = self.telegram.message_handler, self.telegram.callback_query_handler
        commands, flow, guard = self.commands, self.flow, self._guard
        everything = util.content_type_media
        on_message(content_types=everything, func=lambda message: not_for(self.telegram.user, message))(ignore)
        on_message(content_types=everything, func=lambda message: message.media_group_id is not None)(
            self.albums.add)
        on_message(commands=["start"])(guard(commands.on_start))
        on_message(commands=["help"])(guard(commands.on_help))
        on_message(commands=["cancel"])(guard(commands.on_cancel))
        on_message(commands=["settings"])(guard(commands.on_settings))
        on_message(commands=["language"])(guard(commands.on_language))
        on_message(commands=["stats"], func=lambda m: m.from_user.id in self.config.admins)(guard(commands.on_stats))
        on_message(state=Flow.style, content_types=["photo"])(guard(flow.on_style_picture))
        on_message(state=Flow.style, content_types=["document"], func=is_image_document)(guard(flow.on_style_picture))
        on_message(content_types=["photo"])(guard(flow.on_content_picture))
        on_message(content_types=["document"], func=is_image_document)(guard(flow.on_content_picture))
        on_message(content_types=["animation", "video", "video_note"])(guard(flow.on_clip))
        on_message(content_types=["document"], func=is_clip_document)(guard(flow.on_clip))
        on_message(content_types=everything)(guard(flow.on_wrong_input))
        on_button(func=None, config=SETTING.filter())(guard(commands.on_setting))
        on_button(func=None, config=LANGUAGE.filter())(guard(commands.on_language_choice))
        on_button(func=None, state=Flow.style, config=ALBUM.filter())(guard(flow.on_album_choice))
        on_button(func=None, state=Flow.style, config=STYLE.filter())(guard(flow.on_builtin_style))
        on_button(func=None, state=Flow.style, config=INSTANT.filter())(guard(flow.on_instant_style))
        on_button(func=None, config=RESULT.filter())(guard(flow.on_result_button))
        on_button(func=lambda call: True)(guard(flow.on_expired_button))

    def _guard(self, handler: Callable[[Update], None]) -> Callable[[Update], None]:
        """Run `handler` in the user's language; on an unexpected error log it and apologise, so no update
        goes unanswered."""
        @functools.wraps(handler)
        def guarded(update: Update) -> None:
            chat_id = update.message.chat.id if isinstance(update, CallbackQuery) else update.chat.id
            with speaking(self.parts.language(update.from_user)):
                try:
                    handler(update)
                except StoreFull as exc:  # comes back by itself once space is freed
                    log.warning("%s: %s", handler.__name__, exc)
                    metrics.count_disk_full()
                    say(self.telegram, chat_id, texts.STORAGE_FULL)
                except (StoreError, RunnerUnavailable) as exc:  # the distributed mode's Redis is down
                    log.warning("%s: %s", handler.__name__, exc)
                    say(self.telegram, chat_id, texts.BUSY)
                except Exception:
                    log.exception("%s failed", handler.__name__)
                    say(self.telegram, chat_id, texts.HANDLER_FAILED)

        return guarded


def _reporting(get_updates: Callable[..., T], polled: Callable[[], None]) -> Callable[..., T]:
    """telebot's getUpdates call, telling `polled` each time the polling loop makes it (`/healthz`): telebot
    offers no hook on its loop, and its loop calls this method of the instance."""
    @functools.wraps(get_updates)
    def reporting(*args: object, **kwargs: object) -> T:
        polled()
        return get_updates(*args, **kwargs)

    return reporting


def _private_folder(folder: os.PathLike) -> None:
    """The jobs' temporary folder, readable by this user only, emptied of what crashed jobs left."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    for leftover in os.scandir(folder):
        if leftover.is_dir(follow_symlinks=False):
            shutil.rmtree(leftover.path, ignore_errors=True)
        else:
            os.unlink(leftover.path)
