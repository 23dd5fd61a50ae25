"""Synthetic real-world inputs made from MNIST digits, for tests and benchmarks.

Each function turns a 28x28 MNIST digit into what a user would hand the app: a drawing on a
browser canvas (any size, position, stroke width, colour, background) or a phone photo of the
digit written on paper (uneven light, paper grain, blur, JPEG). They let us measure the whole
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
    lines = _centre_lines((_resized(digit, coarse) > 0.5).astype(np.uint8))
    lines = cv2.resize(lines.astype(np.float32), shape.shape[::-1])
    pen = cv2.dilate((lines > 0.2).astype(np.uint8), _disc(int(round(stroke_px / 2))))
    # MNIST strokes are ~2.5 px wide: thinned by the difference, only blots keep any ink.
    thinner_by = int(round((2.5 * scale - stroke_px) / 2))
    return pen | (cv2.erode(shape, _disc(thinner_by)) if thinner_by > 0 else shape)


def _centre_lines(shape: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a 0/1 image to one-pixel lines that keep its connections."""
    image = np.pad(shape.astype(bool), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            # The eight neighbours, clockwise from the one above.
            p2, p3, p4 = image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:]
            p5, p6, p7 = image[2:, 2:], image[2:, 1:-1], image[2:, :-2]
            p8, p9 = image[1:-1, :-2], image[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            count = sum(neighbour.astype(np.uint8) for neighbour in ring[:8])
            rises = sum((~a & b).astype(np.uint8) for a, b in zip(ring, ring[1:], strict=False))
            if step == 0:
                keep_corner = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                keep_corner = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            remove = image[1:-1, 1:-1] & (count >= 2) & (count <= 6) & (rises == 1) & keep_corner
            if remove.any():
                image[1:-1, 1:-1] &= ~remove
                changed = True
    return image[1:-1, 1:-1]


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
    # One digit at a time: a stroke kept whole (see _thinned_whole) is judged within its digit.
    shape = np.max(
        [_stroke_shape(layer, int(20 * scale), stroke_px) for layer in layers], axis=0
    )  # scales by height / 20
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
