"""Shared benchmark helpers: run a job in a fresh process and measure it, print a table, write JSON.

Every job runs in its own subprocess so that its peak memory is its own: the child imports torch and
torchvision, records its resident memory (the *import baseline*), resets the kernel's high-water mark,
then runs the job. Reported: the wall time of the part the job marks as timed (not imports or weight
loading) and the peak resident memory above that baseline (Linux ``VmHWM``; ``getrusage`` elsewhere).

On a shared machine compare ``cpu_s / wall_s`` with the thread count to see how much CPU the job got.

A job is a module-level function ``job(timer: Stopwatch, **kwargs) -> JSON value`` named as
``"package.module:function"``; it wraps the work to time in ``with timer:``. Its keyword arguments
and its return value travel as JSON, so pass paths as strings and save images to files.

    m = run_measured("bench.nst:baseline_job", {"size": 256, ...})
    m.wall_s, m.peak_mb, m.result
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["Stopwatch", "Measurement", "MeasureError", "run_measured", "measured", "image_folder", "write_json",
           "format_table", "machine_info", "describe"]

REPO = Path(__file__).resolve().parents[1]
CPU_FLAGS = ("avx2", "avx512_f", "avx512_bf16", "amx_bf16")  # what the engines' speed depends on


class MeasureError(RuntimeError):
    """The job's subprocess failed; its traceback was printed on stderr."""


class Stopwatch:
    """Sums the wall and CPU time spent inside ``with timer:`` blocks, so jobs choose what is timed.

    CPU time (all threads) next to wall time shows how many cores the job really had on a shared machine.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.paused_seconds = 0.0  # what the benchmark did for itself inside timed blocks
        self.used = False
        self.running = False
        self._start = (0.0, 0.0)

    def __enter__(self) -> Stopwatch:
        self.used = self.running = True
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._start[0]
        self.cpu_seconds += time.process_time() - self._start[1]
        self.running = False

    @property
    def elapsed(self) -> float:
        """Wall seconds counted so far, the block running now included: a timestamp on the job's own clock."""
        return self.seconds + (time.perf_counter() - self._start[0] if self.running else 0.0)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Inside a timed block, leave out what the benchmark itself does (e.g. saving a checkpoint image)."""
        self.__exit__()
        start = time.perf_counter()
        try:
            yield
        finally:
            self.paused_seconds += time.perf_counter() - start
            self.__enter__()


@dataclass(frozen=True)
class Measurement:
    """One job's numbers. `wall_s` is the timed part (the whole job if it never entered the timer);
    `process_s` the whole process as a user of a command line waits for it (interpreter start, imports,
    weights, the job), less what the benchmark did for itself (`Stopwatch.paused`)."""

    wall_s: float
    cpu_s: float  # CPU time of the same part, summed over threads
    peak_mb: float  # peak resident memory above the import baseline
    import_mb: float  # resident memory right after `import torch, torchvision`
    torch_threads: int
    result: Any  # the job's JSON return value
    process_s: float = 0.0
    paused_s: float = 0.0  # the benchmark's own work inside the job (left out of both times)


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status in MiB, or None off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _peak_mb() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, KiB elsewhere


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so transient import peaks are not counted."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass  # not Linux or not allowed: the peak then includes the imports' own transient peak


def _child(spec: Mapping[str, Any]) -> None:
    """Runs in the subprocess: baseline, job, numbers written to the result file."""
    import torch
    import torchvision  # noqa: F401  (part of the import baseline)

    _reset_peak()
    import_mb = _status_mb("VmRSS") or _peak_mb()
    module_name, function_name = spec["target"].split(":")
    job = getattr(importlib.import_module(module_name), function_name)
    timer = Stopwatch()
    whole = Stopwatch()
    with whole:
        result = job(timer, **spec["kwargs"])
    timed = timer if timer.used else whole
    measurement = Measurement(wall_s=timed.seconds, cpu_s=timed.cpu_seconds,
                              peak_mb=_peak_mb() - import_mb, import_mb=import_mb,
                              torch_threads=torch.get_num_threads(), result=result, paused_s=timer.paused_seconds)
    Path(spec["result_path"]).write_text(json.dumps(asdict(measurement)))


def run_measured(target: str, kwargs: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> Measurement:
    """Run ``target`` ("module:function") in a fresh Python process; its output goes to our terminal.

    `env` adds or overrides environment variables for that process only (e.g. a weights folder).
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        spec = {"target": target, "kwargs": dict(kwargs or {}), "result_path": str(result_path)}
        child_env = {**os.environ, **(env or {})}
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), child_env.get("PYTHONPATH")) if p)
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "bench.measure", json.dumps(spec)], env=child_env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MeasureError(f"{target} ran past {timeout} s and was stopped") from None
        if proc.returncode != 0 or not result_path.exists():
            raise MeasureError(f"{target} failed in its subprocess (exit code {proc.returncode}); "
                               "its traceback is above")
        measurement = Measurement(**json.loads(result_path.read_text()))
        return replace(measurement, process_s=time.perf_counter() - start - measurement.paused_s)


def measured(target: str, kwargs: Mapping[str, Any], label: str) -> Measurement | None:
    """`run_measured` announced as `label`; None (said on stderr) when it fails, so a benchmark goes on."""
    print(f"[{label}] ...", flush=True)
    try:
        return run_measured(target, kwargs)
    except MeasureError as exc:
        print(f"[{label}] FAILED: {exc}", file=sys.stderr, flush=True)
        return None


def image_folder(out: Path) -> Path:
    """The folder of a run's images, next to its JSON `out` (same name without `.json`), created."""
    folder = out.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def json_path(value: str) -> Path:
    """argparse type of `--out`: a `.json` file. Checked before any work: the images go to the folder of the
    same name without the suffix, which a suffix-less path would collide with at the very end of a long run."""
    path = Path(value)
    if path.suffix != ".json":
        raise argparse.ArgumentTypeError(f"{value!r} does not end in .json")
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as indented JSON, creating the folder; NaN/inf become null so any reader accepts it."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(data), indent=2) + "\n")
    return path


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A plain-text table. `columns`: (key, header, format spec such as ".2f"); None/missing shows "-"."""
    def cell(row: Mapping[str, Any], key: str, spec: str) -> str:
        value = row.get(key)
        return "-" if value is None else format(value, spec)

    cells = [[header for _, header, _ in columns]]
    cells += [[cell(row, key, spec) for key, _, spec in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(text.rjust(width) if n else text.ljust(width)
                       for n, (text, width) in enumerate(zip(line, widths))) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def report(benchmark: str, args: argparse.Namespace, rows: list[dict[str, Any]], checks: list[dict[str, Any]],
           notes: list[str], columns: Sequence[tuple[str, str, str]], image_dir: Path) -> int:
    """Print the table, the targets (MET / NOT MET) and the notes, write the JSON next to the images;
    the exit code: 1 if a row failed."""
    machine = machine_info()
    print("\n" + format_table(rows, columns))
    for check in checks:
        print(f"{'MET    ' if check['met'] else 'NOT MET'}  {check['target']}: {check['text']}")
    print("\n".join(["", *notes, f"Machine: {describe(machine)}, load average {os.getloadavg()[0]:.1f}."]))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = write_json(args.out, {"benchmark": benchmark, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                                 "machine": machine, "load_average": os.getloadavg(), "settings": settings,
                                 "notes": notes, "results": rows, "targets": checks})
    print(f"Results: {path}; images: {image_dir}")
    return 1 if any("error" in r for r in rows) else 0


def describe(machine: Mapping[str, Any]) -> str:
    """One line for a table's footer: the CPU, its cores and the flags the engines' speed depends on."""
    flags = " ".join(machine.get("cpu_flags") or ()) or "none of " + " ".join(CPU_FLAGS)
    return (f"{machine['cpu_model']}, {machine['cpu_count']} cores (flags: {flags}; bfloat16 "
            f"{'native' if machine.get('bf16_native') else 'not native'}), {machine['torch_threads']} torch "
            f"threads, torch {machine['torch']}")


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: torch version and threads, CPU model and count, Python."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    from transfer.precision import bf16_supported

    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    flags = [flag for flag in CPU_FLAGS if capabilities.get(flag)]
    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpu_model": cpu,
            "cpu_count": os.cpu_count(), "cpu_flags": flags, "bf16_native": bf16_supported(),
            "python": platform.python_version(), "platform": platform.platform()}


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
