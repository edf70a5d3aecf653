"""`python -m bench <command> [options]`: run one benchmark; `python -m bench <command> --help` for its options.

Each command is the module ``bench.<command>`` with a ``main(argv) -> int``. Modules are imported only
when their command runs, so one that is missing or broken fails only its own command.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "nst": "neural style transfer: the classic tutorial baseline against our engine (VGG19, ResNet50)",
    "sr": "super-resolution x4",
    "instant": "instant (feed-forward) stylization",
    "universal": "universal style transfer (WCT): any painting in one pass",
    "hires": "results at 1024-2048 px: every way of getting there, judged as a viewer sees them",
    "motion": "painted clips: each frame alone against steady, by warping error, style loss, time and memory",
    "precision": "every engine in float32 and bfloat16: time, memory, how far the results are apart",
    "bot": "the Telegram bots' request handling",
    "hang": "the hang probe: how long a user waits when the process painting their picture freezes",
    "plot": "redraw the score-against-time plot of saved `bench nst` results (matplotlib: the plot extra)",
}


def usage() -> str:
    lines = [__doc__.strip().splitlines()[0], "", "commands:"]
    lines += [f"  {name:9} {what}" for name, what in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = f"bench.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"bench {name}: not available yet ({module_name.replace('.', '/')}.py does not exist)",
              file=sys.stderr)
        return 2
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
