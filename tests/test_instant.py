"""Instant styles: the real fast-style networks against the original implementation's published results,
exact sizes, strength and colours, seamless tiles, and the weights' download, conversion and refusals."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import torch
from PIL import Image

from transfer.instant import InstantStyle, InstantStylizer, TransformerNet, run_network
from transfer.progress import Cancelled, Progress
from weights import Weights, WeightsError, WeightsSpec, load_state_dict
from weights.fast_style import convert_fast_style_blob

# The MANIFEST's values, written out here so that a typo in the code cannot also be in the test.
COMMIT = "9c26d715408fbb816f9cc68b0a273c86e317a522"
RAW_PATH = ("Style Transfer/2016. Perceptual Losses for Real-Time Style Transfer and Super-Resolution/"
            "Implementation/src/Resources/Models/wave.HModel")
WAVE_RAW_SHA256 = "fc65b7e3a1325b16ee5175854ef747a1dffaaa04252e974bdf3d054a528dce3a"
WAVE_FILE_SHA256 = "7a645c98291ceaf8de0adb7a0f9502273f835bbdfd45413bdbfe8b1a46ae54d9"
RAW_ORDER = ["conv1", "conv2", "conv3", *(f"res{i}_conv{j}" for i in range(1, 6) for j in (1, 2)),
             "deconv1", "deconv2", "deconv3"]


@pytest.fixture(scope="module")
def stylizer(real_weights_dir: Path) -> InstantStylizer:
    return InstantStylizer(real_weights_dir, download=False)


@pytest.fixture(scope="module")
def chicago(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "reference" / "chicago.jpg").convert("RGB")


@pytest.fixture(scope="module")
def small(chicago: Image.Image) -> Image.Image:
    return chicago.resize((256, 172), Image.Resampling.LANCZOS)


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean((x - y) ** 2)))


@pytest.mark.parametrize("style, min_psnr", [("wave", 20.0), ("udnie", 24.0)])
def test_matches_the_original_implementations_published_result(
        stylizer: InstantStylizer, images_dir: Path, style: str, min_psnr: float) -> None:
    # Measured: 21.0 dB (wave), 25.5 dB (udnie); kernels transposed by mistake give 17.0 / 20.2 dB.
    reference = Image.open(images_dir / "reference" / f"chicago_{style}_reference.jpg").convert("RGB")
    result = stylizer.stylize(images_dir / "reference" / "chicago.jpg", style)
    assert result.size == reference.size
    assert psnr(result, reference) >= min_psnr


def test_every_gallery_network_loads_with_its_checksum(real_weights_dir: Path) -> None:
    stylizer = InstantStylizer(real_weights_dir, download=False)
    assert stylizer.styles == ["wave", "scream", "udnie", "la_muse", "rain_princess", "wreck"]
    for style in stylizer.styles:
        assert isinstance(stylizer.network(style), TransformerNet)


def test_styles_have_display_names_and_parse_leniently() -> None:
    assert [s.title for s in InstantStyle] == ["Wave", "The Scream", "Udnie", "La Muse", "Rain Princess",
                                               "The Shipwreck"]
    assert InstantStyle.parse("Rain-Princess") is InstantStyle.RAIN_PRINCESS
    assert InstantStyle.parse("the scream") is InstantStyle.SCREAM
    with pytest.raises(ValueError, match="wave, scream"):
        InstantStyle.parse("mosaic")


@pytest.mark.parametrize("size", [(33, 45), (101, 67), (90, 50), (64, 64)])
def test_output_size_equals_input_size(stylizer: InstantStylizer, chicago: Image.Image,
                                       size: tuple[int, int]) -> None:
    assert stylizer.stylize(chicago.resize(size), "udnie").size == size


def test_max_side_fits_the_photo_first(stylizer: InstantStylizer, chicago: Image.Image) -> None:
    assert stylizer.stylize(chicago, "wave", max_side=100).size == (100, 67)


def test_strength_zero_returns_the_content(stylizer: InstantStylizer, small: Image.Image) -> None:
    assert np.array_equal(np.asarray(stylizer.stylize(small, "scream", strength=0.0)), np.asarray(small))


def test_strength_blends_result_and_content(stylizer: InstantStylizer, small: Image.Image) -> None:
    full = np.asarray(stylizer.stylize(small, "scream"), dtype=np.float64)
    half = np.asarray(stylizer.stylize(small, "scream", strength=0.5), dtype=np.float64)
    assert np.abs(half - (full + np.asarray(small)) / 2).max() <= 1.0
    with pytest.raises(ValueError, match="strength"):
        stylizer.stylize(small, "scream", strength=1.5)


def test_keep_colors_takes_the_photos_chroma(stylizer: InstantStylizer, small: Image.Image) -> None:
    def chroma(img: Image.Image) -> np.ndarray:
        return np.asarray(img.convert("YCbCr"), dtype=np.float64)[..., 1:]

    painted = stylizer.stylize(small, "rain_princess")
    kept = stylizer.stylize(small, "rain_princess", keep_colors=True)
    assert np.abs(chroma(kept) - chroma(small)).mean() < 1.5  # RGB rounding only
    assert np.abs(chroma(painted) - chroma(small)).mean() > 5  # the painting's colours really differ
    luma = np.asarray(kept.convert("L"), dtype=np.float64) - np.asarray(painted.convert("L"), dtype=np.float64)
    assert np.abs(luma).mean() < 1.5


def test_tiles_with_shared_statistics_equal_one_pass(stylizer: InstantStylizer, small: Image.Image) -> None:
    net = stylizer.network("wave")
    whole = np.asarray(run_network(net, small), dtype=np.int16)
    # 12 tiles, statistics from the whole image: only float rounding may differ.
    tiled = np.asarray(run_network(net, small, max_pixels=40_000, stats_pixels=10**9), dtype=np.int16)
    assert np.abs(whole - tiled).max() <= 1
    assert (whole != tiled).mean() < 1e-3


def test_large_photos_stay_within_the_pixel_budget(stylizer: InstantStylizer, small: Image.Image) -> None:
    net = stylizer.network("wave")
    seen: list[int] = []
    hook = net.conv1.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[2] * args[0].shape[3]))
    reports: list[Progress] = []
    try:
        tiled = run_network(net, small, max_pixels=40_000, progress=reports.append)
    finally:
        hook.remove()
    assert tiled.size == small.size
    assert max(seen) <= 40_000 and len(seen) == 13  # the statistics pass, then 12 tiles
    assert [r.step for r in reports] == list(range(1, 14)) and reports[-1].fraction == 1.0
    # Statistics from a slightly downscaled copy (40,000 of 44,032 px) barely move it (measured: 34.8 dB).
    assert psnr(tiled, run_network(net, small)) >= 30.0


def test_cancel_stops_before_the_network_runs(stylizer: InstantStylizer, small: Image.Image) -> None:
    with pytest.raises(Cancelled):
        stylizer.stylize(small, "wave", cancel=lambda: True)


def raw_blob(state: dict[str, torch.Tensor]) -> bytes:
    """The MANIFEST's raw layout, written independently of the converter: per layer in RAW_ORDER, the
    kernel as [kh][kw][in][out] (convolution; ours is [out][in][kh][kw]) or [kh][kw][out][in]
    (transposed; ours is [in][out][kh][kw]), then the InstanceNorm shift, then its scale; fp16 LE."""
    parts = []
    for name in RAW_ORDER:
        kernel = state[f"{name}.weight"]
        parts += [kernel.permute(2, 3, 1, 0), state[f"{name}_in.bias"], state[f"{name}_in.weight"]]
    return b"".join(p.contiguous().numpy().astype("<f2").tobytes() for p in parts)


@pytest.fixture(scope="module")
def wave_state(real_weights_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(real_weights_dir / "fast_style" / "wave.pth", map_location="cpu", weights_only=True)


def test_converter_reads_the_published_raw_file(wave_state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    blob = raw_blob(wave_state)
    # Written in the documented layout, our file gives back the published blob byte for byte ...
    assert hashlib.sha256(blob).hexdigest() == WAVE_RAW_SHA256
    # ... and the converter turns that blob into our file, byte for byte.
    converted = convert_fast_style_blob(blob)
    assert list(converted) == list(wave_state)
    for key, value in wave_state.items():
        assert converted[key].dtype == torch.float16 and torch.equal(converted[key], value), key
    torch.save(converted, tmp_path / "wave.pth")
    assert hashlib.sha256((tmp_path / "wave.pth").read_bytes()).hexdigest() == WAVE_FILE_SHA256
    with pytest.raises(ValueError, match="3355276 bytes"):
        convert_fast_style_blob(blob[:-2])


def test_production_url_is_the_pinned_raw_file() -> None:
    source = Weights.FAST_STYLE_WAVE.spec.source
    assert source.url == (f"https://raw.githubusercontent.com/ColorfulSoft/StyleTransfer-Colorization-"
                          f"SuperResolution/{COMMIT}/{quote(RAW_PATH)}")
    assert Weights.FAST_STYLE_WAVE.spec.filename == "fast_style/wave.pth"
    assert Weights.FAST_STYLE_WAVE.spec.sha256 == WAVE_FILE_SHA256


@pytest.fixture
def local_wave(blob_server: tuple[str, dict[str, bytes]]) -> tuple[WeightsSpec, dict[str, bytes]]:
    """The real wave entry (file name, checksums, converter) downloading from the local /wave.HModel."""
    base_url, files = blob_server
    spec = Weights.FAST_STYLE_WAVE.spec
    return replace(spec, source=replace(spec.source, url=f"{base_url}/wave.HModel")), files


def test_download_is_checked_converted_and_cached(local_wave: tuple[WeightsSpec, dict[str, bytes]],
                                                  tmp_path: Path, wave_state: dict[str, torch.Tensor]) -> None:
    spec, served = local_wave
    served["/wave.HModel"] = raw_blob(wave_state)  # the published blob (see the converter test)
    state = load_state_dict(spec, tmp_path)
    cached = tmp_path / "fast_style" / "wave.pth"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == WAVE_FILE_SHA256
    assert all(torch.equal(state[k], v) for k, v in wave_state.items())
    # The production entry finds that cache offline.
    assert isinstance(InstantStylizer(tmp_path, download=False).network("wave"), TransformerNet)


def test_download_with_a_wrong_checksum_is_refused(local_wave: tuple[WeightsSpec, dict[str, bytes]],
                                                   tmp_path: Path, wave_state: dict[str, torch.Tensor]) -> None:
    spec, served = local_wave
    damaged = bytearray(raw_blob(wave_state))
    damaged[1000] ^= 1
    served["/wave.HModel"] = bytes(damaged)
    with pytest.raises(WeightsError, match=f"expected {WAVE_RAW_SHA256}") as error:
        load_state_dict(spec, tmp_path)
    assert str(tmp_path / "fast_style" / "wave.pth") in str(error.value)
    assert not (tmp_path / "fast_style" / "wave.pth").exists()


def test_missing_file_with_downloads_failing_says_what_to_do(local_wave: tuple[WeightsSpec, dict[str, bytes]],
                                                              tmp_path: Path) -> None:
    spec, _ = local_wave  # the server has no such file: HTTP 404
    with pytest.raises(WeightsError) as error:
        load_state_dict(spec, tmp_path)
    message = str(error.value)
    assert str(tmp_path / "fast_style" / "wave.pth") in message and "python -m weights fetch" in message
    assert "404" in message and "/wave.HModel" in message
    with pytest.raises(WeightsError, match="downloads are switched off"):
        InstantStylizer(tmp_path, download=False).stylize(Image.new("RGB", (64, 64)), "wave")
