"""A photo's uneven light -> an evenly lit page: a phone's or a hand's shadow across the paper,
a desk lamp's fall-off.

A shadow multiplies the page's light, ink and paper alike, so dividing by the paper's own
brightness takes it out and leaves the ink at the same contrast inside and outside the shadow
(subtracting a background would leave the shadowed strokes fainter). The paper's brightness is
a median over a window a third of the picture wide: ink is a minority of any such window, and
a median keeps a shadow's edge where it is, sharp or soft, where a blur or an opening either
smears it into a ridge of "ink" or cannot follow it into the corner it makes with the frame.

A sheet of paper photographed on a darker desk is found first (:func:`on_its_page`): the desk
is darker than any shadow on paper, and around a page that fills half the picture it would
be read as ink, the page as the background's hole.
"""

from __future__ import annotations

import cv2
import numpy as np

# The paper is estimated on a copy this many pixels on its longer side: lighting varies slowly,
# and OpenCV's median over a large window is fast on uint8 at this size (the whole of
# evenly_lit: ~1.2 ms on a 640x480 photo).
PAPER_SIDE = 128
# The median's window as a share of the longer side: wider than twice the boldest stroke of a
# digit that fills half the picture, so strokes never pass for paper.
WINDOW_SHARE = 1 / 3
# A picture smaller than this on its longer side is a scan or a crop of one digit, not a
# photo of a page: no shadow to take out, and a bold digit may fill most of it.
MIN_PHOTO_SIDE = 200
# A picture whose most common tone covers this share of its pixels has a flat background
# already (a canvas, a clean scan) and is left exactly as it is.
FLAT_BACKGROUND_SHARE = 0.25
# The paper is never taken as darker than this share of its brightest part. A shadow darkens
# a page by 30-60%; a region darker still is ink (the middle of a bold stroke, wider than the
# median's reach), which dividing would wipe out.
DARKEST_PAPER = 0.35
# The paper's brightness is then taken as the darkest within this many pixels of the small
# copy (~35 px of a 640 px photo). The median follows a shadow's edge to within a pixel or two
# of the copy; brighter paper on the wrong side would leave a sliver of "ink" along the edge,
# darker paper only makes the lit side's paper brighter than white, which is clipped.
PAPER_MIN_REACH = 7


# A page on a desk: the brightest large region of the picture (Otsu's threshold on the small
# copy), filling a convex four-sided outline (the digit's ink aside) that covers this share
# of the picture...
PAGE_AREA = (0.1, 0.9)
PAGE_SOLIDITY = 0.85
# ...and filling this share of the smallest rectangle round it: a sheet is a rectangle, or a
# trapezoid in perspective (0.9 when one side is 80% of the other); an ellipse fills 0.79, and
# a fat 8 on a black canvas, as bright and solid as a page, less...
PAGE_RECTANGULARITY = 0.85
# ...its four corners' quadrilateral covering this share of its outline: a sheet's sides are
# straight (our desk photos: 0.955-0.98); a fat 8's rounded outline can fill its rectangle as
# well as a sheet in perspective does, but its corners hold 0.77 of it...
PAGE_STRAIGHTNESS = 0.9
# ...at least this share of the picture's shorter side across (a bold 1 on a black canvas is
# a bright four-sided shape too, but a pen's width across)...
PAGE_MIN_WIDTH = 0.3
# ...reaching at most this share of the picture's frame and at most two of its sides (the desk
# lies around it, at least above and below or on either side; the lit part of a page half in
# shadow reaches most of the frame, or a whole side and the two beside it)...
PAGE_FRAME_SHARE = 0.35
PAGE_MAX_SIDES = 2
# ...with the desk around it at most this share of the page's brightness (a shadow darkens
# paper by 30-60%, and is not all round the lit part).
DESK_SHARE = 0.6
# The pictures worth the search: at least this share of their pixels darker than half their
# brightest tones (the desk), and at least this share brighter (the page).
DESK_MIN_SHARE = 0.1
PAGE_MIN_SHARE = 0.1


def is_photo_sized(shape) -> bool:
    """Is a picture of this shape large enough to be a photo of a page?"""
    return max(shape) >= MIN_PHOTO_SIDE


def has_flat_background(histogram: np.ndarray) -> bool:
    """Given the 256-level histogram of a picture's tones: is one tone its background, so
    that :func:`evenly_lit` has nothing to do?"""
    return float(histogram.max()) >= FLAT_BACKGROUND_SHARE * float(histogram.sum())


def evenly_lit(grey: np.ndarray) -> np.ndarray:
    """``grey`` (float32 (H, W) in [0, 1]) with the paper's light made even: paper 1.0 under
    dark ink, 0.0 under light ink (chalk on a board), the ink's contrast to it kept."""
    height, width = grey.shape
    small, small8, scale = _small_copy(grey)
    window = max(3, int(max(small.shape) * WINDOW_SHARE) | 1)
    paper8 = cv2.medianBlur(small8, window)
    reach = np.ones((PAPER_MIN_REACH, PAPER_MIN_REACH), np.uint8)
    dark_ink = _ink_is_dark(small8, paper8, reach)
    # Light ink on a dark board is the same computation on the inverted tones.
    light = paper8.astype(np.float32) * np.float32(1 / 255)
    if not dark_ink:
        light = 1.0 - light
    light = cv2.erode(light, reach)
    light = np.maximum(light, max(DARKEST_PAPER * float(np.percentile(light, 95)), 1 / 255))
    if scale < 1:
        light = cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = (grey if dark_ink else 1.0 - grey) / light
    np.clip(flat, 0.0, 1.0, out=flat)
    return flat if dark_ink else 1.0 - flat


def _ink_is_dark(small8: np.ndarray, paper8: np.ndarray, reach: np.ndarray) -> bool:
    """Is the ink darker than the paper (a pen on paper), rather than lighter (chalk on a
    board)? Ink stands out from the paper around it the one way, so the way its extreme tones
    (the darkest and the brightest 0.5%) reach furthest wins, measured twice: against the
    paper's median ``paper8``, and against its darkest and brightest within ``reach``. The
    ink is light only when both say so. Along a shadow's sharp edge the median lags a pixel or
    two, and the lit paper there, brighter than the median by the shadow's depth, outvotes a
    thin digit's ink (robustness_sweep's sharp shadows: 4.4% misread); the reach takes that
    out, but in a soft shadow's gradient it leaves the darkest 0.5% short of a tiny digit's
    ink, which the median alone sees."""
    tones = small8.astype(np.int16)
    deviation = tones - paper8
    if -np.percentile(deviation, 0.5) >= np.percentile(deviation, 99.5):
        return True
    darker, lighter = tones - cv2.erode(paper8, reach), tones - cv2.dilate(paper8, reach)
    return bool(-np.percentile(darker, 0.5) >= np.percentile(lighter, 99.5))


def _small_copy(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``grey`` (float32 in [0, 1], or uint8 tones) at most PAPER_SIDE pixels on its longer
    side, as it is and in uint8 levels, and the scale it was shrunk by (1.0: not shrunk):
    where a page's light and outline are looked at."""
    height, width = grey.shape
    scale = min(1.0, PAPER_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    if small.dtype == np.uint8:
        return small, small, scale
    return small, np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8), scale


def may_show_a_desk(histogram: np.ndarray, frame_level: float) -> bool:
    """Given a picture's 256-level histogram and the median level (0-255) of its frame (its
    outermost pixels): could it be a page lying on a darker desk, worth :func:`on_its_page`?
    The desk reaches the frame, darker than half the brightest tones, and a large share of
    the picture is dark, a large share bright. A canvas or a page filling the photo has a
    light frame."""
    cumulative = np.cumsum(histogram)
    total = float(cumulative[-1])
    brightest = int(np.searchsorted(cumulative, 0.99 * total))
    if frame_level >= brightest / 2:
        return False
    dark = float(cumulative[brightest // 2]) / total
    return DESK_MIN_SHARE <= dark <= 1 - PAGE_MIN_SHARE


def on_its_page(grey: np.ndarray) -> np.ndarray | None:
    """``grey`` (float32 (H, W) in [0, 1], or uint8 tones) with everything around the sheet
    of paper in it painted the paper's tone, or None when it shows no sheet lying on a
    darker desk."""
    height, width = grey.shape
    small, small8, scale = _small_copy(grey)
    _, bright = cv2.threshold(small8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    page = np.zeros_like(region)
    cv2.fillConvexPoly(page, hull, 1)
    area = int(page.sum())
    edges = (page[0], page[-1], page[:, 0], page[:, -1])
    frame = np.concatenate(edges)
    corners = cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True)
    _, sides, _ = cv2.minAreaRect(hull)
    if not (
        PAGE_AREA[0] <= area / page.size <= PAGE_AREA[1]
        and min(sides) >= PAGE_MIN_WIDTH * min(page.shape)
        and area >= PAGE_RECTANGULARITY * sides[0] * sides[1]
        and int(region.sum()) >= PAGE_SOLIDITY * area
        and float(frame.mean()) <= PAGE_FRAME_SHARE
        and sum(int(edge.any()) for edge in edges) <= PAGE_MAX_SIDES
        and len(corners) == 4
        and cv2.contourArea(corners) >= PAGE_STRAIGHTNESS * cv2.contourArea(hull)
        and np.median(small8[page == 0]) <= DESK_SHARE * np.median(small8[page > 0])
    ):
        return None
    # A pixel in from the outline: the page's blurred edge is neither paper nor desk.
    inside = cv2.erode(page, np.ones((3, 3), np.uint8))
    paper = np.median(small[inside > 0]).astype(grey.dtype)
    if scale < 1:
        inside = cv2.resize(inside, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.where(inside > 0, grey, paper)
