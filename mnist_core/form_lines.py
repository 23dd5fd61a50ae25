"""Printed lines around or under a digit: a form's box, a notebook's ruling.

A digit written in a form's box, or on ruled or squared paper, reaches the model with the
paper's lines as ink: the box around it, a rule through it. The network has never seen such
lines (MNIST's digits were cut out of their boxes) and rightly says the picture is not one
digit. :func:`printed_lines` finds the straight lines that run across most of the picture,
and :func:`without_lines` takes them out, mending the strokes that crossed them.

A digit can hold a straight stroke as long as its picture (a tightly cropped 7's bar, 1's
stem), so only lines that are surely printed are taken out (:func:`is_ruled`: parallel,
apart, longer than the digit), for one digit and for a number. A box cut to two sides
meeting at a corner is left as it is, and read as not a digit.
"""

from __future__ import annotations

import cv2
import numpy as np

from .preprocess import PREPROCESS, STROKE_LEVEL

# Below the strokes' STROKE_LEVEL: a printed line is often fainter than the pen.
LINE_LEVEL = 0.2
# A printed line runs across at least this share of the picture...
MIN_SPAN = 0.75
# ...and, unless it crosses nearly all of it (a rule through a photo), lies in this outer
# band, where a box's sides are when the picture is cropped to the box.
BORDER_BAND = 0.2
CROSSING_SPAN = 0.9
MAX_TILT_DEGREES = 5.0
# What is left once surely printed lines are out spans at least this share of the picture
# (a digit in a box fills most of it; on ruled paper it is one or two rules high).
MIN_DIGIT_SHARE = 0.12
# A piece of ink lying within this share of the picture's edge, along it, is a cut box side.
EDGE_BAND = 0.1
# Ruled lines reach past what is written on them: the ink left spans at most this share of
# their length.
LEFT_INK_SHARE = 0.8


def printed_lines(ink: np.ndarray) -> list:
    """The straight lines across most of ``ink`` (a cleaned ink map, float32 in [0, 1]) that
    may be printed: ``[((x0, y0, x1, y1), horizontal), ...]``, empty when there are none.
    Cheap when the ink spans under MIN_SPAN of the picture both ways (a canvas' usual case)."""
    binary = np.greater(ink, LINE_LEVEL).view(np.uint8)
    _, _, width, height = cv2.boundingRect(binary)
    if width < MIN_SPAN * ink.shape[1] and height < MIN_SPAN * ink.shape[0]:
        return []
    return [line for line in _straight_lines(binary) if _is_printed(line, binary.shape)]


def without_lines(ink: np.ndarray, lines: list) -> np.ndarray:
    """``ink`` with ``lines`` (from :func:`printed_lines`) taken out and the strokes that
    crossed them mended."""
    binary = np.greater(ink, LINE_LEVEL).view(np.uint8)
    result = ink
    for orientation in (True, False):
        band = np.zeros_like(binary)
        widest = 0
        for segment, horizontal in lines:
            if horizontal == orientation:
                thickness = _thickness(binary, segment, horizontal) + 2
                cv2.line(band, segment[:2], segment[2:], 1, thickness)
                widest = max(widest, thickness)
        if widest:
            kept = result * (1 - band)
            result = np.where(band > 0, _bridged(kept, widest, orientation), kept)
    return _without_edge_slivers(result)


def _without_edge_slivers(ink: np.ndarray) -> np.ndarray:
    """``ink`` without the thin pieces lying along its edge: what is left of a box's side that
    the cut ran along, too broken or faint to be found as a line. A digit's stroke along the
    edge joins the rest of the digit, so its piece reaches further in."""
    binary = np.greater(ink, LINE_LEVEL).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    height, width = ink.shape
    band_rows, band_cols = EDGE_BAND * height, EDGE_BAND * width
    slivers = []
    for label in range(1, count):
        left, top, box_width, box_height, _ = stats[label]
        along_side = (left + box_width <= band_cols or left >= width - band_cols) and (
            box_height >= 4 * box_width
        )
        along_top = (top + box_height <= band_rows or top >= height - band_rows) and (
            box_width >= 4 * box_height
        )
        if along_side or along_top:
            slivers.append(label)
    if not slivers:
        return ink
    return np.where(np.isin(labels, slivers), 0, ink).astype(ink.dtype)


def is_ruled(lines: list, ink: np.ndarray, stripped: np.ndarray) -> bool:
    """Whether ``lines`` (found in ``ink``) are surely printed, not a digit's strokes: two
    parallel ones apart (a box's opposite sides, a notebook's rules), each longer than the
    digit left without them (``stripped``) reaches along it. A tightly cropped Z-shaped 2
    has two parallel bars, but its stroke between them runs their whole length; a thick
    stroke found as several lines side by side is one line, not two."""
    _, _, width, height = _digit_box(stripped)
    shape = stripped.shape
    if max(width / shape[1], height / shape[0]) < MIN_DIGIT_SHARE:
        return False  # the lines took most of the ink: they were the digit's strokes
    binary = np.greater(ink, LINE_LEVEL).view(np.uint8)
    for orientation in (True, False):
        across = shape[0] if orientation else shape[1]
        placed = [
            (_position(line, shape) * across, _thickness(binary, line[0], orientation))
            for line in lines
            if line[1] == orientation
            and (width if orientation else height) <= LEFT_INK_SHARE * _length(line)
        ]
        for index, (position, thickness) in enumerate(placed):
            for other, other_thickness in placed[index + 1 :]:
                apart = abs(position - other)
                if apart >= BORDER_BAND * across and apart >= 3 * (thickness + other_thickness):
                    return True
    return False


def _digit_box(ink: np.ndarray):
    """The bounding box of the strokes a digit would be cut from (specks left out)."""
    binary = np.greater(ink, STROKE_LEVEL).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return 0, 0, 0, 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    kept = 1 + np.flatnonzero(areas >= PREPROCESS.speck_ratio * areas.max())
    left = stats[kept, 0].min()
    top = stats[kept, 1].min()
    right = (stats[kept, 0] + stats[kept, 2]).max()
    bottom = (stats[kept, 1] + stats[kept, 3]).max()
    return left, top, right - left, bottom - top


def _length(line) -> int:
    (x0, y0, x1, y1), horizontal = line
    return abs(x1 - x0) if horizontal else abs(y1 - y0)


def _position(line, shape) -> float:
    """Where the line lies across the picture, 0 at the top (left) edge to 1 at the other."""
    (x0, y0, x1, y1), horizontal = line
    return ((y0 + y1) / 2 / shape[0]) if horizontal else ((x0 + x1) / 2 / shape[1])


def _near_edge(line, shape) -> bool:
    """Within BORDER_BAND of the picture's edge across the line."""
    position = _position(line, shape)
    return min(position, 1 - position) <= BORDER_BAND


def without_ruling(ink: np.ndarray) -> np.ndarray:
    """``ink`` without its lines when they are surely printed (:func:`is_ruled`: a form's box,
    a notebook's rules, a comb field's separators), else ``ink`` itself: how a written number
    is cleaned, where a lone long line may be a digit's stroke."""
    lines = printed_lines(ink)
    if not lines:
        return ink
    stripped = without_lines(ink, lines)
    return stripped if is_ruled(lines, ink, stripped) else ink


def _straight_lines(binary: np.ndarray):
    """((x0, y0, x1, y1), horizontal) for each near-horizontal or near-vertical segment of
    ink at least MIN_SPAN of the picture long."""
    height, width = binary.shape
    shortest = MIN_SPAN * min(height, width)
    segments = cv2.HoughLinesP(
        binary,
        rho=1,
        theta=np.pi / 180,
        threshold=int(shortest / 2),
        minLineLength=shortest,
        maxLineGap=max(2, min(height, width) // 40),
    )
    for x0, y0, x1, y1 in segments.reshape(-1, 4) if segments is not None else ():
        angle = np.degrees(np.arctan2(abs(y1 - y0), abs(x1 - x0)))
        if angle <= MAX_TILT_DEGREES:
            yield (int(x0), int(y0), int(x1), int(y1)), True
        elif angle >= 90 - MAX_TILT_DEGREES:
            yield (int(x0), int(y0), int(x1), int(y1)), False


def _is_printed(line, shape) -> bool:
    height, width = shape
    span = _length(line) / (width if line[1] else height)
    return span >= CROSSING_SPAN or (span >= MIN_SPAN and _near_edge(line, shape))


def _thickness(binary: np.ndarray, segment, horizontal: bool) -> int:
    """The line's width in pixels: the median run of ink across it, over points along it (a
    stroke crossing the line lengthens a few runs, not the median)."""
    x0, y0, x1, y1 = segment
    height, width = binary.shape
    runs = []
    for t in np.linspace(0.05, 0.95, 41):
        x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
        column = binary[:, x] if horizontal else binary[y, :]
        at = y if horizontal else x
        if not column[at]:
            continue
        start, end = at, at
        while start > 0 and column[start - 1]:
            start -= 1
        while end < len(column) - 1 and column[end + 1]:
            end += 1
        runs.append(end - start + 1)
    return int(np.median(runs)) if runs else 1


def _bridged(kept: np.ndarray, width: int, horizontal: bool) -> np.ndarray:
    """What a stroke crossing a removed band of ``width`` pixels leaves to put back: the
    closing of the ink that is left, across the band (vertical for a horizontal rule), so
    only gaps with ink on both sides are filled."""
    reach = 2 * width + 1  # cv2.line draws a band of ``width`` up to two pixels wider
    shape = (reach, 1) if horizontal else (1, reach)  # numpy's (rows, columns)
    return cv2.morphologyEx(kept, cv2.MORPH_CLOSE, np.ones(shape, np.uint8))
