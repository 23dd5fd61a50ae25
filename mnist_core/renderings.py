"""Synthetic real-world inputs made from MNIST digits, for tests and benchmarks.

Each function turns a 28x28 MNIST digit into what a user would hand the app: a drawing on a
browser canvas (any size, position, stroke width, colour, background) or a phone photo of the
digit written on paper (uneven light, paper grain, blur, JPEG). Either way the digit is redrawn
along its centre lines with one pen width, as a pen or a finger draws. They let us measure the whole
pipeline on inputs whose true label is known. The digit model never trains on them; the
number reader trains on numbers composed from MNIST *training* digits only, and every
measurement composes from the *test* digits.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def _stroke_shape(digit: np.ndarray, height: int, stroke_px: float) -> np.ndarray:
    """The digit at ``height`` px tall as a pen of ``stroke_px`` draws it (float 0..1)."""
    shape = _pen_strokes(digit, height / 20.0, stroke_px)  # MNIST digits are ~20 px tall
    # Anti-aliased edge, as a browser draws it.
    return cv2.GaussianBlur(shape.astype(np.float32), (3, 3), 0.8)


def _resized(digit: np.ndarray, scale: float) -> np.ndarray:
    return cv2.resize(
        digit.astype(np.float32) / max(float(digit.max()), 1),
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_CUBIC,
    )


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)


def _pen_strokes(digit: np.ndarray, scale: float, stroke_px: float) -> np.ndarray:
    """The digit drawn at ``scale`` with a pen ``stroke_px`` wide (uint8 0/1): its centre
    lines at the pen's width, and what is wider than MNIST's usual stroke (a filled loop, a
    blot) still filled.

    A pen or a finger on a canvas draws every stroke equally wide. Eroding or dilating
    MNIST's strokes instead changed each by the same amount: thin ones broke or vanished while
    thick ones stayed blobs, which no pen does (an 8 whose loop opened read 3)."""
    shape = (_resized(digit, scale) > 0.5).astype(np.uint8)
    # Centre lines at 8x MNIST (strokes ~20 px: ten thinning passes), then drawn at scale.
    coarse = min(8.0, scale)
    outline = shape if coarse == scale else (_resized(digit, coarse) > 0.5).astype(np.uint8)
    lines = _centre_lines(outline)
    lines = cv2.resize(lines.astype(np.float32), shape.shape[::-1])
    pen = cv2.dilate((lines > 0.2).astype(np.uint8), _disc(int(round(stroke_px / 2))))
    # MNIST strokes are ~2.5 px wide: thinned by the difference, only blots keep any ink.
    thinner_by = int(round((2.5 * scale - stroke_px) / 2))
    return pen | (cv2.erode(shape, _disc(thinner_by)) if thinner_by > 0 else shape)


def _centre_lines(shape: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a 0/1 image to one-pixel lines that keep its connections."""
    image = shape.astype(np.uint8)
    while True:
        removed = False
        for removable in _REMOVABLE:
            # Each pixel's eight neighbours as the bits of one byte, then a table lookup.
            code = cv2.filter2D(image, cv2.CV_16U, _NEIGHBOUR_BITS, borderType=cv2.BORDER_CONSTANT)
            remove = removable[code] & (image == 1)
            if remove.any():
                image[remove] = 0
                removed = True
        if not removed:
            return image


def _removable_by_neighbours() -> tuple[np.ndarray, np.ndarray]:
    """For each byte of neighbours (bit i: the i-th clockwise from the one above), may the
    pixel go in Zhang-Suen's first and second sub-step?"""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # p2 .. p9
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    count = bits.sum(axis=1)
    rises = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(axis=1)
    simple = (count >= 2) & (count <= 6) & (rises == 1)
    first = simple & ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
    second = simple & ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
    return first, second


_REMOVABLE = _removable_by_neighbours()
# filter2D correlates: where each neighbour p2 .. p9 sits around the centre (1, 1).
_NEIGHBOUR_BITS = np.zeros((3, 3), np.float32)
_CLOCKWISE = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]
for _bit, (_row, _col) in enumerate(_CLOCKWISE):
    _NEIGHBOUR_BITS[_row, _col] = 1 << _bit


def canvas_drawing(
    digit: np.ndarray,
    rng: np.random.Generator,
    size: int = 280,
    stroke_px: float | None = None,
    colour=None,
    background: str = "transparent",
):
    """An RGBA (size, size, 4) uint8 image like ``st_canvas(...).image_data``.

    background: "transparent" (the canvas default: ink only in alpha), "white" or "black".
    """
    height = int(rng.uniform(0.35, 0.9) * size)
    stroke_px = stroke_px if stroke_px is not None else rng.uniform(0.03, 0.12) * size
    shape = _stroke_shape(digit, height, stroke_px)
    canvas_alpha = np.zeros((size, size), np.float32)
    top = int(rng.integers(0, max(1, size - shape.shape[0])))
    left = int(rng.integers(0, max(1, size - shape.shape[1])))
    shape = shape[: size - top, : size - left]
    canvas_alpha[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    if colour is None:
        colour = {
            "transparent": rng.integers(0, 256, 3),
            "white": rng.integers(0, 120, 3),
            "black": rng.integers(150, 256, 3),
        }[background]
    colour = np.asarray(colour, np.float32)
    rgba = np.zeros((size, size, 4), np.float32)
    if background == "transparent":
        rgba[..., :3] = colour
        rgba[..., 3] = canvas_alpha * 255
    else:
        paper = np.full(3, 255.0 if background == "white" else 0.0, np.float32)
        rgba[..., :3] = paper + (colour - paper) * canvas_alpha[..., None]
        rgba[..., 3] = 255
    return np.round(rgba).astype(np.uint8)


def paper_photo(digit: np.ndarray, rng: np.random.Generator, size=(960, 720)) -> bytes:
    """JPEG bytes of a phone photo of the digit written in pen on paper."""
    width, height = size
    digit_height = int(rng.uniform(0.25, 0.6) * height)
    shape = _stroke_shape(digit, digit_height, rng.uniform(0.04, 0.1) * digit_height)
    ink = np.zeros((height, width), np.float32)
    top = int(rng.integers(0, height - shape.shape[0]))
    left = int(rng.integers(0, max(1, width - shape.shape[1])))
    ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape[:, : width - left]
    return paper_photo_of_ink(ink, rng)


def paper_photo_of_ink(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """JPEG bytes of pen strokes (``ink``, (H, W) in [0, 1]) photographed on paper: uneven
    light, a soft shadow, warm paper, grain, lens blur and JPEG compression."""
    height, width = ink.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(-1, 1, size=2)
    light = 0.8 + 0.15 * (direction[0] * cols / width + direction[1] * rows / height)
    shadow_centre = rng.uniform(0, 1, size=2) * (width, height)
    shadow = 0.15 * np.exp(
        -(
            ((cols - shadow_centre[0]) ** 2 + (rows - shadow_centre[1]) ** 2)
            / (2 * (0.3 * width) ** 2)
        )
    )
    paper = np.clip(light - shadow, 0.35, 1.0)
    pen = rng.uniform(0.05, 0.3, size=3).astype(np.float32)  # dark blue/black ink
    tint = np.array([1.0, 0.98, 0.93], np.float32)  # warm paper
    image = paper[..., None] * tint * (1 - ink[..., None]) + pen * paper[..., None] * ink[..., None]
    image += rng.normal(0, 0.025, size=image.shape).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.5))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image * 255, 0, 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=int(rng.integers(60, 92))
    )
    return buffer.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file bytes of a uint8 (H, W) or (H, W, C) array."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def as_paper_scan(image: np.ndarray) -> bytes:
    """PNG bytes of a white-ink-on-black digit (MNIST, USPS, Semeion) as dark ink on white."""
    return png_bytes(255 - image)


def compose_strip(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """MNIST digits side by side as one handwritten number: (32, W) uint8, white on black.

    Gaps vary from slightly touching to wide, with a little vertical wobble, as people write.
    """
    return np.max(_composed_layers(digits, rng), axis=0)


def _composed_layers(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """(n, 32, W) uint8: each digit of :func:`compose_strip` on a layer of its own."""
    crops = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        crops.append(digit[:, cols[0] : cols[-1] + 1] if len(cols) else digit)
    gaps = rng.integers(-1, 7, size=len(crops))  # -1: strokes touch
    width = sum(crop.shape[1] for crop in crops) + int(gaps[1:].sum()) + 8
    layers = np.zeros((len(crops), 32, max(width, 28)), np.uint8)
    left = 4
    for index, crop in enumerate(crops):
        if index:
            left += int(gaps[index])
        top = int(rng.integers(0, 5))
        region = layers[index, top : top + 28, left : left + crop.shape[1]]
        region[:] = crop[:, : region.shape[1]]
        left += crop.shape[1]
    return layers


def number_canvas(
    digits: list[np.ndarray], rng: np.random.Generator, width: int = 560, height: int = 280
) -> np.ndarray:
    """An RGBA canvas (transparent, as st_canvas returns it) with the number drawn on it."""
    layers = _composed_layers(digits, rng)
    scale = min(0.8 * height / layers.shape[1], 0.95 * width / layers.shape[2])
    stroke_px = rng.uniform(8, 22)
    digit_height = int(20 * scale)  # MNIST digits are ~20 px tall
    scale = digit_height / 20
    shape = np.zeros([round(side * scale) for side in layers.shape[1:]], np.float32)
    # One digit at a time, each thinned to its own centre lines, on its columns only: the
    # pen and the anti-aliasing reach this many MNIST pixels beyond its ink.
    reach = int(np.ceil((stroke_px / 2 + 3) / scale))
    for layer in layers:
        columns = np.flatnonzero(layer.any(axis=0))
        if not len(columns):
            continue
        first = max(0, columns[0] - reach)
        drawn = _stroke_shape(layer[:, first : columns[-1] + 1 + reach], digit_height, stroke_px)
        region = shape[: drawn.shape[0], round(first * scale) :][:, : drawn.shape[1]]
        np.maximum(region, drawn[: region.shape[0], : region.shape[1]], out=region)
    shape = shape[:height, :width]
    rgba = np.zeros((height, width, 4), np.uint8)
    top = int(rng.integers(0, height - shape.shape[0] + 1))
    left = int(rng.integers(0, width - shape.shape[1] + 1))
    rgba[top : top + shape.shape[0], left : left + shape.shape[1], 3] = np.round(shape * 255)
    return rgba


def number_photo(digits: list[np.ndarray], rng: np.random.Generator, zoom: int = 12) -> bytes:
    """JPEG bytes of a phone photo of the number written in pen on paper, ``zoom`` times
    MNIST's scale (12: digits ~250 px tall, as a phone frames a number)."""
    strip = compose_strip(digits, rng)
    canvas = number_canvas(digits, rng, width=strip.shape[1] * zoom, height=strip.shape[0] * zoom)
    ink = canvas[..., 3]
    return paper_photo_of_ink(ink.astype(np.float32) / 255, rng)
