"""The layers of `bots` (its docstring states the rules), read from every module's imports; no import circle
anywhere in the project; and the chat process never loads torch.

`violations()` is the rule book; the tests run it on the real graph (no violation) and on the real graph
with one deliberately bad import added per rule (that rule's violation, named), so each rule can fail.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from import_graph import cycles, graph, modules

REPO = Path(__file__).resolve().parents[1]
TOP = ("bots", "bots.app", "bots.variants", "bots.assembly", "bots.worker")
LAYERS = ("common", "store", "botapi", "jobs", "chat")
# What a layer may import of `bots` besides itself.
ALLOWED = {"common": (), "store": ("common",), "botapi": ("common",), "jobs": ("common", "store", "botapi", "jobs"),
           "chat": ("common", "store", "botapi")}
CHAT_DOORS = ("bots.jobs.admission", "bots.jobs.runner")  # the only modules of `jobs` the chat may import
ENGINES = "bots.jobs.engines"
COMPUTING = ("torch", "torchvision", "superres", "weights")  # what only the engines module may import
TORCH_FREE_TRANSFER = ("transfer.images", "transfer.progress", "transfer.instant_styles", "transfer.device",
                       "transfer.precision", "transfer.resolution", "transfer.clips")


def layer(module: str) -> str | None:
    """The layer of a module of `bots` ("top" for the modules above the layers), else None."""
    if module in TOP:
        return "top"
    parts = module.split(".")
    return parts[1] if parts[0] == "bots" and len(parts) > 1 and parts[1] in LAYERS else None


def violations(edges: Mapping[str, set[str]]) -> list[str]:
    """Every import of `edges` (module -> what it imports) that breaks a rule of `bots/__init__.py`, and
    every import circle, one line each."""
    found = []
    for module, imported in sorted(edges.items()):
        where = layer(module)
        for target in sorted(imported):
            computing = target in COMPUTING or target.split(".")[0] in COMPUTING or (
                target.split(".")[0] == "transfer" and target not in TORCH_FREE_TRANSFER)
            if module.startswith("bots") and module != ENGINES and computing:
                found.append(f"{module} imports {target}: only {ENGINES} imports what computes")
            if where is None or where == "top" or not target.startswith("bots"):
                continue
            into = layer(target)
            if into == "top":
                found.append(f"{module} ({where}) imports {target}: no layer imports the top")
            elif into != where and into not in ALLOWED[where]:
                if where == "chat" and into == "jobs" and target in CHAT_DOORS:
                    continue
                doors = " (the chat reaches jobs only through jobs.admission and jobs.runner)"
                found.append(f"{module} ({where}) imports {target} ({into}){doors if where == 'chat' else ''}")
    found += [f"import circle among {', '.join(circle)}" for circle in cycles(edges)]
    return found


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph(REPO)


def test_every_module_keeps_the_rules(edges: dict[str, set[str]]) -> None:
    assert {layer(m) for m in edges if m.startswith("bots")} == {"top", *LAYERS}, "every module is in a layer"
    assert violations(edges) == []


@pytest.mark.parametrize("module, bad_import, rule", [
    ("bots.common.texts", "bots.store", "bots.common.texts (common) imports bots.store (store)"),
    ("bots.common.config", "bots.botapi.client", "(common) imports bots.botapi.client (botapi)"),
    ("bots.store.codec", "bots.jobs.waits", "bots.store.codec (store) imports bots.jobs.waits (jobs)"),
    ("bots.store.sqlite.journal", "bots.botapi.delivery", "(store) imports bots.botapi.delivery (botapi)"),
    ("bots.botapi.media", "bots.store", "bots.botapi.media (botapi) imports bots.store (store)"),
    ("bots.jobs.tasks", "bots.chat.conversation", "bots.jobs.tasks (jobs) imports bots.chat.conversation (chat)"),
    ("bots.jobs.runner.embedded", "bots.assembly", "imports bots.assembly: no layer imports the top"),
    ("bots.chat.painting", "bots.jobs.queue", "imports bots.jobs.queue (jobs) (the chat reaches jobs only"),
    ("bots.chat.commands", "bots.jobs.runner.embedded", "imports bots.jobs.runner.embedded (jobs) (the chat"),
    ("bots.chat.bot", "bots.variants", "bots.chat.bot (chat) imports bots.variants: no layer imports the top"),
    ("bots.jobs.workflow", "torch", "bots.jobs.workflow imports torch: only bots.jobs.engines imports"),
    ("bots.botapi.media", "transfer.style_transfer", "imports transfer.style_transfer: only bots.jobs.engines"),
    ("bots.common.settings", "transfer", "bots.common.settings imports transfer: only bots.jobs.engines"),
    ("bots.jobs.tasks", "weights", "bots.jobs.tasks imports weights: only bots.jobs.engines"),
    ("bots.assembly", "superres.upscaler", "bots.assembly imports superres.upscaler: only bots.jobs.engines"),
    ("transfer.images", "transfer.universal", "import circle among transfer.images, transfer.universal"),
    ("bots.jobs.queue", "bots.jobs.runner", "import circle among bots.jobs.queue, bots.jobs.runner"),
])
def test_a_bad_import_breaks_its_rule(edges: dict[str, set[str]], module: str, bad_import: str, rule: str) -> None:
    assert bad_import not in edges[module], "the import must be a new one"
    found = violations({**edges, module: edges[module] | {bad_import}})
    assert any(rule in line for line in found), found


def test_the_rules_read_the_source(tmp_path: Path) -> None:
    """The graph holds imports at every depth: in functions, `from package import module`, relative ones."""
    package = tmp_path / "bots"
    (package / "chat").mkdir(parents=True)
    (package / "jobs").mkdir()
    for name in ("__init__.py", "chat/__init__.py", "jobs/__init__.py", "jobs/queue.py", "jobs/waits.py"):
        (package / name).write_text("")
    (package / "chat" / "bot.py").write_text("def later():\n    from bots.jobs import queue\n"
                                             "    from ..jobs.waits import starts\n    import torch.nn\n")
    edges = graph(tmp_path, ["bots"])
    assert set(modules(tmp_path, ["bots"])) == {"bots", "bots.chat", "bots.jobs", "bots.jobs.queue",
                                                "bots.jobs.waits", "bots.chat.bot"}
    assert edges["bots.chat.bot"] == {"bots.jobs.queue", "bots.jobs.waits", "torch"}
    assert len(violations(edges)) == 3


def test_the_chat_process_never_loads_torch() -> None:
    """Importing every module of `bots` but the engines and the worker side that computes with them (the
    chat process, a Celery worker's main process, the CLIs) leaves torch unloaded."""
    worker_side = {ENGINES, "bots.jobs.workflow", "bots.jobs.services", "bots.jobs.tasks"}
    chat_side = sorted(m for m in modules(REPO, ["bots"]) if m not in worker_side)
    code = (f"import importlib, sys\nfor name in {chat_side!r}:\n    importlib.import_module(name)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            f"assert not set({sorted(worker_side)!r}) & set(sys.modules), 'the worker side was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
