"""Starting a bot from the command line (run_vgg.py, run_resnet.py, run_full.py).

Settings come from the environment and `.env`; a missing token or weights file ends with one line on
stderr, not a traceback. Ctrl-C and SIGTERM stop polling, cancel the running job, tell users whose
requests will not be finished, then exit. Logs never contain the token.
"""
from __future__ import annotations

import logging
import signal
import sys

import telebot
from dotenv import find_dotenv, load_dotenv

from bots.base import StyleBot
from bots.config import BotConfig, ConfigError
from bots.engines import set_compute_threads
from weights import WeightsError

__all__ = ["main", "RedactingFormatter", "setup_logging"]

log = logging.getLogger(__name__)
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then blanks out the bot token wherever it appears (URLs in network errors...)."""

    def __init__(self, token: str, fmt: str) -> None:
        super().__init__(fmt)
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(self.token, "<BOT_TOKEN>")


def setup_logging(config: BotConfig) -> None:
    """Log to stderr at LOG_LEVEL, telebot's own logger included, through the redacting formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(config.token, "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=config.log_level, handlers=[handler], force=True)
    telebot.logger.handlers.clear()  # its own handler would print every record a second time, unredacted
    telebot.logger.setLevel(config.log_level)


def main(bot_class: type[StyleBot]) -> int:
    """Run `bot_class` until Ctrl-C or SIGTERM; returns the exit code (0, 2 for bad setup, 130)."""
    load_dotenv(find_dotenv(usecwd=True), override=False)  # real environment variables win over .env
    try:
        config = BotConfig.from_env()
        setup_logging(config)
        if config.compute_threads:
            set_compute_threads(config.compute_threads)
        log.info("loading the networks of %s", bot_class.__name__)
        bot = bot_class.from_config(config)
    except (ConfigError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    try:
        bot.run()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping: cancelling running jobs and telling waiting users")
        bot.stop()
    log.info("stopped")
    return 0
