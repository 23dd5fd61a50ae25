"""Any digit image -> a 28x28 MNIST-style digit (white ink on black, float32 in [0, 1]), or None.

MNIST's recipe (LeCun et al.): the digit is size-normalised to fit a 20x20 box preserving its
aspect ratio, anti-aliased, and centred in 28x28 by its centre of mass. The steps before that
make real inputs look like MNIST's scans: alpha compositing, polarity, lighting, specks, stroke
width. This is the only preprocessing in the project: the app, the CLI, training and the tests
all call :func:`to_mnist`.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import DecodeConfig, PreprocessConfig
from .decode import decode, luminance
from .lighting import (
    evenly_lit,
    has_flat_background,
    is_photo_sized,
    may_show_a_desk,
    on_its_page,
)

try:  # the ufunc behind numpy.clip: the same values, without ~6 us of Python per call
    from numpy._core.umath import clip as _clip
except ImportError:  # a numpy that moved it
    _clip = np.clip

PREPROCESS = PreprocessConfig()
DECODE = DecodeConfig()
STROKE_LEVEL = 0.35  # an ink map's pixel above this is part of a stroke

# uint8 tone -> float32 tone in [0, 1] and its inverse: exactly ``tone.astype(np.float32) *
# np.float32(1 / 255)`` and ``1.0 - that``, as one table lookup (cv2.LUT) instead of two passes.
_UNIT = np.arange(256, dtype=np.float32) * np.float32(1 / 255)
_INVERSE = np.float32(1.0) - _UNIT


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
    ring = _circle_around(labels, kept, box)
    marks = [ring] if ring is not None else []
    if not marks:
        line = _line_under(labels, kept, box)
        marks = [line] if line is not None else _neighbours_pieces(labels, kept, ink.shape)
        if marks:
            with_marks = _fitted(ink, mask, box, config)
    if marks:
        kept = [label for label in kept if label not in marks]
        mask = components_mask(labels, count, kept)
        box = cv2.boundingRect(mask)
    return _fitted(ink, mask, box, config), with_marks


def _fitted(ink, mask, box, config: PreprocessConfig):
    """The strokes in ``mask`` (its bounding ``box`` given) fitted to MNIST's frame, or None
    when they are a speck."""
    width = _speck_or_stroke_width(mask, box, ink.shape, config)
    return None if width is None else _fit(ink, mask, box, width, config)


# A ring drawn round a digit (an answer circled on a worksheet) is taken out when what it holds
# is at least this share of its height, or of its width when at least half as tall as wide (a
# dot in a 0 is not a digit, nor a smiley's mouth; a wide 5 in a roomy ring is ~0.28 of its
# height and ~0.4 of its width), in one piece once its strokes are thickened by this share of
# the ring's height (a smiley's eyes and mouth are apart), and the ring is round: its
# outline's circularity, 4 pi area / perimeter^2, at least this (an ellipse twice as tall as
# wide: 0.9; an eye's pointed outline, a cloud's bumps less).
CIRCLED_MIN_SHARE = 0.3
CIRCLED_JOIN_SHARE = 0.05
CIRCLED_MIN_ROUNDNESS = 0.8


def _circle_around(labels: np.ndarray, kept: list, box) -> int | None:
    """The stroke drawn round all the others (a circle round a digit), or None: one stroke
    reaching all four sides of the ink's bounding ``box``, closed, and every other stroke
    inside it without touching it, together at least CIRCLED_MIN_SHARE of its height or (at
    least half as tall as wide) of its width. The network reads a circled digit as a 0; no
    digit is a ring holding a separate stroke."""
    if len(kept) < 2:
        return None
    left, top, width, height = box
    inside = labels[top : top + height, left : left + width]
    edges = (inside[0], inside[-1], inside[:, 0], inside[:, -1])
    on_every_edge = set(np.unique(edges[0])).intersection(*(np.unique(edge) for edge in edges[1:]))
    rings = [label for label in kept if label in on_every_edge]
    if len(rings) != 1:
        return None
    ring = np.equal(inside, rings[0]).view(np.uint8)
    contours, _ = cv2.findContours(ring, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=cv2.contourArea)
    perimeter = cv2.arcLength(outline, True)
    if 4 * np.pi * cv2.contourArea(outline) < CIRCLED_MIN_ROUNDNESS * perimeter**2:
        return None
    enclosed = np.zeros_like(ring)
    cv2.drawContours(enclosed, contours, -1, 1, cv2.FILLED)
    enclosed[ring > 0] = 0  # what the ring holds, the ring itself left out
    others = np.isin(inside, [label for label in kept if label != rings[0]])
    if not others.any() or np.any(others & (enclosed == 0)):
        return None  # a stroke outside the ring, or the ring is not closed
    _, _, held_width, held_height = cv2.boundingRect(others.view(np.uint8))
    wide = held_width >= CIRCLED_MIN_SHARE * width and held_height >= held_width / 2
    if held_height < CIRCLED_MIN_SHARE * height and not wide:
        return None
    reach = max(1, int(CIRCLED_JOIN_SHARE * height))
    joined = cv2.dilate(others.view(np.uint8), np.ones((reach, reach), np.uint8))
    if cv2.connectedComponents(joined, connectivity=8)[0] != 2:
        return None  # more than one piece inside: a face, not a digit
    return rings[0]


# A line drawn under a digit (an answer underlined) is taken out when it looks like one: a
# stroke apart, all of it below the others, straight (this many times longer than thick, and
# filling this share of the rectangle round it), no steeper than this many degrees, and under
# at least this share of the others' columns (a 2's base drawn apart often starts under its
# curve's end only). Read with the line, an underlined 0 or 7 is taken for a 2 and a 4 for a 1
# (robustness_sweep "underlined": 63% read right). A 2's base drawn straight under all of it
# passes every test, so the classifier reads both and keeps the surer (fitted_digits).
UNDERLINE_MIN_LENGTH = 4.0
UNDERLINE_MIN_FILL = 0.75
UNDERLINE_MAX_SLOPE = 12.0
UNDERLINE_MIN_SPAN = 0.8


def _line_under(labels: np.ndarray, kept: list, box) -> int | None:
    """The straight stroke drawn under all the others (an underline), or None. No MNIST
    training digit but one underlined 5 has one, nor any of our canvases, scans or not-digits."""
    if len(kept) < 2:
        return None
    left, top, width, height = box
    inside = labels[top : top + height, left : left + width]
    rows = {label: np.flatnonzero(np.equal(inside, label).any(axis=1)) for label in kept}
    lowest = max(kept, key=lambda label: rows[label][0])
    others = [label for label in kept if label != lowest]
    if rows[lowest][0] <= max(rows[label][-1] for label in others):
        return None  # beside or among the others, not under them
    points = cv2.findNonZero(np.equal(inside, lowest).view(np.uint8))
    sides = cv2.minAreaRect(points)[1]
    length, thickness = max(sides), max(1.0, min(sides))
    if (
        length < UNDERLINE_MIN_LENGTH * thickness
        or len(points) < UNDERLINE_MIN_FILL * sides[0] * sides[1]
    ):
        return None  # a curve, a dot or a blob
    line_left, _, line_width, line_height = cv2.boundingRect(points)
    if line_height - thickness > np.tan(np.radians(UNDERLINE_MAX_SLOPE)) * line_width:
        return None
    columns = np.flatnonzero(np.isin(inside, others).any(axis=0))
    under = (columns >= line_left) & (columns < line_left + line_width)
    if np.count_nonzero(under) < UNDERLINE_MIN_SPAN * len(columns):
        return None
    return lowest


# A line drawn under a digit and touching it is one stroke with it, which _line_under cannot
# take out (robustness_sweep "underlined": most of its misreads). It is the lowest rows of
# ink whose longest run is at least UNDERLINE_ROW_SPAN of the ink's width, with no more below
# them than their own thickness (the line's rounded lower edge), lying below
# UNDERLINE_BELOW_SHARE of the ink's height, at most UNDERLINE_THICKNESS of the height above
# it, and reaching past the strokes above it by UNDERLINE_PAST of their width on both sides
# (a 2's base starts where its diagonal ends, an L's at its stem).
UNDERLINE_ROW_SPAN = 0.8
UNDERLINE_BELOW_SHARE = 0.6
UNDERLINE_THICKNESS = 0.3
UNDERLINE_PAST = 0.05


def without_touching_underline(ink: np.ndarray) -> np.ndarray | None:
    """``ink`` (a cleaned ink map) without the straight line drawn under its strokes and
    touching them, or None when it has no such line. The line's rows go, with as many above
    them (its rounded upper edge): the strokes lose their lowest tips."""
    binary = np.greater(ink, STROKE_LEVEL).view(np.uint8)
    left, top, width, height = cv2.boundingRect(binary)
    rows = binary[top : top + height, left : left + width]
    long_rows = np.flatnonzero(longest_runs(rows) >= UNDERLINE_ROW_SPAN * width)
    if not long_rows.size:
        return None
    breaks = np.flatnonzero(np.diff(long_rows) > 1)  # the lowest unbroken band of long rows
    first, last = int(long_rows[breaks[-1] + 1 if breaks.size else 0]), int(long_rows[-1])
    band = last - first + 1
    line_top = max(0, first - band)
    if (
        height - 1 - last > band
        or first < UNDERLINE_BELOW_SHARE * height
        or height - line_top > UNDERLINE_THICKNESS * first
    ):
        return None
    above = np.flatnonzero(rows[:line_top].any(axis=0))
    margin = UNDERLINE_PAST * (above[-1] - above[0] + 1) if above.size else 0
    if not above.size or above[0] < margin or above[-1] > width - 1 - margin:
        return None
    without = ink.copy()
    without[top + line_top : top + height, left : left + width] = 0
    return without


def longest_runs(binary: np.ndarray) -> np.ndarray:
    """(H,) int: the longest horizontal run of ink in each row of a 0/1 ``binary`` image (0
    where a row has none)."""
    edges = np.diff(np.pad(binary.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # row-major order: each run's end pairs with its start
    longest = np.zeros(len(binary), np.int64)
    np.maximum.at(longest, rows, ends - starts)
    return longest


# A piece of ink at the picture's left or right side is taken for part of a neighbouring digit,
# cut by the crop, when it is at most this share of the digit's width; a cut takes a few
# strokes of each neighbour, and more pieces at the sides are texture (noise, clutter).
NEIGHBOUR_PIECE_SHARE = 0.5
MAX_NEIGHBOUR_PIECES = 6


def _neighbours_pieces(labels: np.ndarray, kept: list, shape) -> list:
    """The strokes a cut-out took of the digits beside this one (a digit cut from a written
    number or a form's row of boxes): each touches the picture's left or right side, lies
    wholly beyond the columns of the strokes that do not (the digit's) towards it, and is
    at most NEIGHBOUR_PIECE_SHARE of the digit's width or height, whichever is larger (a 1
    is narrower than its neighbours' slivers); the digit reaches neither side (a digit cut
    to its ink, as USPS and Semeion store them, reaches both). The network reads such
    slivers as strokes and refuses half of such pictures as not one digit."""
    beside, (_, _, width, height) = strokes_beside(labels, kept, shape)
    widest = NEIGHBOUR_PIECE_SHARE * max(width, height)
    return [label for label, w, side in beside if side and w <= widest]


def strokes_beside(labels: np.ndarray, kept: list, shape) -> tuple[list, tuple]:
    """The strokes in ``kept`` at the picture's left or right side
    (:func:`strokes_at_the_sides`), each as ``(label, width, side)``, ``side`` "left" or
    "right" when the stroke lies wholly beyond the other strokes' columns on that side, else
    None; and the other strokes' bounding box (x, y, width, height). ``([], (0, 0, 0, 0))``
    when no stroke is at a side, or every one is."""
    at_the_sides = strokes_at_the_sides(labels, kept)
    rest = [label for label in kept if label not in at_the_sides]
    if not at_the_sides or not rest:
        return [], (0, 0, 0, 0)
    box = cv2.boundingRect(np.isin(labels, rest).view(np.uint8))
    left, right = box[0], box[0] + box[2]
    beside = []
    for label in at_the_sides:
        x, _, w, _ = stroke_box(labels, label)
        if x == 0 and x + w <= left:
            beside.append((label, w, "left"))
        elif x + w == shape[1] and x >= right:
            beside.append((label, w, "right"))
        else:
            beside.append((label, w, None))
    return beside, box


def strokes_at_the_sides(labels: np.ndarray, kept: list) -> list:
    """The strokes in ``kept`` that reach the picture's left or right side; none when there
    are more than MAX_NEIGHBOUR_PIECES (texture: noise, clutter) or a single stroke."""
    if len(kept) < 2:
        return []
    sides = set(np.unique(labels[:, 0]).tolist()) | set(np.unique(labels[:, -1]).tolist())
    at_the_sides = [label for label in kept if label in sides]
    return at_the_sides if len(at_the_sides) <= MAX_NEIGHBOUR_PIECES else []


def stroke_box(labels: np.ndarray, label: int) -> tuple[int, int, int, int]:
    """The bounding box (x, y, width, height) of one labelled stroke."""
    return cv2.boundingRect(np.equal(labels, label).view(np.uint8))


def ink_map(image: np.ndarray, decode_config: DecodeConfig = DECODE) -> np.ndarray:
    """Decoded image -> float32 (H, W) map where ink is high, at a bounded working size."""
    if image.ndim == 3:  # RGBA
        tone, drawn = _tone(image)
        if drawn:
            # The alpha of strokes on a transparent canvas is ink by construction: no paper
            # tone to vote on, no page, no light to even. A vote would cost a fifth of such a
            # canvas' preprocessing to find the dark background it always has.
            return _to_work_size(cv2.LUT(tone, _UNIT), decode_config)
    elif image.dtype == np.uint8:
        tone = image
    else:
        tone = image.astype(np.float32) * (1 / 255)
    on_page = False  # a page on a desk, found and the desk painted paper
    if tone.dtype == np.uint8:
        if _work_scale(tone.shape, decode_config) is None:
            histogram = cv2.calcHist([tone], [0], None, [256], [0, 256]).ravel()
            if not is_photo_sized(tone.shape) or has_flat_background(histogram):
                page = None
                if is_photo_sized(tone.shape):  # a dark desk can be flat too
                    page = _page_on_a_desk(tone, histogram, _median_of_unit)
                if page is None:
                    # A canvas or a clean scan: no resize, so the map is a table of its uint8
                    # tones, and the background is judged on their own histogram (the table
                    # is increasing, so order statistics commute with it, and
                    # _levels_histogram would turn its value for tone t back into level t).
                    light = _votes_light(histogram, tone, _median_of_unit)
                    return cv2.LUT(tone, _INVERSE if light else _UNIT)
                tone, on_page = page, True
        tone = cv2.LUT(tone, _UNIT)
    photo_sized = is_photo_sized(tone.shape)
    grey = _to_work_size(tone, decode_config)
    if photo_sized:
        grey = _photo_evenly_lit(grey, on_page)
    if _light_background(grey):
        grey = 1.0 - grey  # dark ink on light paper -> MNIST's white ink on black
    return grey


def _photo_evenly_lit(grey: np.ndarray, on_page: bool) -> np.ndarray:
    """A photo-sized picture with its light made even (:func:`evenly_lit`): the desk around a
    page lying on one painted paper first (``on_page`` when already done), and nothing done
    when it has a flat background (a canvas, a clean scan)."""
    if not on_page:
        histogram = _levels_histogram(grey)
        page = _page_on_a_desk(grey, histogram, _median)
        if page is None:
            return grey if has_flat_background(histogram) else evenly_lit(grey)
        grey = page
    return evenly_lit(grey)


def _page_on_a_desk(picture: np.ndarray, histogram, median_of):
    """``picture`` with the desk around the page lying on it painted paper
    (:func:`mnist_core.lighting.on_its_page`), or None: when its 256-level ``histogram`` and
    its frame's median (taken with ``median_of``, in [0, 1]) say no desk can show, or when no
    page is found."""
    if not may_show_a_desk(histogram, 255 * median_of(_frame(picture))):
        return None
    return on_its_page(picture)


def _light_background(grey: np.ndarray) -> bool:
    """Is this dark ink on a light background? Three witnesses of the background's tone vote:
    the median (ink is a minority of pixels; MNIST: 19%), the frame (ink mostly stays inside)
    and the four corners (round digits avoid them). Each alone fails on some real input: a
    bold digit covering half the pixels, a tight scan whose "0" touches every side, a "1"
    drawn corner to corner. Tones are judged against the midpoint of p0.1 and p99.9."""
    return _votes_light(_levels_histogram(grey), grey, _median)


def _votes_light(histogram: np.ndarray, image: np.ndarray, median_of) -> bool:
    """:func:`_light_background`'s vote, given the image's 256-level ``histogram`` and how to
    take a median of its tones in [0, 1]. When the median and the frame disagree, the corners
    decide, unless the frame is a box's sides (:func:`_cut_along_a_box`): then the median."""
    darkest, median, brightest = _percentiles_of_histogram(histogram, (0.1, 50, 99.9))
    middle = (darkest + brightest) / 2
    votes = int(median > middle) + int(median_of(_frame(image)) > middle)
    if votes != 1:
        return votes == 2
    if _cut_along_a_box(_UNIT[image] > middle if image.dtype == np.uint8 else image > middle):
        return median > middle
    return median_of(_corners(image)) > middle


# A picture cut out along a form's printed box has the box's sides for its frame and its
# corners: lines of the ink's tone, each at most BOX_LINE_SHARE of the picture deep and
# BOX_LINE_FULL of the side long, with the background's tone just inside (BOX_INSIDE_CLEAR
# of the row), on at least BOX_SIDES sides. A dark margin round a bold light digit runs deeper;
# a tight crop's strokes touch a side in places, not along it.
BOX_SIDES = 2
BOX_LINE_SHARE = 0.1
BOX_LINE_FULL = 0.9
BOX_INSIDE_CLEAR = 0.7


def _cut_along_a_box(light: np.ndarray) -> bool:
    """Is the picture whose tones above the middle are ``light`` framed by a box's sides, of
    the frame's tone? Then the frame and the corners witness the box, not the background."""
    frame = _frame(light)
    frame_light = np.count_nonzero(frame) * 2 > frame.size
    sides = 0
    for side in (light, light[::-1], light.T, light.T[::-1]):
        deepest = max(1, int(BOX_LINE_SHARE * len(side)))
        toned = np.equal(side[: deepest + 2], frame_light).mean(axis=1)
        depth = int(np.argmin(toned >= BOX_LINE_FULL))
        if 0 < depth <= deepest and 1 - toned[depth : depth + 2].min() >= BOX_INSIDE_CLEAR:
            sides += 1
    return sides >= BOX_SIDES


def _frame(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def _corners(image: np.ndarray) -> np.ndarray:
    """The four corner patches, each an eighth of the shorter side (at least 1 px)."""
    patch = max(1, min(image.shape) // 8)
    return np.concatenate(
        [
            image[:patch, :patch].ravel(),
            image[:patch, -patch:].ravel(),
            image[-patch:, :patch].ravel(),
            image[-patch:, -patch:].ravel(),
        ]
    )


def _median(values: np.ndarray) -> float:
    """numpy.median's value, without its ~20 us of overhead on the few hundred values of a
    frame (a fifth of the time of a 28x28 digit's whole preprocessing)."""
    ordered = np.sort(values)
    return float(ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2


def _median_of_unit(tones: np.ndarray) -> float:
    """:func:`_median` of ``_UNIT[tones]``, the float32 sum included."""
    ordered = np.sort(tones)
    low, high = ordered[(len(ordered) - 1) // 2], ordered[len(ordered) // 2]
    return float(_UNIT[low] + _UNIT[high]) / 2


def _levels_histogram(values: np.ndarray) -> np.ndarray:
    """The 256-bin histogram of a [0, 1] map's levels (x255, clipped, truncated)."""
    levels = values * 255
    _clip(levels, 0, 255, out=levels)
    return cv2.calcHist([levels.astype(np.uint8)], [0], None, [256], [0, 256]).ravel()


def _percentiles_of_histogram(histogram: np.ndarray, percents) -> list[float]:
    """Percentiles (in [0, 1]) from a 256-level histogram: exact to 1/255, and ~10x faster
    than numpy.percentile on the small images that dominate our traffic."""
    cumulative = np.cumsum(histogram)
    ranks = np.asarray(percents, np.float64) / 100 * cumulative[-1]
    return [float(level) / 255 for level in np.searchsorted(cumulative, ranks)]


def _tone(rgba: np.ndarray) -> tuple[np.ndarray, bool]:
    """An RGBA image's tone: uint8 (the ink's alpha, or the luminance of an opaque image), or
    float32 in [0, 1] for an opaque picture with transparent margins; and whether it is
    strokes on a transparent canvas."""
    alpha8 = cv2.extractChannel(np.ascontiguousarray(rgba), 3)
    if np.count_nonzero(alpha8 > 127) < alpha8.size / 2:
        # Strokes on a transparent canvas (st_canvas' default): the ink is the alpha channel,
        # whatever its colour; white ink on transparent would vanish if composited on white.
        return alpha8, True
    grey = luminance(rgba)
    if alpha8.min() == 255:
        return grey, False
    # An opaque picture with transparent margins: put it on white, as a viewer would.
    alpha = cv2.LUT(alpha8, _UNIT)
    return cv2.LUT(grey, _UNIT) * alpha + (1.0 - alpha), False


def _work_scale(shape, decode_config: DecodeConfig):
    """(scale, interpolation) to the working size, or None when the image is already in it."""
    longest = max(shape)
    if longest > decode_config.work_side:
        return decode_config.work_side / longest, cv2.INTER_AREA
    if longest < decode_config.min_work_side:
        # Integer factor keeps the pixel grid aligned: a 28x28 MNIST digit goes through
        # this pipeline and comes back out (nearly) unchanged.
        return int(np.ceil(decode_config.min_work_side / longest)), cv2.INTER_LINEAR
    return None


def _to_work_size(grey: np.ndarray, decode_config: DecodeConfig) -> np.ndarray:
    work = _work_scale(grey.shape, decode_config)
    if work is None:
        return grey
    scale, interpolation = work
    height, width = grey.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(grey, size, interpolation=interpolation)


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
    ink8 = _clip(ink8, 0, 255, out=ink8).astype(np.uint8)
    otsu, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Below half the ink/paper split is paper; above the split's midpoint to the peak is core.
    floor = 0.5 * otsu / 255 * peak
    ceiling = max(floor + 1e-3, 0.5 * (otsu / 255 * peak + peak))
    stretched = ink - floor
    stretched /= ceiling - floor
    return _clip(stretched, 0, 1, out=stretched)


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
    return _clip(resized, 0, 1, out=resized)


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
