"""Where the reading path breaks: MNIST test digits handed over the ways real ones arrive.

    python benchmarks/robustness_sweep.py [--samples 500] [--seed 2026] [--cases gaps] [--model M]

Each case turns the same MNIST test digits (chosen by --seed) into one kind of real-world
input: strokes with gaps or lifted and put down off line, a digit small in a large photo, a
page on a desk, a harsh JPEG, out of focus, a shadow across the page (soft or sharp),
coloured paper or ink, faint pencil, tilted, squeezed or stretched, followed by a full stop,
underlined, circled, in chalk. It prints the share read right, refused as "not a digit", and
taken for blank, with the bundled model through `DigitClassifier.predict_batch`, the path of
the app's upload. A case far below "plain" is a gap in the product. This finds gaps;
bench_core.py's sets, whose renderings are harder in many ways at once, measure the product.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    _stroke_shape,
    desk_photo,
    jpeg_bytes,
    paper_photo,
    paper_photo_of_ink,
)

SIDE = 280  # a canvas' size


def on_canvas(digit: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """The digit's ink (float32, 1 = ink) scaled up into a SIDE x SIDE picture."""
    inner = int(SIDE * (1 - 2 * margin))
    ink = np.zeros((SIDE, SIDE), np.float32)
    offset = (SIDE - inner) // 2
    scaled = cv2.resize(digit, (inner, inner), interpolation=cv2.INTER_CUBIC) / 255
    ink[offset : offset + inner, offset : offset + inner] = np.clip(scaled, 0, 1)
    return ink


def dark_on_white(ink: np.ndarray) -> np.ndarray:
    return (255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    return jpeg_bytes(np.clip(rgb, 0, 255).astype(np.uint8), quality)


def photo_array(digit, rng) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(paper_photo(digit, rng))).convert("RGB"), np.float32)


def half_plane(shape, rng) -> np.ndarray:
    """1 beyond a straight line through the middle of the picture at a random angle, else 0."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    angle = rng.uniform(0, np.pi)
    centre = (shape[1] / 2 + rng.normal(0, 60), shape[0] / 2 + rng.normal(0, 60))
    side = np.cos(angle) * (cols - centre[0]) + np.sin(angle) * (rows - centre[1]) > 0
    return side.astype(np.float32)


def plain(digit, rng):
    return dark_on_white(on_canvas(digit))


def gaps(digit, rng):
    """Two gaps in the strokes, a pen skipping (0.8-1.5 MNIST pixels wide)."""
    ink = on_canvas(digit)
    rows, cols = np.nonzero(ink > 0.5)
    for _ in range(2):
        pick = rng.integers(len(rows))
        cv2.circle(ink, (int(cols[pick]), int(rows[pick])), int(rng.integers(8, 15)), 0, -1)
    return dark_on_white(ink)


def pen_lift(digit, rng):
    """One side of the digit put down 1.7-4 MNIST pixels off, as a second stroke is."""
    ink = on_canvas(digit)
    side = half_plane(ink.shape, rng) > 0
    direction = rng.normal(0, 1, 2)
    shift = direction / np.hypot(*direction) * rng.uniform(12, 28)
    moved = cv2.warpAffine(
        ink * side, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), ink.shape[::-1]
    )
    return dark_on_white(np.maximum(ink * ~side, moved))


def small_in_photo(digit, rng):
    """A phone photo of a page with the digit 5-8% of the picture's height."""
    height, width = 720, 960
    digit_height = int(rng.uniform(0.05, 0.08) * height)
    shape = _stroke_shape(digit, digit_height, rng.uniform(0.06, 0.12) * digit_height)
    ink = np.zeros((height, width), np.float32)
    top = int(rng.integers(0, height - shape.shape[0]))
    left = int(rng.integers(0, width - shape.shape[1]))
    ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    return paper_photo_of_ink(ink, rng)


def harsh_jpeg(digit, rng):
    small = cv2.resize(photo_array(digit, rng), (320, 240), interpolation=cv2.INTER_AREA)
    return jpeg(small, quality=8)


def out_of_focus(digit, rng):
    return cv2.GaussianBlur(dark_on_white(on_canvas(digit)), (0, 0), rng.uniform(4, 7))


def soft_shadow(digit, rng):
    """A shadow 55% deep across the photo, its edge blurred 8-25 px (a hand, a phone)."""
    image = photo_array(digit, rng)
    beyond = cv2.GaussianBlur(half_plane(image.shape, rng), (0, 0), rng.uniform(8, 25))
    return jpeg(image * (1 - 0.55 * beyond)[..., None])


def sharp_shadow(digit, rng):
    """A shadow 60% deep across the photo, its edge sharp (a lamp close by)."""
    image = photo_array(digit, rng)
    return jpeg(image * (1 - 0.6 * half_plane(image.shape, rng))[..., None])


def coloured(paper, pen):
    def case(digit, rng):
        ink = on_canvas(digit)[..., None]
        return jpeg(255 * (np.array(paper) * (1 - ink) + np.array(pen) * ink))

    return case


def faint_pencil(digit, rng):
    ink = on_canvas(digit) * rng.uniform(0.15, 0.25)
    return np.clip(dark_on_white(ink) + rng.normal(0, 6, ink.shape), 0, 255).astype(np.uint8)


def tilted(digit, rng):
    """Turned 20-30 degrees, as a phone held askew photographs it."""
    angle = rng.choice([-1, 1]) * rng.uniform(20, 30)
    turn = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), angle, 1)
    return dark_on_white(cv2.warpAffine(on_canvas(digit, 0.25), turn, (SIDE, SIDE)))


def wide(digit, rng):
    ink = cv2.resize(on_canvas(digit, 0.3), None, fx=1.9, fy=1.0)
    middle = ink.shape[1] // 2
    return dark_on_white(ink[:, middle - SIDE // 2 : middle + SIDE // 2])


def narrow(digit, rng):
    squeezed = cv2.resize(on_canvas(digit), None, fx=0.45, fy=1.0)
    ink = np.zeros((SIDE, SIDE), np.float32)
    left = (SIDE - squeezed.shape[1]) // 2
    ink[:, left : left + squeezed.shape[1]] = squeezed
    return dark_on_white(ink)


def full_stop(digit, rng):
    ink = on_canvas(digit, 0.2)
    rows, cols = np.nonzero(ink > 0.5)
    centre = (int(cols.max() + rng.integers(12, 25)), int(rows.max() - 4))
    cv2.circle(ink, centre, int(rng.integers(6, 10)), 1, -1)
    return dark_on_white(ink)


def underlined(digit, rng):
    ink = on_canvas(digit, 0.2)
    rows, cols = np.nonzero(ink > 0.5)
    row = int(rows.max() + rng.integers(10, 22))
    end = (int(cols.max() + 15), row + int(rng.integers(-6, 6)))
    cv2.line(ink, (int(cols.min() - 15), row), end, 1, int(rng.integers(8, 14)))
    return dark_on_white(ink)


def circled(digit, rng):
    ink = on_canvas(digit, 0.25)
    cv2.ellipse(ink, (SIDE // 2, SIDE // 2), (125, 130), 0, 0, 360, 1, 8)
    return dark_on_white(ink)


def chalk(digit, rng):
    ink = (on_canvas(digit) * (rng.random((SIDE, SIDE)) > 0.35))[..., None]
    board = np.array([40, 60, 45], np.float32) + rng.normal(0, 8, (SIDE, SIDE, 3))
    return jpeg(board * (1 - ink) + 230 * ink, quality=80)


CASES = {
    "plain": plain,
    "gaps": gaps,
    "pen_lift": pen_lift,
    "small_in_photo": small_in_photo,
    "page_on_a_desk": desk_photo,
    "harsh_jpeg": harsh_jpeg,
    "out_of_focus": out_of_focus,
    "soft_shadow": soft_shadow,
    "sharp_shadow": sharp_shadow,
    "sticky_note": coloured((1.0, 0.93, 0.45), (0.1, 0.2, 0.75)),
    "red_pen": coloured((1.0, 1.0, 1.0), (0.85, 0.1, 0.1)),
    "faint_pencil": faint_pencil,
    "tilted": tilted,
    "wide": wide,
    "narrow": narrow,
    "full_stop": full_stop,
    "underlined": underlined,
    "circled": circled,
    "chalk": chalk,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cases", nargs="*", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--model", help="model file (default: the bundled model)")
    arguments = parser.parse_args()
    data = load_mnist(arguments.data)
    pick = np.random.default_rng(arguments.seed).choice(
        len(data.x_test), arguments.samples, replace=False
    )
    classifier = DigitClassifier.load(arguments.model)
    model = arguments.model or "bundled model"
    print(f"{arguments.samples} MNIST test digits a case, seed {arguments.seed}, {model}\n")
    print(f"| {'case':<15} | {'read':>7} | {'not a digit':>11} | {'blank':>6} |")
    print(f"|{'-' * 17}|{'-' * 9}|{'-' * 13}|{'-' * 8}|")
    for name in arguments.cases:
        rng = np.random.default_rng(arguments.seed)
        images = [CASES[name](digit, rng) for digit in data.x_test[pick]]
        predictions = classifier.predict_batch(images)
        read = np.mean(
            [p.digit == label for p, label in zip(predictions, data.y_test[pick], strict=True)]
        )
        refused = np.mean([p.verdict == "not_a_digit" for p in predictions])
        blank = np.mean([p.verdict == "blank" for p in predictions])
        print(f"| {name:<15} | {read:>7.1%} | {refused:>11.1%} | {blank:>6.1%} |", flush=True)


if __name__ == "__main__":
    main()
