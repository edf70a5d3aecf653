"""`python -m bots.worker`: a worker of the distributed mode, on any machine with the weights.

    STYLEBOT_REDIS_URL=redis://redis:6379/0 BOT_TOKEN=... python -m bots.worker --bot full \
        --lanes instant,transfer --concurrency 1

Reads its options and settings (the environment and `.env`), then runs a Celery worker
(`bots.jobs.runner.celery_worker`). A bad option or setting ends it with one `error:` line and exit code 2.
"""
from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

from dotenv import find_dotenv, load_dotenv

from bots.common.config import BotConfig, ConfigError
from bots.common.lanes import INSTANT_LANE, TRANSFER_LANE
from bots.jobs.runner import celery_worker
from bots.variants import FullBot, ResNetBot, VggBot

__all__ = ["main"]

BOTS = {"vgg": VggBot, "resnet": ResNetBot, "full": FullBot}  # --bot: the chat process it works for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bots.worker", description=(
        "A worker of the distributed mode (STYLEBOT_REDIS_URL): runs the jobs of its lanes, any number of "
        "them on any number of machines."))
    parser.add_argument("--bot", choices=sorted(BOTS), default="full",
                        help="the networks the chat process offers (default: full, all of them)")
    parser.add_argument("--lanes", default=f"{INSTANT_LANE},{TRANSFER_LANE}",
                        help=f"comma-separated lanes this worker serves (default: {INSTANT_LANE},{TRANSFER_LANE})")
    parser.add_argument("--concurrency", type=int, default=1, help="jobs at the same time (pool processes)")
    parser.add_argument("--name", default=f"worker@{socket.gethostname()}", help="the worker's name in /stats")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True), override=False)
    try:
        config = BotConfig.from_env()
        lanes = tuple(lane.strip() for lane in args.lanes.split(",") if lane.strip())
        if not lanes or set(lanes) - {INSTANT_LANE, TRANSFER_LANE}:
            raise ConfigError(f"--lanes must name {INSTANT_LANE} and/or {TRANSFER_LANE}, not {args.lanes!r}")
        if not config.redis_url:
            raise ConfigError("python -m bots.worker is the distributed mode's worker: set STYLEBOT_REDIS_URL")
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bot = BOTS[args.bot]
    celery_worker.serve(config, bot.backbones, bot.upscaling, lanes, args.concurrency, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
