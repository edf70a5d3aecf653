"""The container files cannot be built here (no Docker): check that every command they run exists and
starts as they expect, and that nothing secret or heavy goes into the image."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands() -> list[list[str]]:
    """The exec-form commands of compose.yaml's services and the Dockerfile's CMD."""
    text = (REPO / "compose.yaml").read_text() + (REPO / "Dockerfile").read_text()
    return [re.findall(r'"([^"]*)"', found) for found in re.findall(r'(?:command:|\nCMD) (\[[^\]]*\])', text)
            if '"python"' in found]


def healthchecks() -> list[list[str]]:
    """The exec-form health check commands of compose.yaml and the Dockerfile (without "CMD")."""
    text = (REPO / "compose.yaml").read_text() + (REPO / "Dockerfile").read_text()
    found = re.findall(r'test: \["CMD", (.*)\]\n', text) + re.findall(r'    CMD \[(.*)\]\n', text)
    return [json.loads(f"[{command}]") for command in found]


def test_every_command_the_containers_run_starts(tmp_path: Path) -> None:
    commands = _commands()
    assert {c[1] for c in commands} >= {"run_full.py", "-m"}, commands
    clean = {k: v for k, v in os.environ.items() if k != "BOT_TOKEN" and not k.startswith("STYLEBOT_")}
    for command in commands:
        assert command[0] == "python"
        args = command[1:]
        if args[0] == "-m":  # a worker: its options must parse (--help exits before any work)
            done = subprocess.run([sys.executable, *args, "--help"], cwd=REPO, env=clean, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0 and "--lanes" in done.stdout, done.stderr
        else:  # the chat process: without a token, one clear line
            done = subprocess.run([sys.executable, str(REPO / args[0])], cwd=tmp_path, env=clean,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 2 and done.stderr.startswith("error: BOT_TOKEN is not set"), done.stderr


def test_the_image_leaves_out_weights_data_and_secrets() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".env", "data", ".venv", "weights/wct", "weights/*.pth", "tests"):
        assert path in ignored
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "USER stylebot" in dockerfile and "STYLEBOT_WEIGHTS_DIR=/weights" in dockerfile
    assert "redis-server\", \"--appendonly\", \"yes\"" in (REPO / "compose.yaml").read_text()
