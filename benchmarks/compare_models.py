"""Two digit models on the same fresh drawings, digit by digit: is the difference real?

    python benchmarks/compare_models.py A.onnx B.onnx [--count 3000] [--seed 7]
    python benchmarks/compare_models.py --baseline REV [MODEL] [--count 3000] [--seed 7]
        [--numbers 1500]

With ``--baseline``, A and B are one model (the bundled one unless MODEL is given) read by
the serving modules as they are at REV and as they are in this checkout: is a change to the
reading path a gain? (``preprocess_ab.py`` loads the two versions side by side.)

bench_core's sets (1,000 drawings, 200 for the European 1s and 7s) cannot tell two models
apart by less than ~0.5 point: one reading is 0.1 point, and two models' difference on the
same 1,000 drawings has a standard error of ~0.25 point. This reads ``--count`` drawings of
each kind, drawn with a seed that is not bench_core's (so no choice was made on them), with
both models (and held-out not-digit drawings, a third as many), and prints each model's share
read right (a not-digit: refused), the difference, the drawings only one of them read right,
and the paired standard error of the difference (sqrt(b + c) / n, b and c those two counts):
a difference within two standard errors is noise. The sets include eight of
``robustness_sweep.py``'s cases: digits squeezed to 45% of their width, in a ring, stretched
1.9 times as wide, underlined, in chalk on a board, drawn in two strokes put down apart,
with gaps in their strokes, and turned 20-30 degrees.
``--numbers N`` also reads N whole numbers of each kind (``bench_numbers.py``'s: on a canvas,
photographed, half in shadow) with both, each right when every digit is.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_numbers import NUMBER_RENDERINGS  # noqa: E402
from preprocess_ab import SERVING_FILES, load_versions  # noqa: E402
from robustness_sweep import CASES  # noqa: E402

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.negatives import KINDS, not_digit_canvas  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    boxed_form_scan,
    canvas_drawing,
    composed_numbers,
    crossed_seven_canvas,
    flagged_one_canvas,
    form_scan,
    hard_canvas_drawing,
    hooked_nine_canvas,
    paper_photo,
    short_stem_four_canvas,
)

SHARED = ROOT.parent / "shared" / "data"
NOT_DIGIT = -1  # the label of a drawing that is not a digit


def drawn_sets(data, count: int, seed: int):
    """(name, images, labels) of every kind of drawing, ``count`` each (photos and not-digits:
    a third)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data.x_test), count, replace=False)
    digits, labels = data.x_test[pick], data.y_test[pick]
    for background in ("transparent", "white", "black"):
        yield (
            f"canvas, {background}",
            [canvas_drawing(d, rng, background=background) for d in digits],
            labels,
        )
    yield (
        "canvas, hard",
        [hard_canvas_drawing(d, int(y), rng) for d, y in zip(digits, labels, strict=True)],
        labels,
    )
    yield "flagged 1s drawn", [flagged_one_canvas(rng) for _ in range(count)], np.ones(count)
    yield "crossed 7s drawn", [crossed_seven_canvas(rng) for _ in range(count)], np.full(count, 7)
    yield (
        "form scans, box-filled",
        [form_scan(d, int(y), rng) for d, y in zip(digits, labels, strict=True)],
        labels,
    )
    yield "form scans in their box", [boxed_form_scan(d, rng) for d in digits], labels
    for case in ("narrow", "circled"):
        yield f"sweep: {case}", [CASES[case](d, rng) for d in digits], labels
    third = count // 3
    yield "phone photos of paper", [paper_photo(d, rng) for d in digits[:third]], labels[:third]
    for kind in KINDS:  # held-out kinds: letters, hands and shapes training never draws
        canvases = [
            not_digit_canvas(rng, kind, "heldout", data.x_test, data.y_test) for _ in range(third)
        ]
        yield f"held-out {kind}, refused", canvases, np.full(third, NOT_DIGIT)
    # Last, so that the sets above draw the same renderings as before these existed.
    yield "hooked 9s drawn", [hooked_nine_canvas(rng) for _ in range(count)], np.full(count, 9)
    yield (
        "4s with the stem from the bar drawn",
        [short_stem_four_canvas(rng) for _ in range(count)],
        np.full(count, 4),
    )
    for case in ("wide", "underlined", "chalk", "pen_lift", "gaps", "tilted"):
        yield f"sweep: {case}", [CASES[case](d, rng) for d in digits], labels


def compare(first: DigitClassifier, second: DigitClassifier, images, labels) -> dict:
    """Each model's readings of ``images`` against ``labels`` (NOT_DIGIT: right when refused
    as not a digit)."""
    readings = [model.predict_batch(images) for model in (first, second)]
    right = [
        np.array(
            [
                p.verdict == "not_a_digit" if label == NOT_DIGIT else p.digit == label
                for p, label in zip(reading, labels, strict=True)
            ]
        )
        for reading in readings
    ]
    refused = [[p.digit is None for p in reading] for reading in readings]
    return paired(right, refused)


def compare_numbers(first: DigitClassifier, second: DigitClassifier, numbers) -> dict:
    """Each model's whole-number readings of ``numbers``, (text, image) pairs: right when
    every digit is; "no digit" when nothing was read."""
    right, empty = ([], []), ([], [])
    for truth, image in numbers:
        for model, its_right, its_empty in zip((first, second), right, empty, strict=True):
            text = model.read_number(image).text
            its_right.append(text == truth)
            its_empty.append(not text)
    return paired([np.array(each) for each in right], empty)


def paired(right: list[np.ndarray], refused: list) -> dict:
    """Both readers' shares right, the items only one read right, and the paired standard
    error of the difference."""
    only_first = int(np.count_nonzero(right[0] & ~right[1]))
    only_second = int(np.count_nonzero(right[1] & ~right[0]))
    count = len(right[0])
    return {
        "count": count,
        "first": float(right[0].mean()),
        "second": float(right[1].mean()),
        "only_first": only_first,
        "only_second": only_second,
        "stderr": np.sqrt(only_first + only_second) / count,
        "refused": [float(np.mean(each)) for each in refused],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="*", help="model files A and B (.onnx or .keras)")
    parser.add_argument(
        "--baseline", help="git revision: one model (MODEL, else the bundled) read as REV reads"
    )
    parser.add_argument("--data", default=str(SHARED / "mnist.npz"))
    parser.add_argument(
        "--count", type=int, default=3000, help="drawings of each kind (0: MNIST test only)"
    )
    parser.add_argument("--numbers", type=int, default=0, help="whole numbers of each kind")
    parser.add_argument("--seed", type=int, default=7, help="not bench_core's 2026")
    arguments = parser.parse_args()
    if len(arguments.models) not in ((0, 1) if arguments.baseline else (2,)):
        parser.error("give two models, or --baseline REV and at most one model")
    data = load_mnist(arguments.data)
    if arguments.baseline:
        model = arguments.models[0] if arguments.models else None
        with tempfile.TemporaryDirectory() as folder:
            new, old = load_versions(arguments.baseline, list(SERVING_FILES), Path(folder))
            first, second = old.DigitClassifier.load(model), new.DigitClassifier.load(model)
            print(f"A: {first.path} read as {arguments.baseline} reads, B: as this checkout reads")
            report(first, second, data, arguments)
    else:
        first, second = (DigitClassifier.load(model) for model in arguments.models)
        print(f"A: {first.path}\nB: {second.path}")
        report(first, second, data, arguments)


def report(first: DigitClassifier, second: DigitClassifier, data, arguments) -> None:
    print(f"seed {arguments.seed}, {arguments.count} a set\n")
    header = ("set", "n", "A", "B", "B - A", "only A", "only B", "SE", "no digit A / B")
    widths = (28, 5, 7, 7, 6, 6, 6, 5, 17)
    cells = [
        f"{name:<{width}}" if not column else f"{name:>{width}}"
        for column, (name, width) in enumerate(zip(header, widths, strict=True))
    ]
    print("| " + " | ".join(cells) + " |")
    print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    mnist = ("MNIST test", list(data.x_test), data.y_test)
    drawn = drawn_sets(data, arguments.count, arguments.seed) if arguments.count else []
    # One set in memory at a time: 3,000 canvases are ~1 GB.
    results = (
        (name, compare(first, second, images, labels))
        for name, images, labels in itertools.chain([mnist], drawn)
    )
    numbers = (
        (
            name,
            compare_numbers(
                first,
                second,
                composed_numbers(
                    data.x_test, data.y_test, arguments.numbers, render, arguments.seed
                ),
            ),
        )
        for name, render in NUMBER_RENDERINGS.items()
        if arguments.numbers
    )
    for name, r in itertools.chain(results, numbers):
        difference = r["second"] - r["first"]
        flag = " *" if abs(difference) > 2 * r["stderr"] else ""
        print(
            f"| {name:<28} | {r['count']:>5} | {r['first']:>7.2%} | {r['second']:>7.2%} | "
            f"{difference * 100:>+6.2f} | {r['only_first']:>6} | {r['only_second']:>6} | "
            f"{r['stderr'] * 100:>5.2f} | {r['refused'][0]:>7.2%} / {r['refused'][1]:>7.2%} |"
            f"{flag}",
            flush=True,
        )
    print("\n* more than two standard errors apart; differences and SE in points")


if __name__ == "__main__":
    main()
