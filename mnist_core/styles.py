"""Handwriting styles MNIST's writers rarely use, drawn onto MNIST digits.

MNIST was written by American census staff and students. Many European writers give the 1 a
long up-stroke (a flag) and often a base, cross the 7's stem, and many (Italians among them)
end the 9 in a tail curling back left; the model, never having seen those, misreads them, so
training teaches them (:data:`TAUGHT`). Many also start the 4's stem at its bar rather than
above it: the hard renderings draw that 4, but training does not teach it.
:func:`restyle` redraws an MNIST digit in such a style: the digit is upscaled and a stroke
added at the digit's own pen width (or, for the 4, rubbed out), leaving a RAW image (white on
black, uint8) which goes through :func:`mnist_core.preprocess.to_mnist` like every other
image, so the new stroke is re-fitted into MNIST's 20x20 box as a real drawing would be.
The pen paths of a 1, a 4, a 7 and a 9 drawn from scratch in the same styles
(:func:`flagged_one_strokes`, :func:`short_stem_four_strokes`, :func:`crossed_seven_strokes`,
:func:`hooked_nine_strokes`) let tests and benchmarks measure on digits owing nothing to MNIST.
"""

from __future__ import annotations

import cv2
import numpy as np

from .marks import longest_runs
from .preprocess import stroke_width

UPSCALE = 4  # MNIST's 28 px -> 112 px: strokes ~10 px wide, so pen widths round finely
MARGIN = 28  # blank px around the upscaled digit: room for a flag left of a 1 near the edge
STYLED_SIDE = 28 * UPSCALE + 2 * MARGIN  # every restyled image is this square
_SUBPIXEL_BITS = 4  # cv2 drawing at 1/16 px, so short wobbly segments do not snap to a grid
LONG_FLAG_SHARE = 0.4  # flagged 1s whose flag is long and steep (a lambda-like 1)
TAIL_DEPTH = (0.10, 0.22)  # a hooked 9's tail, as a share of the digit's height
STEM_KEPT = (0.0, 0.3)  # a short-stemmed 4's stem above its bar, as a share of the arm's height


def restyle(digit: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray | None:
    """A raw MNIST digit ((28, 28) uint8, white on black) redrawn in a style MNIST's writers
    rarely use: a (STYLED_SIDE, STYLED_SIDE) uint8 white-on-black image, the digit at
    ``UPSCALE`` times its size. None when no style applies to this label (or the digit has
    no ink to restyle)."""
    style = _STYLES.get(int(label))
    if style is None:
        return None
    image = np.pad(
        cv2.resize(digit, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_LINEAR), MARGIN
    )
    ink = image > 127
    if ink.sum() < 4 * UPSCALE * UPSCALE:
        return None
    return style(image, ink, rng)


def styled_digits(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, share: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Styled copies of ``share`` of the digits of each label training teaches a style of
    (:data:`TAUGHT`: the 1s, 7s and 9s), chosen at random: ((N, STYLED_SIDE, STYLED_SIDE)
    uint8 raw images for to_mnist, (N,) labels). A quarter by default: enough for the model to
    learn that a flag does not make a 7, while the unstyled MNIST 1s, 7s and 9s still
    dominate."""
    chosen = []
    for label in TAUGHT:
        members = np.flatnonzero(labels == label)
        count = int(round(share * len(members)))
        chosen.extend(rng.choice(members, size=count, replace=False).tolist())
    raws, kept = [], []
    for index in sorted(chosen):
        raw = restyle(images[index], int(labels[index]), rng)
        if raw is not None:
            raws.append(raw)
            kept.append(labels[index])
    if not raws:
        return np.zeros((0, STYLED_SIDE, STYLED_SIDE), np.uint8), np.zeros(0, labels.dtype)
    return np.stack(raws), np.asarray(kept, labels.dtype)


def _flagged_one(image: np.ndarray, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 1 with a flag from its top end down to the left (20-60 degrees below the horizontal,
    25-60% of the digit's height; or, LONG_FLAG_SHARE of the time, 45-72 degrees and up to 95%
    of the height), and on an upright 1 a base one time in three.

    On a 1 leaning right ("/") a flag near the stem's direction vanishes into it and a long,
    flat one turns it into a 7 (which is why Europeans cross their 7s): the flag stays 25
    degrees off the stem, gets steeper and shorter as the lean grows, and a 1 leaning more
    than ~30 degrees gets none."""
    pen = _pen_width(ink, rng)
    top, bottom = _ink_rows(ink)
    height = bottom - top + 1
    start = _band_centre(ink, top, top + pen)
    end = _band_centre(ink, bottom - pen, bottom)
    stem_angle = np.degrees(np.arctan2(end[1] - start[1], start[0] - end[0]))
    lean = max(0.0, 90.0 - stem_angle)  # degrees the top leans right
    if rng.random() < LONG_FLAG_SHARE:
        # The long, steep flag: nearly as long as the stem, the 1 drawn like a lambda.
        shallowest, steepest = 45.0 + 0.5 * lean, min(72.0, stem_angle - 18.0)
    else:
        shallowest, steepest = 20.0 + 0.5 * lean, min(60.0, stem_angle - 25.0)
    if steepest < shallowest:
        return None
    angle = np.deg2rad(rng.uniform(shallowest, steepest))
    direction = np.array([-np.cos(angle), np.sin(angle)])
    length = _flag_length(rng, angle, 0.6 - 0.01 * lean) * height
    # A 1 leaning far left leaves little room: shorten the flag rather than clip it.
    room = (start[0] - pen) / np.cos(angle)
    length = max(min(length, room), 0.2 * height)
    paths = [[start, start + length * direction]]
    # A base under a slanted stem reads as a Z (a 2): only upright 1s get one.
    if abs(stem_angle - 90) < 20 and rng.random() < 1 / 3:
        foot = end - (0, 0.3 * pen)
        reach = rng.uniform(0.15, 0.3, size=2) * height
        tilt = np.tan(np.deg2rad(rng.uniform(-5, 5)))
        paths.append([foot - (reach[0], -tilt * reach[0]), foot + (reach[1], tilt * reach[1])])
    return _with_strokes(image, paths, pen, rng)


def _short_stem_four(
    image: np.ndarray, ink: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """A 4 whose stem starts at its bar (or up to 30% of the arm's height above it), as many
    European writers draw it: the arm and the bar in one movement, then the stem down from
    the bar; MNIST's 4s raise the stem to the top. The stem is followed up from its foot,
    row by row, along the ink run nearest where it was, carried across the bar and rubbed out
    above the cut. None (for about one in six of MNIST's 4s) where no bar, no stem right of
    the bar's middle or no stem above the bar is found, or where rubbing out would leave a
    piece floating free: 4s with short legs, knotted 4s, very thick pens."""
    pen = _pen_width(ink, rng)
    top, bottom = _ink_rows(ink)
    height = bottom - top + 1
    first, last = top + int(0.3 * height), top + int(0.8 * height)
    widest = [_longest_run(ink[row : row + 1]) for row in range(first, last)]
    bar = first + int(np.argmax(widest))
    if max(widest) < 3 * pen:
        return None
    # The stem below the bar, followed up from its foot: the one stroke reaching the bottom
    # (an arm's tail may reach below the bar too, left of it).
    foot = _band_centre(ink, bottom - pen, bottom)[0]
    below = _followed(ink, range(bottom, bar + pen - 1, -1), foot, pen)
    if len(below) < max(8, 1.5 * pen):
        return None
    rows, middles = below[:, 0], below[:, 1:].mean(axis=1)
    slope, offset = np.polyfit(rows, middles, 1)
    x = slope * (bar - pen) + offset  # carried up across the bar
    bar_start, bar_end = max(_runs(ink[bar]), key=lambda span: span[1] - span[0])
    if x < bar_start + 0.4 * (bar_end - bar_start):
        return None  # what reaches the bottom is not right of the bar's middle: not a stem
    # The anti-aliased edge too, or a faint ghost of the stem would stay.
    faint = image > 24
    cut = int(bar - rng.uniform(*STEM_KEPT) * (bar - top))
    above = _followed(faint, range(bar - pen, top - 1, -1), x, pen)
    above = above[above[:, 0] < cut]
    if len(above) < pen:
        return None  # no stem above the bar to take away
    out = image.copy()
    for row, start, end in above:
        out[row, max(start - 1, 0) : end + 1] = 0
    # The stem's tip above where the following stopped (a serif, a hook) floats free: a
    # speck goes; a larger piece means the stem was lost on the way up, and the 4 is left be.
    speck = 3 * pen * pen
    count, parts, stats, _ = cv2.connectedComponentsWithStats((out > 24).astype(np.uint8))
    areas = stats[1:count, cv2.CC_STAT_AREA]
    lowest = stats[1:count, cv2.CC_STAT_TOP] + stats[1:count, cv2.CC_STAT_HEIGHT]
    for part in np.flatnonzero((areas < speck) & (lowest <= cut)) + 1:
        out[parts == part] = 0
    # The parts no speck: those the rubbing out leaves, the specks just gone aside.
    if np.count_nonzero(areas >= speck) > _parts(faint, speck):
        return None
    return out


def _followed(mask: np.ndarray, rows, x: float, pen: int) -> np.ndarray:
    """(N, 3) row, start, end of a stroke followed through ``rows`` (in order) from column
    ``x``: in each row the run of ``mask`` nearest the last, until none is within 1.5 pens.
    Where the stroke meets another (a run over 2.5 pens wide), only a pen either side of it."""
    followed = []
    for row in rows:
        spans = _runs(mask[row])
        if not len(spans):
            break
        middles = spans.mean(axis=1)
        nearest = int(np.argmin(np.abs(middles - x)))
        if abs(middles[nearest] - x) > 1.5 * pen:
            break
        start, end = spans[nearest]
        if end - start > 2.5 * pen:
            start, end = int(x - pen), int(x + pen + 1)
        else:
            x = middles[nearest]
        followed.append((row, start, end))
    return np.array(followed, dtype=np.int64).reshape(-1, 3)


def _parts(mask: np.ndarray, smallest: float) -> int:
    """How many connected parts of ``mask`` hold at least ``smallest`` pixels."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    return int(np.count_nonzero(stats[1:count, cv2.CC_STAT_AREA] >= smallest))


def _runs(row: np.ndarray) -> np.ndarray:
    """(N, 2) [start, end) of each run of True in the 1-D ``row``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return edges.reshape(-1, 2)


def _crossed_seven(
    image: np.ndarray, ink: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """A 7 with a short bar across its stem at 40-60% of its height, 35-70% of the digit's
    width long, centred on the stem give or take a little, tilted by up to 6 degrees. None
    for a 7 MNIST's writer already crossed: a second bar makes a sign no one writes."""
    pen = _pen_width(ink, rng)
    top, bottom = _ink_rows(ink)
    middle = ink[int(top + 0.4 * (bottom - top)) : int(top + 0.75 * (bottom - top))]
    if _longest_run(middle) > 3 * pen:
        return None
    row = int(round(top + rng.uniform(0.4, 0.6) * (bottom - top)))
    stem = _stem_column(ink, row, pen)
    columns = np.flatnonzero(ink.any(axis=0))
    length = max(rng.uniform(0.35, 0.7) * (columns[-1] - columns[0] + 1), 3 * pen)
    centre = np.array([stem + rng.uniform(-0.1, 0.1) * length, row])
    tilt = np.tan(np.deg2rad(rng.uniform(-6, 6)))
    half = 0.5 * length * np.array([1.0, -tilt])
    return _with_strokes(image, [[centre - half, centre + half]], pen, rng)


def _hooked_nine(image: np.ndarray, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 9 whose stem ends in a tail curling back to the left, as many Italian and other
    European writers end it (a g's tail, the lower half of a 3 under the loop), which MNIST's
    9s never show: an arc leaving the stem's foot along the stem, 10-22% of the digit's
    height deep, 0.8-1.6 times as wide, turning 110-200 degrees. None for a 9 whose foot
    already curls (its lowest ink lies left of the stem above it) or lies near the left edge."""
    pen = _pen_width(ink, rng)
    top, bottom = _ink_rows(ink)
    height = bottom - top + 1
    foot = _band_centre(ink, bottom - pen, bottom)
    stem_row = bottom - int(0.3 * height)
    if not ink[stem_row : stem_row + pen + 1].any():
        return None  # the stroke is broken there: no stem to hang a tail on
    down = foot - _band_centre(ink, stem_row, stem_row + pen)
    if np.linalg.norm(down) < pen:
        return None
    if down[0] < -0.8 * abs(down[1]):
        return None  # its foot already turns left
    tail = _hooked_tail(foot, down / np.linalg.norm(down), rng.uniform(*TAIL_DEPTH) * height, rng)
    if tail[:, 0].min() < pen:
        return None
    return _with_strokes(image, [tail], pen, rng)


def _hooked_tail(foot, down, depth: float, rng: np.random.Generator) -> np.ndarray:
    """(24, 2) points of a 9's tail from ``foot``: an arc leaving along the unit vector
    ``down`` (the stem's direction), ``depth`` deep, 0.8-1.6 times as wide, turning 110-200
    degrees to the stem's left (x < 0 for an upright stem; y is down)."""
    width = depth * rng.uniform(0.8, 1.6)
    turn = np.deg2rad(np.linspace(0, rng.uniform(110, 200), 24))
    along, aside = depth * np.sin(turn), width * (1 - np.cos(turn))
    left = np.array([-down[1], down[0]])
    return foot + along[:, None] * down + aside[:, None] * left


_STYLES = {1: _flagged_one, 4: _short_stem_four, 7: _crossed_seven, 9: _hooked_nine}
# The styles training teaches. The short-stemmed 4 is drawn in the hard canvases and form
# scans (and from scratch) but not taught: taught, it cost the Quick preset 0.15-0.18 points
# of MNIST test (seeds 1 and 2) and gained nothing beyond noise elsewhere (docs/model.md).
TAUGHT = (1, 7, 9)

# A box-filled digit is widened (or heightened) at most this many times: a straight 1,
# stretched to a square, would be a block of ink with nothing of a 1 left to learn from.
MAX_FILL_STRETCH = 3.0


def fill_box(image: np.ndarray) -> np.ndarray:
    """A raw digit (white on black uint8) stretched to fill a square box, as form readers and
    some scanned datasets store digits (each one scaled to its box both ways, its aspect
    lost): a narrow digit comes out wide, a flagged 1 like a 4 without its bar. The longer
    side keeps its size, the shorter one grows at most ``MAX_FILL_STRETCH`` times; the
    result is a square image with the same blank margin as ``image``'s widest side."""
    left, top, width, height = cv2.boundingRect(image)  # of the non-zero pixels
    if not width:
        return image
    ink = image[top : top + height, left : left + width]
    side = max(height, width)
    new_height = int(round(min(side, height * MAX_FILL_STRETCH)))
    new_width = int(round(min(side, width * MAX_FILL_STRETCH)))
    stretched = cv2.resize(ink, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    margin = max(image.shape) // 7  # MNIST's 4 px of 28 around its 20 px box
    out = np.zeros((side + 2 * margin,) * 2, image.dtype)
    top = margin + (side - new_height) // 2
    left = margin + (side - new_width) // 2
    out[top : top + new_height, left : left + new_width] = stretched
    return out


def coarse_scan(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A raw digit as a form scanner stores it: shrunk to 16-24 px a side and, two times in
    three, cut to black and white at a random level (blocky strokes, lost thin parts)."""
    side = int(rng.integers(16, 25))
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    if rng.random() < 2 / 3:
        small = np.where(small > rng.uniform(60, 160), 255, 0).astype(np.uint8)
    return small


def _flag_length(rng: np.random.Generator, angle: float, longest: float = 0.6) -> float:
    """A flag's length (share of the 1's height): 25-60%, but reaching at most 35% of the
    height to the left (a long flat flag is a 7's top bar, which spans 50-80%); a steep flag
    (over 45 degrees) may run 55-95% of the way down, as many Europeans write it."""
    if angle > np.deg2rad(45):
        return min(rng.uniform(0.55, 0.95), 0.45 / np.cos(angle))
    return min(rng.uniform(0.25, longest), 0.35 / np.cos(angle))


def _pen_width(ink: np.ndarray, rng: np.random.Generator) -> int:
    """The digit's own stroke width (2 x area / outline length), give or take 15%: the new
    stroke must look drawn by the same pen, not pasted in."""
    width = stroke_width(ink.astype(np.uint8)) * rng.uniform(0.85, 1.15)
    return max(2, int(round(width)))


def _ink_rows(ink: np.ndarray) -> tuple[int, int]:
    """First and last rows holding ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    return int(rows[0]), int(rows[-1])


def _band_centre(ink: np.ndarray, first_row: int, last_row: int) -> np.ndarray:
    """(x, y) centre of the ink in rows first_row..last_row: where a stroke ends, taken from
    a pen's width of ink rather than one row, which may hold a stray pixel."""
    rows, columns = np.nonzero(ink[max(first_row, 0) : last_row + 1])
    return np.array([columns.mean(), rows.mean() + max(first_row, 0)])


def _longest_run(ink: np.ndarray) -> int:
    """The longest horizontal run of ink in any row: a bar, where a stem crosses a row in
    about a pen's width (1.3 widths at 50 degrees)."""
    return int(longest_runs(ink).max(initial=0))


def _stem_column(ink: np.ndarray, row: int, pen: int) -> float:
    """x of the 7's stem at ``row``: of the ink runs crossing the rows around it, the one
    nearest the centre of the ink below (a 7 already crossed, or curled, has several)."""
    runs = _runs(ink[row - pen // 2 : row + pen // 2 + 1].any(axis=0))
    if not len(runs):  # the stem is broken here; aim at the ink below
        runs = np.array([[0, ink.shape[1]]])
    below = np.nonzero(ink[row:])[1]
    target = below.mean() if len(below) else ink.shape[1] / 2
    centres = runs.mean(axis=1) - 0.5
    return float(centres[np.argmin(np.abs(centres - target))])


def _with_strokes(image, paths, pen: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` with the straight ``paths`` drawn on it, each slightly wobbly."""
    strokes = np.zeros_like(image)
    draw_paths(strokes, [wobbly(np.asarray(path, float), rng) for path in paths], pen)
    return np.maximum(image, strokes)


def wobbly(path: np.ndarray, rng: np.random.Generator, amount: float = 0.02) -> np.ndarray:
    """``path`` ((N, 2) x, y) resampled every few px and bent sideways by a smooth random
    offset up to ``amount`` of its length, 0 at its start: no hand draws a ruled line, but
    the stroke still leaves from where the pen was."""
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    total = max(float(along[-1]), 1e-6)
    places = np.linspace(0, total, max(2, int(total / 3) + 1))
    points = np.stack([np.interp(places, along, path[:, axis]) for axis in (0, 1)], axis=1)
    tangent = np.gradient(points, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    fraction = places / total
    phases = rng.uniform(0, 2 * np.pi, size=2)
    bend = np.sin(np.pi * fraction + phases[0]) + 0.5 * np.sin(3 * np.pi * fraction + phases[1])
    offset = rng.uniform(-1, 1) * amount * total * fraction * bend / 1.5
    return points + offset[:, None] * normal


def draw_paths(image: np.ndarray, paths, pen: int, value: int = 255) -> None:
    """Draw the open polylines ``paths`` ((N, 2) float x, y each) onto ``image`` in place,
    ``pen`` px wide with round ends and anti-aliased edges, as a browser's canvas draws."""
    scale = 1 << _SUBPIXEL_BITS
    polylines = [np.round(np.asarray(path) * scale).astype(np.int32) for path in paths]
    cv2.polylines(
        image, polylines, False, value, max(1, int(pen)), cv2.LINE_AA, shift=_SUBPIXEL_BITS
    )


def flagged_one_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Pen paths ((N, 2) x, y, the digit 1 unit tall, y down) of a 1 written from scratch the
    European way: a stem leaning up to 10 degrees either way, a flag from its top 25-60% of
    its height long at 20-60 degrees below the horizontal, and half the time a base."""
    lean_degrees = rng.uniform(-10, 10)  # positive: the top leans right
    lean = np.tan(np.deg2rad(lean_degrees))
    top, bottom = np.array([lean / 2, 0.0]), np.array([-lean / 2, 1.0])
    # As in restyle: the more the top leans right, the steeper the flag, or it reads 7.
    if rng.random() < LONG_FLAG_SHARE:
        angle = np.deg2rad(rng.uniform(45 + max(lean_degrees, 0) / 2, 72))
    else:
        angle = np.deg2rad(rng.uniform(20 + max(lean_degrees, 0), 60))
    flag = top + _flag_length(rng, angle) * np.array([-np.cos(angle), np.sin(angle)])
    strokes = [np.array([flag, top, bottom])]  # one movement: up the flag, down the stem
    if rng.random() < 0.5:
        reach = rng.uniform(0.15, 0.35, size=2)
        strokes.append(np.array([bottom - (reach[0], 0), bottom + (reach[1], 0)]))
    return strokes


def short_stem_four_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Pen paths (as :func:`flagged_one_strokes`) of a 4 written the European way: the arm
    (slanting down to the left, or nearly upright for an open 4) and the bar in one movement,
    then the stem from the bar, or a little above it, down to the foot (as
    :func:`_short_stem_four` leaves MNIST's 4s)."""
    width = rng.uniform(0.5, 0.8)
    bar = rng.uniform(0.5, 0.68)
    stem = width * rng.uniform(0.55, 0.8)  # where the stem crosses the bar, from the left
    arm_top = np.array([rng.uniform(0.05 * width, stem - 0.05), 0.0])
    corner = np.array([0.0, bar])
    bar_end = np.array([width, bar + rng.uniform(-0.04, 0.04)])
    lean = np.tan(np.deg2rad(rng.uniform(-8, 8)))  # positive: the top leans right
    stem_top = bar - rng.uniform(*STEM_KEPT) * bar
    head = np.array([stem + lean * (bar - stem_top), stem_top])
    foot = np.array([stem - lean * (1.0 - bar), 1.0])
    return [np.array([arm_top, corner, bar_end]), np.array([head, foot])]


def crossed_seven_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Pen paths (as :func:`flagged_one_strokes`) of a 7 written the European way: a top
    bar, sometimes with a short down-tick at its left end, a straight stem to the lower left
    and a short bar across the stem near its middle."""
    width = rng.uniform(0.45, 0.8)
    rise = rng.uniform(-0.04, 0.04)
    left, right = np.array([0.0, rise]), np.array([width, 0.0])
    foot = np.array([width * rng.uniform(0.05, 0.6), 1.0])
    stroke = [left, right, foot]
    if rng.random() < 0.3:
        stroke.insert(0, left + (0.0, rng.uniform(0.06, 0.15)))
    where = rng.uniform(0.45, 0.6)
    middle = right + where * (foot - right)
    length = rng.uniform(0.3, 0.6) * width + 0.1
    centre = middle + (rng.uniform(-0.1, 0.1) * length, 0.0)
    tilt = np.tan(np.deg2rad(rng.uniform(-6, 6)))
    half = 0.5 * length * np.array([1.0, -tilt])
    return [np.array(stroke), np.array([centre - half, centre + half])]


def hooked_nine_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Pen paths (as :func:`flagged_one_strokes`) of a 9 written the Italian way, in one
    movement: a loop drawn anticlockwise from its right side, a stem down from there leaning
    up to 10 degrees either way, and a tail curling back to the left, 10-22% of the height
    deep, turning 110-200 degrees (as :func:`_hooked_nine` adds to MNIST's 9s)."""
    radius_x, radius_y = rng.uniform(0.17, 0.28), rng.uniform(0.15, 0.22)
    centre = np.array([0.0, radius_y])
    start = rng.uniform(-0.3, 0.3)  # where on its right side the loop starts, radians
    turns = start - np.linspace(0, 2 * np.pi, 40)  # anticlockwise on screen, y down
    loop = centre + np.stack([radius_x * np.cos(turns), radius_y * np.sin(turns)], axis=1)
    lean = np.tan(np.deg2rad(rng.uniform(-10, 10)))  # positive: the top leans right
    depth = rng.uniform(*TAIL_DEPTH)
    top = loop[-1]
    foot = np.array([top[0] - lean * (1 - depth - top[1]), 1.0 - depth])
    tail = _hooked_tail(foot, (foot - top) / np.linalg.norm(foot - top), depth, rng)
    return [np.concatenate([loop, tail])]
