"""SRGAN x4 upscaler: real weights, real photos, exact sizes, seamless tiles, and refusals users can read."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from superres import Cancelled, ImageError, Upscaler, cli, srgan_x4
from superres.srgan import Generator
from superres.upscaler import tile_grid
from transfer.images import image_to_tensor, tensor_to_image
from weights import WeightsError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generator(real_weights_dir: Path) -> Generator:
    """float32, whatever this CPU would choose: these tests compare with the file and the published layers;
    bfloat16's own closeness is tests/test_precision.py's."""
    return srgan_x4(real_weights_dir, precision="float32")


@pytest.fixture(scope="module")
def amber(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "content" / "amber.jpg").convert("RGB")


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean((x - y) ** 2)))


def test_real_weights_fill_every_parameter(generator: Generator, real_weights_dir: Path) -> None:
    stored = torch.load(real_weights_dir / "srgan_netG_x4.pth", map_location="cpu", weights_only=True)
    ours = generator.state_dict()
    assert set(ours) == set(stored)
    assert all(torch.equal(ours[k], stored[k]) for k in stored)
    assert not generator.training and not any(p.requires_grad for p in generator.parameters())


def test_fast_upsampling_equals_the_published_block8(generator: Generator) -> None:
    features = torch.randn(1, 64, 13, 17, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = (torch.tanh(generator.block8(features)) + 1) / 2
        assert torch.allclose(generator.upsample(features), reference, atol=1e-5)


def test_beats_bicubic_on_a_real_photo(generator: Generator, amber: Image.Image) -> None:
    # A detailed corner of amber.jpg, downscaled x4 with bicubic, then brought back: SRGAN must be
    # clearly closer (measured: 29.5 dB vs 27.4 dB; 32.0 vs 30.5 on the whole photo).
    truth = amber.crop((696, 0, 1080, 384))
    small = truth.resize((truth.width // 4, truth.height // 4), Image.Resampling.BICUBIC)
    ours = Upscaler(generator, tile=64).upscale(small)
    bicubic = small.resize(truth.size, Image.Resampling.BICUBIC)
    assert ours.size == truth.size
    assert psnr(ours, truth) > psnr(bicubic, truth) + 1.0


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_tiles_match_whole_image_inference(precision: str, real_weights_dir: Path, amber: Image.Image) -> None:
    generator = srgan_x4(real_weights_dir, precision=precision)
    image = amber.resize((120, 64), Image.Resampling.BICUBIC)
    assert len(tile_grid(*image.size, 40)) == 6
    with torch.inference_mode():
        whole = np.asarray(tensor_to_image(generator(image_to_tensor(image))), dtype=np.int16)
    tiled = np.asarray(Upscaler(generator, tile=40).upscale(image), dtype=np.int16)
    assert whole.shape == tiled.shape
    assert np.abs(whole - tiled).max() <= 1  # rounding of nearly equal floats, nothing more
    assert np.abs(whole - tiled).mean() < 1e-3  # (a margin of 8 instead of 18 already gives 3e-3)
    # Without context each tile sees zero padding at its cut: the same grid then shows seams.
    seamy = np.asarray(Upscaler(generator, tile=40, margin=0).upscale(image), dtype=np.int16)
    assert np.abs(whole - seamy)[16:-16, 16:-16].max() > 20


def test_output_is_exactly_4x_upright_rgb(generator: Generator, amber: Image.Image, tmp_path: Path) -> None:
    upscaler = Upscaler(generator, tile=64)
    odd = amber.resize((45, 37)).convert("L")
    assert upscaler.upscale(odd).size == (180, 148)
    rotated = amber.resize((40, 33))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    jpeg = tmp_path / "phone.jpg"
    rotated.save(jpeg, exif=exif)
    result = upscaler.upscale(jpeg)
    assert (result.mode, result.size) == ("RGB", (132, 160))
    transparent = amber.resize((36, 36)).convert("P").convert("RGBA")
    assert upscaler.upscale(transparent).mode == "RGB"


def test_progress_counts_tiles_and_cancel_stops(generator: Generator, amber: Image.Image) -> None:
    image = amber.resize((64, 48))
    upscaler = Upscaler(generator, tile=32)
    seen = []
    upscaler.upscale(image, progress=lambda p: seen.append((p.step, p.total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    with pytest.raises(Cancelled):
        upscaler.upscale(image, progress=lambda p: seen.append(p.step), cancel=lambda: len(seen) > 5)
    assert len(seen) == 6  # stopped right after the second tile


def test_bad_inputs_are_refused_with_readable_messages(generator: Generator, tmp_path: Path) -> None:
    upscaler = Upscaler(generator)
    with pytest.raises(ImageError, match="not found"):
        upscaler.upscale(tmp_path / "missing.jpg")
    for name in ("notes.txt", "notes.jpg", "notes"):
        (tmp_path / name).write_text("not a picture")
        with pytest.raises(ImageError, match="not an image"):
            upscaler.upscale(tmp_path / name)
    with pytest.raises(ImageError, match="too large"):
        upscaler.upscale(Image.new("RGB", (1500, 1500)))  # 2.25 MP, over the default 2 MP
    with pytest.raises(ValueError, match="tile"):
        Upscaler(generator, tile=4)


def test_missing_weights_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(WeightsError) as info:
        srgan_x4(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "srgan_netG_x4.pth") in message and "leftthomas/SRGAN" in message


def run_cli(weights: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "superres", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "STYLEBOT_WEIGHTS_DIR": str(weights)})


def test_cli_writes_a_4x_file(amber: Image.Image, real_weights_dir: Path, tmp_path: Path) -> None:
    amber.resize((48, 40)).save(tmp_path / "in.png")
    done = run_cli(real_weights_dir, str(tmp_path / "in.png"), "-o", str(tmp_path / "big.jpg"), "--tile", "32")
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "big.jpg").size == (192, 160)
    assert done.stdout.startswith(f"saved {tmp_path / 'big.jpg'} (192x160) in ")


def test_cli_error_is_one_line_exit_2_without_traceback(real_weights_dir: Path, tmp_path: Path) -> None:
    done = run_cli(real_weights_dir, str(tmp_path / "missing.png"), "-o", str(tmp_path / "out.png"))
    assert (done.returncode, done.stderr) == (2, f"error: File not found: {tmp_path / 'missing.png'}\n")


@pytest.mark.parametrize("output, real_weights, expected", [
    ("out.unknown", True, "error: cannot write"),
    ("no/such/folder/out.png", True, "error: cannot write"),
    ("out.png", False, "error: Missing weights file"),
])
def test_cli_refusals(output: str, real_weights: bool, expected: str, amber: Image.Image, real_weights_dir: Path,
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    amber.resize((48, 40)).save(tmp_path / "in.png")
    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir if real_weights else tmp_path))
    assert cli.main([str(tmp_path / "in.png"), "-o", str(tmp_path / output)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith(expected) and stderr.count("\n") == 1
    assert not (tmp_path / output).exists()


def test_bench_sr_smoke(real_weights_dir: Path, images_dir: Path, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import sr

    monkeypatch.setenv("STYLEBOT_WEIGHTS_DIR", str(real_weights_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny jobs: threads would only add overhead
    out = tmp_path / "sr.json"
    assert sr.main(["--size", "48", "--methods", "naive", "tiled", "--tiles", "16", "--out", str(out),
                    "--image", str(images_dir / "content" / "amber.jpg")]) == 0
    rows = {r["label"]: r for r in json.loads(out.read_text())["results"]}
    tiled = rows["tiled 16"]
    assert (tiled["tiles"], tiled["output"]) == (9, [192, 192]) and tiled["max_diff"] <= 1
    assert rows["whole image, reference (baseline)"]["speedup"] == 1.0
    assert "tiled 16" in capsys.readouterr().out
