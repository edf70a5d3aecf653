"""`python -m weights list|fetch [NAME...]`: show the registry, or download and trim official weights."""
from __future__ import annotations

import argparse
import sys

from weights import Weights, WeightsError, fetch, weights_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weights", description=__doc__)
    parser.add_argument("command", choices=["list", "fetch"])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"networks to fetch (default: all): {', '.join(w.name.lower() for w in Weights)}")
    args = parser.parse_args(argv)
    try:
        chosen = [Weights[name.upper()] for name in args.names] or list(Weights)
    except KeyError as exc:
        parser.error(f"unknown network {exc.args[0].lower()}")
    directory = weights_dir()
    if args.command == "list":
        width = max(len(w.name) for w in chosen)
        for w in chosen:
            state = "present" if (directory / w.spec.filename).exists() else "missing"
            print(f"{w.name.lower():{width}} {state:8} {directory / w.spec.filename}  ({w.spec.description})")
        return 0
    failed = 0
    for w in chosen:
        target = directory / w.spec.filename
        if target.exists():
            print(f"{w.name.lower()}: already present at {target}")
            continue
        try:
            print(f"{w.name.lower()}: saved {fetch(w, directory)}")
        except WeightsError as exc:
            failed += 1
            print(f"{w.name.lower()}: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
