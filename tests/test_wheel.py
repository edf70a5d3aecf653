"""The wheel built from the repository installs and runs whole: every module of the project and the bots'
data (styles, locales), in a fresh virtual environment, non-editable, run from outside the source tree.

The fresh environment gets the project's dependencies (torch...) from this one's site-packages through a
path file, not by installing them again (gigabytes); the project itself comes only from the wheel, which
the test checks module by module.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from import_graph import modules

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("bots", "transfer", "superres", "weights")  # bench runs from a checkout (it uses tests/)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the python of a fresh environment with the wheel installed, its site-packages, the wheel)."""
    root = tmp_path_factory.mktemp("wheel")
    source, dist, env = root / "source", root / "dist", root / "env"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:  # a copy of the tree as a fresh clone has it: the build writes nothing into the repo
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
                    str(dist), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("stylebot-*.whl"))
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True, capture_output=True, timeout=300)
    return python, site, wheel


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_the_wheel_holds_every_module_and_the_bots_data(installed: tuple[Path, Path, Path]) -> None:
    *_, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(path.relative_to(REPO)) for path in modules(REPO, PRODUCT).values()}
    assert sources - names == set(), "modules left out of the wheel"
    assert {f"bots/styles/{key}.jpg" for key in ("mosaic", "swirls", "waves", "cubist")} <= names
    assert "bots/locales/ru/LC_MESSAGES/stylebot.po" in names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_every_module_imports_from_the_installed_wheel(installed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    python, site, _ = installed
    names = sorted(modules(REPO, PRODUCT))
    code = ("import importlib, json\n"
            f"files = {{name: importlib.import_module(name).__file__ for name in {names!r}}}\n"
            "from bots.common import texts\nfrom bots.common.i18n import speaking\n"
            "from bots.common.styles import BUILTIN_STYLES\n"
            "with speaking('ru'):\n    russian = texts.CANCELLED\n"
            "print(json.dumps({'files': files, 'styles': [s.path.is_file() for s in BUILTIN_STYLES], "
            "'russian': russian}))\n")
    done = run(python, "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    outside = {name: file for name, file in found["files"].items() if not Path(file).is_relative_to(site)}
    assert outside == {}, "modules imported from elsewhere than the installed wheel"
    assert all(found["styles"]) and found["styles"], "the built-in styles' pictures are installed"
    assert found["russian"] == "🛑 Отменено.", "the Russian catalogue is installed"


@pytest.mark.parametrize("command, expected", [
    (["-m", "bots.worker", "--help"], "usage: python -m bots.worker"),
    (["-m", "transfer", "--help"], "usage: python -m transfer"),
])
def test_the_command_lines_run_from_the_installed_wheel(installed: tuple[Path, Path, Path], tmp_path: Path,
                                                         command: list[str], expected: str) -> None:
    python, *_ = installed
    done = run(python, *command, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(expected), done.stdout
