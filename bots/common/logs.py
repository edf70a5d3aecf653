"""Logging for the chat process and its workers: stderr at LOG_LEVEL, the bot token blanked out everywhere
(network errors print URLs, and a Bot API URL holds the token)."""
from __future__ import annotations

import logging

import telebot

__all__ = ["RedactingFormatter", "setup_logging"]


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out the bot token wherever it appears (URLs in network errors...), and
    the webhook secret (telebot puts a call's parameters in its URL, setWebhook's secret_token included)."""

    def __init__(self, token: str, fmt: str, webhook_secret: str | None = None) -> None:
        super().__init__(fmt)
        self.hidden = {token: "<BOT_TOKEN>", **({webhook_secret: "<WEBHOOK_SECRET>"} if webhook_secret else {})}

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret, placeholder in self.hidden.items():
            text = text.replace(secret, placeholder)
        return text


def setup_logging(token: str, level: str, name: str = "", webhook_secret: str | None = None) -> None:
    """Log to stderr at `level`, telebot's own logger included, through the redacting formatter; `name`
    tells the processes apart (e.g. "worker transfer-1")."""
    handler = logging.StreamHandler()
    where = f"[{name}] " if name else ""
    handler.setFormatter(RedactingFormatter(token, f"%(asctime)s %(levelname)s {where}%(name)s: %(message)s",
                                            webhook_secret))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    telebot.logger.handlers.clear()  # its own handler would print every record a second time, unredacted
    telebot.logger.setLevel(level)
