"""Split an image of a written number into its digits, left to right.

Uses the very steps of :mod:`mnist_core.preprocess` (ink map, lighting, contrast, components,
fitting to the MNIST frame); only the grouping of strokes into digits is added here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

from .config import PreprocessConfig, SegmentationConfig, StripConfig
from .decode import decode
from .form_lines import without_printed_lines
from .ink import ink_map
from .marks import strokes_beside
from .preprocess import (
    PREPROCESS,
    clean_ink,
    components_mask,
    fit_to_mnist_frame,
    ink_components,
    ink_crop,
    is_speck,
    scaled_ink,
    thicken,
    thickening_radius,
)

STRIP = StripConfig()
SEGMENTATION = SegmentationConfig()
# A stroke at the picture's side at most this share of the ink's height wide may be a sliver
# of a digit beside the cut-out (_neighbours_slivers); a digit's own 1 is as narrow, so
# slivers must stand at both sides.
SLIVER_SHARE = 0.5
# What a cut between touching digits pays for each column it moves (a pixel of ink it
# crosses costs 1): of paths crossing as much ink, the straightest.
CUT_STEP = 0.01


@dataclass(frozen=True)
class DigitSegment:
    """One digit cut out of a number: its 28x28 input and its box in the original image."""

    model_input: np.ndarray  # (28, 28) float32
    box: tuple[int, int, int, int]  # x, y, width, height in the original image's pixels


@dataclass(frozen=True)
class NumberInk:
    """The ink of a written number, at the work size, with its strokes labelled."""

    ink: np.ndarray  # float32 (H, W), ink high, contrast normalised
    labels: np.ndarray  # connected strokes (cv2.connectedComponents)
    count: int  # labels in use, background included
    kept: list[int]  # ids of the strokes that are not specks
    to_original: float  # original-image pixels per work-size pixel


def number_ink(image, config: PreprocessConfig = PREPROCESS) -> NumberInk | None:
    """The ink of the number in ``image``, or None when it holds none."""
    decoded = decode(image)
    ink = clean_ink(ink_map(decoded), config)
    if ink is None:
        return None
    ink = without_printed_lines(ink)
    # Digits of one number differ in ink (a fat 8 beside a thin 1): judge specks by their
    # shape (is_speck, when cutting), and by area only against a much lower bar than for
    # one digit.
    labels, count, kept = ink_components(ink, replace(config, speck_ratio=SEGMENTATION.speck_ratio))
    slivers = _neighbours_slivers(labels, count, kept, ink.shape)
    kept = [label for label in kept if label not in slivers]
    if not kept:
        return None
    return NumberInk(ink, labels, count, kept, decoded.shape[1] / ink.shape[1])


def _neighbours_slivers(labels: np.ndarray, count: int, kept: list, shape) -> list:
    """The strokes at both the picture's left and right sides, each at most
    SLIVER_SHARE of the ink's height wide and wholly beyond the others' columns:
    what a cut-out took of the digits either side of those it was meant to hold, which
    would be read as 1s of a number. Both sides, as a number cut to its ink may end in a 1
    touching one side."""
    beside, _ = strokes_beside(labels, kept, shape)
    if {side for _, _, side in beside} != {"left", "right"}:
        return []
    rows = np.flatnonzero(components_mask(labels, count, kept).any(axis=1))
    narrowest = SLIVER_SHARE * (rows[-1] + 1 - rows[0])
    if any(width > narrowest for _, width, _ in beside):
        return []
    return [label for label, _, _ in beside]


def segment_number(
    number, score=None, expected=None, config: PreprocessConfig = PREPROCESS
) -> list[DigitSegment]:
    """The digits of a number (an image, or its :class:`NumberInk`), left to right ([] when
    it holds none).

    ``score``, (N, 28, 28) -> (N, 10) probabilities, lets touching digits be cut where the
    model reads them best; without it a group of strokes is one digit. ``expected``, (n, 10)
    probabilities of the n digits a number reader saw, makes the cut have n digits when the
    strokes allow it, each where the model reads what the reader saw.
    """
    if not isinstance(number, NumberInk):
        number = number_ink(number, config)
    if number is None:
        return []
    ink = number.ink
    groups = _group_by_columns(number.labels, number.kept)
    masks = [components_mask(number.labels, number.count, group) for group in groups]
    segments = []
    for mask in _digit_masks(masks, ink, score, expected, config):
        if is_speck(mask, ink.shape, config):
            continue
        box = tuple(int(round(value * number.to_original)) for value in _bounding_box(mask))
        segments.append(DigitSegment(fit_to_mnist_frame(ink, mask, config), box))
    return sorted(segments, key=lambda segment: segment.box[0])


def number_strip(number: NumberInk, strip: StripConfig = STRIP, config=PREPROCESS) -> np.ndarray:
    """The number's ink scaled into the reader's (height, width) float32 strip: its height
    to ``strip.ink_height`` (or its width to the strip's), left-aligned, centred vertically."""
    mask = components_mask(number.labels, number.count, number.kept)
    crop, strokes = ink_crop(number.ink, mask)
    height, width = crop.shape
    scale = min(strip.ink_height / height, (strip.width - 2 * strip.margin) / width)
    # Thin pen strokes are thickened as for one digit; unpadded, so the number keeps the
    # scale just computed (the reader was trained on strips made so).
    radius = thickening_radius(strokes, scale, config)
    if radius:
        crop = thicken(crop, radius)
    scaled = scaled_ink(crop, scale)
    pixels = np.zeros((strip.height, strip.width), np.float32)
    row = (strip.height - scaled.shape[0]) // 2
    pixels[row : row + scaled.shape[0], strip.margin : strip.margin + scaled.shape[1]] = scaled
    return pixels


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x, y, width, height of a uint8 mask's non-zero pixels (never empty here)."""
    left, top, width, height = cv2.boundingRect(mask)
    return left, top, width, height


def _group_by_columns(labels: np.ndarray, kept: list[int]) -> list[list[int]]:
    """Merge components whose column ranges overlap: they are strokes of one digit."""
    groups: list[list[int]] = []
    spans: list[tuple[int, int]] = []
    columns = {label: np.flatnonzero((labels == label).any(axis=0)) for label in kept}
    for label in sorted(kept, key=lambda label: columns[label][0]):
        left, width = int(columns[label][0]), int(columns[label][-1] - columns[label][0] + 1)
        right = left + width
        if spans:
            last_left, last_right = spans[-1]
            overlap = min(right, last_right) - max(left, last_left)
            if overlap >= SEGMENTATION.same_digit_overlap * min(width, last_right - last_left):
                groups[-1].append(label)
                spans[-1] = (min(left, last_left), max(right, last_right))
                continue
        groups.append([label])
        spans.append((left, right))
    return groups


def _digit_masks(masks, ink, score, expected, config):
    """One mask per digit: short fragments joined to their neighbour; a group wide enough to
    hold touching digits is cut the way the model reads most confidently. With ``expected``,
    neighbouring groups may also be joined (a digit whose pen strokes do not meet), and the
    cut is the most plausible one with as many digits as expected.

    Sizes are judged against the number's own digit height (digits of one number are written
    about equally tall)."""
    boxes = [_bounding_box(mask) for mask in masks]
    heights = np.array([box[3] for box in boxes])
    reference = float(np.median(heights[heights >= 0.5 * heights.max()]))
    masks, boxes = _join_fragments(masks, boxes, reference)
    if score is None:
        return masks
    if expected is not None and len(expected):
        cut = _cut_as_expected(masks, boxes, reference, np.asarray(expected), ink, score, config)
        if cut is not None:
            return cut
    pieces = []
    for mask, box in zip(masks, boxes, strict=True):
        ways = [(way, _read(way, ink, score, config)) for way in _ways_to_cut(mask, box, reference)]
        pieces += max(ways, key=lambda way: _plausibility(way[1]))[0]
    return pieces


def _ways_to_cut(mask, box, reference: float, counted=False) -> list[list[np.ndarray]]:
    """The mask whole, then cut into 2, 3, 4 digits as far as its width allows. Where the
    reader ``counted`` the digits (which keeps a cut from making more of them than there
    are), the cuts follow the gaps between touching digits (:func:`_cuts`), and a cut into
    two where one side is a 1 (:func:`_a_one`) touching the digit beside it is also
    offered, which an even cut misses; else the cuts are columns."""
    left, _, width, _ = box
    most = int(width / (0.4 * reference))
    if width <= SEGMENTATION.min_split_width * reference or most < 2:
        return [[mask]]
    group = _Group(mask, left, mask[:, left : left + width].sum(axis=0))
    even = [_even_windows(width, pieces) for pieces in range(2, min(most, 4) + 1)]
    sides = _side_windows(width) if counted else []
    windows = [window for windows in even for window in windows] + sides
    cuts = iter(_cuts(group, windows) if counted else _columns(group, windows))
    ways = [[mask]] + [list(_pieces(group, [next(cuts) for _ in windows])) for windows in even]
    height = max(reference, box[3])
    for one_first in (True, False) if sides else ():
        halves = list(_pieces(group, [next(cuts)]))
        if len(halves) == 2 and _a_one(halves[0] if one_first else halves[1], height):
            ways.append(halves)
    return ways


class _Group(NamedTuple):
    """A group of strokes that may hold touching digits."""

    mask: np.ndarray  # its ink, in the number's frame
    left: int  # its first column
    profile: np.ndarray  # its ink in each of its columns


def _even_windows(width: int, pieces: int) -> list[tuple[int, int]]:
    """Where to cut a group ``width`` columns wide into ``pieces``: a third of a piece's
    width either side of each even cut point."""
    windows = []
    for piece in range(1, pieces):
        centre = piece * width // pieces
        window = max(1, width // (3 * pieces))
        windows.append((max(1, centre - window), min(width - 1, centre + window)))
    return windows


def _side_windows(width: int) -> list[tuple[int, int]]:
    """Where a 1 touching its neighbour is cut off, at the left then the right: ``side_cut``
    of the width in (none when the group is too narrow for it)."""
    near, far = SEGMENTATION.side_cut
    windows = [(near, far), (1 - far, 1 - near)]
    windows = [
        (max(1, int(low * width)), min(width - 1, int(high * width))) for low, high in windows
    ]
    return windows if all(high > low for low, high in windows) else []


def _a_one(ink: np.ndarray, height: float) -> bool:
    """Is the stroke in ``ink`` (a mask, or a slice of one) a 1: one straight stroke at
    least ``digit_stroke_height`` of the digits' ``height`` tall?"""
    ink = _cropped(ink)
    return _stroke_height(ink) >= SEGMENTATION.digit_stroke_height * height and _straight(ink)


def _a_one_beside_a_digit(groups: list[np.ndarray], reference: float) -> bool:
    """Are two neighbouring ``groups`` of strokes (each cropped to its ink) a 1 and a
    digit: each one stroke about as tall as the taller and the number's digits, one of
    them straight? Two strokes of one digit (a 6's stem and loop, a 4's halves) are seldom
    as tall as each other."""
    for first, second in zip(groups, groups[1:], strict=False):
        tall = SEGMENTATION.digit_stroke_height * max(reference, len(first), len(second))
        if min(_stroke_height(first), _stroke_height(second)) >= tall and (
            _straight(first) or _straight(second)
        ):
            return True
    return False


def _cropped(mask: np.ndarray) -> np.ndarray:
    left, top, width, height = _bounding_box(mask)
    return mask[top : top + height, left : left + width]


def _stroke_height(crop: np.ndarray) -> int:
    """The height of the largest piece of ink in ``crop`` when it is all but all of it
    (``one_stroke_share``): one stroke; else 0."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    if count < 2:
        return 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = 1 + int(np.argmax(areas))
    if areas[largest - 1] < SEGMENTATION.one_stroke_share * areas.sum():
        return 0
    return int(stats[largest, cv2.CC_STAT_HEIGHT])


def _straight(crop: np.ndarray) -> bool:
    """Does the ink lie along one line (its spread across its main axis at most
    ``straight_spread`` of its spread along it), as a 1's does and a 3's half does not?"""
    moments = cv2.moments(crop, binaryImage=True)  # the ink's second moments, in C
    spreads = np.linalg.eigvalsh(
        [[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]]
    )
    return bool(spreads[0] <= SEGMENTATION.straight_spread**2 * spreads[1])


def _cut_as_expected(masks, boxes, reference, expected, ink, score, config):
    """The most plausible cut into exactly ``len(expected)`` digits, by dynamic programming
    over runs of up to ``max_joined`` neighbouring groups, each whole or cut; the n-th piece is
    scored by how likely the model and the reader read the same digit in it. A 1 and the
    digit beside it are not joined (:func:`_a_one_beside_a_digit`). None when no cut has
    that many digits."""
    ways = {}  # (first, last) -> the ways to cut the joined run of groups
    crops = [
        mask[top : top + height, left : left + width]
        for mask, (left, top, width, height) in zip(masks, boxes, strict=True)
    ]
    for first in range(len(masks)):
        for last in range(first, min(first + SEGMENTATION.max_joined, len(masks))):
            if _a_one_beside_a_digit(crops[first : last + 1], reference):
                continue  # two digits, which the reader saw as one
            joined = np.maximum.reduce(masks[first : last + 1])
            ways[first, last] = _ways_to_cut(joined, _bounding_box(joined), reference, True)
    # Every piece of every way in one call of the model: one batch, not hundreds.
    readings = iter(
        _read([piece for run in ways.values() for way in run for piece in way], ink, score, config)
    )
    runs = {
        key: [(way, np.stack([next(readings) for _ in way])) for way in run]
        for key, run in ways.items()
    }
    digits = len(expected)
    # best[i][n]: (score, pieces) for groups [0, i) read as n digits.
    best = [dict() for _ in range(len(masks) + 1)]
    best[0][0] = (0.0, [])
    for stop in range(1, len(masks) + 1):
        for first in range(max(0, stop - SEGMENTATION.max_joined), stop):
            for done, (total, pieces) in best[first].items():
                for way, reading in runs.get((first, stop - 1), ()):
                    count = done + len(way)
                    if count > digits:
                        continue
                    agreement = (reading * expected[done:count]).sum(axis=1)
                    candidate = total + _plausibility(agreement[:, None])
                    if candidate > best[stop].get(count, (-np.inf,))[0]:
                        best[stop][count] = (candidate, pieces + way)
    found = best[len(masks)].get(digits)
    return None if found is None else found[1]


def _read(pieces, ink, score, config) -> np.ndarray:
    """The model's (k, 10) probabilities for k pieces."""
    return score(np.stack([fit_to_mnist_frame(ink, piece, config) for piece in pieces]))


def _plausibility(reading: np.ndarray) -> float:
    """log P(every piece is the digit read in it)."""
    return float(np.log(np.maximum(reading.max(axis=1), 1e-6)).sum())


def _join_fragments(masks, boxes, reference: float):
    """Merge groups shorter than ``fragment_height`` of the digit height into the nearest group:
    a pen lifted mid-stroke, not a digit of its own."""
    order = sorted(range(len(masks)), key=lambda index: boxes[index][0])
    masks, boxes = [masks[index] for index in order], [boxes[index] for index in order]
    while len(masks) > 1:
        short = [
            index
            for index, box in enumerate(boxes)
            if box[3] < SEGMENTATION.fragment_height * reference
        ]
        if not short:
            break
        index = short[0]
        neighbours = [other for other in (index - 1, index + 1) if 0 <= other < len(masks)]
        target = min(neighbours, key=lambda other: _gap(boxes[index], boxes[other]))
        masks[target] = np.maximum(masks[target], masks[index])
        boxes[target] = _bounding_box(masks[target])
        del masks[index], boxes[index]
    return masks, boxes


def _gap(first, second) -> int:
    return max(first[0], second[0]) - min(first[0] + first[2], second[0] + second[2])


def _cuts(group: _Group, windows: list[tuple[int, int]]) -> list[np.ndarray]:
    """For each window [low, high) of the group's columns, the column in each row of the
    top-to-bottom path through it that lands on the least ink, moving at most one column a
    row: it follows the gap between a slanted 1 and the digit it touches, which every
    column crosses. Loops count as ink (:func:`_solid`); each move costs ``CUT_STEP``, so
    that of paths landing on as much ink the straighter wins. A column with no ink is the
    path. (A diagonal step can pass between two pixels of a one-pixel slanted stroke
    unpaid; charging it changed as many readings for the worse as for the better.)"""
    rows = group.mask.shape[0]
    cuts = [
        cut if group.profile[cut[0] - group.left] == 0 else None for cut in _columns(group, windows)
    ]
    inked = [index for index, cut in enumerate(cuts) if cut is None]
    if not inked:
        return cuts
    # Every inked window's columns side by side, a blocked column after each: one pass
    # down the rows finds every path.
    width = len(group.profile)
    solid = _solid(group.mask[:, group.left : group.left + width]).astype(np.float32)
    top, bottom = (int(row) for row in np.flatnonzero(solid.any(axis=1))[[0, -1]])
    blocked = np.full((bottom + 1 - top, 1), np.inf, np.float32)
    band = np.hstack(
        [part for i in inked for part in (solid[top : bottom + 1, slice(*windows[i])], blocked)]
    )
    starts = np.cumsum([0] + [windows[i][1] - windows[i][0] + 1 for i in inked])[:-1]
    paths = np.empty((rows, len(inked)), np.intp)
    paths[top : bottom + 1] = _least_ink_paths(band, starts)
    paths[:top], paths[bottom + 1 :] = paths[top], paths[bottom]
    for lane, index in enumerate(inked):
        cuts[index] = group.left + windows[index][0] + paths[:, lane] - starts[lane]
    return cuts


def _columns(group: _Group, windows: list[tuple[int, int]]) -> list[np.ndarray]:
    """For each window [low, high) of the group's columns, its column with the least ink
    (the same in every row)."""
    return [
        np.full(group.mask.shape[0], group.left + low + int(np.argmin(group.profile[low:high])))
        for low, high in windows
    ]


def _least_ink_paths(band: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(rows, lanes): the column of each lane's least-ink path in each row of ``band``,
    whose lanes start at the columns ``starts``, each followed by a blocked (inf) column.
    Dynamic programming down the rows: the least ink a path ending at each column has
    crossed, and which way it came; then back up from each lane's best end."""
    crossed = band[0].copy()
    came_from = np.zeros(band.shape, np.intp)  # 0: from the left, 1: above, 2: the right
    options = np.full((3, band.shape[1]), np.inf, np.float32)
    for row in range(1, len(band)):  # ~10 us a row
        np.add(crossed[:-1], CUT_STEP, out=options[0, 1:])
        options[1] = crossed
        np.add(crossed[1:], CUT_STEP, out=options[2, :-1])
        options.argmin(axis=0, out=came_from[row])
        np.add(band[row], options.min(axis=0), out=crossed)
    ends = [*starts[1:], len(crossed)]
    column = starts + [
        np.argmin(crossed[start : end - 1]) for start, end in zip(starts, ends, strict=True)
    ]
    paths = np.empty((len(band), len(starts)), np.intp)
    paths[-1] = column
    for row in range(len(band) - 1, 0, -1):
        column = column + came_from[row, column] - 1
        paths[row - 1] = column
    return paths


def _solid(ink: np.ndarray) -> np.ndarray:
    """``ink`` (a mask) with the background it encloses (a 0's or an 8's loops) filled: a cut
    through a loop would cross only the loop's two thin sides and take half a digit."""
    outside = np.pad(ink, 1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2).astype(ink.dtype)


def _pieces(group: _Group, cuts: list[np.ndarray]):
    """The non-empty parts of the group between its sides and ``cuts`` (each a column per
    row, left to right)."""
    rows, width = group.mask.shape[0], len(group.profile)
    sides = [np.full(rows, group.left), *cuts, np.full(rows, group.left + width)]
    for start, stop in zip(sides[:-1], sides[1:], strict=True):
        piece = np.zeros_like(group.mask)
        low, high = int(start.min()), int(stop.max())
        if low == start.max() and high == stop.min():  # upright cuts: columns
            piece[:, low:high] = group.mask[:, low:high]
        else:
            columns = np.arange(low, high)
            inside = (columns >= start[:, None]) & (columns < stop[:, None])
            piece[:, low:high] = group.mask[:, low:high] * inside
        if piece.any():
            yield piece
