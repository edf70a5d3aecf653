"""Universal style transfer (WCT): the real encoder and decoders on real photos and paintings.

Sizes, tiles against one pass, blends, strength, colours, progress, cancel, refusals, the classic
objective, and the weights' registry entries and download. Most tests encode the painting at 256 px
(`style_side`) to stay fast; the engine's default is larger.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import transfer.universal as universal
from transfer.images import ImageError
from transfer.progress import Cancelled, Progress
from transfer.precision import bf16_supported
from transfer.universal import HALO, Decoder, Encoder, FeatureStats, UniversalStylizer
from weights import Weights, WeightsError, load_into, load_state_dict

# The MANIFEST's values, written out here so that a typo in the code cannot also be in the test.
COMMIT = "9268fb868e4bb65311ef3ddc1989ae980d22f8bb"
SHA256 = {
    "vgg_normalised_conv3_1": "4ffff49ad5cdc3337374b947918f35f903fcb0898b0b5eebfcbd601b99fc3929",
    "feature_invertor_conv1_1": "fb48663414644122e4311305907d3fbfa3d51cba1a8609b0179e3a38ba4fa025",
    "feature_invertor_conv2_1": "146e53c444bab64cbc118e6c733409dbedfee202e0f0cb9095f4284d4deeef8c",
    "feature_invertor_conv3_1": "899eb82c2ee7b4214c57ca3655c50fbed652c63ef695f36ed035368c03bdf7d7",
}
ENTRIES = {Weights.WCT_ENCODER: "vgg_normalised_conv3_1", Weights.WCT_DECODER_1: "feature_invertor_conv1_1",
           Weights.WCT_DECODER_2: "feature_invertor_conv2_1", Weights.WCT_DECODER_3: "feature_invertor_conv3_1"}


@pytest.fixture(scope="module")
def stylizer(real_weights_dir: Path) -> UniversalStylizer:
    return UniversalStylizer(real_weights_dir, download=False, style_side=256)


@pytest.fixture(scope="module")
def photo(images_dir: Path) -> Image.Image:
    """chelsea.jpg at 160x107: odd height, one pass."""
    return Image.open(images_dir / "content" / "chelsea.jpg").convert("RGB").resize((160, 107), Image.LANCZOS)


@pytest.fixture(scope="module")
def candy(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "style" / "candy.jpg").convert("RGB")


@pytest.fixture(scope="module")
def mosaic(images_dir: Path) -> Image.Image:
    return Image.open(images_dir / "style" / "mosaic.jpg").convert("RGB")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def psnr(a: Image.Image, b: Image.Image) -> float:
    return float(10 * np.log10(255**2 / np.mean((pixels(a) - pixels(b)) ** 2)))


@pytest.mark.parametrize("size", [(33, 45), (101, 67), (90, 50), (65, 129), (64, 64)])
def test_output_is_exactly_the_photos_size(stylizer: UniversalStylizer, photo: Image.Image, candy: Image.Image,
                                           size: tuple[int, int]) -> None:
    # Odd sizes are padded to multiples of 4 inside and cropped back; 33x45 also has fewer relu3_1
    # positions (108) than channels (256): a rank-deficient covariance, which must still give a picture.
    result = stylizer.stylize(photo.resize(size), candy)
    assert result.size == size and result.mode == "RGB"
    assert 20 < pixels(result).mean() < 235


def test_max_side_fits_the_photo_and_never_enlarges_it(stylizer: UniversalStylizer, photo: Image.Image,
                                                       candy: Image.Image) -> None:
    assert stylizer.stylize(photo, candy, max_side=100).size == (100, 67)
    assert stylizer.stylize(photo, candy, max_side=512).size == (160, 107)
    assert stylizer.stylize(photo, candy, max_side=None).size == (160, 107)


def test_tiles_compute_exactly_the_one_pass_result(real_weights_dir: Path, images_dir: Path,
                                                   candy: Image.Image) -> None:
    # float32, so that only float rounding may differ. Measured with too small a halo (8 px) the
    # largest difference is 95; with HALO, 1.
    big = Image.open(images_dir / "content" / "chelsea.jpg").convert("RGB").resize((203, 135), Image.LANCZOS)
    whole = UniversalStylizer(real_weights_dir, download=False, style_side=256, precision="float32")
    budget = (64 + 2 * HALO) ** 2
    tiled = UniversalStylizer(real_weights_dir, download=False, style_side=256, precision="float32",
                              one_pass_pixels=0, tile_pixels=budget)
    assert whole.tiles(big) is None and len(tiled.tiles(big)) == 12
    seen: list[int] = []
    encoder, _ = tiled.networks()
    hook = encoder[0].register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[2] * args[0].shape[3]))
    try:
        by_tiles = tiled.stylize(big, candy)
    finally:
        hook.remove()
    one_pass = whole.stylize(big, candy)
    assert max(seen) <= budget  # no pass, the painting's included, saw more than a tile
    difference = np.abs(pixels(by_tiles) - pixels(one_pass))
    assert difference.max() <= 2 and difference.mean() < 0.05


@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bfloat16")
def test_tiles_in_bfloat16_stay_close_to_one_pass(real_weights_dir: Path, photo: Image.Image,
                                                  candy: Image.Image) -> None:
    # bfloat16 rounds differently in tiles of other shapes: measured 46 dB PSNR, no seams.
    whole = UniversalStylizer(real_weights_dir, download=False, style_side=256, precision="bfloat16")
    tiled = UniversalStylizer(real_weights_dir, download=False, style_side=256, precision="bfloat16",
                              one_pass_pixels=0, tile_pixels=(64 + 2 * HALO) ** 2)
    assert psnr(tiled.stylize(photo, candy), whole.stylize(photo, candy)) > 38


def test_blending_mixes_the_paintings_statistics(stylizer: UniversalStylizer, photo: Image.Image,
                                                 candy: Image.Image, mosaic: Image.Image) -> None:
    alone = [stylizer.stylize(photo, painting) for painting in (candy, mosaic)]
    both = stylizer.stylize(photo, [candy, mosaic])
    # Measured mean differences: the blend is 27 and 30 from each alone, which are 51 apart.
    for single in alone:
        assert np.abs(pixels(both) - pixels(single)).mean() > 10
    first_only = stylizer.stylize(photo, (candy, mosaic), weights=(1, 0))
    assert np.array_equal(np.asarray(first_only), np.asarray(alone[0]))
    mostly_first = stylizer.stylize(photo, [candy, mosaic], weights=(3, 1))
    near = np.abs(pixels(mostly_first) - pixels(alone[0])).mean()
    assert near < np.abs(pixels(mostly_first) - pixels(alone[1])).mean()


def test_mixture_is_the_statistics_of_the_pooled_positions() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(1, 8, 10, 30, generator=generator).contiguous(memory_format=torch.channels_last) * 2 + 1
    b = torch.randn(1, 8, 10, 10, generator=generator).contiguous(memory_format=torch.channels_last) - 3

    def stats(features: torch.Tensor) -> FeatureStats:
        moments = universal._Moments(features.shape[1], features.device)
        moments.add(features)
        return moments.stats()

    pooled = stats(torch.cat([a, b], dim=3).contiguous(memory_format=torch.channels_last))
    mixed = FeatureStats.mixture([stats(a), stats(b)], [300, 100])  # weights as the positions' counts
    assert torch.allclose(mixed.mean, pooled.mean, atol=1e-5)
    assert torch.allclose(mixed.cov, pooled.cov, atol=1e-4)
    flat = torch.cat([a, b], dim=3).flatten(2)[0].double()
    assert torch.allclose(pooled.cov, torch.cov(flat, correction=0), atol=1e-4)


def test_strength_zero_gives_nearly_the_photo(stylizer: UniversalStylizer, photo: Image.Image,
                                              candy: Image.Image) -> None:
    # Measured: 25.4 dB at strength 0 (the decoders' reconstruction), 15.4 at 0.5, 13.0 at 1.
    assert psnr(stylizer.stylize(photo, candy, strength=0.0), photo) > 23.0
    assert psnr(stylizer.stylize(photo, candy, strength=0.5), photo) < 20.0
    assert psnr(stylizer.stylize(photo, candy), photo) < 16.0


def test_keep_colors_takes_the_photos_chroma(stylizer: UniversalStylizer, photo: Image.Image,
                                             candy: Image.Image) -> None:
    def chroma(img: Image.Image) -> np.ndarray:
        return pixels(img.convert("YCbCr"))[..., 1:]

    painted = stylizer.stylize(photo, candy)
    kept = stylizer.stylize(photo, candy, keep_colors=True)
    assert np.abs(chroma(kept) - chroma(photo)).mean() < 1.5  # RGB rounding only
    assert np.abs(chroma(painted) - chroma(photo)).mean() > 5  # the painting's colours really differ


def test_the_painting_is_encoded_once(stylizer: UniversalStylizer, photo: Image.Image,
                                      mosaic: Image.Image) -> None:
    encoder, _ = stylizer.networks()
    shapes: list[tuple[int, int]] = []
    hook = encoder[0].register_forward_pre_hook(lambda _, args: shapes.append(tuple(args[0].shape[2:])))
    try:
        stylizer.stylize(photo, mosaic)
    finally:
        hook.remove()
    # mosaic (470x391) fitted to style_side 256 is 256x213, padded 216x256: one encoder pass for it
    # (all three taps), then one per level for the photo (108x160 padded).
    assert shapes == [(216, 256), (108, 160), (108, 160), (108, 160)]


@pytest.mark.parametrize("tiled", [False, True])
def test_progress_counts_every_pass_and_ends_at_one(real_weights_dir: Path, photo: Image.Image,
                                                    candy: Image.Image, tiled: bool) -> None:
    options = {"one_pass_pixels": 0, "tile_pixels": (64 + 2 * HALO) ** 2} if tiled else {}
    engine = UniversalStylizer(real_weights_dir, download=False, style_side=128, **options)
    reports: list[Progress] = []
    engine.stylize(photo, candy, progress=reports.append)
    total = reports[0].total
    # The painting (128x128: one tile, or 4 of the small ones), then per level one pass, or a
    # statistics and a transform pass over each of the photo's 6 tiles.
    assert total == (4 + 3 * 2 * 6 if tiled else 1 + 3)
    assert [r.step for r in reports] == list(range(1, total + 1))
    assert all(r.total == total for r in reports) and reports[-1].fraction == 1.0


def test_cancel_stops_between_passes(real_weights_dir: Path, photo: Image.Image, candy: Image.Image) -> None:
    engine = UniversalStylizer(real_weights_dir, download=False, style_side=128,
                               one_pass_pixels=0, tile_pixels=(64 + 2 * HALO) ** 2)
    with pytest.raises(Cancelled):
        engine.stylize(photo, candy, cancel=lambda: True)
    checks = iter(range(1000))
    reports: list[Progress] = []
    with pytest.raises(Cancelled):
        engine.stylize(photo, candy, progress=reports.append, cancel=lambda: next(checks) >= 5)
    assert len(reports) == 5 and reports[-1].fraction < 1  # checked before every pass, and stopped there


def test_bad_input_is_refused(stylizer: UniversalStylizer, photo: Image.Image, candy: Image.Image,
                              tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not an image"):
        stylizer.stylize(b"not an image at all", candy)
    with pytest.raises(ImageError, match="not found"):
        stylizer.stylize(photo, tmp_path / "nowhere.jpg")
    with pytest.raises(ImageError, match="too small"):
        stylizer.stylize(photo, [candy, Image.new("RGB", (10, 10))])
    with pytest.raises(ImageError, match="too narrow"):
        stylizer.stylize(Image.new("RGB", (2000, 40)), candy)  # 512x10 after fitting
    for arguments, message in [({"strength": 1.5}, "strength"), ({"weights": (1, 2, 3)}, "one weight"),
                               ({"weights": (-1, 2)}, "non-negative"), ({"weights": (0, 0)}, "not all 0")]:
        with pytest.raises(ValueError, match=message):
            stylizer.stylize(photo, [candy, candy], **arguments)
    with pytest.raises(ValueError, match="at least one"):
        stylizer.stylize(photo, [])


def test_far_below_the_photos_own_classic_objective(real_weights_dir: Path, images_dir: Path) -> None:
    from bench.evaluate import Evaluator

    # The engine's defaults (the painting is small: 470x391). Measured at 192 px: 26,948 against the
    # photo's 130,472 (0.21); 0.23 at 128 px, 0.21-0.54 with the other paintings except udnie (0.57-0.93).
    engine = UniversalStylizer(real_weights_dir, download=False)
    content = Image.open(images_dir / "content" / "chelsea.jpg").convert("RGB")
    painting = Image.open(images_dir / "style" / "mosaic.jpg").convert("RGB")
    result = engine.stylize(content, painting, max_side=192)
    evaluator = Evaluator(real_weights_dir)
    quick = evaluator(result, content, painting, 192).total
    itself = evaluator(content, content, painting, 192).total
    assert quick < 0.4 * itself


def test_concurrent_requests_give_the_same_pictures(stylizer: UniversalStylizer, photo: Image.Image,
                                                    candy: Image.Image, mosaic: Image.Image) -> None:
    expected = [np.asarray(stylizer.stylize(photo, painting)) for painting in (candy, mosaic)]
    results: list[np.ndarray | None] = [None, None]

    def run(index: int, painting: Image.Image) -> None:
        results[index] = np.asarray(stylizer.stylize(photo, painting))

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate((candy, mosaic))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(r, e) for r, e in zip(results, expected))


def test_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, real_weights_dir: Path) -> None:
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": False, "amx_bf16": False},
                        raising=False)
    assert bf16_supported() is False
    assert UniversalStylizer(real_weights_dir).dtype == torch.float32
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": False, "amx_bf16": True},
                        raising=False)
    assert bf16_supported() is True
    engine = UniversalStylizer(real_weights_dir, download=False)
    encoder, decoders = engine.networks()
    assert engine.dtype == torch.bfloat16 and encoder[2].weight.dtype == torch.bfloat16
    assert decoders[3][1].weight.is_contiguous(memory_format=torch.channels_last)


# ---- weights: registry entries, real files, download ----------------------------------------------------
def test_registry_entries_name_the_pinned_published_files() -> None:
    for weights, name in ENTRIES.items():
        spec = weights.spec
        assert spec.filename == f"wct/{name}.pth"
        raw = f"https://raw.githubusercontent.com/jkbehne/GOTStyleTranfer/{COMMIT}/models/{name}.pth"
        assert spec.source.url == raw
        assert spec.source.sha256 == SHA256[name] == spec.meta["published_sha256"]
        assert "Li et al. 2017" in spec.meta["license"] and "no licence" in spec.meta["license"]


def test_real_files_are_the_published_ones_and_fit_the_networks(real_weights_dir: Path) -> None:
    for weights, name in ENTRIES.items():
        assert hashlib.sha256((real_weights_dir / weights.spec.filename).read_bytes()).hexdigest() == SHA256[name]
    load_into(Encoder(), Weights.WCT_ENCODER, real_weights_dir, download=False)
    for level, weights in ((1, Weights.WCT_DECODER_1), (2, Weights.WCT_DECODER_2), (3, Weights.WCT_DECODER_3)):
        load_into(Decoder(level), weights, real_weights_dir, download=False)


def test_encoder_and_decoders_reconstruct_a_photo(real_weights_dir: Path, photo: Image.Image) -> None:
    # Measured here: 28.4 / 34.3 / 29.0 dB (the MANIFEST: 27.9 / 33.2 / 28.9 at 256 px); a wrong layout
    # (e.g. zero padding, or pooling without ceil mode) gives far less.
    encoder = load_into(Encoder(), Weights.WCT_ENCODER, real_weights_dir, download=False).eval()
    x = universal._image_tensor(photo.resize((160, 108)), torch.device("cpu"))
    with torch.inference_mode():
        for level, weights in ((1, Weights.WCT_DECODER_1), (2, Weights.WCT_DECODER_2), (3, Weights.WCT_DECODER_3)):
            decoder = load_into(Decoder(level), weights, real_weights_dir, download=False).eval()
            out = decoder(encoder.features(x, level)).clamp(0, 1)
            assert float(10 * torch.log10(1 / torch.mean((out - x) ** 2))) > 24, level


@pytest.mark.parametrize("level", [2, 3])
def test_sub_pixel_upsampling_equals_upsample_pad_convolve(real_weights_dir: Path, level: int) -> None:
    weights = {2: Weights.WCT_DECODER_2, 3: Weights.WCT_DECODER_3}[level]
    decoder = load_into(Decoder(level), weights, real_weights_dir, download=False).eval()
    x = torch.rand(1, {2: 128, 3: 256}[level], 37, 23, generator=torch.Generator().manual_seed(level)) * 3
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        reference = x
        for layer in decoder:  # the published layout, layer by layer: upsample, reflect-pad, convolve
            reference = layer(reference)
        assert reference.shape[2:] == (37 * 2 ** (level - 1), 23 * 2 ** (level - 1))
        for ours in (decoder(x), decoder.prepare()(x)):  # kernels computed on the fly, then precomputed
            assert ours.shape == reference.shape
            assert (ours - reference).abs().max() < 1e-5 * reference.abs().max()  # measured 1.2e-6


def test_download_is_checked_cached_and_loads(blob_server: tuple[str, dict[str, bytes]], tmp_path: Path,
                                              real_weights_dir: Path) -> None:
    base_url, files = blob_server
    published = (real_weights_dir / "wct" / "feature_invertor_conv2_1.pth").read_bytes()
    files["/dec2.pth"] = published
    spec = Weights.WCT_DECODER_2.spec
    local = replace(spec, source=replace(spec.source, url=f"{base_url}/dec2.pth"))
    state = load_state_dict(local, tmp_path)
    assert (tmp_path / "wct" / "feature_invertor_conv2_1.pth").exists()
    reference = torch.load(real_weights_dir / spec.filename, map_location="cpu", weights_only=True)
    assert list(state) == list(reference) and all(torch.equal(state[k], v) for k, v in reference.items())
    load_into(Decoder(2), local, tmp_path, download=False)  # the re-saved cache loads (no hash on load)

    damaged = bytearray(published)
    damaged[-100] ^= 1
    files["/dec2.pth"] = bytes(damaged)
    with pytest.raises(WeightsError, match=f"expected {SHA256['feature_invertor_conv2_1']}"):
        load_state_dict(local, tmp_path / "other")
    assert not (tmp_path / "other" / "wct" / "feature_invertor_conv2_1.pth").exists()


def test_missing_weights_say_what_to_do(tmp_path: Path, photo: Image.Image, candy: Image.Image) -> None:
    with pytest.raises(WeightsError, match="downloads are switched off") as error:
        UniversalStylizer(tmp_path, download=False).stylize(photo, candy)
    assert str(tmp_path / "wct" / "vgg_normalised_conv3_1.pth") in str(error.value)
    assert "python -m weights fetch" in str(error.value)
