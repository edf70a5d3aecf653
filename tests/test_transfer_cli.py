"""`python -m transfer`: a real run writes the file; every bad input is one line and exit code 2."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, weights: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "STYLEBOT_WEIGHTS_DIR": str(weights), "STYLEBOT_OFFLINE": "1", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "transfer", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_the_result_and_a_summary(tmp_path, images_dir, real_weights_dir):
    out = tmp_path / "result.png"
    done = run_cli(images_dir / "content" / "chelsea.jpg", images_dir / "style" / "candy.jpg",
                   images_dir / "style" / "mosaic.jpg", "--blend", "2", "1", "-o", out, "--size", "80",
                   "--steps", "6", "--keep-colors", "--strip-pixels", "2000", weights=real_weights_dir)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (80, 53)
    assert f"saved {out} (80x53)" in done.stdout and "final loss" in done.stdout
    assert "VGG19" in done.stderr and "6/6" in done.stderr  # the progress bar


def test_cli_refuses_a_decompression_bomb_as_too_large(tmp_path, images_dir, real_weights_dir):
    from test_images import write_png_bomb

    bomb = write_png_bomb(tmp_path / "bomb.png")  # 20000x20000: over Pillow's own bomb limit
    out = tmp_path / "out.jpg"
    done = run_cli(bomb, images_dir / "style" / "candy.jpg", "-o", out, "--size", "64", "--steps", "2",
                   weights=real_weights_dir)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "too large (20000x20000)" in lines[0] and "64 megapixels" in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("case", ["not_an_image", "missing", "bad_output", "tiny", "bad_blend", "no_weights",
                                  "bad_strips"])
def test_cli_bad_input_is_one_line_and_exit_2(case, tmp_path, images_dir, real_weights_dir):
    content, style = images_dir / "content" / "chelsea.jpg", images_dir / "style" / "candy.jpg"
    out, weights = tmp_path / "out.jpg", real_weights_dir
    if case == "not_an_image":
        content = tmp_path / "notes.txt"
        content.write_text("hello")
    elif case == "missing":
        style = tmp_path / "nowhere.jpg"
    elif case == "bad_output":
        out = tmp_path / "out.xyz"
    elif case == "tiny":
        content = tmp_path / "tiny.png"
        Image.new("RGB", (10, 10)).save(content)
    elif case == "no_weights":
        weights = tmp_path
    extra = {"bad_blend": ["--blend", "1", "2"], "bad_strips": ["--strip-pixels", "0"]}.get(case, [])
    done = run_cli(content, style, "-o", out, "--size", "64", "--steps", "2", *extra, weights=weights)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert not out.exists()


def test_cli_instant_style_and_list(tmp_path, images_dir, real_weights_dir):
    listing = run_cli("--list-styles", weights=real_weights_dir)
    assert listing.returncode == 0 and "wave" in listing.stdout and "The Scream" in listing.stdout
    out = tmp_path / "wave.png"
    done = run_cli(images_dir / "reference" / "chicago.jpg", "--instant", "Wave", "--size", "200", "-o", out,
                   weights=real_weights_dir)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (200, 133) and f"saved {out}" in done.stdout


@pytest.mark.parametrize("args", [["--instant", "nope"], ["--instant", "wave", "extra_style.jpg"], [],
                                  ["--instant", "wave", "--style-weight", "1.5"]])
def test_cli_instant_bad_arguments(args, tmp_path, images_dir, real_weights_dir):
    done = run_cli(images_dir / "content" / "chelsea.jpg", *args, "-o", tmp_path / "x.png", weights=real_weights_dir)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_cli_quick_writes_the_result_of_the_right_size(tmp_path, images_dir, real_weights_dir):
    out = tmp_path / "quick.png"
    done = run_cli(images_dir / "content" / "chelsea.jpg", images_dir / "style" / "candy.jpg",
                   images_dir / "style" / "mosaic.jpg", "--quick", "--blend", "2", "1", "--size", "96",
                   "--style-weight", "3", "--keep-colors", "-o", out, weights=real_weights_dir)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (96, 64)  # 451x300 fitted to 96 px
    assert f"saved {out} (96x64)" in done.stdout and "final loss" not in done.stdout
    assert "Universal (WCT)" in done.stderr  # the progress bar


@pytest.mark.parametrize("case", ["bad_style", "missing_style", "no_weights", "with_instant", "bad_blend"])
def test_cli_quick_bad_input_is_one_line_and_exit_2(case, tmp_path, images_dir, real_weights_dir):
    content, style = images_dir / "content" / "chelsea.jpg", images_dir / "style" / "candy.jpg"
    out, weights, extra = tmp_path / "out.png", real_weights_dir, []
    if case == "bad_style":
        style = tmp_path / "painting.jpg"
        style.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    elif case == "missing_style":
        style = tmp_path / "nowhere.jpg"
    elif case == "no_weights":
        weights = tmp_path
    elif case == "with_instant":
        extra = ["--instant", "wave"]
    elif case == "bad_blend":
        extra = ["--blend", "-1"]
    done = run_cli(content, style, "--quick", "--size", "64", "-o", out, *extra, weights=weights)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    if case in ("bad_style", "missing_style"):
        assert str(style) in lines[0]
    assert not out.exists()
