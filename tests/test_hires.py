"""Photo-sized results below the bots: the sizes and brushes (`transfer.resolution`), carrying a painting to
the photo's size, the compact x4 network (`superres.compact`, real weights), and the bench's viewer numbers
(`bench/viewing.py`), each shown able to fail: a blurred picture keeps less detail, a checkerboard is an
artefact, SRGAN's crackle is one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bench.viewing import Viewer, crops, grid_energy
from superres import Upscaler
from superres.compact import CompactModel, compact_x4
from superres.srgan import srgan_x4
from transfer.images import ImageError
from transfer.progress import Cancelled
from transfer.resolution import (BRUSH_SIDES, X4_FROM, Enlarger, check_brush, output_size, with_photo_detail,
                                 working_size)
from weights import Weights, load_state_dict

REPO = Path(__file__).resolve().parents[1]
SWIRLS = REPO / "bots" / "styles" / "swirls.jpg"  # a painting shipped with the repo (procedural, 320 px)


@pytest.fixture(scope="module")
def x4(real_weights_dir: Path) -> Upscaler:
    return Upscaler(compact_x4(weights_dir=real_weights_dir, precision="float32"))


@pytest.fixture(scope="module")
def viewer(real_weights_dir: Path) -> Viewer:
    return Viewer(real_weights_dir)


@pytest.fixture(scope="module")
def photo(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "content" / "amber.jpg").convert("RGB").resize((320, 320), Image.Resampling.LANCZOS)


def test_results_take_the_photos_size_and_the_engines_paint_at_the_brushs() -> None:
    assert output_size((1600, 1200), 2048) == (1600, 1200)
    assert output_size((4000, 3000), 2048) == (2048, 1536)
    assert output_size((300, 200), 2048) == (300, 200)  # never enlarged
    assert working_size((1600, 1200), "medium") == (512, 384)
    assert working_size((1600, 1200), "fine") == (768, 576) and working_size((1600, 1200), "bold") == (352, 264)
    assert working_size((400, 300), "fine") == (400, 300)  # a small photo is painted at its own size
    assert list(BRUSH_SIDES) == ["fine", "medium", "bold"]
    with pytest.raises(ValueError, match="brush must be one of fine, medium, bold"):
        check_brush("huge")
    with pytest.raises(ImageError):
        output_size((4000, 20), 100)  # a side would be under 32 px


def test_the_detail_layer_is_exactly_what_the_working_size_lost(photo: Image.Image) -> None:
    flat = Image.new("RGB", (80, 80), (128, 128, 128))
    big = flat.resize(photo.size)
    none = np.asarray(with_photo_detail(big, photo, flat.size, 0.0).convert("L"), dtype=float)
    full = np.asarray(with_photo_detail(big, photo, flat.size, 1.0).convert("L"), dtype=float)
    luma = np.asarray(photo.convert("L"), dtype=float)
    low = np.asarray(photo.resize(flat.size, Image.Resampling.BOX).resize(photo.size, Image.Resampling.BICUBIC)
                     .convert("L"), dtype=float)
    assert np.abs(none - 128).max() <= 1
    assert np.corrcoef((full - 128).ravel(), (luma - low).ravel())[0, 1] > 0.98
    # the colours stay the painting's
    red = Image.new("RGB", photo.size, (200, 40, 40))
    hue = np.asarray(with_photo_detail(red, photo, flat.size, 1.0).convert("YCbCr"), dtype=float)[..., 1:]
    assert np.abs(hue - np.asarray(red.convert("YCbCr"), dtype=float)[..., 1:]).mean() < 1.5


def test_carrying_gives_the_size_through_the_x4_network_and_can_be_cancelled(x4: Upscaler,
                                                                              photo: Image.Image) -> None:
    painting = Image.open(SWIRLS).convert("RGB").resize((96, 96))
    seen = []
    carried = Enlarger(x4).carry(painting, photo, (300, 300), progress=seen.append)
    assert carried.size == (300, 300) and seen and seen[-1].fraction == 1.0
    assert Enlarger(x4).carry(painting, photo, (96, 96)) is painting  # already at its size
    plain = Enlarger(None, detail=0.0).carry(painting, photo, (300, 300))
    assert np.abs(np.asarray(plain, dtype=float) - np.asarray(carried, dtype=float)).mean() > 2
    with pytest.raises(Cancelled):
        Enlarger(x4).carry(painting, photo, (300, 300), cancel=lambda: True)
    with pytest.raises(ValueError, match="detail"):
        Enlarger(x4, detail=1.5)


def test_the_x4_network_carries_only_from_x4_from_times_the_size(photo: Image.Image) -> None:
    """Below X4_FROM (a 1024 px Gatys result carried to 1280 px) Lanczos does it: the network is not asked."""
    asked = []

    class Counting:
        def upscale(self, image: Image.Image, progress=None, cancel=None) -> Image.Image:
            asked.append(image.size)
            return image.resize((4 * image.width, 4 * image.height))

    painting = Image.open(SWIRLS).convert("RGB").resize((100, 100))
    below = (round(100 * X4_FROM) - 1,) * 2
    assert Enlarger(Counting()).carry(painting, photo, below).size == below and asked == []
    assert Enlarger(Counting()).carry(painting, photo, (150, 150)).size == (150, 150) and asked == [(100, 100)]


def test_compact_x4_loads_the_published_layout_and_tiles_without_seams(real_weights_dir: Path) -> None:
    state = load_state_dict(Weights.SR_REALESR_GENERAL_X4V3, real_weights_dir, download=False)
    assert "body.0.weight" in state and len(state) == 3 + 32 * 3 + 2  # BasicSR's "params" unwrapped
    network = compact_x4(CompactModel.GENERAL, real_weights_dir, precision="float32")
    assert network.receptive_radius == 34 and not any(p.requires_grad for p in network.parameters())
    painting = Image.open(SWIRLS).convert("RGB").crop((0, 0, 120, 90))
    whole = Upscaler(network, tile=512).upscale(painting)
    tiled = Upscaler(network, tile=40).upscale(painting)
    assert whole.size == (480, 360)
    assert np.abs(np.asarray(whole, dtype=int) - np.asarray(tiled, dtype=int)).max() <= 1


def test_x4_of_a_painting_adds_no_crackle_where_srgan_does(x4: Upscaler, real_weights_dir: Path) -> None:
    painting = Image.open(SWIRLS).convert("RGB")
    bicubic = grid_energy(painting.resize((4 * painting.width, 4 * painting.height), Image.Resampling.BICUBIC))
    compact = grid_energy(x4.upscale(painting))
    srgan = grid_energy(Upscaler(srgan_x4(real_weights_dir, precision="float32")).upscale(painting))
    assert compact <= 1.2 * bicubic < srgan, (compact, bicubic, srgan)


def test_the_viewer_numbers_can_fail(viewer: Viewer, photo: Image.Image, images_dir: Path) -> None:
    painting = Image.open(images_dir / "style" / "mosaic.jpg").convert("RGB")
    blurred = photo.filter(ImageFilter.GaussianBlur(2))
    assert viewer.detail(photo, photo) == 0
    assert viewer.detail(blurred, photo) > viewer.detail(photo.filter(ImageFilter.GaussianBlur(0.7)), photo) > 0
    grid = np.zeros((photo.height, photo.width, 3))
    grid[::4, ::4] = 12  # a 4 px checkerboard-like dot grid, as a x4 generator lays it
    dotted = Image.fromarray(np.clip(np.asarray(photo, dtype=float) + grid, 0, 255).astype(np.uint8))
    assert grid_energy(dotted) > 1.5 * grid_energy(photo)  # the dots alone: 2.9 grey levels RMS
    assert viewer.likeness_working(painting, painting, 128) == 0
    assert viewer.likeness_working(photo, painting, 128) > viewer.likeness_working(painting.resize((300, 250)),
                                                                                   painting, 128)
    assert viewer.likeness_crops(painting, painting) == 0 < viewer.likeness_crops(photo, painting)
    assert len(crops(Image.new("RGB", (1000, 600)))) == 9 and len(crops(Image.new("RGB", (200, 200)))) == 1
    with pytest.raises(ValueError, match="smaller than one 64 px block"):
        grid_energy(Image.new("RGB", (40, 40)))


def test_bench_hires_runs_end_to_end_on_a_small_picture(real_weights_dir: Path, images_dir: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "hires.json"
    done = subprocess.run([sys.executable, "-m", "bench", "hires", "--sizes", "256", "--working", "96",
                           "--engines", "quick", "--methods", "bicubic", "x4", "new", "--pairs", "chelsea:mosaic",
                           "--images", str(images_dir), "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "STYLEBOT_WEIGHTS_DIR": str(real_weights_dir)})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["results"]
    assert [r["method"] for r in rows] == ["bicubic", "x4", "new"]
    for row in rows:
        assert row["image_size"] == "256x256" and row["peak_mb"] > 0 and row["detail"] > 0
        assert row["artefact_ratio"] > 0 and row["likeness_crops"] > 0
    assert rows[0]["artefact_ratio"] == 1.0
    assert "Machine:" in done.stdout
