"""Any digit image -> a 28x28 MNIST-style digit (white ink on black, float32 in [0, 1]), or None.

MNIST's recipe (LeCun et al.): the digit is size-normalised to fit a 20x20 box preserving its
aspect ratio, anti-aliased, and centred in 28x28 by its centre of mass. The steps before that
make real inputs look like MNIST's scans: alpha compositing, polarity, lighting
(:mod:`mnist_core.ink`), background, contrast, specks, marks round the digit
(:mod:`mnist_core.marks`), stroke width. This is the only preprocessing in the project: the
app, the CLI, training and the tests all call :func:`to_mnist`.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import marks
from .config import DecodeConfig, PreprocessConfig
from .decode import decode
from .ink import DECODE, STROKE_LEVEL, fast_clip, ink_map

PREPROCESS = PreprocessConfig()


def to_mnist(image, config: PreprocessConfig = PREPROCESS, decode_config: DecodeConfig = DECODE):
    """Return the MNIST-style (28, 28) float32 digit in ``image``, or None when it holds none.

    Parameters
    ----------
    image : numpy.ndarray | PIL.Image.Image | bytes
        See :func:`mnist_core.decode.decode` for what is accepted.

    Raises
    ------
    InvalidImageError
        When ``image`` cannot be read as an image.
    """
    ink = cleaned_ink(image, config, decode_config)
    return None if ink is None else clean_ink_to_mnist(ink, config)


def cleaned_ink(image, config: PreprocessConfig = PREPROCESS, decode_config: DecodeConfig = DECODE):
    """The first half of :func:`to_mnist`: ``image`` -> its cleaned ink map
    (:func:`clean_ink`), or None when it holds no ink."""
    return clean_ink(ink_map(decode(image, decode_config), decode_config), config)


def ink_to_mnist(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """The second half of :func:`to_mnist`: an ink map (ink high) -> 28x28 digit or None."""
    ink = clean_ink(ink, config)
    return None if ink is None else clean_ink_to_mnist(ink, config)


def clean_ink_to_mnist(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """The last steps of :func:`to_mnist`: a cleaned ink map (:func:`clean_ink`) -> 28x28
    digit, or None when only specks are left."""
    return fitted_digits(ink, config)[0]


def fitted_digits(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """:func:`clean_ink_to_mnist` and, when a line under the digit or pieces of its
    neighbours were taken out, the digit with them left in (else None): a 2 whose base was
    drawn as a second stroke looks underlined, a 4's stem drawn apart may look like a piece of
    a neighbour, and only the reader can tell (:meth:`DigitClassifier.predict` reads both)."""
    # digit_mask then fit_to_mnist_frame, with the mask's box and stroke width found once.
    labels, count, kept = ink_components(ink, config)
    if not kept:
        return None, None
    mask = components_mask(labels, count, kept)
    box = cv2.boundingRect(mask)
    # A ring round the digit, a line under it, or what a cut-out took of the digits beside
    # it: marks a reader looks past.
    with_marks = None
    ring = marks.circle_around(labels, kept, box)
    taken = [ring] if ring is not None else []
    if not taken:
        line = marks.line_under(labels, kept, box)
        taken = [line] if line is not None else marks.neighbours_pieces(labels, kept, ink.shape)
        if taken:
            with_marks = _fitted(ink, mask, box, config)
    if taken:
        kept = [label for label in kept if label not in taken]
        mask = components_mask(labels, count, kept)
        box = cv2.boundingRect(mask)
    return _fitted(ink, mask, box, config), with_marks


def _fitted(ink, mask, box, config: PreprocessConfig):
    """The strokes in ``mask`` (its bounding ``box`` given) fitted to MNIST's frame, or None
    when they are a speck."""
    width = _speck_or_stroke_width(mask, box, ink.shape, config)
    return None if width is None else _fit(ink, mask, box, width, config)


def clean_ink(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """An ink map with its background removed and its contrast normalised; None when it
    holds no ink. What a digit and a number are both cut from."""
    return normalise_contrast(remove_background(ink), config)


def remove_background(ink: np.ndarray) -> np.ndarray:
    """Subtract the slowly varying background (shadows, vignetting, paper tone).

    The background is estimated by a grey-level opening (a local minimum then maximum) with a
    window a third of the image wide, larger than any stroke, on a small copy for speed.
    Where that opening is zero everywhere (strokes on a clean canvas or scan: no window-wide
    patch is inked throughout), the subtraction changes nothing and ``ink`` itself is
    returned when it holds no negative value.
    """
    height, width = ink.shape
    small_side = 48
    scale = small_side / max(height, width)
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    window = max(3, (max(ink.shape if scale >= 1 else small_size) // 3) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    non_negative = float(ink.min()) >= 0
    # Worth it on a canvas; on a small image (an upscaled MNIST digit) the resize is cheaper.
    if (
        ink.size > 4 * small_side**2
        and non_negative
        and _opening_surely_zero(ink, small_size, kernel)
    ):
        return ink
    if scale >= 1:
        small = ink
    else:
        small = cv2.resize(ink, small_size, interpolation=cv2.INTER_AREA)
    background = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    if non_negative and not background.any():
        return ink  # ink - min(0, ink), clipped at 0, is ink
    background = cv2.blur(background, (window, window))
    if small is not ink:
        background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    # The blur lets the estimate creep up beside strokes; never count it above the pixel itself.
    result = ink - np.minimum(background, ink)
    return np.maximum(result, 0, out=result)


def _opening_surely_zero(ink: np.ndarray, small_size, kernel: np.ndarray) -> bool:
    """Without shrinking ``ink`` (its INTER_AREA resize is most of remove_background's time on
    a canvas): is the opening of the shrunk copy zero everywhere?

    A small pixel is non-zero only if some ink pixel in its source cell is: the cell of small
    column j spans source columns floor(j * s) to floor((j + 1) * s), s = width / small width
    (OpenCV's area table; one more each side for safety). A max filter over that span, read at
    each cell's start, marks every cell that may be non-zero; where the erosion of those marks
    is empty, the erosion of the small copy is zero, and so is its opening. Non-negative ink
    only (the caller checks): then "zero" and "no ink" are the same."""
    height, width = ink.shape
    marks = cv2.compare(ink, 0, cv2.CMP_GT)
    spans = []
    for source, cells in ((height, small_size[1]), (width, small_size[0])):
        step = source / cells
        starts = np.maximum(np.floor(np.arange(cells) * step).astype(np.int64) - 1, 0)
        spans.append((starts, int(np.ceil(step)) + 3))
    (rows, row_span), (cols, col_span) = spans
    near = cv2.dilate(marks, np.ones((row_span, col_span), np.uint8), anchor=(0, 0))
    cells = near[rows][:, cols]
    return not cv2.erode(cells, kernel).any()


def normalise_contrast(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """Stretch so stroke cores reach 1 and paper grain falls to 0; None when there is no ink."""
    # The strongest ink sets the scale, measured after a 3x3 box blur so that a lone hot pixel
    # cannot (a percentile would miss a thin digit covering under 1% of a photo).
    peak = float(cv2.blur(ink, (3, 3)).max())
    if peak < config.min_contrast:
        return None
    ink8 = ink * (255 / peak)
    ink8 = fast_clip(ink8, 0, 255, out=ink8).astype(np.uint8)
    otsu, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Below half the ink/paper split is paper; above the split's midpoint to the peak is core.
    floor = 0.5 * otsu / 255 * peak
    ceiling = max(floor + 1e-3, 0.5 * (otsu / 255 * peak + peak))
    stretched = ink - floor
    stretched /= ceiling - floor
    return fast_clip(stretched, 0, 1, out=stretched)


def digit_mask(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """Binary mask of the digit's strokes (specks dropped), or None when only specks remain."""
    labels, count, kept = ink_components(ink, config)
    if not kept:
        return None
    mask = components_mask(labels, count, kept)
    return None if is_speck(mask, ink.shape, config) else mask


def ink_components(ink: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """Connected strokes of an ink map: (labels, count, ids of the ones that are not specks).

    A component smaller than ``speck_ratio`` of the largest one is a speck (dust, a pen tap).
    """
    binary = np.greater(ink, STROKE_LEVEL).view(np.uint8)
    # Labels only: OpenCV's per-component statistics cost 6x the labelling itself (0.6 ms on a
    # 280x280 canvas); the areas are one bincount.
    count, labels = cv2.connectedComponents(binary, connectivity=8)
    if count <= 2:  # no ink, or one stroke: nothing to weigh it against (a canvas' usual case)
        return labels, count, list(range(1, count))
    areas = np.bincount(labels.ravel(), minlength=count)[1:]
    kept = [int(label) + 1 for label in np.flatnonzero(areas >= config.speck_ratio * areas.max())]
    return labels, count, kept


def components_mask(labels: np.ndarray, count: int, chosen) -> np.ndarray:
    """uint8 mask of the chosen component ids (a lookup table: one pass over the image)."""
    chosen = sorted(chosen)
    # One comparison is a tenth of the gather's time on a 280x280 canvas, the same 0s and 1s.
    if chosen == list(range(1, count)):
        return np.greater(labels, 0).view(np.uint8)
    if len(chosen) == 1:
        return np.equal(labels, chosen[0]).view(np.uint8)
    lookup = np.zeros(count, np.uint8)
    lookup[list(chosen)] = 1
    return lookup[labels]


def is_speck(mask: np.ndarray, image_shape, config: PreprocessConfig = PREPROCESS) -> bool:
    """Too small for the image, or a dot rather than a stroke."""
    return _speck_or_stroke_width(mask, cv2.boundingRect(mask), image_shape, config) is None


def _speck_or_stroke_width(mask, box, image_shape, config: PreprocessConfig):
    """None when the mask (its bounding ``box`` given) is a speck (:func:`is_speck`), else
    its stroke width, measured on the box alone (the same contours, a fraction of the
    pixels)."""
    left, top, width, height = box
    extent = max(width, height)
    if extent < config.min_extent * max(image_shape):
        return None
    strokes = stroke_width(mask[top : top + height, left : left + width])
    # stroke_width() of a round dot is its radius, so a dot's extent is 2 "strokes"; even a
    # short, fat "1" is longer than that.
    return None if extent < config.min_extent_strokes * strokes else strokes


# A digit has at most this many loops (an 8 two, a crossed 7 closed at its bar a third): more
# holes in its strokes are pinholes (chalk on a board, a dry pen: :func:`_pinholes`).
MAX_LOOPS = 3


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask: a stroke of length L and width w has area L*w and a
    contour about 2L long, so w ~ 2 * area / perimeter. Pinholes in the strokes
    (:func:`_pinholes`) count as ink, and their edges as no contour."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    lengths = np.array([cv2.arcLength(contour, True) for contour in contours])
    area = float(mask.sum())
    holes = np.flatnonzero(hierarchy[0][:, 3] >= 0) if contours else []
    if len(holes) <= MAX_LOOPS:  # every drawing on a canvas, MNIST's digits
        return 2.0 * area / max(float(lengths.sum()), 1.0)
    outline = float(lengths.sum() - lengths[holes].sum())
    pinholes = _pinholes([contours[index] for index in holes], area, outline)
    filled = area + sum(cv2.contourArea(contours[holes[index]]) for index in pinholes)
    lengths[holes[pinholes]] = 0
    return 2.0 * filled / max(float(lengths.sum()), 1.0)


def _pinholes(holes: list, area: float, outline: float) -> list[int]:
    """Which of the ``holes`` (inner contours, more than MAX_LOOPS of them) are pinholes in the
    strokes rather than a digit's loops: those smaller than a square half as wide as the
    strokes measure on their ``outline`` alone. Chalk on a board leaves hundreds: they made a
    17 px stroke measure 1.2 px, and the digit was thickened into a blob
    (robustness_sweep "chalk")."""
    side = area / max(outline, 1.0)  # half the width 2 * area / outline
    return [index for index, hole in enumerate(holes) if cv2.contourArea(hole) < side * side]


def fit_to_mnist_frame(ink: np.ndarray, mask: np.ndarray, config: PreprocessConfig = PREPROCESS):
    """Crop the digit, fit its longer side to the 20 px box, centre it by mass in 28x28."""
    return _fit(ink, mask, cv2.boundingRect(mask), None, config)


def _fit(ink, mask, box, strokes_px, config: PreprocessConfig):
    """:func:`fit_to_mnist_frame` given the mask's bounding box and, when known, its stroke
    width."""
    digit, strokes = _ink_crop(ink, mask, box)
    height, width = digit.shape
    scale = config.box_side / max(height, width)
    if strokes_px is None:
        strokes_px = stroke_width(strokes)
    radius = _radius(strokes_px, scale, config)
    if radius:
        # Padded first, so the thickened strokes keep their ends; the box is refitted.
        padded = cv2.copyMakeBorder(digit, *(radius,) * 4, cv2.BORDER_CONSTANT, value=0)
        digit = thicken(padded, radius)
    else:
        digit = _thinned(digit, _thinning_radius(strokes_px, scale, config))
    height, width = digit.shape
    scale = config.box_side / max(height, width)
    return _centre_by_mass(scaled_ink(digit, scale), config.out_side)


def thickening_radius(strokes: np.ndarray, scale: float, config: PreprocessConfig = PREPROCESS):
    """How many pixels to thicken ink whose stroke mask is ``strokes`` before it is scaled by
    ``scale``, so that its strokes come out ``min_stroke_px`` wide; 0 when they already do.
    A 1 px pen line shrunk to MNIST's size would fade away; MNIST's strokes are ~2-3 px."""
    return _radius(stroke_width(strokes), scale, config)


def _radius(strokes_px: float, scale: float, config: PreprocessConfig) -> int:
    width_after = strokes_px * scale
    if width_after >= config.min_stroke_px:
        return 0
    return int(np.ceil((config.min_stroke_px / scale - width_after / scale) / 2))


def _thinning_radius(strokes_px: float, scale: float, config: PreprocessConfig) -> int:
    """How many pixels to pare off each side of strokes ``strokes_px`` wide, before they are
    scaled by ``scale``, so that they would come out ``thinned_stroke_px`` wide at that scale
    (a little more: the box shrinks with them); 0 unless they would come out wider than
    ``max_stroke_px``."""
    if strokes_px * scale <= config.max_stroke_px:
        return 0
    return round((strokes_px - config.thinned_stroke_px / scale) / 2)


def thicken(ink: np.ndarray, radius: int) -> np.ndarray:
    """``ink`` dilated by a disc of ``radius`` pixels (see :func:`thickening_radius`)."""
    return cv2.dilate(ink, disc(radius))


def _thinned(digit: np.ndarray, radius: int) -> np.ndarray:
    """A cropped digit eroded by a disc of ``radius`` pixels and cropped again to what is
    left; ``digit`` itself when ``radius`` is 0 or nothing would be left."""
    if not radius:
        return digit
    thinned = cv2.erode(digit, disc(radius))
    left, top, width, height = cv2.boundingRect(np.greater(thinned, 0).view(np.uint8))
    return thinned[top : top + height, left : left + width] if width else digit


def disc(radius: int) -> np.ndarray:
    """A pen's round tip, ``radius`` pixels: the kernel that thickens or thins strokes."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


_HALO = np.ones((3, 3), np.uint8)
_HALO_REACH = 2  # the halo's dilations


def ink_crop(ink: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink inside ``mask``'s bounding box, and the mask cropped alike. The soft edges
    around the strokes are kept, but nothing from dropped specks."""
    return _ink_crop(ink, mask, cv2.boundingRect(mask))


def _ink_crop(ink, mask, box):
    left, top, width, height = box
    # The halo is dilated on the box and a margin of its reach, not the whole image: inside
    # the box it is the same (what lies beyond the margin is further than the reach).
    rows, cols = ink.shape
    top0, left0 = max(0, top - _HALO_REACH), max(0, left - _HALO_REACH)
    bottom, right = min(rows, top + height + _HALO_REACH), min(cols, left + width + _HALO_REACH)
    halo = cv2.dilate(mask[top0:bottom, left0:right], _HALO, iterations=_HALO_REACH)
    inner = (slice(top - top0, top - top0 + height), slice(left - left0, left - left0 + width))
    box_slices = (slice(top, top + height), slice(left, left + width))
    return ink[box_slices] * halo[inner], mask[box_slices]


def scaled_ink(ink: np.ndarray, scale: float) -> np.ndarray:
    """``ink`` resized by ``scale`` (area-averaged when shrinking), its peak stretched to 1."""
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(ink, size, interpolation=interpolation)
    resized /= max(float(resized.max()), 1e-6)
    return fast_clip(resized, 0, 1, out=resized)


def _centre_by_mass(boxed: np.ndarray, side: int) -> np.ndarray:
    height, width = boxed.shape
    total = boxed.sum()
    centre_row = (boxed.sum(axis=1) @ np.arange(height)) / total
    centre_col = (boxed.sum(axis=0) @ np.arange(width)) / total
    # MNIST shifted by whole pixels: centre of mass at index (14, 14), spread +-0.5 px.
    top = min(max(round(side / 2 - centre_row), 0), side - height)
    left = min(max(round(side / 2 - centre_col), 0), side - width)
    frame = np.zeros((side, side), np.float32)
    frame[top : top + height, left : left + width] = boxed
    return frame
