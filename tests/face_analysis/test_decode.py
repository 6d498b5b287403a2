"""Decoding: every bad input gives its exact typed error; every mode and orientation comes out RGB, upright."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.face_analysis import (
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from shared.face_analysis.decode import open_image
from tests.face_analysis.conftest import encode

LIMIT = 80_000_000
PHOTO = "group_photos/images/fr_obama_and_biden.jpg"


def decode(data: bytes, max_pixels: int = LIMIT) -> np.ndarray:
    return open_image(data, max_pixels).pixels()[0]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny (wrong) pixel stream: a bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo_bytes(faces_data_dir: Path) -> bytes:
    return (faces_data_dir / PHOTO).read_bytes()


@pytest.mark.parametrize(("data", "error", "code", "message"), [
    (b"", NotAnImageError, "not_an_image", "the data is empty"),
    (b"hello, this is a text file\n", NotAnImageError, "not_an_image", "not an image in a known format"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", NotAnImageError, "not_an_image", "not an image in a known format"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', UnsupportedFormatError,
     "unsupported_format", "SVG images are not supported"),
    (b"\xff\x0a\xfa\x7f\x01\x90\x08", UnsupportedFormatError, "unsupported_format",
     "JPEG XL images are not supported"),
    (png_header_only(10_000, 10_000), ImageTooLargeError, "too_large", "more than the limit of 80,000,000"),
    (png_header_only(100_000, 100_000), ImageTooLargeError, "too_large", "decompression bomb"),
])
def test_bad_bytes_give_their_typed_error(data: bytes, error: type[ImageError], code: str, message: str) -> None:
    with pytest.raises(error) as caught:
        decode(data)
    assert caught.value.code == code
    assert message in str(caught.value)


def test_pixel_limit_is_the_configured_one(photo_bytes: bytes) -> None:
    with pytest.raises(ImageTooLargeError, match=r"2000x1428 = 2,856,000 pixels, more than the limit of 1,000,000"):
        decode(photo_bytes, max_pixels=1_000_000)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_data_is_truncated(photo_bytes: bytes, fmt: str) -> None:
    data = encode(Image.open(io.BytesIO(photo_bytes)), fmt) if fmt != "JPEG" else photo_bytes
    with pytest.raises(TruncatedImageError, match="truncated or corrupt") as caught:
        decode(data[: len(data) // 2])
    assert caught.value.code == "truncated"


def test_truncated_header_is_truncated(photo_bytes: bytes) -> None:
    with pytest.raises(TruncatedImageError, match="truncated or corrupt"):
        decode(photo_bytes[:300])


def test_cmyk_grayscale_palette_alpha_and_16_bit_become_rgb() -> None:
    red = Image.new("RGB", (40, 30), (200, 30, 30))
    cmyk = decode(encode(red.convert("CMYK"), "JPEG", quality=95))
    assert cmyk.shape == (30, 40, 3) and np.allclose(cmyk.mean(axis=(0, 1)), (200, 30, 30), atol=12)

    gray = decode(encode(Image.new("L", (40, 30), 90), "PNG"))
    assert gray.shape == (30, 40, 3) and (gray == 90).all()

    palette = decode(encode(red.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))
    assert np.allclose(palette.mean(axis=(0, 1)), (200, 30, 30), atol=2)

    transparent = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    transparent.paste((10, 200, 10, 255), (0, 0, 20, 30))
    with_alpha = decode(encode(transparent, "PNG"))
    assert (with_alpha[:, :20] == (10, 200, 10)).all() and (with_alpha[:, 20:] == 255).all()  # over white

    deep = Image.fromarray(np.full((30, 40), 40_000, dtype=np.uint16))
    sixteen = decode(encode(deep, "PNG"))
    assert sixteen.shape == (30, 40, 3) and (sixteen == round(40_000 / 65535 * 255)).all()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_give_their_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((250, 0, 0), (0, 0, 250), (0, 250, 0))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    first = decode(data)
    assert first.shape == (32, 32, 3) and np.allclose(first.mean(axis=(0, 1)), (250, 0, 0), atol=6)


def test_heic_is_decoded_upright() -> None:
    image = Image.new("RGB", (64, 32), (30, 30, 200))
    image.paste((250, 250, 0), (0, 0, 16, 32))  # a yellow band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored as is, shown rotated 90° clockwise
    decoded = open_image(encode(image, "HEIF", exif=exif.tobytes(), quality=95), LIMIT)
    assert decoded.format == "HEIF"
    pixels = decoded.pixels()[0]
    assert pixels.shape == (64, 32, 3)
    assert pixels[:14, :, 0].mean() > 200 and pixels[20:, :, 0].mean() < 80  # the band is now on top


# Pillow transposes that *produce* the stored image from the upright one, per EXIF orientation.
STORE_AS = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def stored_with_orientation(upright: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    transpose = STORE_AS[orientation]
    stored = upright.transpose(transpose) if transpose is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, fmt, exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = Image.new("RGB", (60, 40), (0, 0, 0))
    upright.paste((255, 255, 255), (0, 0, 20, 10))  # a white block in the top-left corner
    decoded = open_image(stored_with_orientation(upright, orientation, "PNG"), LIMIT)
    assert (decoded.width, decoded.height) == (60, 40)
    pixels = decoded.pixels()[0]
    assert pixels.shape == (40, 60, 3)
    assert (pixels[:10, :20] == 255).all() and (pixels[10:, 20:] == 0).all()


def test_large_jpeg_is_decoded_at_reduced_size_then_full(photo_bytes: bytes) -> None:
    big = Image.open(io.BytesIO(photo_bytes)).resize((4000, 2856))
    decoded = open_image(encode(big, "JPEG", quality=90), LIMIT)
    small, small_scale = decoded.pixels(0.16)
    assert small.shape == (714, 1000, 3) and small_scale == 0.25
    half, half_scale = decoded.pixels(0.3)
    assert half.shape == (1428, 2000, 3) and half_scale == 0.5
    full, full_scale = decoded.pixels(1.0)
    assert full.shape == (2856, 4000, 3) and full_scale == 1.0
    assert decoded.pixels(0.3)[0] is full  # once decoded in full, smaller requests reuse it
    # The reduced decode is the same picture: compare with a resize of the full one.
    reference = np.asarray(Image.fromarray(full).resize((1000, 714), Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(small.astype(np.int16) - reference).mean() < 4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_pixels_are_pillows_at_every_orientation_and_scale(photo_bytes: bytes, orientation: int) -> None:
    """Complete JPEGs decode through libjpeg-turbo straight into arrays; Pillow, which decodes
    everything else (here: the same file with bytes after its end marker), is the reference."""
    upright = Image.open(io.BytesIO(photo_bytes)).resize((403, 301))
    data = stored_with_orientation(upright, orientation)
    for scale in (1.0, 0.5, 0.25):
        fast, fast_scale = open_image(data, LIMIT).pixels(scale)
        reference, reference_scale = open_image(data + b"trailing bytes", LIMIT).pixels(scale)
        assert fast.shape == reference.shape and fast_scale == reference_scale
        assert fast.dtype == np.uint8 and np.array_equal(fast, reference)
