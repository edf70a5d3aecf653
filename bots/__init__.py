"""Telegram bots that repaint a user's photo in the style of a painting.

The package is in layers; each imports only those below it, and `tests/test_layers.py` checks these
rules on every module's imports:

    app, variants, assembly, worker   starting a bot or a worker; `assembly` alone wires store, runner, bot
    chat/     inbound updates: life cycle, commands, the painting flow, conversation, albums, groups, webhook
    jobs/     admission to delivery: the queue and its waits, notices, workflow, tasks, engines, runner/
    botapi/   what the chat and the workers say to Telegram: client set-up, calls, delivery, progress, media
    store/    what outlives a process: settings, conversations, results, the job journal (SQLite, Redis)
    common/   config, logs, texts and languages, styles, settings, budget, the request types, the lanes

1. `common` imports nothing else of `bots`; `store` imports only `common`; `botapi` imports only `common`.
2. `jobs` never imports `chat` nor the top (`app`, `variants`, `assembly`, `worker`).
3. `chat` reaches `jobs` only through `jobs.admission` and the runner interface (`jobs.runner` itself),
   and never imports the top.
4. Only `jobs.engines` imports what computes: torch, torchvision, `superres`, `weights` and the `transfer`
   package's engines. Elsewhere `bots` may import from `transfer` only its torch-free vocabulary:
   `transfer.images` (loading and refusing pictures), `transfer.progress` (progress and cancelling),
   `transfer.instant_styles` (the instant styles' names), `transfer.device` and `transfer.precision` (device
   and precision names), `transfer.resolution` (brushes, result sizes, and carrying a painting to them: PIL
   only). The chat process never imports `jobs.engines`, so it never loads torch; its worker processes do.
5. No import circle anywhere in the project.

The names below are imported on first use (PEP 562), so `import bots` loads nothing heavy.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["StyleBot", "VggBot", "ResNetBot", "FullBot", "BotConfig", "ConfigError", "Backbone", "Engines",
           "load_engines"]
_HOMES = {"StyleBot": "bots.variants", "VggBot": "bots.variants", "ResNetBot": "bots.variants",
          "FullBot": "bots.variants", "BotConfig": "bots.common.config", "ConfigError": "bots.common.config",
          "Backbone": "bots.common.backbone", "Engines": "bots.jobs.engines", "load_engines": "bots.jobs.engines"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'bots' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
