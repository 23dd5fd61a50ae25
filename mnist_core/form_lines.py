"""Printed lines around or under a digit: a form's box, a notebook's ruling.

A digit written in a form's box, or on ruled or squared paper, reaches the model with the
paper's lines as ink: the box around it, a rule through it. The network has never seen such
lines (MNIST's digits were cut out of their boxes) and rightly says the picture is not one
digit. :func:`printed_lines` finds the straight lines that run across most of the picture,
and :func:`without_lines` takes them out, mending the strokes that crossed them.

A digit can hold a straight stroke as long as its picture (a tightly cropped 7's bar, 1's
stem), so only lines that are surely printed are taken out: two parallel lines apart, longer
than the digit (:func:`is_ruled`), for one digit and for a number; for one digit also lines
thinner than the pen that wrote the rest and either joined to none of its strokes (a box cut
to one side, the digit clear of it) or meeting at the picture's corner (a box cut to two or
three sides, whatever touches it), and two lines of any width meeting at the corner that
touch no stroke and come out whole (:func:`without_ruling`). Other thin lines a stroke touches
(a digit written over its box's side) are taken out only for a second look at a picture the
model refused or read unsure (:func:`without_thin_lines`): a printed line is thinner than the
pen, and a letter's stem is as thick as the rest of the letter. Where a line is taken out,
a stroke crossing it stays, and so does one lying along it when the lines are thinner than
the pen (:func:`without_lines`).
"""

from __future__ import annotations

import cv2
import numpy as np

from .ink import STROKE_LEVEL
from .preprocess import PREPROCESS

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
# Pictures at least this many pixels on their shorter side are searched for lines at half size.
SEARCH_SIDE = 160
# A line at most this share of the pen's width (the strokes left without it) is thinner than
# the pen: printed. Lines of boxed form scans measure 0.17-0.8 of the pen; the stems of
# letters drawn across a canvas 1.0-1.2 (they are drawn with the pen).
THIN_LINE_SHARE = 0.85
# A box side a stroke lies along is as wide as ALONG_THE_LINE of its runs across it, when
# they are under LINE_UNDER_STROKE of the median run and another side of the box is as wide
# (:func:`_sides_under_strokes`).
LINE_UNDER_STROKE = 0.6
ALONG_THE_LINE = 0.25


def printed_lines(ink: np.ndarray) -> list:
    """The straight lines across most of ``ink`` (a cleaned ink map, float32 in [0, 1]) that
    may be printed: ``[((x0, y0, x1, y1), horizontal, thickness), ...]``, empty when there
    are none. Cheap when no band as narrow as a tilted line holds ink across MIN_SPAN of the
    picture (a canvas' usual case, even a digit drawn from top to bottom): the line search
    then has nothing to find."""
    return _lines_in(ink)[1]


def _lines_in(ink: np.ndarray) -> tuple[np.ndarray, list]:
    """``ink``'s mask at LINE_LEVEL, and :func:`printed_lines`' lines in it."""
    binary = np.greater(ink, LINE_LEVEL).view(np.uint8)
    search = _search_copy(binary)
    rows, columns = _line_bands(binary, search)
    return binary, _printed_lines(binary, search) if rows.size or columns.size else []


def _printed_lines(binary: np.ndarray, search) -> list:
    """The lines :func:`_is_printed` counts among those found on ``search`` (the
    :func:`_search_copy` of ``binary``) and the level ones it missed
    (:func:`_level_lines`), each with its thickness, measured once for the removal and the
    test of it."""
    found = [
        (segment, horizontal)
        for segment, horizontal in _straight_lines(search)
        if _is_printed(segment, horizontal, binary.shape)
    ]
    found += _level_lines(binary, found)
    lines = [
        (segment, horizontal, _thickness(binary, segment, horizontal))
        for segment, horizontal in found
    ]
    return [line for line in lines if not _inside_a_side(line, lines, binary.shape)]


def _inside_a_side(line, lines: list, shape) -> bool:
    """Is ``line``, one of ``lines``, a stroke inside a box's side: counted only for lying
    near the picture's edge (shorter than CROSSING_SPAN), with a parallel line between it and
    that edge, clear of it? A 2's base or a 7's bar drawn along its box's side is; a side
    found as several lines side by side, each overlapping the next, is not."""
    segment, horizontal, thickness = line
    if _length(segment, horizontal) >= CROSSING_SPAN * shape[1 if horizontal else 0]:
        return False
    across = _across(segment, horizontal)
    toward_start = _position(segment, horizontal, shape) < 0.5
    for other, parallel, other_thickness in lines:
        if parallel != horizontal:
            continue
        nearer = _across(other, parallel)
        outside = nearer < across if toward_start else nearer > across
        if outside and abs(nearer - across) > (thickness + other_thickness) / 2 + 2:
            return True
    return False


def _level_lines(binary: np.ndarray, found: list) -> list:
    """The level (exactly horizontal or vertical) lines :func:`_is_printed` counts that the
    line search missed: ``[(segment, horizontal), ...]``, one a run of adjacent rows (or
    columns) each inked along such a line with no gap longer than the search bridges. The
    probabilistic Hough search takes the pixels of every segment it tries out of the vote,
    kept or not, and a line a few pixels thick, as a scanned box's sides are, is often
    tried at a slant, found too short and lost (a 0 in its box: the top and left sides
    missed, the box kept). A run of rows the search found a line along (``found``) is
    not added again; one wider than EDGE_BAND of the picture is a bold digit's strokes."""
    bridge = np.ones((1, _max_line_gap(binary.shape) + 1), np.uint8)
    lines = []
    for horizontal in (True, False):
        along = binary if horizontal else np.ascontiguousarray(binary.T)
        closed = cv2.morphologyEx(along, cv2.MORPH_CLOSE, bridge)
        rows = np.flatnonzero(closed.sum(axis=1) >= MIN_SPAN * along.shape[1])
        for group in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1) if rows.size else ():
            if any(
                group[0] - 1 <= _across(segment, horizontal) <= group[-1] + 1
                for segment, other in found
                if other == horizontal
            ):
                continue
            if len(group) > EDGE_BAND * len(along):
                continue
            middle = int(group[len(group) // 2])
            start, end = _longest_run(closed[middle])
            segment = (start, middle, end, middle) if horizontal else (middle, start, middle, end)
            if _is_printed(segment, horizontal, binary.shape) and _near_edge(
                segment, horizontal, binary.shape
            ):
                lines.append((segment, horizontal))
    return lines


def _across(segment, horizontal: bool) -> float:
    """Where a line lies across itself, in pixels: its mean row (or column)."""
    x0, y0, x1, y1 = segment
    return (y0 + y1) / 2 if horizontal else (x0 + x1) / 2


def _longest_run(row: np.ndarray) -> tuple[int, int]:
    """The first and the last pixel of ``row``'s longest run of ink."""
    edges = np.diff(np.concatenate([[0], (row > 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest]) - 1


# A line at most MAX_TILT_DEGREES off the axis and MIN_SPAN (away from the edges,
# CROSSING_SPAN) of the picture long reaches at least this share of the picture along the axis.
_SHORTEST_EXTENT = MIN_SPAN * float(np.cos(np.radians(MAX_TILT_DEGREES)))
_CROSSING_EXTENT = CROSSING_SPAN * float(np.cos(np.radians(MAX_TILT_DEGREES)))


def _line_bands(binary: np.ndarray, search) -> tuple[np.ndarray, np.ndarray]:
    """The rows and the columns about which a line :func:`_is_printed` counts could run, each
    empty when none can. Such a line lies within a band just wide enough to hold it tilted
    MAX_TILT_DEGREES (:func:`_band_width`), and along _SHORTEST_EXTENT of the picture (away
    from its edges, _CROSSING_EXTENT: a digit's long stroke down a canvas' middle is not
    searched) with no gap longer than the line search bridges: the ink dilated across by
    the band and along by the gap, then eroded along by that extent, keeps the band's
    middle. Judged on the copy the line search uses (:func:`_search_copy`), with a band's
    width and a pixel to spare each way; dilation and the copy only lengthen runs, so no
    line is ever missed."""
    _, _, width, height = cv2.boundingRect(binary)
    copy, factor = search
    bands = []
    for horizontal, extent in ((True, width), (False, height)):
        lines_along = copy if horizontal else np.ascontiguousarray(copy.T)
        length = lines_along.shape[1]
        if extent < _SHORTEST_EXTENT * length * factor:
            bands.append(np.empty(0, np.int64))
            continue
        across = _band_width(length * factor) // factor + 2
        bridge = _max_line_gap(binary.shape) // factor + 3
        covered = cv2.dilate(lines_along, np.ones((across, bridge), np.uint8))
        reach = np.ones((1, max(1, int(_SHORTEST_EXTENT * length) - 2)), np.uint8)
        runs = cv2.erode(covered, reach, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        found = np.flatnonzero(runs.any(axis=1))
        edge = BORDER_BAND * len(lines_along) + across + 1
        inside = (found > edge) & (found < len(lines_along) - 1 - edge)
        if inside.any():
            crossing = np.ones((1, max(1, int(_CROSSING_EXTENT * length) - 2)), np.uint8)
            rows = found[inside]
            runs = cv2.erode(covered[rows], crossing, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            found = np.concatenate([found[~inside], rows[runs.any(axis=1)]])
        bands.append(np.sort(found) * factor)
    return bands[0], bands[1]


def _search_copy(binary: np.ndarray) -> tuple[np.ndarray, int]:
    """The mask lines are searched on, and its scale: a picture of SEARCH_SIDE pixels or more
    at half its size, each pixel inked when any of the four it stands for is (a 1 px line
    stays whole). The search's time grows with the inked pixels, and a digit drawn across a
    whole canvas in a thick pen has thousands."""
    if min(binary.shape) < SEARCH_SIDE:
        return binary, 1
    return np.ascontiguousarray(
        cv2.dilate(binary, np.ones((2, 2), np.uint8), anchor=(0, 0))[::2, ::2]
    ), 2


def _band_width(length: int) -> int:
    """How far across itself a line ``length`` pixels long, tilted MAX_TILT_DEGREES, runs."""
    return int(np.ceil(length * np.tan(np.radians(MAX_TILT_DEGREES)))) + 3


def without_lines(ink: np.ndarray, lines: list) -> np.ndarray:
    """``ink`` with ``lines`` (from :func:`printed_lines`) taken out, the strokes that crossed
    them mended and, when the lines are thinner than the pen, those lying along them kept
    (:func:`_strokes_along`). The pen is measured once, without any line: a box's other
    sides, left in, would count as strokes as thin as they are."""
    bands = {orientation: _bands(ink.shape, lines, orientation) for orientation in (True, False)}
    anywhere = np.maximum(bands[True][0], bands[False][0])
    pen = pen_width(ink * (1 - anywhere))
    result = ink
    for orientation, (band, thickest) in bands.items():
        if thickest:
            widest = thickest + 2
            kept = result * (1 - band)
            if thickest < pen:
                mendable = np.maximum(kept, _strokes_along(result, widest, orientation))
            else:
                mendable = kept
            result = np.where(band > 0, _bridged(mendable, widest, orientation), kept)
    return _without_edge_slivers(result)


def _bands(shape, lines: list, horizontal: bool) -> tuple[np.ndarray, int]:
    """The bands ``lines`` of one orientation are taken out along, each drawn 2 px thicker
    than the line (uint8, 1 in a band), and the thickest line's thickness (0 when there is
    none)."""
    band = np.zeros(shape, np.uint8)
    thickest = 0
    for segment, level, thickness in lines:
        if level == horizontal:
            cv2.line(band, segment[:2], segment[2:], 1, thickness + 2)
            thickest = max(thickest, thickness)
    return band, thickest


def _strokes_along(ink: np.ndarray, width: int, horizontal: bool) -> np.ndarray:
    """The strokes lying along or touching a line whose band is ``width`` pixels across (a
    2's base on its box's bottom side): the ink that runs further across the line than the
    band, by a grey opening across it. Where a stroke touches the line, the run holds the
    line's own pixels there too, and they stay with the stroke: a few pixels of the side
    beside a digit touching it. Outside the picture is paper: a box's side along its edge
    is not kept."""
    shape = (width + 1, 1) if horizontal else (1, width + 1)
    return cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, np.ones(shape, np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0
    )


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


def is_ruled(lines: list, stripped: np.ndarray) -> bool:
    """Whether ``lines`` (:func:`printed_lines`) are surely printed, not a digit's strokes: two
    parallel ones apart (a box's opposite sides, a notebook's rules), each longer than the
    digit left without them (``stripped``) reaches along it. A tightly cropped Z-shaped 2
    has two parallel bars, but its stroke between them runs their whole length; a thick
    stroke found as several lines side by side is one line, not two."""
    _, _, width, height = _digit_box(stripped)
    shape = stripped.shape
    if not _digit_sized(width, height, shape):
        return False  # the lines took most of the ink: they were the digit's strokes
    for orientation in (True, False):
        across = shape[0] if orientation else shape[1]
        placed = [
            (_position(segment, horizontal, shape) * across, thickness)
            for segment, horizontal, thickness in lines
            if horizontal == orientation
            and (width if orientation else height) <= LEFT_INK_SHARE * _length(segment, horizontal)
        ]
        for index, (position, thickness) in enumerate(placed):
            for other, other_thickness in placed[index + 1 :]:
                apart = abs(position - other)
                if apart >= BORDER_BAND * across and apart >= 3 * (thickness + other_thickness):
                    return True
    return False


def _box_corner(lines: list, shape) -> bool:
    """Do two of ``lines``, one level and one upright, each along the edge of the picture
    (its ``shape``), meet at a corner of it? Then they are a box's sides, cut out with it,
    whatever strokes touch them (when they are thinner than the pen, or touch none and come
    out whole: :func:`_out_whole`). Few digits have two
    straight strokes three quarters of their picture long meeting at its corner: a 7 with
    an upright stem, which without them leaves too little to be taken out, unless it is
    crossed and its bar and stem measure thinner than the crossbar (a binarised scan)."""
    sides = [(segment, horizontal) for segment, horizontal, _ in lines]
    sides = [side for side in sides if _near_edge(*side, shape)]
    reach = EDGE_BAND * min(shape)
    return any(
        _ends_near(level, True, _across(upright, False), reach)
        and _ends_near(upright, False, _across(level, True), reach)
        for level, horizontal in sides
        if horizontal
        for upright, vertical in sides
        if not vertical
    )


def _ends_near(segment, horizontal: bool, position: float, reach: float) -> bool:
    """Does the line end within ``reach`` pixels of ``position`` along it?"""
    x0, y0, x1, y1 = segment
    ends = (x0, x1) if horizontal else (y0, y1)
    return min(abs(end - position) for end in ends) <= reach


def _digit_sized(width: int, height: int, shape) -> bool:
    """Is ink ``width`` x ``height`` px, left once lines are out, still a digit's size?"""
    return max(width / shape[1], height / shape[0]) >= MIN_DIGIT_SHARE


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


def _length(segment, horizontal: bool) -> int:
    x0, y0, x1, y1 = segment
    return abs(x1 - x0) if horizontal else abs(y1 - y0)


def _position(segment, horizontal: bool, shape) -> float:
    """Where the line lies across the picture, 0 at the top (left) edge to 1 at the other."""
    x0, y0, x1, y1 = segment
    return ((y0 + y1) / 2 / shape[0]) if horizontal else ((x0 + x1) / 2 / shape[1])


def _near_edge(segment, horizontal: bool, shape) -> bool:
    """Within BORDER_BAND of the picture's edge across the line."""
    position = _position(segment, horizontal, shape)
    return min(position, 1 - position) <= BORDER_BAND


def without_ruling(ink: np.ndarray) -> np.ndarray:
    """``ink`` without its lines when they are surely printed, else ``ink`` itself: how one
    digit is cleaned, where a lone long line may be a digit's stroke. Surely printed are lines
    :func:`is_ruled` (a form's box, a notebook's rules, a comb field's separators), and lines
    each thinner than the pen that touch no stroke (:func:`_clear_of_the_strokes`: a box cut
    to one side, the digit inside it) or meet at the picture's corner (:func:`_box_corner`:
    a box cut to two or three sides, whatever touches them). Two lines meeting at the
    corner, touching no stroke, are a box's however thick when they come out whole
    (:func:`_out_whole`: a box drawn as thick as the pen; a 7 that is only a bar and an
    upright stem leaves pieces of its strokes beside them). A box's side measures as thin as
    its other sides where a stroke lies along it (:func:`_sides_under_strokes`). A tightly
    cropped digit's bar or stem may measure thinner than its other strokes (a pen held at
    an angle, a binarised scan) but is joined to them, and lies along one side only."""
    binary, lines = _lines_in(ink)
    return surely_printed_out(ink, binary, lines)


def surely_printed_out(ink: np.ndarray, binary: np.ndarray, lines: list) -> np.ndarray:
    """:func:`without_ruling` given ``ink``'s mask at LINE_LEVEL and its printed lines."""
    if not lines:
        return ink
    lines = _sides_under_strokes(binary, lines)
    stripped = without_lines(ink, lines)
    if is_ruled(lines, stripped):
        return stripped
    corner = _box_corner(lines, ink.shape)
    clear = _clear_of_the_strokes(binary, lines)
    if corner and clear and _out_whole(stripped, lines):
        return stripped
    return stripped if (corner or clear) and _thinner_than_the_pen(lines, stripped) else ink


def _out_whole(stripped: np.ndarray, lines: list) -> bool:
    """Did ``lines`` come out whole, nothing of them left within TOUCH_MARGIN of where they
    ran, and is what is left a digit's size? A box's sides drawn as thick as the pen, clear
    of the digit, do; a digit or a letter that is only a corner (a 7's bar and upright stem,
    an L) leaves pieces of its slanted or wider strokes beside the bands taken out."""
    if np.any(_touch_bands(stripped.shape, lines) & (stripped > LINE_LEVEL)):
        return False
    _, _, width, height = _digit_box(stripped)
    return _digit_sized(width, height, stripped.shape)


# How far (px) beyond a line's own thickness a stroke counts as touching it.
TOUCH_MARGIN = 3


def _clear_of_the_strokes(binary: np.ndarray, lines: list) -> bool:
    """Does every piece of ink that reaches into ``lines`` lie within them, so that no
    stroke is joined to a line?"""
    _, labels = cv2.connectedComponents(binary, connectivity=8)
    bands = _touch_bands(binary.shape, lines)
    touching = np.unique(labels[bands & (binary > 0)])
    touching = touching[touching > 0]
    return not np.any(np.isin(labels, touching) & ~bands)


def _touch_bands(shape, lines: list) -> np.ndarray:
    """Where ink touches one of ``lines`` (bool): each line drawn TOUCH_MARGIN px wider
    each way than it is."""
    bands = np.zeros(shape, np.uint8)
    for segment, _, thickness in lines:
        cv2.line(bands, segment[:2], segment[2:], 1, thickness + 2 * TOUCH_MARGIN)
    return bands > 0


def without_printed_lines(ink: np.ndarray) -> np.ndarray:
    """``ink`` without its lines when they are surely printed (:func:`is_ruled`) or thinner
    than the pen (:func:`without_thin_lines`: a form's box cut to a corner would be read as a
    1 beside the digit), else ``ink`` itself: how a written number is cleaned. A 1 is drawn
    with the number's pen, so it is never taken for a printed line. The lines are searched
    for once for both tests."""
    lines = printed_lines(ink)
    if not lines:
        return ink
    stripped = without_lines(ink, lines)
    if is_ruled(lines, stripped) or _thinner_than_the_pen(lines, stripped):
        return stripped
    return ink


def without_thin_lines(ink: np.ndarray) -> np.ndarray | None:
    """``ink`` without the lines :func:`printed_lines` finds, when every one of them is thinner
    than the pen that wrote what is left (THIN_LINE_SHARE) and what is left is still a
    digit's size; None otherwise. For a second look at a picture refused as not a digit or
    read unsure: a digit written over its box's side is then read without the box, a tall
    letter's stems stay where they are."""
    lines = printed_lines(ink)
    if not lines:
        return None
    stripped = without_lines(ink, lines)
    return stripped if _thinner_than_the_pen(lines, stripped) else None


def _thinner_than_the_pen(lines: list, stripped: np.ndarray) -> bool:
    """Is every one of ``lines`` thinner than the pen that wrote ``stripped`` (the ink left
    without them), and is that still a digit's size?"""
    _, _, width, height = _digit_box(stripped)
    if not _digit_sized(width, height, stripped.shape):
        return False
    pen = pen_width(stripped)
    return all(thickness <= THIN_LINE_SHARE * pen for _, _, thickness in lines)


def pen_width(ink: np.ndarray) -> float:
    """The strokes' width in pixels: twice the median distance to their edge along their
    middle (the ridge of the distance transform), 0 without strokes."""
    strokes = np.greater(ink, STROKE_LEVEL).view(np.uint8)
    distance = cv2.distanceTransform(strokes, cv2.DIST_L2, 3)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    return 2 * float(np.median(distance[ridge])) if ridge.any() else 0.0


def _straight_lines(search):
    """((x0, y0, x1, y1), horizontal) for each near-horizontal or near-vertical segment of
    ink at least MIN_SPAN of the picture long, found on ``search`` (:func:`_search_copy`)
    and given in the picture's pixels."""
    copy, factor = search
    shortest = MIN_SPAN * min(copy.shape)
    segments = cv2.HoughLinesP(
        copy,
        rho=1,
        theta=np.pi / 180,
        threshold=int(shortest / 2),
        minLineLength=shortest,
        maxLineGap=_max_line_gap(copy.shape),
    )
    for x0, y0, x1, y1 in segments.reshape(-1, 4) if segments is not None else ():
        angle = np.degrees(np.arctan2(abs(y1 - y0), abs(x1 - x0)))
        segment = tuple(int(value) * factor for value in (x0, y0, x1, y1))
        if angle <= MAX_TILT_DEGREES:
            yield segment, True
        elif angle >= 90 - MAX_TILT_DEGREES:
            yield segment, False


def _max_line_gap(shape) -> int:
    """The longest gap the line search bridges within one line (a dashed or broken rule)."""
    return max(2, min(shape) // 40)


def _is_printed(segment, horizontal: bool, shape) -> bool:
    height, width = shape
    span = _length(segment, horizontal) / (width if horizontal else height)
    return span >= CROSSING_SPAN or (span >= MIN_SPAN and _near_edge(segment, horizontal, shape))


def _thickness(binary: np.ndarray, segment, horizontal: bool) -> int:
    """The line's width in pixels: the median run of ink across it, over points along it (a
    stroke crossing the line lengthens a few runs, not the median)."""
    runs = _runs_across(binary, segment, horizontal)
    return int(np.median(runs)) if runs else 1


def _runs_across(binary: np.ndarray, segment, horizontal: bool) -> list:
    """The runs of ink across the line, at 41 points along it."""
    x0, y0, x1, y1 = segment
    runs = []
    for t in np.linspace(0.05, 0.95, 41):
        x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
        column = binary[:, x] if horizontal else binary[y, :]
        at = y if horizontal else x
        # The line search's points may sit a pixel off a thin line (it searches large
        # pictures at half size): start from the nearest ink within two pixels.
        near = [at + step for step in (0, -1, 1, -2, 2) if 0 <= at + step < len(column)]
        inked = [point for point in near if column[point]]
        if not inked:
            continue
        at = inked[0]
        start, end = at, at
        while start > 0 and column[start - 1]:
            start -= 1
        while end < len(column) - 1 and column[end + 1]:
            end += 1
        runs.append(end - start + 1)
    return runs


def _narrow_share(runs: list) -> int | None:
    """The narrowest width within a pixel of which at least ALONG_THE_LINE of ``runs`` lie,
    when it is under LINE_UNDER_STROKE of their median, else None: a printed line under a
    stroke lying along it over half its length, whose median is the stroke's width."""
    if not runs:
        return None
    runs = np.asarray(runs)
    median = np.median(runs)
    for width in np.unique(runs):
        if width >= LINE_UNDER_STROKE * median:
            return None
        if np.count_nonzero(np.abs(runs - width) <= 1) >= ALONG_THE_LINE * len(runs):
            return int(width)
    return None


def _sides_under_strokes(binary: np.ndarray, lines: list) -> list:
    """``lines`` with the width of each box side a stroke lies along (a 2's base drawn on
    the bottom side, widening the runs across it over half its length) measured where the
    side runs alone (:func:`_narrow_share`), when another of ``lines`` is that wide (within
    a pixel): the box's other sides. A digit's own bar measures thin where its strokes
    leave it too, but no printed line beside it confirms the width. ``lines`` itself when
    none is re-measured."""
    remeasured = list(lines)
    for index, (segment, horizontal, _) in enumerate(lines):
        narrow = _narrow_share(_runs_across(binary, segment, horizontal))
        if narrow is not None and any(
            abs(thickness - narrow) <= 1
            and _another_side(segment, horizontal, other, level, binary.shape)
            for other, level, thickness in lines
        ):
            remeasured[index] = (segment, horizontal, narrow)
    return lines if remeasured == list(lines) else remeasured


def _another_side(segment, horizontal: bool, other, other_horizontal: bool, shape) -> bool:
    """Is ``other`` another side of a box than ``segment``: across it, or parallel and at
    least BORDER_BAND of the picture away (a side is often found as several lines side by
    side)?"""
    if other_horizontal != horizontal:
        return True
    apart = abs(_position(segment, horizontal, shape) - _position(other, horizontal, shape))
    return apart >= BORDER_BAND


def _bridged(kept: np.ndarray, width: int, horizontal: bool) -> np.ndarray:
    """What a stroke crossing a removed band of ``width`` pixels leaves to put back: the
    closing of the ink that is left, across the band (vertical for a horizontal rule), so
    only gaps with ink on both sides are filled. Outside the picture is paper (the closing
    runs on a copy padded with it: OpenCV's constant border would also erode the ink along
    the edge), so a stroke ending near the picture's edge is not drawn on to it."""
    reach = 2 * width + 1  # cv2.line draws a band of ``width`` up to two pixels wider
    shape = (reach, 1) if horizontal else (1, reach)  # numpy's (rows, columns)
    pad = ((reach, reach), (0, 0)) if horizontal else ((0, 0), (reach, reach))
    closed = cv2.morphologyEx(np.pad(kept, pad), cv2.MORPH_CLOSE, np.ones(shape, np.uint8))
    return closed[reach:-reach] if horizontal else closed[:, reach:-reach]
