"""The one place telebot is set up: its Bot API server and read timeout are process-wide (module
globals of `telebot.apihelper`), so every process (the chat, each worker) sets them from the config
before it makes its TeleBot."""
from __future__ import annotations

from typing import Any

from telebot import TeleBot, apihelper

from bots.common.config import BotConfig

__all__ = ["telegram_client", "use_api_server"]


def telegram_client(config: BotConfig, threaded: bool = False, **options: Any) -> TeleBot:
    """A TeleBot for `config`'s token, with telebot's globals set from `config` (the Bot API server, when
    self-hosted, and the read timeout); `options` go to TeleBot as they are."""
    if config.api_url:
        use_api_server(config.api_url)
    apihelper.READ_TIMEOUT = config.telegram_timeout
    return TeleBot(config.token, threaded=threaded, **options)


def use_api_server(api_url: str) -> None:
    """Send every Bot API call and file download to `api_url` (telebot keeps these URLs globally)."""
    apihelper.API_URL = f"{api_url}/bot{{0}}/{{1}}"
    apihelper.FILE_URL = f"{api_url}/file/bot{{0}}/{{1}}"
