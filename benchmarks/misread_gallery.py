"""The digits a model misreads in one of bench_core's rendered sets, as a picture to judge by
eye: is each a model error, a digit people write two ways, or a rendering nobody could read?

    python benchmarks/misread_gallery.py canvas|hard|form|boxed [--samples 1000] [--seed 7]
        [--model models/mnist_cnn.onnx] [--output docs/misreads_hard.png]

Each tile: the MNIST test digit the rendering was made from (left), what the model was given
after the app's preprocessing (right), and "true>read" with the verdict ("X" when refused).
The sets are drawn as bench_core draws them, from its renderers, with a seed of their own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    boxed_form_scan,
    canvas_drawing,
    form_scan,
    hard_canvas_drawing,
)

# Each renderer as (digit, label, rng) -> image; the canvas is bench_core's transparent one.
RENDERERS = {
    "canvas": lambda digit, label, rng: canvas_drawing(digit, rng),
    "hard": hard_canvas_drawing,
    "form": form_scan,
    "boxed": lambda digit, label, rng: boxed_form_scan(digit, rng),
}
TILE = 84  # px a side of each half of a tile
PER_ROW = 6


def tile(source: np.ndarray, seen: np.ndarray | None, caption: str) -> np.ndarray:
    seen = np.zeros((28, 28), np.float32) if seen is None else seen
    halves = [
        cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_NEAREST)
        for image in (source, (seen * 255).astype(np.uint8))
    ]
    picture = np.concatenate(halves, axis=1)
    cv2.putText(picture, caption, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, 200, 1)
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=sorted(RENDERERS))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    parser.add_argument("--output", default=None, help="default: /tmp/misreads_SET.png")
    arguments = parser.parse_args()

    data = load_mnist(arguments.data)
    model = DigitClassifier.load(arguments.model)
    rng = np.random.default_rng(arguments.seed)
    render = RENDERERS[arguments.set]
    tiles = []
    for index in rng.choice(len(data.x_test), arguments.samples, replace=False):
        label = int(data.y_test[index])
        prediction = model.predict(render(data.x_test[index], label, rng))
        if prediction.digit != label:
            read = "X" if prediction.digit is None else prediction.digit
            tiles.append(tile(data.x_test[index], prediction.model_input, f"{label}>{read}"))
    print(f"{arguments.set}: {len(tiles)} of {arguments.samples:,} misread")
    if not tiles:
        return
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % PER_ROW)
    rows = [np.concatenate(tiles[k : k + PER_ROW], axis=1) for k in range(0, len(tiles), PER_ROW)]
    output = arguments.output or f"/tmp/misreads_{arguments.set}.png"
    cv2.imwrite(output, np.concatenate(rows, axis=0))
    print(f"gallery -> {output}")


if __name__ == "__main__":
    main()
