"""Drawings that are not one digit: the negatives of the digit model's 11th class (label 10).

Each negative is drawn as a user draws on the app's canvas (RGBA, transparent, ink in alpha; pen
strokes 8-30 px wide on 280 px, anti-aliased, any size and position) and then goes through
:func:`mnist_core.preprocess.to_mnist`, the model's only input path.

Kinds
-----
letter      one letter (or # % *) in a centre-line stroke alphabet, slanted, rotated, wobbling.
            OpenCV 5 draws every FONT_HERSHEY_* as one filled TrueType font, and OpenCV 4 as
            Hershey's strokes: our own alphabet keeps the pen look and the data the same on
            both. Letters a reader could take for a digit (O Q D I l Z S B G q T L ...) are
            left out, and r and t, a European 1's and 7's near twins.
scribble    smooth tangles, zig-zags, spirals, loop coils, cross-hatching.
shape       smiley, star, heart, triangle, square, plus, arrow, tick, house, sun, flower,
            envelope (never a lone circle, a 0, or a lone line, a 1).
two_digits  two MNIST digits side by side, as written when a number is drawn on the one-digit
            canvas (only when digits are given).

Splits
------
Held-out negatives measure generalisation, so they are drawn in ways train never uses: every
heldout letter in a rounded, faster hand (corners cut), and six characters (HELDOUT_LETTERS)
only there; the coil and hatching scribbles and the house, sun, flower and envelope shapes are
heldout only (SCRIBBLES, SHAPES). Each split draws from its own random stream, so one seed gives
unrelated sets, and the caller passes MNIST test digits for heldout's two_digits.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .preprocess import to_mnist
from .renderings import _stroke_shape, compose_strip

KINDS = ("letter", "scribble", "shape", "two_digits")
SPLITS = ("train", "heldout")
SHARES = {"letter": 0.35, "scribble": 0.2, "shape": 0.25, "two_digits": 0.2}
WORK_SIDE = 112  # not_digit_images draws at 0.4 of the canvas: to_mnist is 4x faster

# Strokes on a grid: capitals x 0-6, y 0-9 (baseline 9); lowercase from y 4, descenders to 12.
# "|" separates strokes; "~" marks a smooth stroke (a curve through its points).
GLYPHS = {
    "A": "0,9 3,0 6,9|1.2,5.8 4.8,5.8",
    "C": "~6,1.5 4.5,0.2 2,0.4 0.4,2.5 0,4.6 0.5,7 2,8.7 4.5,8.9 6,7.6",
    "E": "6,0 0,0 0,9 6,9|0,4.5 4.5,4.5",
    "F": "6,0 0,0 0,9|0,4.3 4.5,4.3",
    "H": "0,0 0,9|6,0 6,9|0,4.5 6,4.5",
    "K": "0,0 0,9|5.5,0 0,5.5|1.8,4 6,9",
    "M": "0,9 0.3,0 3,6 5.7,0 6,9",
    "N": "0,9 0,0 6,9 6,0",
    "P": "0,9 0,0|~0,0 3.8,0 5.6,1.2 5.8,2.6 5.2,4 3.6,4.8 0,4.8",
    "R": "0,9 0,0|~0,0 3.8,0 5.6,1.2 5.8,2.6 5.2,4 3.6,4.8 0,4.8|2.8,4.8 6,9",
    "U": "~0,0 0,6 0.9,8.3 3,9 5.1,8.3 6,6 6,0",
    "V": "0,0 3,9 6,0",
    "W": "0,0 1.6,9 3,2.5 4.4,9 6,0",
    "X": "0,0 6,9|6,0 0,9",
    "Y": "0,0 3,4.5 6,0|3,4.5 3,9",
    "e": "~0.3,6.4 5.7,6.4 5.4,5 4.4,4.1 2.9,3.9 1.2,4.5 0.2,6.2 0.4,7.8 1.6,8.8 3.3,9 5.1,8.4",
    "f": "~4.8,0.6 3.8,0 2.5,0.4 1.9,1.8 1.9,9|0.2,4.2 4.2,4.2",
    "h": "0,0 0,9|~0,6.2 0.9,4.6 2.4,4 3.8,4.3 4.5,5.6 4.5,9",
    "k": "0,0 0,9|4.2,4 0,7|1.6,6 4.4,9",
    "m": "0,4 0,9|~0,5.6 0.8,4.3 1.9,4 2.7,4.6 2.9,6 2.9,9"
    "|~2.9,5.6 3.7,4.3 4.8,4 5.6,4.6 5.8,6 5.8,9",
    "n": "0,4 0,9|~0,5.8 1,4.4 2.4,4 3.6,4.4 4.2,6 4.2,9",
    "p": "0,4 0,12|~0,5 1.3,4.1 2.8,4 4,4.8 4.5,6.5 4,8.2 2.8,9 1.3,8.8 0,8",
    "#": "2,0 1,9|5,0 4,9|0,3 6,3|0,6 6,6",
    "%": "5.6,0 0.4,9|~1.4,0 0,1.6 1.4,3.2 2.8,1.6 1.4,0|~4.6,5.8 3.2,7.4 4.6,9 6,7.4 4.6,5.8",
    "*": "3,0 3,8|0,2 6,6|6,2 0,6",
}
HELDOUT_LETTERS = ("K", "W", "R", "k", "m", "%")
TRAIN_LETTERS = tuple(letter for letter in GLYPHS if letter not in HELDOUT_LETTERS)
SCRIBBLES = {"train": ("tangle", "zigzag", "spiral"), "heldout": ("coil", "hatching")}
# Widest pen for a drawing, as a share of its extent: wider would close its gaps (default 0.12).
PEN_LIMITS = {
    **dict.fromkeys(("tangle", "zigzag", "coil", "hatching", "flower", "smiley", "knot"), 0.06),
    **dict.fromkeys(("spiral",), 0.05),
    **dict.fromkeys(("m", "W", "#", "%", "*", "star", "sun", "house", "envelope"), 0.09),
    **dict.fromkeys(("cloud", "eye", "fish"), 0.09),
}
SHAPES = {
    "train": (
        *("smiley", "star", "heart", "triangle", "square", "plus", "arrow", "tick"),
        *("cloud", "knot", "fish", "eye"),
    ),
    "heldout": ("house", "sun", "flower", "envelope"),
}


def not_digit_canvas(
    rng: np.random.Generator,
    kind: str,
    split: str = "train",
    digits: np.ndarray | None = None,
    labels=None,
    size: int = 280,
) -> np.ndarray:
    """RGBA (size, size, 4) uint8 canvas (transparent, ink in alpha) with something that is
    not one digit. ``labels`` (of ``digits``), when given, makes a two_digits pair two
    different digits; without them any two distinct samples are paired ("11" is a number)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if kind == "two_digits":
        if digits is None:
            raise ValueError("the two_digits kind needs digits")
        alpha = _place(_two_digits_ink(rng, digits, labels, size), rng, size)
    elif kind in ("letter", "scribble", "shape"):
        drawing = {"letter": _letter_strokes, "scribble": _scribble, "shape": _shape}[kind]
        name, strokes = drawing(rng, split)
        rounded = kind == "letter" and split != "train"
        alpha = _draw(strokes, rng, size, PEN_LIMITS.get(name, 0.12), rounded)
    else:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, 3, dtype=np.uint8)  # canvas ink colour: irrelevant
    rgba[..., 3] = alpha
    return rgba


def not_digit_images(
    count: int, rng: np.random.Generator, split: str = "train", digits: np.ndarray | None = None
) -> np.ndarray:
    """(count, 28, 28) uint8 (white ink on black) negatives in shuffled order, each kind's
    share fixed by SHARES (two_digits only with ``digits``). Canvases are drawn at
    WORK_SIDE px; a canvas to_mnist finds blank (never expected) is redrawn."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    stream = np.random.default_rng([SPLITS.index(split), int(rng.integers(2**63))])
    kinds = [kind for kind in KINDS if digits is not None or kind != "two_digits"]
    shares = np.array([SHARES[kind] for kind in kinds])
    counts = np.floor(shares / shares.sum() * count).astype(int)
    counts[0] += count - counts.sum()
    order = stream.permutation(np.repeat(np.arange(len(kinds)), counts))
    images = np.zeros((count, 28, 28), np.uint8)
    for index, kind_index in enumerate(order):
        images[index] = _drawn_image(stream, kinds[kind_index], split, digits)
    return images


def _drawn_image(rng: np.random.Generator, kind: str, split: str, digits) -> np.ndarray:
    """One negative through to_mnist as uint8; redrawn if to_mnist sees nothing, which no
    drawing rule should allow: after 20 tries a rule is broken, and we say so."""
    for _attempt in range(20):
        image = to_mnist(not_digit_canvas(rng, kind, split, digits, size=WORK_SIDE))
        if image is not None:
            return np.round(image * 255).astype(np.uint8)
    raise RuntimeError(f"to_mnist finds no ink in 20 {kind} drawings of the {split} split")


def _draw(strokes, rng: np.random.Generator, size: int, pen_limit: float, rounded: bool):
    """(size, size) uint8 ink of ``strokes`` (point arrays, y down) as a hand draws them:
    slanted, rotated, wobbling, at a random size and place, with a pen 8-30 px on 280.
    A pen wider than ``pen_limit`` of the drawing's extent would fill its gaps (a spiral
    drawn with a marker is a blob: a 0, or nothing once to_mnist removes the background),
    so the drawing is made larger for a wide pen, and the pen narrower where it cannot."""
    strokes = [np.asarray(stroke, np.float64) for stroke in strokes]
    points = np.concatenate(strokes)
    low, extent = points.min(axis=0), max(float(np.ptp(points, axis=0).max()), 1e-6)
    strokes = [_densify((stroke - low) / extent) for stroke in strokes]
    if rounded:  # the heldout hand: corners cut, as in fast writing
        strokes = [_rounded(stroke, rng.uniform(1.0, 2.0)) for stroke in strokes]
    ends = np.cumsum([len(stroke) for stroke in strokes])[:-1]
    points = np.concatenate(strokes)  # transformed at once: one numpy call, not one a stroke
    angle, slant = np.radians(rng.normal(0, 8)), rng.uniform(-0.25, 0.25)
    stretch = np.exp(rng.uniform(-0.2, 0.2))
    cosine, sine = np.cos(angle), np.sin(angle)
    matrix = np.array([[cosine, -sine], [sine, cosine]]) @ [[stretch, slant], [0, 1 / stretch]]
    frequencies, phases = rng.normal(0, 4, (3, 2, 2)), rng.uniform(0, 2 * np.pi, (3, 2))
    wobble = rng.uniform(0.01, 0.03)
    points = _wobbled(points @ matrix.T, frequencies, phases, wobble)
    low, spans = points.min(axis=0), np.ptp(points, axis=0)
    pen = rng.uniform(8, 30) * size / 280
    target = min(max(rng.uniform(0.3, 0.9) * size, pen / pen_limit), 0.95 * size)
    pen = min(pen, pen_limit * target)
    scale = (target - pen) / max(float(spans.max()), 1e-6)
    free = np.maximum(size - spans * scale - pen, 0)
    offset = pen / 2 + rng.uniform(0, 1, 2) * free - low * scale
    ink = np.zeros((size, size), np.uint8)
    lines = np.split(np.round((points * scale + offset) * 16).astype(np.int32), ends)
    cv2.polylines(ink, lines, False, 255, max(1, round(pen)), cv2.LINE_AA, shift=4)
    return ink


def _wobbled(points, frequencies, phases, amplitude) -> np.ndarray:
    """Points moved by a smooth random field (three sine waves): a hand's slow jitter."""
    shift = np.sin(np.einsum("nj,kij->kni", points, frequencies) + phases[:, None]).sum(0)
    return points + amplitude * shift


def _densify(points: np.ndarray, step: float = 0.04) -> np.ndarray:
    """Points every ``step`` along the polyline, so wobble bends straight segments too."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0], np.cumsum(lengths)])
    samples = np.linspace(0, along[-1], max(2, int(along[-1] / step) + 2))
    return np.stack([np.interp(samples, along, points[:, axis]) for axis in (0, 1)], axis=1)


def _rounded(points: np.ndarray, sigma: float) -> np.ndarray:
    """Evenly spaced points blurred along the line (ends kept): corners become curves."""
    radius = int(3 * sigma)
    if len(points) < 2 * radius + 1:
        return points
    weights = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(points, ((radius, radius), (0, 0)), mode="edge")
    blurred = [np.convolve(padded[:, axis], weights / weights.sum(), "valid") for axis in (0, 1)]
    return np.stack(blurred, axis=1)


def _smooth(points: np.ndarray, passes: int) -> np.ndarray:
    """Chaikin corner cutting (ends kept): a few points turned into a smooth curve."""
    for _ in range(passes):
        pairs = np.stack(
            [0.75 * points[:-1] + 0.25 * points[1:], 0.25 * points[:-1] + 0.75 * points[1:]], 1
        )
        points = np.concatenate([points[:1], pairs.reshape(-1, 2), points[-1:]])
    return points


def _letter_strokes(rng: np.random.Generator, split: str) -> tuple[str, list[np.ndarray]]:
    """One glyph's strokes; heldout includes the letters train never draws."""
    letters = TRAIN_LETTERS if split == "train" else tuple(GLYPHS)
    letter = letters[rng.integers(len(letters))]
    return letter, _glyph(GLYPHS[letter])


@functools.cache
def _glyph(code: str) -> list[np.ndarray]:
    """Strokes of a GLYPHS entry; "~" strokes become curves through their points."""
    strokes = []
    for stroke in code.split("|"):
        points = np.array([point.split(",") for point in stroke.lstrip("~").split()], float)
        strokes.append(_smooth(points, 4) if stroke.startswith("~") else points)
    return strokes


def _arc(start: float, end: float, radii=(1.0, 1.0), centre=(0.0, 0.0), count: int = 48):
    """Points of an elliptical arc, angles in degrees (y down: 90 is below the centre)."""
    angles = np.radians(np.linspace(start, end, count))
    return np.stack(
        [centre[0] + radii[0] * np.cos(angles), centre[1] + radii[1] * np.sin(angles)], 1
    )


def _scribble(rng: np.random.Generator, split: str) -> tuple[str, list[np.ndarray]]:
    """A scribble of this split's variants; none a single line or a single closed loop."""
    variant = SCRIBBLES[split][rng.integers(len(SCRIBBLES[split]))]
    if variant == "tangle":
        return variant, [_tangle(rng)]
    if variant == "zigzag":
        teeth = int(rng.integers(3, 7))
        heights = rng.uniform(0.7, 1.0, 2 * teeth + 1) * np.resize([0, 1], 2 * teeth + 1)
        width = rng.uniform(1.2, 2.0)
        return variant, [np.stack([np.linspace(0, width, 2 * teeth + 1), heights], 1)]
    if variant == "spiral":
        turns = rng.uniform(2.0, 3.2)
        angles = np.linspace(0, 2 * np.pi * turns, int(60 * turns)) * rng.choice([-1, 1])
        radii = np.linspace(0.08, 1, angles.size)
        return variant, [np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)]
    if variant == "coil":  # a row of loops, like "eeee" or a telephone cord
        angles = np.linspace(0, 2 * np.pi * rng.uniform(2.5, 4), 240)
        coil = [0.5 * angles / (2 * np.pi) - 0.35 * np.sin(angles), -0.6 * np.cos(angles)]
        return variant, [np.stack(coil, 1)]
    count = int(rng.integers(3, 5))  # hatching: a grid, like a "#" of more lines
    ends = np.linspace(0, 1, count)[:, None] + rng.uniform(-0.06, 0.06, (count, 2))
    reach = rng.uniform(-0.15, 0.05, (2, count, 2))  # lines overshoot the grid, or stop short
    lines = [
        np.array([[ends[k, 0], reach[0, k, 0]], [ends[k, 1], 1 - reach[0, k, 1]]])
        for k in range(count)
    ]
    lines += [
        np.array([[reach[1, k, 0], ends[k, 1]], [1 - reach[1, k, 1], ends[k, 0]]])
        for k in range(count)
    ]
    return variant, lines


def _tangle(rng: np.random.Generator) -> np.ndarray:
    """A smooth curve through random points that crosses itself at least three times and is
    wide both ways: fewer crossings pass for a 2, 3, 6 or 8, a thin one for a 1 or a 7."""
    while True:
        corners = rng.uniform(0, 1, (int(rng.integers(8, 13)), 2))
        spread = np.linalg.eigvalsh(np.cov(corners.T))
        if spread[0] > 0.4 * spread[1] and _crossings(corners) >= 3:
            return _smooth(corners, 4)


def _crossings(points: np.ndarray) -> int:
    """How often a polyline crosses itself (segments that are not neighbours)."""
    starts, ends = points[:-1], points[1:]

    def side(origin, towards, point):  # sign of the turn origin -> towards -> point
        delta, offset = towards - origin, point - origin
        return np.sign(delta[..., 0] * offset[..., 1] - delta[..., 1] * offset[..., 0])

    first, second = (index[:, None] for index in (starts, ends))
    apart = side(first, second, starts[None]) * side(first, second, ends[None]) < 0
    across = side(starts[None], ends[None], first) * side(starts[None], ends[None], second) < 0
    return int(np.triu(apart & across, k=2).sum())


def _shape(rng: np.random.Generator, split: str) -> tuple[str, list[np.ndarray]]:
    """A simple drawing of this split's shapes, each more than a circle or a line."""
    name = SHAPES[split][rng.integers(len(SHAPES[split]))]
    return name, _shape_strokes(name, rng)


def _shape_strokes(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes of one shape, y down, corners jittered as a hand places them."""
    jitter = rng.uniform(-0.08, 0.08, (12, 2))
    if name == "smiley":  # eyes as small loops: to_mnist drops dots and dashes as specks
        eyes = [_arc(0, 360, (0.1, 0.16), (x, -0.3), 16) for x in (-0.35, 0.35)]
        return [_arc(0, 360), *eyes, _arc(25, 155, (0.6, 0.5), (0, 0.05))]
    if name == "star":  # a pentagram in one stroke, or the outline
        pentagram = rng.integers(0, 2)
        angles = np.radians(-90 + (144 * np.arange(6) if pentagram else 36 * np.arange(11)))
        radii = np.ones(angles.size) if pentagram else np.resize([1, 0.42], angles.size)
        return [np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)]
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 80)
        height = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return [np.stack([16 * np.sin(t) ** 3, -height], 1)]
    if name in ("triangle", "square"):  # closed with a little overshoot
        square = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        corners = np.array([(0, -1), (1, 0.8), (-1, 0.8)] if name == "triangle" else square)
        corners = corners + jitter[: len(corners)]
        overshoot = corners[0] + (corners[1] - corners[0]) * rng.uniform(0, 0.15)
        return [np.vstack([corners, corners[:1], overshoot])]
    if name == "plus":
        return [np.array([[-1, 0], [1, 0]]) + jitter[:2], np.array([[0, -1], [0, 1]]) + jitter[2:4]]
    if name == "arrow":  # sideways: pointing up, an arrow is a 1 with a cap
        turn = np.radians(rng.integers(2) * 180 + rng.normal(0, 15))
        rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        arrow = [np.array([[-1, 0], [1, 0]]), np.array([[0.5, -0.45], [1, 0], [0.5, 0.45]])]
        return [stroke @ rotation.T for stroke in arrow]
    if name == "tick":
        return [np.array([[-0.6, 0], [-0.2, 0.5], [0.7, -0.7]]) + jitter[:3]]
    if name == "cloud":  # an outline of 4-7 bumps: loops an 8 or a 0 never has
        bumps = int(rng.integers(4, 8))
        t = np.linspace(0, 2 * np.pi, 40 * bumps)
        radius = 1 + 0.45 * np.abs(np.sin(bumps * t / 2))
        return [np.stack([1.3 * radius * np.cos(t), 0.8 * radius * np.sin(t)], 1)]
    if name == "knot":  # a trefoil knot's drawing: three lobes crossing in the middle
        t = np.linspace(0, 2 * np.pi, 200)
        return [np.stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t)], 1)]
    if name == "fish":  # a body open at the tail, the tail a triangle, facing either way
        t = np.linspace(0.25 * np.pi, 1.75 * np.pi, 60)
        body = np.stack([np.cos(t), 0.55 * np.sin(t)], 1)
        tail = np.array([body[0], [1.6, -0.45], [1.6, 0.45], body[-1]]) + np.resize(
            jitter[:4], (4, 2)
        )
        side = 1 if rng.random() < 0.5 else -1
        return [np.vstack([body, tail]) * (side, 1)]
    if name == "eye":  # an almond outline with its iris
        upper = _arc(200, 340, (1.2, 0.9), (0, 0.45))
        lower = _arc(20, 160, (1.2, 0.9), (0, -0.45))
        return [upper, lower, _arc(0, 360, (0.28, 0.28))]
    if name == "house":
        walls = np.array([[-0.8, -0.3], [-0.8, 1], [0.8, 1], [0.8, -0.3]]) + jitter[:4]
        door = np.array([[-0.2, 1], [-0.2, 0.4], [0.2, 0.4], [0.2, 1]])
        return [walls, np.array([[-1, -0.2], [0, -1], [1, -0.2]]) + jitter[4:7], door]
    if name == "sun":  # rays long enough not to count as specks beside the disc
        angles = np.linspace(0, 2 * np.pi, int(rng.integers(7, 11)), endpoint=False)
        rays = [np.outer([0.6, 1.0], [np.cos(angle), np.sin(angle)]) for angle in angles]
        return [_arc(0, 360, (0.45, 0.45)), *rays]
    if name == "flower":  # a rose curve r = cos(k t): 3 or 5 petals (odd k), 4 (k = 2)
        petals = int(rng.choice([2, 3, 5]))
        angles = np.linspace(0, np.pi * (1 if petals % 2 else 2), 240)
        radii = np.cos(petals * angles)
        return [np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)]
    outline = np.array([[-1, -0.7], [1, -0.7], [1, 0.7], [-1, 0.7], [-1, -0.7]])  # envelope
    return [outline + np.resize(jitter[:4], (5, 2)), np.array([[-1, -0.7], [0, 0.1], [1, -0.7]])]


def _two_digits_ink(rng: np.random.Generator, digits: np.ndarray, labels, size: int) -> np.ndarray:
    """Two MNIST digits written side by side with one pen, as float (H, W) ink."""
    first = int(rng.integers(len(digits)))
    choices = np.flatnonzero(np.asarray(labels) != labels[first]) if labels is not None else None
    if choices is None or not len(choices):
        choices = np.delete(np.arange(len(digits)), first)
    second = int(choices[rng.integers(len(choices))])
    strip = compose_strip([digits[first], digits[second]], rng)
    width = np.ptp(np.flatnonzero(strip.any(axis=0))) + 1
    height = min(rng.uniform(0.3, 0.8) * size, 0.9 * size * 20 / width)
    pen = min(rng.uniform(8, 30) * size / 280, 0.2 * height)
    return _stroke_shape(strip, int(height), pen)


def _place(ink: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size) uint8 canvas with ``ink``'s strokes at a random place (shrunk to fit)."""
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    if max(ink.shape) > size:
        ink = cv2.resize(
            ink,
            None,
            fx=size / max(ink.shape),
            fy=size / max(ink.shape),
            interpolation=cv2.INTER_AREA,
        )[:size, :size]
    canvas = np.zeros((size, size), np.float32)
    top, left = (int(rng.integers(0, size - side + 1)) for side in ink.shape)
    canvas[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
