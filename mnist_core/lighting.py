"""A photo's uneven light -> an evenly lit page: a phone's or a hand's shadow across the paper,
a desk lamp's fall-off.

A shadow multiplies the page's light, ink and paper alike, so dividing by the paper's own
brightness takes it out and leaves the ink at the same contrast inside and outside the shadow
(subtracting a background would leave the shadowed strokes fainter). The paper's brightness is
a median over a window a third of the picture wide: ink is a minority of any such window, and
a median keeps a shadow's edge where it is, sharp or soft, where a blur or an opening either
smears it into a ridge of "ink" or cannot follow it into the corner it makes with the frame.
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
    scale = min(1.0, PAPER_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    small8 = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    window = max(3, int(max(size) * WINDOW_SHARE) | 1)
    paper8 = cv2.medianBlur(small8, window)
    deviation = small8.astype(np.int16) - paper8
    # Ink stands out from the paper around it the one way: darker on paper, lighter on a board.
    dark_ink = -np.percentile(deviation, 0.5) >= np.percentile(deviation, 99.5)
    # Light ink on a dark board is the same computation on the inverted tones.
    light = paper8.astype(np.float32) * np.float32(1 / 255)
    if not dark_ink:
        light = 1.0 - light
    light = cv2.erode(light, np.ones((PAPER_MIN_REACH, PAPER_MIN_REACH), np.uint8))
    light = np.maximum(light, max(DARKEST_PAPER * float(np.percentile(light, 95)), 1 / 255))
    if scale < 1:
        light = cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
    flat = (grey if dark_ink else 1.0 - grey) / light
    np.clip(flat, 0.0, 1.0, out=flat)
    return flat if dark_ink else 1.0 - flat
