"""Synthetic real-world inputs made from MNIST digits, for tests and benchmarks.

Each function turns a 28x28 MNIST digit into what a user would hand the app: a drawing on a
browser canvas (any size, position, stroke width, colour, background) or a phone photo of the
digit written on paper (uneven light, paper grain, blur, JPEG). Either way the digit is redrawn
along its centre lines with one pen width, as a pen or a finger draws. They let us measure the whole
pipeline on inputs whose true label is known. The digit model never trains on them; the
number reader trains on numbers composed from MNIST *training* digits only, and every
measurement composes from the *test* digits.

:func:`hard_canvas_drawing`, :func:`flagged_one_canvas` and :func:`crossed_seven_canvas` are
canvases as hard as real ones: European styles, squeezed or stretched digits, very thin or
very thick pens, mouse jitter. The last two owe nothing to MNIST.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from .preprocess import disc
from .styles import (
    UPSCALE,
    coarse_scan,
    crossed_seven_strokes,
    draw_paths,
    fill_box,
    flagged_one_strokes,
    hooked_nine_strokes,
    restyle,
    short_stem_four_strokes,
)


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
    pen = cv2.dilate((lines > 0.2).astype(np.uint8), disc(int(round(stroke_px / 2))))
    # MNIST strokes are ~2.5 px wide: thinned by the difference, only blots keep any ink.
    thinner_by = int(round((2.5 * scale - stroke_px) / 2))
    return pen | (cv2.erode(shape, disc(thinner_by)) if thinner_by > 0 else shape)


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


def hard_canvas_drawing(
    digit: np.ndarray, label: int, rng: np.random.Generator, size: int = 280
) -> np.ndarray:
    """An RGBA (size, size, 4) canvas like :func:`canvas_drawing`'s (transparent, ink in
    alpha) but as hard as real drawings are: half the time the digit in a European style
    (:func:`mnist_core.styles.restyle`), squeezed or stretched, slightly rotated, drawn with
    a very thin, ordinary or very thick pen along jittery mouse strokes."""
    source, factor = digit, 8  # centre lines at 8x MNIST: strokes ~20 px wide to thin
    if rng.random() < 0.5:
        styled = restyle(digit, label, rng)
        if styled is not None:
            source, factor = styled, 8 // UPSCALE
    segments = _centre_line_segments(source, factor)
    return _jittery_canvas(segments, rng, size, **(_ONE_LIMITS if label == 1 else {}))


def flagged_one_canvas(rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """A European 1 (a long flag, half the time a base) drawn from scratch on a canvas, as
    :func:`hard_canvas_drawing` draws: owes nothing to MNIST, so it measures honestly."""
    return _jittery_canvas(_polyline_segments(flagged_one_strokes(rng)), rng, size, **_ONE_LIMITS)


def short_stem_four_canvas(rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """A European 4 (its stem starting at the bar) drawn from scratch on a canvas, as
    :func:`flagged_one_canvas`."""
    return _jittery_canvas(_polyline_segments(short_stem_four_strokes(rng)), rng, size)


def crossed_seven_canvas(rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """A European 7 (its stem crossed) drawn from scratch on a canvas, as
    :func:`flagged_one_canvas`."""
    return _jittery_canvas(_polyline_segments(crossed_seven_strokes(rng)), rng, size)


def hooked_nine_canvas(rng: np.random.Generator, size: int = 280) -> np.ndarray:
    """An Italian 9 (its tail curling back left) drawn from scratch on a canvas, as
    :func:`flagged_one_canvas`."""
    return _jittery_canvas(_polyline_segments(hooked_nine_strokes(rng)), rng, size)


def _centre_line_segments(image: np.ndarray, factor: int) -> np.ndarray:
    """(K, 2, 2) x, y segments joining neighbouring pixels of the centre lines of ``image``
    upscaled ``factor`` times: the digit as pen paths, which any map can then bend."""
    lines = _centre_lines((_resized(image, factor) > 0.5).astype(np.uint8))
    rows, cols = np.nonzero(lines)
    node = np.full((lines.shape[0] + 2, lines.shape[1] + 2), -1)
    node[rows + 1, cols + 1] = np.arange(len(rows))
    starts, ends = [], []
    for row_step, col_step in ((0, 1), (1, 0), (1, 1), (1, -1)):
        neighbour = node[rows + 1 + row_step, cols + 1 + col_step]
        starts.append(np.flatnonzero(neighbour >= 0))
        ends.append(neighbour[neighbour >= 0])
    edges = np.stack([np.concatenate(starts), np.concatenate(ends)], axis=1)
    points = _smoothed(np.stack([cols, rows], axis=1).astype(np.float64), edges)
    return points[edges]


def _smoothed(points: np.ndarray, edges: np.ndarray, passes: int = 40) -> np.ndarray:
    """Centre-line pixels each moved towards the mean of its neighbours (ends stay): a
    pixel path zigzags by a pixel, which a wide pen turns into lumps along its edges."""
    degree = np.bincount(edges.ravel(), minlength=len(points))
    for _ in range(passes):
        total = points.copy()
        np.add.at(total, edges[:, 0], points[edges[:, 1]])
        np.add.at(total, edges[:, 1], points[edges[:, 0]])
        moved = total / (degree + 1)[:, None]
        points = np.where((degree > 1)[:, None], moved, points)
    return points


def _polyline_segments(paths, step: float = 0.01) -> np.ndarray:
    """(K, 2, 2) segments ``step`` long along the polylines ``paths``: short enough for the
    jitter to bend them."""
    segments = []
    for path in paths:
        lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(lengths)])
        places = np.linspace(0, along[-1], max(2, int(along[-1] / step) + 1))
        points = np.stack([np.interp(places, along, path[:, axis]) for axis in (0, 1)], 1)
        segments.append(np.stack([points[:-1], points[1:]], 1))
    return np.concatenate(segments)


# Turning a 1 clockwise or widening it flattens its flag: a stem leaning right under a flat
# flag is a 7 (and even a plain 1 leaning far right reads as one), so 1s turn and widen less.
_ONE_LIMITS = {"rotation": (-20.0, 5.0), "widening": (0.6, 1.15)}


def _jittery_canvas(
    segments: np.ndarray,
    rng: np.random.Generator,
    size: int,
    rotation: tuple[float, float] = (-20.0, 20.0),
    widening: tuple[float, float] = (0.6, 1.5),
) -> np.ndarray:
    """The pen paths ``segments`` squeezed or stretched (width x 0.6-1.5), rotated by up to
    20 degrees, drawn 35-90% of the canvas tall with a pen 2-4 px, 3-12% of the canvas or
    30-40 px wide, wobbling like a mouse; RGBA, ink in alpha, in a random colour."""
    points = segments.reshape(-1, 2) - segments.reshape(-1, 2).mean(axis=0)
    angle = np.deg2rad(rng.uniform(*rotation))  # clockwise on screen
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (points * (rng.uniform(*widening), 1.0)) @ turn.T
    pen = [rng.uniform(2, 4), rng.uniform(0.03, 0.12) * size, rng.uniform(30, 40)][rng.integers(3)]
    height = max(rng.uniform(0.35, 0.9), min(0.9, 5 * pen / size)) * size
    extent = np.ptp(points, axis=0)
    scale = min(height / extent[1], (size - 1.2 * pen - 8) / max(extent[0], 1e-6))
    points = _mouse_jitter(points * scale, height, rng)
    points -= points.min(axis=0)
    # OpenCV's round pen ends and anti-aliasing reach up to 0.55 pen + 2 px beyond the paths.
    margin = 0.6 * pen + 4
    points *= min(1.0, (size - 2 * margin) / np.ptp(points, axis=0).max())  # jitter grew it
    room = np.maximum(size - 2 * margin - np.ptp(points, axis=0), 0)
    points += margin + rng.uniform(0, 1, size=2) * room
    ink = np.zeros((size, size), np.uint8)
    draw_paths(ink, list(points.reshape(-1, 2, 2)), int(round(pen)))
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3)
    rgba[..., 3] = ink
    return rgba


def _mouse_jitter(points: np.ndarray, height: float, rng: np.random.Generator) -> np.ndarray:
    """``points`` moved by a smooth random wobble (three waves 25-80% of the digit's height
    long, each up to 4% of its length high: a short wave as high as a long one turns a wide
    pen's stroke into a string of beads) and half the time by one or two creases (corners
    where a stroke crosses them), as a hand steering a mouse draws."""
    moved = points.copy()
    for _ in range(3):
        length = rng.uniform(0.25, 0.8) * height
        direction, push = rng.normal(size=(2, 2))
        wave = direction / np.linalg.norm(direction) * 2 * np.pi / length
        push *= rng.uniform(0, 0.04) * length / np.linalg.norm(push)
        moved += np.sin(points @ wave + rng.uniform(0, 2 * np.pi))[:, None] * push
    for _ in range(rng.integers(1, 3) if rng.random() < 0.5 else 0):
        normal = rng.normal(size=2)
        normal /= np.linalg.norm(normal)
        across = points @ normal - rng.uniform(-0.3, 0.3) * height
        half_width = rng.uniform(0.1, 0.2) * height
        tent = np.maximum(0, half_width - np.abs(across)) * rng.uniform(-0.3, 0.3)
        moved += tent[:, None] * np.array([-normal[1], normal[0]])
    return moved


def paper_photo(
    digit: np.ndarray, rng: np.random.Generator, size=(960, 720), cast_shadow: bool = False
) -> bytes:
    """JPEG bytes of a phone photo of the digit written in pen on paper; with ``cast_shadow``, the
    shadow of the phone or a hand falls across the page (:func:`paper_photo_of_ink`)."""
    width, height = size
    digit_height = int(rng.uniform(0.25, 0.6) * height)
    shape = _stroke_shape(digit, digit_height, rng.uniform(0.04, 0.1) * digit_height)
    ink = np.zeros((height, width), np.float32)
    top = int(rng.integers(0, height - shape.shape[0]))
    left = int(rng.integers(0, max(1, width - shape.shape[1])))
    ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape[:, : width - left]
    return paper_photo_of_ink(ink, rng, cast_shadow)


def paper_photo_of_ink(
    ink: np.ndarray, rng: np.random.Generator, cast_shadow: bool = False
) -> bytes:
    """JPEG bytes of pen strokes (``ink``, (H, W) in [0, 1]) photographed on paper: uneven
    light, a soft shadow, warm paper, grain, lens blur and JPEG compression. With
    ``cast_shadow``, a cast shadow too: a straight edge anywhere across the middle of the page,
    at any angle, from nearly sharp to soft (its penumbra 0.5-3% of the width), 30-60% darker
    beyond it."""
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
    if cast_shadow:  # drawn after the rest, so the pictures without one stay as they were
        paper *= 1.0 - rng.uniform(0.3, 0.6) * _shadow_edge(rows, cols, rng)
    pen = rng.uniform(0.05, 0.3, size=3).astype(np.float32)  # dark blue/black ink
    tint = np.array([1.0, 0.98, 0.93], np.float32)  # warm paper
    image = paper[..., None] * tint * (1 - ink[..., None]) + pen * paper[..., None] * ink[..., None]
    image += rng.normal(0, 0.025, size=image.shape).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.6, 1.5))
    pixels = np.clip(image * 255, 0, 255).astype(np.uint8)
    return jpeg_bytes(pixels, quality=int(rng.integers(60, 92)))


def _shadow_edge(rows: np.ndarray, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0 (lit) to 1 (in shadow) over the picture's grid: a straight edge through a point in
    the middle 60% of the picture, its penumbra a logistic ramp."""
    height, width = rows.shape
    through = rng.uniform(0.2, 0.8, size=2) * (width, height)
    angle = rng.uniform(0, 2 * np.pi)
    softness = rng.uniform(0.005, 0.03) * width
    distance = np.cos(angle) * (cols - through[0]) + np.sin(angle) * (rows - through[1])
    return 1.0 / (1.0 + np.exp(np.clip(-distance / softness, -60, 60)))


def form_scan(digit: np.ndarray, label: int, rng: np.random.Generator) -> bytes:
    """PNG bytes of a digit as a form reader stores it: half the time in a European style,
    stretched to fill its box both ways three times in four (the aspect lost), then shrunk
    and often binarised (:func:`~mnist_core.styles.coarse_scan`); dark on white."""
    source = digit
    if rng.random() < 0.5:
        styled = restyle(digit, label, rng)
        source = styled if styled is not None else digit
    if rng.random() < 0.75:
        source = fill_box(source)
    return as_paper_scan(coarse_scan(source, rng))


def boxed_form_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """PNG bytes of a digit written in a form's printed box, scanned and cut out along the box:
    the box's four sides (or, cut a little inside it, two or three of them), printed lighter
    or as dark as the pen, the digit anywhere inside and sometimes over a side; dark on white,
    binarised half the time."""
    side = int(rng.integers(48, 121))  # the scan's pixels across the box
    line = max(1, int(round(side * rng.uniform(0.01, 0.04))))
    shade = rng.uniform(0.45, 1.0)
    digit_height = int(side * rng.uniform(0.55, 0.9))
    shape = _stroke_shape(digit, digit_height, digit_height * rng.uniform(0.06, 0.14))
    shape = shape[:side, :side]
    ink = np.zeros((side, side), np.float32)
    top, left = (int(rng.integers(0, side - extent + 1)) for extent in shape.shape)
    ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    frame = np.zeros_like(ink)
    cv2.rectangle(frame, (0, 0), (side - 1, side - 1), float(shade), 2 * line)
    ink = np.maximum(ink, frame)
    # The cut: a few pixels outside the box on each side, or inside it (that side's line gone).
    margin = line + 3
    cuts = margin + rng.integers(-margin, 2 * line + 1, size=4)
    padded = side + 2 * margin
    ink = np.pad(ink, margin)[cuts[0] : padded - cuts[1], cuts[2] : padded - cuts[3]]
    ink = cv2.GaussianBlur(ink, (3, 3), 0.6)
    if rng.random() < 0.5:
        ink = (ink > rng.uniform(0.3, 0.5)).astype(np.float32)
    return png_bytes((255 * (1 - ink)).astype(np.uint8))


def cut_from_a_row(digit: np.ndarray, neighbours, rng: np.random.Generator) -> bytes:
    """PNG bytes of a digit cut out of a written row (a number, a form's comb of boxes) with
    the cut reaching 1-5 px (at MNIST's scale) into the digits beside it, ``neighbours``
    (left, right): slivers of them at the picture's sides. Scanned at 2-4x, dark on white,
    binarised half the time."""

    def inked_columns(image):
        columns = np.flatnonzero(image.max(axis=0) > 30)
        return image[:, columns[0] : columns[-1] + 1]

    left, middle, right = (inked_columns(image) for image in (neighbours[0], digit, neighbours[1]))
    gap = int(rng.integers(2, 7))
    space = np.zeros((digit.shape[0], gap), np.uint8)
    row = np.concatenate([left, space, middle, space, right], axis=1)
    start, reach = left.shape[1] + gap, gap + int(rng.integers(1, 6))
    cut = row[:, max(0, start - reach) : start + middle.shape[1] + reach]
    scale = float(rng.uniform(2, 4))
    scanned = cv2.resize(cut, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        scanned = np.where(scanned > rng.uniform(80, 150), 255, 0).astype(np.uint8)
    return as_paper_scan(scanned)


def ruled_paper_photo(digit: np.ndarray, rng: np.random.Generator, size=(960, 720)) -> bytes:
    """JPEG bytes of a phone photo of the digit written on ruled paper (or, one time in three,
    squared paper): printed lines fainter and thinner than the pen across the whole picture,
    the digit sitting on one rule and crossing the next."""
    width, height = size
    spacing = int(rng.uniform(0.12, 0.2) * height)
    digit_height = int(spacing * rng.uniform(1.1, 1.8))
    shape = _stroke_shape(digit, digit_height, rng.uniform(0.05, 0.1) * digit_height)
    ink = np.zeros((height, width), np.float32)
    rules = np.arange(int(rng.integers(0, spacing)), height, spacing)
    shade, thickness = rng.uniform(0.3, 0.6), int(rng.integers(1, 4))
    for row in rules:
        cv2.line(ink, (0, int(row)), (width - 1, int(row)), float(shade), thickness)
    if rng.random() < 1 / 3:
        for column in range(int(rng.integers(0, spacing)), width, spacing):
            cv2.line(ink, (column, 0), (column, height - 1), float(shade), thickness)
    baseline = int(rng.choice(rules[(rules > shape.shape[0]) & (rules < height - 4)]))
    top = baseline - shape.shape[0] + int(rng.integers(0, 5))
    left = int(rng.integers(0, max(1, width - shape.shape[1])))
    region = ink[top : top + shape.shape[0], left : left + shape.shape[1]]
    np.maximum(region, shape[: region.shape[0], : region.shape[1]], out=region)
    return paper_photo_of_ink(ink, rng)


def desk_photo(digit: np.ndarray, rng: np.random.Generator, size=(960, 720)) -> bytes:
    """JPEG bytes of a phone photo of a sheet of paper lying turned on a darker desk (8-35% of
    the paper's light), covering a quarter to two thirds of the picture, the digit on it."""
    width, height = size
    desk = np.float32(rng.uniform(0.08, 0.35)) * np.array([1.0, 0.85, 0.7], np.float32)
    sheet_size = (int(width * rng.uniform(0.45, 0.75)), int(height * rng.uniform(0.5, 0.85)))
    centre = (width / 2 + rng.normal(0, 40), height / 2 + rng.normal(0, 30))
    corners = cv2.boxPoints((centre, sheet_size, rng.uniform(-12, 12))).astype(np.int32)
    sheet = np.zeros((height, width), np.float32)
    cv2.fillConvexPoly(sheet, corners, 1.0)
    digit_height = int(min(sheet_size) * rng.uniform(0.3, 0.6))
    shape = _stroke_shape(digit, digit_height, rng.uniform(0.05, 0.1) * digit_height)
    ink = np.zeros((height, width), np.float32)
    top, left = int(centre[1] - shape.shape[0] / 2), int(centre[0] - shape.shape[1] / 2)
    ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    page = rng.uniform(0.8, 0.95) * (1 - ink) + 0.15 * ink
    image = (desk * (1 - sheet[..., None]) + (sheet * page)[..., None]) * 255
    image += rng.normal(0, 5, image.shape)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
    return jpeg_bytes(np.clip(blurred, 0, 255).astype(np.uint8), quality=85)


def specks(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Blank RGBA canvases with one stray dot or short dab, the way a tap leaves one."""
    result = []
    for _ in range(count):
        side = int(rng.integers(200, 420))
        canvas = np.zeros((side, side, 4), np.uint8)
        centre = tuple(int(v) for v in rng.integers(20, side - 20, 2))
        radius = int(rng.integers(2, 15))
        end = (centre[0] + int(rng.integers(-radius, radius + 1)), centre[1])
        cv2.line(canvas, centre, end, (0, 0, 0, 255), 2 * radius)
        result.append(canvas)
    return result


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file bytes of a uint8 (H, W) or (H, W, C) array."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    """JPEG file bytes of a uint8 (H, W) or (H, W, 3) array, at ``quality`` (1-95)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
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


def number_photo(
    digits: list[np.ndarray], rng: np.random.Generator, zoom: int = 12, cast_shadow: bool = False
) -> bytes:
    """JPEG bytes of a phone photo of the number written in pen on paper, ``zoom`` times
    MNIST's scale (12: digits ~250 px tall, as a phone frames a number); ``cast_shadow``: as
    :func:`paper_photo_of_ink`."""
    strip = compose_strip(digits, rng)
    canvas = number_canvas(digits, rng, width=strip.shape[1] * zoom, height=strip.shape[0] * zoom)
    ink = canvas[..., 3]
    return paper_photo_of_ink(ink.astype(np.float32) / 255, rng, cast_shadow)


def composed_numbers(images: np.ndarray, labels: np.ndarray, count: int, render, seed: int):
    """``count`` (text, rendered image) pairs: numbers of 2 to 6 distinct random digits drawn
    from ``images`` (labelled ``labels``), each rendered by ``render(digits, rng)``
    (:func:`number_canvas`, :func:`number_photo`). The same seed gives the same numbers."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        picks = rng.choice(len(images), int(rng.integers(2, 7)), replace=False)
        yield "".join(str(int(label)) for label in labels[picks]), render(list(images[picks]), rng)
