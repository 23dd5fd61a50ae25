"""Turn whatever a user hands us (array, PIL image, file bytes) into a numpy image, or refuse it.

Everything that can go wrong with an input is caught here, so later steps only see sane arrays:
(H, W) grey or (H, W, 4) RGBA, uint8, at most ``DecodeConfig.max_pixels`` pixels.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .config import DecodeConfig
from .errors import InvalidImageError

# PIL's own bomb guard raises before we can name the image's size; we enforce a lower limit
# ourselves from the header (see _check_size), before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None

# Formats an upload may be in; PIL can open more (EPS, PSD...) that we have no reason to parse.
ALLOWED_FORMATS = {"PNG", "JPEG", "MPO", "BMP", "DIB", "GIF", "WEBP", "TIFF"}
ALLOWED_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff")


def decode(image, config: DecodeConfig = DecodeConfig()) -> np.ndarray:
    """Return ``image`` as a uint8 array, (H, W) grey or (H, W, 4) RGBA.

    Parameters
    ----------
    image : numpy.ndarray | PIL.Image.Image | bytes | bytearray | memoryview
        A uint8 array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); a PIL image; or the raw bytes of
        an image file (PNG, JPEG, BMP, GIF, WebP, TIFF).
    config : DecodeConfig
        Size limits.

    Raises
    ------
    InvalidImageError
        With a message meant for the person who supplied the image.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _from_pil(_open_bytes(bytes(image), config), config)
    if isinstance(image, Image.Image):
        _check_size(*image.size, config)
        return _from_pil(image, config)
    if isinstance(image, np.ndarray):
        return _from_array(image, config)
    raise InvalidImageError(
        f"cannot read a {type(image).__name__} as an image: give an image file, a PIL image "
        "or a numpy array"
    )


def _check_size(width: int, height: int, config: DecodeConfig) -> None:
    if width < 1 or height < 1:
        raise InvalidImageError(f"the image is empty ({width}x{height} pixels)")
    if width * height > config.max_pixels:
        raise InvalidImageError(
            f"image too large: {width}x{height} pixels, the limit is "
            f"{config.max_pixels:,} pixels (about {_limit_example(config)})"
        )


def _limit_example(config: DecodeConfig) -> str:
    side = int((config.max_pixels * 4 / 3) ** 0.5)
    return f"{side}x{side * 3 // 4}"


def _open_bytes(data: bytes, config: DecodeConfig) -> Image.Image:
    if not data:
        raise InvalidImageError("the file is empty")
    if len(data) > config.max_bytes:
        raise InvalidImageError(
            f"file too large: {len(data) / 1e6:.1f} MB, "
            f"the limit is {config.max_bytes / 1e6:.0f} MB"
        )
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidImageError(
            "not an image file: upload a PNG, JPEG, BMP, GIF, WebP or TIFF picture"
        ) from None
    except Exception:  # PIL raises many types for damaged headers
        raise InvalidImageError(
            "not a readable image file: it is damaged, cut off or not really an image"
        ) from None
    if image.format not in ALLOWED_FORMATS:
        raise InvalidImageError(
            f"{image.format} files are not supported: upload a PNG, JPEG, BMP, GIF, WebP or TIFF"
        )
    _check_size(*image.size, config)
    try:
        image.seek(0)  # animated GIF/WebP/TIFF: the first frame
        image.load()
    except Exception:
        raise InvalidImageError(
            "the image file is damaged or incomplete (it may have been cut off while copying)"
        ) from None
    return image


def _from_pil(image: Image.Image, config: DecodeConfig) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image)  # phone photos are stored sideways plus a tag
    except Exception:  # a broken EXIF block must not cost us the picture
        pass
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _from_array(_scale_to_uint8(np.asarray(image)), config)
    if mode == "1":
        image = image.convert("L")
    elif mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
    elif mode not in ("L", "RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    return _from_array(np.asarray(image), config)


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """16-bit or float pixels to 0..255, by the range they use (a 12-bit scan in 16 bits)."""
    values = values.astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise InvalidImageError("the image holds invalid (NaN or infinite) pixel values")
    top = 255.0 if values.max() <= 255 else (65535.0 if values.max() > 4095 else 4095.0)
    return np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)


def _from_array(array: np.ndarray, config: DecodeConfig) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"an image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    _check_size(array.shape[1], array.shape[0], config)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype == np.uint16:
        array = _scale_to_uint8(array)
    elif array.dtype in (np.float32, np.float64):
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise InvalidImageError("a float image array must hold values between 0 and 1")
        array = np.round(array * 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise InvalidImageError(
            f"an image array must be uint8 (or float in [0, 1]); got dtype {array.dtype}"
        )
    if array.ndim == 3 and array.shape[2] == 3:
        array = luminance(array)
    return np.ascontiguousarray(array)


def luminance(colour: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey of an (H, W, 3) RGB or (H, W, 4) RGBA uint8 image, its alpha ignored.

    ITU-R 601 luminance, as PIL's "L" (within 1 on a thousandth of pixels): coloured ink on
    paper keeps its contrast. OpenCV's conversion, the one ``preprocess`` applies to RGBA.
    """
    code = cv2.COLOR_RGBA2GRAY if colour.shape[2] == 4 else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(np.ascontiguousarray(colour), code)


def on_white(image: np.ndarray) -> np.ndarray:
    """A decoded image as a viewer shows it on a white page: (H, W) uint8 grey, an RGBA image's
    luminance with its transparent parts white. An opaque one (every canvas the app draws on)
    costs one conversion, no arithmetic."""
    if image.ndim == 2:
        return image
    grey = luminance(image)
    alpha = image[..., 3]
    if alpha.min() == 255:
        return grey
    # grey * alpha + white * (1 - alpha), in integers (alpha 0-255), rounded.
    alpha16 = alpha.astype(np.uint16)
    return ((grey * alpha16 + 255 * (255 - alpha16) + 127) // 255).astype(np.uint8)
