"""Starting a bot from the command line (run_vgg.py, run_resnet.py, run_full.py).

Settings come from the environment and `.env`; a missing token or weights file, a token Telegram
refuses and a data folder that cannot be used each end the start with one line on stderr, not a
traceback. Ctrl-C and SIGTERM stop polling and the workers, then exit: jobs not finished stay in the
journal, and the next start resumes them. Logs never contain the token.
"""
from __future__ import annotations

import logging
import signal
import sys

from dotenv import find_dotenv, load_dotenv

from bots.botapi.calls import TokenRefused
from bots.common.config import BotConfig, ConfigError
from bots.common.logs import RedactingFormatter, setup_logging
from bots.jobs.runner import WorkerSetupError
from bots.store import StoreError
from bots.variants import StyleBot

__all__ = ["main", "RedactingFormatter", "setup_logging"]

log = logging.getLogger(__name__)
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


def main(bot_class: type[StyleBot]) -> int:
    """Run `bot_class` until Ctrl-C or SIGTERM; returns the exit code (0; 2 for bad setup; 3 when another
    process kept polling with the same token; 130 for Ctrl-C during the start)."""
    load_dotenv(find_dotenv(usecwd=True), override=False)  # real environment variables win over .env
    bot = None
    try:
        config = BotConfig.from_env()
        setup_logging(config.token, config.log_level, webhook_secret=config.webhook_secret)
        bot = bot_class.from_config(config)
        log.info("starting %s: data in %s, loading the networks in its workers", bot_class.__name__,
                 config.data_dir.resolve())
        bot.start()
    except (ConfigError, StoreError, TokenRefused, WorkerSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if bot is not None:
            bot.stop(timeout=5)
        return EXIT_SETUP
    except KeyboardInterrupt:
        if bot is not None:
            bot.stop(timeout=5)
        return EXIT_INTERRUPTED
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like Ctrl-C
    try:
        bot.run()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping: unfinished jobs stay in the journal for the next start")
        bot.stop()
    log.info("stopped")
    return bot.exit_code
