"""Split an image of a written number into its digits, left to right.

Uses the very steps of :mod:`mnist_core.preprocess` (ink map, lighting, contrast, components,
fitting to the MNIST frame); only the grouping of strokes into digits is added here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .config import PreprocessConfig
from .decode import decode
from .preprocess import (
    PREPROCESS,
    components_mask,
    fit_to_mnist_frame,
    ink_components,
    ink_map,
    is_speck,
    normalise_contrast,
    remove_background,
)

# Strokes whose column ranges overlap by this share of the narrower one belong to one digit
# (the bar and body of a 5, the two strokes of a 4).
SAME_DIGIT_OVERLAP = 0.5
# Only a group wider than this share of the digit height may hold touching digits (a wide 0
# is ~0.9; a 1 touching a 3 ~1.0).
MIN_SPLIT_WIDTH = 0.85
NUMBER_SPECK_RATIO = 0.02
# A group less tall than this share of the number's digit height is a fragment of a digit.
FRAGMENT_HEIGHT = 0.45


@dataclass(frozen=True)
class DigitSegment:
    """One digit cut out of a number: its 28x28 input and its box in the original image."""

    model_input: np.ndarray  # (28, 28) float32
    box: tuple[int, int, int, int]  # x, y, width, height in the original image's pixels


def segment_number(image, score=None, config: PreprocessConfig = PREPROCESS) -> list[DigitSegment]:
    """The digits of ``image``, left to right ([] when it holds none).

    ``score``, (N, 28, 28) -> (N, 10) probabilities, lets touching digits be cut where the
    model reads them best; without it a group of strokes is one digit.
    """
    decoded = decode(image)
    ink = normalise_contrast(remove_background(ink_map(decoded)), config)
    if ink is None:
        return []
    # Digits of one number differ in ink (a fat 8 beside a thin 1): judge specks by their
    # shape (is_speck, below), and by area only against a much lower bar than for one digit.
    labels, count, kept = ink_components(ink, replace(config, speck_ratio=NUMBER_SPECK_RATIO))
    scale = decoded.shape[1] / ink.shape[1]  # work size -> original pixels
    segments = []
    if not kept:
        return []
    groups = _group_by_columns(labels, kept)
    for mask in _digit_groups(groups, labels, count, ink, score, config):
        if is_speck(mask, ink.shape, config):
            continue
        left, top, width, height = (int(round(value * scale)) for value in _bounding_box(mask))
        segments.append(
            DigitSegment(fit_to_mnist_frame(ink, mask, config), (left, top, width, height))
        )
    return sorted(segments, key=lambda segment: segment.box[0])


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


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
            if overlap >= SAME_DIGIT_OVERLAP * min(width, last_right - last_left):
                groups[-1].append(label)
                spans[-1] = (min(left, last_left), max(right, last_right))
                continue
        groups.append([label])
        spans.append((left, right))
    return groups


def _digit_groups(groups, labels, count, ink, score, config):
    """Yield one mask per digit: short fragments joined to their neighbour; a group wide
    enough to hold touching digits is cut the way the model reads most confidently.

    Sizes are judged against the number's own digit height (digits of one number are written
    about equally tall)."""
    masks = [components_mask(labels, count, group) for group in groups]
    boxes = [_bounding_box(mask) for mask in masks]
    heights = np.array([box[3] for box in boxes])
    reference = float(np.median(heights[heights >= 0.5 * heights.max()]))
    masks, boxes = _join_fragments(masks, boxes, reference)
    for mask, (left, _, width, _) in zip(masks, boxes, strict=True):
        most = int(width / (0.4 * reference))
        if width <= MIN_SPLIT_WIDTH * reference or most < 2 or score is None:
            yield mask
            continue
        candidates = [[mask]] + [
            list(_cut_columns(mask, left, width, pieces)) for pieces in range(2, min(most, 4) + 1)
        ]
        yield from max(candidates, key=lambda pieces: _plausibility(pieces, ink, score, config))


def _plausibility(pieces, ink, score, config) -> float:
    """log P(every piece is the digit the model reads)."""
    inputs = np.stack([fit_to_mnist_frame(ink, piece, config) for piece in pieces])
    confidence = score(inputs).max(axis=1)
    return float(np.log(np.maximum(confidence, 1e-6)).sum())


def _join_fragments(masks, boxes, reference: float):
    """Merge groups shorter than FRAGMENT_HEIGHT of the digit height into the nearest group:
    a pen lifted mid-stroke, not a digit of its own."""
    order = sorted(range(len(masks)), key=lambda index: boxes[index][0])
    masks, boxes = [masks[index] for index in order], [boxes[index] for index in order]
    while len(masks) > 1:
        short = [index for index, box in enumerate(boxes) if box[3] < FRAGMENT_HEIGHT * reference]
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


def _cut_columns(mask: np.ndarray, left: int, width: int, pieces: int):
    """Cut ``mask`` into ``pieces`` at the columns with least ink near the even cut points."""
    profile = mask[:, left : left + width].sum(axis=0)
    cuts = [left]
    for piece in range(1, pieces):
        centre = piece * width // pieces
        window = max(1, width // (3 * pieces))
        low, high = max(1, centre - window), min(width - 1, centre + window)
        cuts.append(left + low + int(np.argmin(profile[low:high])))
    cuts.append(left + width)
    for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
        piece = np.zeros_like(mask)
        piece[:, start:stop] = mask[:, start:stop]
        if piece.any():
            yield piece
