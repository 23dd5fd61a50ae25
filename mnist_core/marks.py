"""What a reader looks past around a digit: a ring drawn round it, a line drawn under it (apart
from it or touching it), and the slivers of its neighbours a cut-out took with it.

Most of these work on the labelled strokes of a cleaned ink map
(:func:`~mnist_core.preprocess.ink_components`) and name the strokes to take out;
:func:`~mnist_core.preprocess.fitted_digits` fits the digit without them (and, for a line or
slivers, with them too: only the reader can tell a 2's base drawn apart from an underline). A
line touching the digit is one stroke with it: :func:`without_touching_underline` cuts it off
the ink map itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from .ink import STROKE_LEVEL

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


def circle_around(labels: np.ndarray, kept: list, box) -> int | None:
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


def line_under(labels: np.ndarray, kept: list, box) -> int | None:
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


# A line drawn under a digit and touching it is one stroke with it, which line_under cannot
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


def neighbours_pieces(labels: np.ndarray, kept: list, shape) -> list:
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
