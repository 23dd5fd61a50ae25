"""mnist_core.decode: every input a user can hand us is read, or refused with a clear message."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from helpers import SAMPLE, png_declaring_size
from PIL import Image

from mnist_core import InvalidImageError
from mnist_core.config import DecodeConfig
from mnist_core.decode import decode, luminance, on_white


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    """A 28x28 MNIST '7' as dark ink on white paper (uint8)."""
    with np.load(SAMPLE) as data:
        assert data["y_test"][0] == 7
        return 255 - data["x_test"][0]


@pytest.fixture(scope="module")
def other_digit() -> np.ndarray:
    with np.load(SAMPLE) as data:
        return 255 - data["x_test"][1]


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# --------------------------------------------------------------------------- refused inputs


def test_empty_bytes_are_refused():
    with pytest.raises(InvalidImageError, match="the file is empty"):
        decode(b"")


def test_invalid_image_error_is_a_value_error():
    with pytest.raises(ValueError):
        decode(b"")


def test_random_bytes_are_not_an_image():
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(InvalidImageError, match="not an image file"):
        decode(noise)


def test_text_file_is_not_an_image():
    with pytest.raises(InvalidImageError, match="not an image file"):
        decode(b"Dear user,\nthis is a plain text file, not a picture.\n" * 20)


def test_truncated_png_is_damaged():
    noisy = np.random.default_rng(1).integers(0, 256, (200, 200), dtype=np.uint8)
    png = encode(Image.fromarray(noisy), "PNG")
    with pytest.raises(InvalidImageError, match="damaged or incomplete"):
        decode(png[: len(png) // 2])


def test_png_cut_inside_its_header_is_refused():
    png = encode(Image.new("L", (30, 30), 255), "PNG")
    with pytest.raises(InvalidImageError):
        decode(png[:20])


def test_truncated_jpeg_is_damaged(digit):
    jpeg = encode(Image.fromarray(digit).resize((280, 280)), "JPEG", quality=90)
    with pytest.raises(InvalidImageError, match="damaged or incomplete"):
        decode(jpeg[: len(jpeg) // 2])


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" '
    b'height="28"><text x="5" y="20">7</text></svg>'
)
PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


@pytest.mark.parametrize("document", [SVG, PDF], ids=["svg", "pdf"])
def test_vector_documents_are_refused(document):
    with pytest.raises(InvalidImageError, match="not an image file"):
        decode(document)


def test_format_pil_reads_but_we_do_not_accept_is_refused(digit):
    ppm = encode(Image.fromarray(digit), "PPM")
    with pytest.raises(InvalidImageError, match="PPM files are not supported"):
        decode(ppm)


def test_decompression_bomb_is_refused_as_too_large_quickly():
    bomb = png_declaring_size(50_000, 50_000)
    assert len(bomb) < 100
    started = time.perf_counter()
    with pytest.raises(InvalidImageError) as caught:
        decode(bomb)
    assert time.perf_counter() - started < 1.0
    assert "too large" in str(caught.value)
    assert "50000x50000" in str(caught.value)


def test_bomb_refused_quickly_without_decoding():
    """Whatever the message, the 2.5-gigapixel header must not be decoded."""
    started = time.perf_counter()
    with pytest.raises(InvalidImageError):
        decode(png_declaring_size(50_000, 50_000))
    assert time.perf_counter() - started < 1.0


def test_moderate_bomb_over_our_limit_is_too_large_quickly():
    """100 MP: over our 40 MP limit but under PIL's own bomb error threshold."""
    started = time.perf_counter()
    with pytest.raises(
        InvalidImageError, match=r"image too large: 10000x10000 pixels, the limit is"
    ):
        decode(png_declaring_size(10_000, 10_000))
    assert time.perf_counter() - started < 1.0


def test_oversized_array_is_too_large_before_any_copy():
    huge = np.broadcast_to(np.uint8(0), (8000, 6000))  # 48 MP, no memory behind it
    with pytest.raises(InvalidImageError, match=r"image too large: 6000x8000 pixels"):
        decode(huge)


def test_oversized_pil_image_is_too_large():
    with pytest.raises(InvalidImageError, match="image too large: 20x20 pixels"):
        decode(Image.new("L", (20, 20)), DecodeConfig(max_pixels=100))


def test_file_over_byte_limit_is_refused(digit):
    png = encode(Image.fromarray(digit), "PNG")
    with pytest.raises(InvalidImageError, match="file too large"):
        decode(png, DecodeConfig(max_bytes=len(png) - 1))


@pytest.mark.parametrize("dtype", [np.int64, np.complex128])
def test_wrong_array_dtype_is_refused(dtype):
    with pytest.raises(InvalidImageError, match=f"got dtype {np.dtype(dtype).name}"):
        decode(np.zeros((5, 5), dtype))


@pytest.mark.parametrize("shape", [(5, 5, 2), (2, 5, 5, 3), (5,)])
def test_wrong_array_shape_is_refused(shape):
    with pytest.raises(InvalidImageError, match="an image array must be"):
        decode(np.zeros(shape, np.uint8))


def test_empty_array_is_refused():
    with pytest.raises(InvalidImageError, match="empty"):
        decode(np.zeros((0, 5), np.uint8))


@pytest.mark.parametrize(
    "values", [np.full((5, 5), 2.0), np.full((5, 5), np.nan), np.full((5, 5), -0.5)]
)
def test_float_array_outside_unit_range_is_refused(values):
    with pytest.raises(InvalidImageError, match="between 0 and 1"):
        decode(values)


@pytest.mark.parametrize("thing", ["seven.png", 7, None, [[0, 255], [255, 0]]])
def test_non_image_objects_are_refused(thing):
    with pytest.raises(InvalidImageError, match="cannot read a"):
        decode(thing)


# --------------------------------------------------------------------------- accepted inputs


def test_png_bytes_round_trip_exactly(digit):
    decoded = decode(encode(Image.fromarray(digit), "PNG"))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, digit)


def test_16_bit_grey_png_is_scaled_to_8_bits(digit):
    wide = digit.astype(np.uint16) * 257  # full 16-bit range
    png = encode(Image.fromarray(wide), "PNG")
    assert Image.open(io.BytesIO(png)).mode.startswith("I")
    decoded = decode(png)
    assert decoded.dtype == np.uint8 and decoded.shape == (28, 28)
    assert np.abs(decoded.astype(int) - digit).max() <= 1


def test_12_bit_values_in_16_bit_png_use_their_own_range(digit):
    twelve = (digit.astype(np.int64) * 4095 // 255).astype(np.uint16)
    decoded = decode(encode(Image.fromarray(twelve), "PNG"))
    assert np.abs(decoded.astype(int) - digit).max() <= 1


def test_cmyk_jpeg_decodes_to_grey(digit):
    big = Image.fromarray(digit).resize((112, 112), Image.NEAREST)
    jpeg = encode(big.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(jpeg)).mode == "CMYK"
    decoded = decode(jpeg)
    assert decoded.shape == (112, 112) and decoded.dtype == np.uint8
    # Measured 0.13 grey levels: JPEG at quality 95 plus the CMYK round trip.
    assert np.abs(decoded.astype(float) - np.asarray(big, float)).mean() < 8


def test_palette_png_with_transparency_keeps_alpha(digit):
    indices = (digit < 128).astype(np.uint8)  # 1 = ink, 0 = transparent background
    image = Image.fromarray(indices, "P")
    image.putpalette([255, 255, 255, 200, 30, 30] + [0] * (256 * 3 - 6))
    png = encode(image, "PNG", transparency=0)
    decoded = decode(png)
    assert decoded.shape == (28, 28, 4)
    np.testing.assert_array_equal(decoded[..., 3], indices * 255)
    np.testing.assert_array_equal(
        decoded[indices == 1][:, :3], np.tile([200, 30, 30], (indices.sum(), 1))
    )


def test_animated_gif_uses_first_frame(digit, other_digit):
    first, second = Image.fromarray(digit), Image.fromarray(other_digit)
    gif = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    decoded = decode(gif)
    assert decoded.shape == (28, 28)
    np.testing.assert_array_equal(decoded, digit)
    assert not np.array_equal(decoded, other_digit)


def _portrait_digit(digit: np.ndarray) -> np.ndarray:
    """A 300x200 (HxW) white page with the digit written upright in its upper part."""
    page = np.full((300, 200), 255, np.uint8)
    page[20:188, 16:184] = np.asarray(Image.fromarray(digit).resize((168, 168), Image.BILINEAR))
    return page


# EXIF orientation 6: the stored picture must be turned 90 deg clockwise to display, so it holds
# the page turned 90 deg counter-clockwise (np.rot90 k=1); orientation 8 is the opposite.
@pytest.mark.parametrize("orientation, turns", [(6, 1), (8, -1)])
def test_jpeg_exif_orientation_is_applied(digit, orientation, turns):
    upright = _portrait_digit(digit)
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, turns)))
    assert stored.size == (300, 200)  # landscape as stored
    exif = stored.getexif()
    exif[0x0112] = orientation
    jpeg = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert Image.open(io.BytesIO(jpeg)).getexif().get(0x0112) == orientation
    decoded = decode(jpeg)
    assert decoded.shape == (300, 200)  # transposed: portrait, as the phone showed it
    error_upright = np.abs(decoded.astype(float) - upright).mean()
    error_flipped = np.abs(decoded.astype(float) - np.rot90(upright, 2)).mean()
    # Measured: 0.05 grey levels off upright (JPEG at quality 95), ~120 off upside down; 3
    # levels leaves room for another JPEG encoder's rounding, and a wrong turn is far past it.
    assert error_upright < 3
    assert error_upright < error_flipped / 3


def test_bilevel_png_decodes_to_black_and_white(digit):
    decoded = decode(encode(Image.fromarray(digit).convert("1"), "PNG"))
    assert decoded.shape == (28, 28)
    assert set(np.unique(decoded)) <= {0, 255}
    # Measured 99.1%: PIL's 1-bit conversion dithers the anti-aliased edge pixels.
    assert np.mean((decoded > 127) == (digit > 127)) > 0.95


def test_one_pixel_image_decodes():
    decoded = decode(encode(Image.new("L", (1, 1), 200), "PNG"))
    assert decoded.shape == (1, 1)
    assert decoded[0, 0] == 200


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "TIFF"])
def test_other_allowed_formats_decode(digit, fmt):
    options = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode(encode(Image.fromarray(digit), fmt, **options))
    assert decoded.shape == (28, 28)
    assert np.abs(decoded.astype(int) - digit).max() <= 2  # measured 0: all three are lossless


def test_rgb_array_becomes_luminance():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    decoded = decode(rgb)
    assert decoded.shape == (4, 4)
    assert np.all(decoded == round(255 * 0.299))


def test_luminance_is_pils_grey_within_one_level():
    colours = np.random.default_rng(4).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(colours).convert("L")).astype(int)
    difference = np.abs(luminance(colours).astype(int) - pil)
    # Both round ITU-R 601 in fixed point, each its own way: 1 level apart on ~0.1% of pixels.
    assert difference.max() <= 1 and np.mean(difference) < 0.005


def test_on_white_shows_transparent_parts_white_and_opaque_ones_as_they_are():
    rgba = np.zeros((2, 3, 4), np.uint8)  # black
    rgba[..., 3] = [[0, 128, 255], [255, 255, 255]]  # transparent, half, opaque
    np.testing.assert_array_equal(on_white(rgba), [[255, 127, 0], [0, 0, 0]])
    rgba[..., 3] = 255
    np.testing.assert_array_equal(on_white(rgba), np.zeros((2, 3)))
    grey = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert on_white(grey) is grey


def test_rgba_array_is_kept_as_rgba():
    rgba = np.random.default_rng(2).integers(0, 256, (6, 7, 4), dtype=np.uint8)
    decoded = decode(rgba)
    np.testing.assert_array_equal(decoded, rgba)


def test_single_channel_3d_array_is_squeezed(digit):
    np.testing.assert_array_equal(decode(digit[:, :, None]), digit)


def test_float_array_in_unit_range_is_scaled(digit):
    np.testing.assert_array_equal(decode(digit / 255.0), digit)


def test_bool_array_is_black_and_white():
    mask = np.eye(5, dtype=bool)
    np.testing.assert_array_equal(decode(mask), mask.astype(np.uint8) * 255)


def test_pil_image_with_alpha_decodes_to_rgba(digit):
    image = Image.fromarray(digit).convert("LA")
    decoded = decode(image)
    assert decoded.shape == (28, 28, 4)
    np.testing.assert_array_equal(decoded[..., 0], digit)
    assert np.all(decoded[..., 3] == 255)
