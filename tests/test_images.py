"""Image input: every format and odd mode users send becomes upright RGB; bad files raise ImageError."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from transfer.images import (MIN_SIDE, ImageError, fit, fit_size, image_to_tensor, keep_colors, load_image,
                             tensor_to_image)


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def write_png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A real, valid `width` x `height` black PNG (8-bit grayscale) written without holding its pixels:
    the IDAT is zero rows streamed through zlib (400 MB of pixels at 20000x20000 in a file of about 400 KB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + width)  # filter byte 0 (none), then `width` black pixels
    rows_per_block = max(1, 4_000_000 // len(row))
    compressor = zlib.compressobj(9)
    idat = bytearray()
    for start in range(0, height, rows_per_block):
        idat += compressor.compress(row * min(rows_per_block, height - start))
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(idat))
                     + chunk(b"IEND", b""))
    return path


def gradient(width: int = 60, height: int = 40) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8), "RGB")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_every_accepted_format_decodes_to_rgb(fmt):
    img = load_image(encode(gradient(), fmt))
    assert img.mode == "RGB" and img.size == (60, 40)
    # lossy formats and GIF's palette change pixels a little, never the picture
    assert np.abs(np.asarray(img, np.float32) - np.asarray(gradient(), np.float32)).mean() < 12


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = io.BytesIO()
    frames[0].save(data, "GIF", save_all=True, append_images=frames[1:])
    img = load_image(data.getvalue())
    assert img.getpixel((5, 5))[0] > 200 and img.getpixel((5, 5))[2] < 50


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img = load_image(encode(gradient(60, 40), "JPEG", exif=exif))
    assert img.size == (40, 60)


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 40))
    img = load_image(encode(rgba, "PNG"))
    assert img.getpixel((30, 10)) == (255, 255, 255)
    assert img.getpixel((5, 10)) == (0, 0, 255)


def test_palette_with_transparency_and_gray_alpha():
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert load_image(encode(palette, "PNG", transparency=1)).getpixel((3, 3)) == (255, 255, 255)
    assert load_image(encode(palette, "PNG")).getpixel((3, 3)) == (255, 0, 0)
    gray_alpha = Image.new("LA", (40, 40), (0, 255))
    assert load_image(encode(gray_alpha, "PNG")).getpixel((3, 3)) == (0, 0, 0)


def test_sixteen_bit_grayscale_is_scaled_not_clipped():
    data = np.full((40, 40), 30000, np.uint16)
    data[:, 20:] = 65535
    img = load_image(encode(Image.fromarray(data), "PNG"))
    assert img.getpixel((30, 5)) == (255, 255, 255)
    assert abs(img.getpixel((5, 5))[0] - round(30000 / 257)) <= 1


def test_cmyk_and_grayscale_become_rgb():
    cmyk = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # red in CMYK
    red = load_image(encode(cmyk, "JPEG"))
    assert red.mode == "RGB" and red.getpixel((5, 5))[0] > 200 and red.getpixel((5, 5))[1] < 60
    assert load_image(encode(Image.new("L", (40, 40), 128), "PNG")).getpixel((1, 1)) == (128, 128, 128)


def test_refuses_decompression_bombs_before_decoding():
    bomb = encode(Image.new("1", (9000, 9000)), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match="too large"):
        load_image(bomb)
    with pytest.raises(ImageError, match="too large"):
        load_image(encode(gradient(), "PNG"), max_pixels=1000)


def test_refuses_a_bomb_over_pillows_own_limit_as_too_large(tmp_path, monkeypatch):
    # 400 megapixels: Pillow's Image.open itself refuses it (over 2x MAX_IMAGE_PIXELS); we still say why
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb)
    pillow_limit = Image.MAX_IMAGE_PIXELS

    def no_decoding(self):
        raise AssertionError("a pixel was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    expected = r"too large \(20000x20000\); the limit is 64 megapixels"
    for source in (bomb, str(bomb), bomb.read_bytes()):
        with pytest.raises(ImageError, match=expected):
            load_image(source)
    with open(bomb, "rb") as fh:
        with pytest.raises(ImageError, match=expected):
            load_image(fh)
        assert not fh.closed
    with pytest.raises(ImageError, match=r"too large \(20000x20000\); the limit is 300 megapixels"):
        load_image(bomb, max_pixels=300_000_000)  # the caller's limit, not Pillow's
    assert Image.MAX_IMAGE_PIXELS == pillow_limit  # never raised, not even for a moment (threads share it)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_refuses_non_images(data):
    with pytest.raises(ImageError, match="not an image"):
        load_image(data)


def test_refuses_truncated_files():
    data = encode(gradient(200, 200), "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])
    png = encode(gradient(200, 200), "PNG")
    with pytest.raises(ImageError):
        load_image(png[: len(png) // 2])


def test_refuses_tiny_images_and_missing_files(tmp_path):
    with pytest.raises(ImageError, match=f"at least {MIN_SIDE} px"):
        load_image(encode(Image.new("RGB", (100, MIN_SIDE - 1)), "PNG"))
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_fit_keeps_aspect_and_never_enlarges_unless_asked():
    assert fit_size((1080, 720), 512) == (512, 341)
    assert fit_size((720, 1080), 512) == (341, 512)
    assert fit_size((200, 100), 512) == (200, 100)
    assert fit_size((200, 100), 512, upscale=True) == (512, 256)
    assert fit_size((1000, 1000), None, max_pixels=250_000) == (500, 500)
    with pytest.raises(ImageError, match="too narrow"):
        fit_size((4000, 100), 512)
    img = gradient(300, 200)
    assert fit(img, 150).size == (150, 100) and fit(img, 512) is img


def test_tensor_round_trip_and_keep_colors():
    img = gradient()
    tensor = image_to_tensor(img)
    assert tensor.shape == (1, 3, 40, 60) and 0 <= tensor.min() and tensor.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_image(tensor)), np.asarray(img))
    gray = Image.new("RGB", img.size, (128, 128, 128))
    recoloured = keep_colors(gray, img)
    assert recoloured.size == img.size
    # the luminance stays that of the result, the colours come from the content
    assert abs(np.asarray(recoloured.convert("L"), np.float32).mean() - 128) < 3
    hue_spread = np.asarray(recoloured, np.float32).std(axis=(0, 1))
    assert hue_spread.max() > 20
