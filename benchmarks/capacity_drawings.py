"""What bench_capacity's sessions draw and upload: drawings from mnist_core.renderings, as the
browser's canvas sends them, each checked beforehand to be read right by the bundled model.

    python benchmarks/capacity_drawings.py --out drawings.pkl [--digits 120] [--numbers 24]

The canvas (streamlit-drawable-canvas 0.13, a v2 component) sends, after each stroke, one
``json_value`` for its widget: ``{"drawing": {"raw": <fabric.js JSON>, "data": <PNG data
URL>}}`` serialised without spaces. The PNG is the whole canvas, RGBA 8 bit, opaque (the app
sets a white background), the ink black and anti-aliased; the fabric JSON holds one ``Path``
object a stroke, with fabric 7.4's 39 properties and the path as ``M``, ``Q``... ``L``
commands through the pointer's positions. Read off Chromium's frames (bench_capacity's
docstring says how); only the picture and the pen's positions differ here.

The pen's positions come from the drawing's ink sampled every ``POINT_SPACING_PX`` and
chained nearest first (a new stroke where the next ink is far): the app reads only the
picture, but the server parses the whole value, so its size and shape must be the
browser's. A digit drawn in k strokes is sent k times, its ink revealed top to bottom, as a
hand draws; only the last is checked.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import pickle
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from mnist_core.renderings import canvas_drawing, number_canvas, paper_photo  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "mnist_sample.npz"
CANVAS_HEIGHT = 280
POINT_SPACING_PX = 12  # a mouse at 60 Hz reports every ~15 px of a hand's ~800 px/s
STROKE_GAP_PX = 30  # ink farther than this from the last point starts a new stroke
FABRIC_PATH = {  # fabric 7.4's Path properties, as Chromium sent them (position: per stroke)
    "lockMovementX": False, "lockMovementY": False, "lockRotation": False,
    "lockScalingX": False, "lockScalingY": False, "lockSkewingX": False,
    "lockSkewingY": False, "lockScalingFlip": False, "type": "Path", "version": "7.4.0",
    "originX": "center", "originY": "center", "left": 0, "top": 0, "width": 0, "height": 0,
    "fill": None, "stroke": "#000000", "strokeWidth": 20, "strokeDashArray": None,
    "strokeLineCap": "round", "strokeDashOffset": 0, "strokeLineJoin": "round",
    "strokeUniform": False, "strokeMiterLimit": 10, "scaleX": 1, "scaleY": 1, "angle": 0,
    "flipX": False, "flipY": False, "opacity": 1, "shadow": None, "visible": True,
    "backgroundColor": "", "fillRule": "nonzero", "paintFirst": "fill",
    "globalCompositeOperation": "source-over", "skewX": 0, "skewY": 0,
}  # fmt: skip


@dataclass
class Drawing:
    """One thing a session hands the app and what the app must read in it."""

    expected: str  # "7", or "402" for a number
    values: list[str]  # canvas json_values, one per stroke (empty for a photo)
    photo: bytes = b""  # JPEG bytes of a photo of paper, for the uploader


def png_data_url(rgb_ink: np.ndarray) -> str:
    """A data URL of the (H, W) ink darkness (0 paper .. 255 black) as the canvas' RGBA PNG."""
    rgba = np.empty((*rgb_ink.shape, 4), np.uint8)
    rgba[..., :3] = (255 - rgb_ink)[..., None]
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pen_strokes(ink: np.ndarray) -> list[np.ndarray]:
    """The ink's grid points chained nearest first into strokes: (K, 2) x, y arrays."""
    rows, cols = np.nonzero(ink[::POINT_SPACING_PX, ::POINT_SPACING_PX] > 127)
    points = np.stack([cols, rows], axis=1).astype(float) * POINT_SPACING_PX
    if not len(points):
        return []
    order, left = [0], set(range(1, len(points)))
    strokes, current = [], [points[0]]
    while left:
        candidates = np.array(sorted(left))
        distances = np.linalg.norm(points[candidates] - points[order[-1]], axis=1)
        nearest = int(candidates[np.argmin(distances)])
        if distances.min() > STROKE_GAP_PX:
            strokes.append(np.array(current))
            current = []
        current.append(points[nearest])
        order.append(nearest)
        left.discard(nearest)
    strokes.append(np.array(current))
    return strokes


def fabric_path(points: np.ndarray, pen_px: float) -> dict:
    """One stroke as fabric's freedraw Path: M, a Q to each midpoint, L to the end."""
    first = points[0]
    commands = [["M", round(first[0] - 0.02, 4), round(first[1], 4)]]
    for here, after in zip(points[:-1], points[1:], strict=True):
        middle = (here + after) / 2
        commands.append(["Q", *(round(float(v), 4) for v in (*here, *middle))])
    commands.append(["L", round(float(points[-1][0]) + 0.02, 4), round(float(points[-1][1]), 4)])
    low, high = points.min(axis=0), points.max(axis=0)
    return {
        **FABRIC_PATH,
        "left": round(float(low[0] + high[0]) / 2, 4),
        "top": round(float(low[1] + high[1]) / 2, 4),
        "width": round(float(high[0] - low[0]) + pen_px, 4),
        "height": round(float(high[1] - low[1]) + pen_px, 4),
        "strokeWidth": pen_px,
        "path": commands,
    }


def canvas_value(ink: np.ndarray, strokes: list[np.ndarray], pen_px: int = 20) -> str:
    """The canvas widget's json_value, byte for byte as the browser serialises it."""
    raw = {
        "version": "7.4.0",
        "objects": [fabric_path(points, pen_px) for points in strokes],
        "background": "#FFFFFF",
    }
    value = {"drawing": {"raw": raw, "data": png_data_url(ink)}}
    return json.dumps(value, separators=(",", ":"))


def blank_value(width: int) -> str:
    """What the canvas sends once cleared: no objects, a white picture."""
    return canvas_value(np.zeros((CANVAS_HEIGHT, width), np.uint8), [])


def stroke_by_stroke(ink: np.ndarray, rng: np.random.Generator) -> list[str]:
    """The values a hand drawing ``ink`` in 1-3 strokes makes the canvas send, top down."""
    strokes = pen_strokes(ink)
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    sends = int(rng.integers(1, 4))
    values = []
    for part in range(1, sends + 1):
        cut = rows[0] + (rows[-1] + 1 - rows[0]) * part // sends
        partial = ink.copy()
        partial[cut:] = 0
        drawn = [points for points in strokes if points[0][1] < cut] or strokes[:1]
        values.append(canvas_value(partial, drawn))
    return values


def candidates(digits: np.ndarray, labels: np.ndarray, counts: dict, seed: int):
    """Unchecked drawings: (kind, Drawing, the picture the app will read)."""
    rng = np.random.default_rng(seed)
    for _ in range(counts["digit"]):
        index = int(rng.integers(len(digits)))
        rgba = canvas_drawing(
            digits[index], rng, stroke_px=rng.uniform(14, 26), colour=(0, 0, 0), background="white"
        )
        ink = 255 - rgba[..., 0]
        yield "digit", Drawing(str(labels[index]), stroke_by_stroke(ink, rng)), rgba
    for _ in range(counts["number"]):
        picks = rng.integers(len(digits), size=int(rng.integers(2, 5)))
        ink = number_canvas([digits[i] for i in picks], rng)[..., 3]
        text = "".join(str(labels[i]) for i in picks)
        yield "number", Drawing(text, stroke_by_stroke(ink, rng)), _opaque(ink)
    for _ in range(counts["photo"]):
        index = int(rng.integers(len(digits)))
        photo = paper_photo(digits[index], rng)
        yield "photo", Drawing(str(labels[index]), [], photo), photo


def _opaque(ink: np.ndarray) -> np.ndarray:
    rgba = np.full((*ink.shape, 4), 255, np.uint8)
    rgba[..., :3] = (255 - ink)[..., None]
    return rgba


def read_as_the_app(classifier, kind: str, picture) -> str:
    """What the draw page shows for ``picture``: the digit, the number, or the photo's digit."""
    from mnist_core.decode import decode

    if kind == "digit":
        return str(classifier.predict(picture).digit)
    if kind == "number":
        return classifier.read_number(picture).text
    preview = decode(picture)
    reading = classifier.read_number(preview)
    return reading.text if len(reading.digits) >= 2 else str(classifier.predict(preview).digit)


def prepare(counts: dict, seed: int = 2026) -> tuple[dict[str, list[Drawing]], int]:
    """Drawings of each kind the bundled model reads right, and how many were left out."""
    from mnist_core import DigitClassifier

    classifier = DigitClassifier.load()
    with np.load(SAMPLE) as data:
        digits, labels = data["x_test"], data["y_test"]
    kept: dict[str, list[Drawing]] = {kind: [] for kind in counts}
    dropped = 0
    for kind, drawing, picture in candidates(digits, labels, counts, seed):
        if read_as_the_app(classifier, kind, picture) == drawing.expected:
            kept[kind].append(drawing)
        else:
            dropped += 1
    return kept, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--digits", type=int, default=120)
    parser.add_argument("--numbers", type=int, default=24)
    parser.add_argument("--photos", type=int, default=12)
    arguments = parser.parse_args()
    counts = {"digit": arguments.digits, "number": arguments.numbers, "photo": arguments.photos}
    kept, dropped = prepare(counts)
    blanks = {width: blank_value(width) for width in (280, 560)}
    with open(arguments.out, "wb") as handle:
        # Plain dicts: the reader imports this module under its own name, not __main__.
        drawings = {kind: [asdict(drawing) for drawing in found] for kind, found in kept.items()}
        pickle.dump({"drawings": drawings, "blank": blanks, "dropped": dropped}, handle)


def load(path: str | Path) -> tuple[dict[str, list[Drawing]], dict[int, str], int]:
    """What :func:`main` wrote: the drawings by kind, the blank values by width, dropped."""
    with open(path, "rb") as handle:
        saved = pickle.load(handle)
    drawings = {
        kind: [Drawing(**each) for each in found] for kind, found in saved["drawings"].items()
    }
    return drawings, saved["blank"], saved["dropped"]


if __name__ == "__main__":
    main()
