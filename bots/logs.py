"""Logging for the chat process and its workers: stderr at LOG_LEVEL, the bot token blanked out everywhere
(network errors print URLs, and a Bot API URL holds the token)."""
from __future__ import annotations

import logging

import telebot

__all__ = ["RedactingFormatter", "setup_logging"]


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out the bot token wherever it appears (URLs in network errors...)."""

    def __init__(self, token: str, fmt: str) -> None:
        super().__init__(fmt)
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(self.token, "<BOT_TOKEN>")


def setup_logging(token: str, level: str, name: str = "") -> None:
    """Log to stderr at `level`, telebot's own logger included, through the redacting formatter; `name`
    tells the processes apart (e.g. "worker transfer-1")."""
    handler = logging.StreamHandler()
    where = f"[{name}] " if name else ""
    handler.setFormatter(RedactingFormatter(token, f"%(asctime)s %(levelname)s {where}%(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    telebot.logger.handlers.clear()  # its own handler would print every record a second time, unredacted
    telebot.logger.setLevel(level)
