"""`python -m bench plot RESULTS.json [-o OUT.png]`: score against time from `bench nst` results.

`bench nst` draws this plot next to its JSON; this command redraws it from a saved file. One panel per
(size, pair), one line per method: each row's `trace` (the score of the image it would hand back, on the
timed clock), a dot at its final result, and a dotted line at the baseline's final score, so the time
each method takes to match the tutorial reads off the x axis. Pairs are not averaged: their scores differ
in scale and their runs in length, so a mean curve would mix unaligned points of different sizes.

matplotlib (the optional `plot` extra) is imported only here, only to draw: the benchmarks run without it.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["INSTALL_HINT", "draw", "plot_or_skip", "main"]

INSTALL_HINT = "pip install -e '.[plot]'"
PANEL_INCHES = (6.4, 4.2)
DPI = 100


def _series(row: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """(seconds, scores) of one row; results written before traces existed give their final point only."""
    points = row.get("trace") or [{"seconds": row["wall_s"], "score": row["score"]}]
    return [p["seconds"] for p in points], [p["score"] for p in points]


def draw(results: Mapping[str, Any], out: Path) -> Path:
    """Draw the score-against-time plot of `bench nst` results (its JSON, loaded) into `out` (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in results["results"] if not r.get("error")]
    panels = list(dict.fromkeys((r["size"], r["pair"]) for r in rows))
    sizes, pairs = list(dict.fromkeys(s for s, _ in panels)), list(dict.fromkeys(p for _, p in panels))
    others = dict.fromkeys(r["method"] for r in rows if r["method"] != "baseline")
    colors = {"baseline": "black", **{method: f"C{i}" for i, method in enumerate(others)}}
    square = " (square crops)" if results.get("settings", {}).get("square") else ""
    figure = Figure(figsize=(PANEL_INCHES[0] * len(pairs), PANEL_INCHES[1] * len(sizes)), dpi=DPI,
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(sizes), len(pairs), squeeze=False)
    for size, pair in panels:
        ax = axes[sizes.index(size)][pairs.index(pair)]
        mine = [r for r in rows if (r["size"], r["pair"]) == (size, pair)]
        for row in mine:
            seconds, scores = _series(row)
            color = colors[row["method"]]
            ax.plot(seconds, scores, color=color, linewidth=1.5,
                    label=f"{row['label']}: {seconds[-1]:.1f} s, {scores[-1]:.4g}")
            ax.plot(seconds[-1:], scores[-1:], "o", color=color, markersize=5)
        for row in mine:
            if row["method"] == "baseline":
                ax.axhline(row["score"], color="black", linestyle=":", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlim(left=0)
        ax.set_title(f"{pair}{square}, {size} px", fontsize=10)
        ax.set_xlabel("seconds (the timed part of each job)")
        ax.set_ylabel("score (lower is better)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8, loc="best")
    machine = results.get("machine", {})
    threads = sorted({r["torch_threads"] for r in rows if "torch_threads" in r})
    figure.suptitle(f"bench nst {results.get('date', '')}: {machine.get('cpu_model', '?')}, torch threads "
                    f"{', '.join(map(str, threads)) or '?'}; dotted: the baseline's final score", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out


def plot_or_skip(results_path: Path, out: Path) -> Path | None:
    """Draw the plot of a results file, or say in one line that matplotlib is missing: the numbers are in
    the JSON either way, so a run never fails for want of a picture."""
    try:
        path = draw(json.loads(results_path.read_text()), out)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "matplotlib":
            raise
        print(f"Plot skipped: matplotlib is not installed ({INSTALL_HINT}).")
        return None
    print(f"Plot: {path}")
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="a JSON file written by `python -m bench nst`")
    parser.add_argument("-o", "--out", type=Path, default=None, help="the PNG (default: RESULTS with .png)")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        parser.error(f"{args.results} is not a file")
    if json.loads(args.results.read_text()).get("benchmark") != "nst":
        parser.error(f"{args.results} is not the results of `python -m bench nst`")
    return 0 if plot_or_skip(args.results, args.out or args.results.with_suffix(".png")) else 1
