"""`make demo` (run_demo.py) on the real weights, its one-line errors, and `make test` running the README's
test command."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "docs" / "astronaut.jpg"
SIZE = 96  # small and few steps: the demo's four engines in seconds
STEPS = 4
INSTANT = "2-instant-wave.png"
UPSCALED = "3-instant-wave-x4.png"
RESULTS = ("1-quick-swirls.png", INSTANT, UPSCALED, "4-gatys-vgg19-swirls.png")
# PNGs of a flat or nearly flat picture take well under 1 KB at this size; the demo's take 20 KB or more.
MIN_BYTES = 5_000
# Mean absolute difference from the photo, 0-255 per channel. Resizing the photo by two different filters
# (Lanczos, nearest) differs by about 8 at 96 px; the demo's results differ by 54 (wave) to 67 (swirls).
MIN_DIFFERENCE = 20
PYTEST_COMMAND = ".venv/bin/python -m pytest -q"  # what `make test` runs after setting up


def run_demo(*args: str, weights: Path, cwd: Path) -> subprocess.CompletedProcess:
    """run_demo.py without BOT_TOKEN, in `cwd`: a folder with no .env above it, so no token comes from one."""
    env = {name: value for name, value in os.environ.items() if name != "BOT_TOKEN"}
    env["STYLEBOT_WEIGHTS_DIR"] = str(weights)
    return subprocess.run([sys.executable, str(REPO / "run_demo.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, real_weights_dir: Path) -> tuple[Path, str]:
    """One real demo run: its output folder and what it printed."""
    out = tmp_path_factory.mktemp("demo") / "out"
    done = run_demo("--size", str(SIZE), "--steps", str(STEPS), "--out", str(out), weights=real_weights_dir,
                    cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def difference_from_photo(image: Image.Image) -> float:
    photo = Image.open(PHOTO).convert("RGB").resize(image.size, Image.Resampling.LANCZOS)
    return float(np.abs(np.asarray(image.convert("RGB"), float) - np.asarray(photo, float)).mean())


@pytest.mark.parametrize("name", RESULTS)
def test_demo_writes_a_painted_picture(demo, name):
    out, _ = demo
    path = out / name
    assert path.stat().st_size > MIN_BYTES
    with Image.open(path) as image:
        image.load()
        expected_side = 4 * SIZE if name == UPSCALED else SIZE  # the photo is square
        assert image.size == (expected_side, expected_side)
        assert difference_from_photo(image) > MIN_DIFFERENCE


def test_demo_upscales_the_instant_result_x4(demo):
    out, _ = demo
    with Image.open(out / INSTANT) as instant, Image.open(out / UPSCALED) as upscaled:
        assert upscaled.size == (4 * instant.width, 4 * instant.height)


def test_demo_prints_one_line_per_file_then_the_folder(demo):
    out, printed = demo
    lines = printed.splitlines()
    assert len(lines) == len(RESULTS) + 1
    for line, name in zip(lines, RESULTS):
        with Image.open(out / name) as image:
            assert line.startswith(f"saved {out / name} ({image.width}x{image.height}) in ")
    assert str(out) in lines[-1]


@pytest.mark.parametrize("args", [("--size", "-5"), ("--steps", "0"), ("--size", "big")])
def test_a_bad_option_is_one_error_line_and_exit_code_2(tmp_path, real_weights_dir, args):
    done = run_demo(*args, weights=real_weights_dir, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_an_output_folder_that_cannot_be_made_is_one_error_line(tmp_path, real_weights_dir):
    (tmp_path / "taken").write_text("a file, not a folder")
    done = run_demo("--out", "taken/demo", weights=real_weights_dir, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_readme_opens_with_the_two_commands_and_its_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    first_screen = readme[:readme.index("\n## ", readme.index("## Two commands"))]
    assert len(first_screen.splitlines()) <= 30
    assert "\nmake demo " in first_screen and "\nmake test " in first_screen
    tests_section = readme[readme.index("## Run the tests"):]
    assert tests_section.split("```bash\n", 1)[1].split("\n```", 1)[0] == "make test"
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert ci[-1] == "make test"


def test_make_test_runs_pytest_after_setting_up():
    env = {name: value for name, value in os.environ.items()
           if name not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under `make test ARGS=...`: not its ARGS
    dry_run = subprocess.run(["make", "-n", "test"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=60)
    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout.splitlines()[-1].strip() == PYTEST_COMMAND
    shown = subprocess.run(["make"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert "make demo" in shown.stdout and "make test" in shown.stdout
