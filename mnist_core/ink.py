"""A decoded image -> its ink map: float32 (H, W), ink high, at a bounded working size.

Which tone is ink (dark on light paper, light on a dark board, a canvas' alpha), a photo's
light made even and the desk round its page painted paper (:mod:`mnist_core.lighting`), and
the resize to the working size. :mod:`mnist_core.preprocess` takes the map from here.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import DecodeConfig
from .decode import luminance
from .lighting import (
    evenly_lit,
    has_flat_background,
    is_photo_sized,
    may_show_a_desk,
    on_its_page,
)

try:  # the ufunc behind numpy.clip: the same values, without ~6 us of Python per call
    from numpy._core.umath import clip as fast_clip
except ImportError:  # a numpy that moved it
    fast_clip = np.clip

DECODE = DecodeConfig()
STROKE_LEVEL = 0.35  # an ink map's pixel above this is part of a stroke

# uint8 tone -> float32 tone in [0, 1] and its inverse: exactly ``tone.astype(np.float32) *
# np.float32(1 / 255)`` and ``1.0 - that``, as one table lookup (cv2.LUT) instead of two passes.
_UNIT = np.arange(256, dtype=np.float32) * np.float32(1 / 255)
_INVERSE = np.float32(1.0) - _UNIT


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
    fast_clip(levels, 0, 255, out=levels)
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
