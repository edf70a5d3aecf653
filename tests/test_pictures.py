"""docs/make_pictures.py: the README's pictures are made, small, and really show the engines' work.

Runs the script as a user would (a subprocess, the real weights) at a small size and few Gatys steps.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "docs" / "make_pictures.py"
MAX_FILE = 400 * 1024  # each picture
MAX_TOTAL = 2 * 1024 * 1024


def _script() -> ModuleType:
    """The script as a module, for its layout (`tile_box`) and sources; importing it makes nothing."""
    spec = importlib.util.spec_from_file_location("make_pictures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tile(sheet: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(sheet.crop(box), dtype=np.float32)


def _differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per channel value, 0-255."""
    return float(np.abs(a - b).mean())


def test_make_pictures(tmp_path: Path, real_weights_dir: Path) -> None:
    env = {**os.environ, "STYLEBOT_WEIGHTS_DIR": str(real_weights_dir)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--size", "96", "--steps", "6", "--out", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "docs/astronaut.jpg" in done.stdout and "bots/styles/swirls.jpg" in done.stdout
    assert "total" in done.stdout

    script = _script()
    names = ("transfer.jpg", "instant.jpg", "upscale.jpg")
    sizes = {name: (tmp_path / name).stat().st_size for name in names}
    assert all(0 < size < MAX_FILE for size in sizes.values()), sizes
    assert sum(sizes.values()) < MAX_TOTAL
    sheets = {}
    for name in names:
        with Image.open(tmp_path / name) as image:
            assert image.format == "JPEG"
            sheets[name] = image.convert("RGB")
    photo = np.asarray(Image.open(script.PHOTO).convert("RGB").resize((script.TILE, script.TILE),
                                                                        Image.Resampling.LANCZOS), dtype=np.float32)

    transfer = [_tile(sheets["transfer.jpg"], script.tile_box(column, 0)) for column in range(4)]
    assert _differ(transfer[0], photo) < 6  # the layout is where tile_box says: the photo's tile is the photo
    for stylized in transfer[2:]:  # the quick and the Gatys result
        assert _differ(stylized, photo) > 25
    assert _differ(transfer[2], transfer[3]) > 1  # Gatys changed the quick result it started from

    instant = [_tile(sheets["instant.jpg"], script.tile_box(index % 3, index // 3)) for index in range(6)]
    for index, stylized in enumerate(instant):
        assert _differ(stylized, photo) > 25
        assert all(_differ(stylized, other) > 10 for other in instant[index + 1:])

    marked, bicubic, srgan, compact = (_tile(sheets["upscale.jpg"], script.tile_box(column, 0)) for column in range(4))
    assert _differ(marked, photo) > 25
    assert 1 < _differ(bicubic, srgan) < 40 and 1 < _differ(bicubic, compact) < 40  # the same crop, enlarged
    assert _differ(srgan, compact) > 1
