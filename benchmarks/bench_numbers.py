"""Measure whole-number reading: numbers of 2-6 digits composed from MNIST test digits, drawn
on a canvas and photographed on paper (also with a shadow across the page), read with
``DigitClassifier.read_number``.

    python benchmarks/bench_numbers.py [--data ../shared/data/mnist.npz] [--count 300]
        [--rules-only] [--digit-model-weight W] [--usps ../shared/data/ood/usps_test.npz]

Prints the share read exactly right (every digit), per number length, and why the others
failed: a wrong digit count (segmentation) or the right count with a misread digit.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.config import NumberReadingConfig  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.preprocess import to_mnist  # noqa: E402
from mnist_core.renderings import composed_numbers, number_canvas, number_photo  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def failure_kind(truth: str, text: str) -> str:
    if text == truth:
        return "exact"
    return "misread digit" if len(text) == len(truth) else "wrong digit count"


def measure(classifier, images, labels, count: int, render, seed: int, show: int) -> None:
    kinds, by_length, shown = Counter(), Counter(), 0
    reading_s = 0.0  # rendering the numbers is not counted
    for truth, image in composed_numbers(images, labels, count, render, seed):
        started = time.perf_counter()
        text = classifier.read_number(image).text
        reading_s += time.perf_counter() - started
        kind = failure_kind(truth, text)
        kinds[kind] += 1
        by_length[len(truth), kind == "exact"] += 1
        if kind != "exact" and shown < show:
            print(f"    {truth} read as {text or '(nothing)'}")
            shown += 1
    seconds = reading_s / count
    lengths = "  ".join(
        f"{n}: {by_length[n, True] / max(1, by_length[n, True] + by_length[n, False]):.0%}"
        for n in range(2, 7)
    )
    print(
        f"  {render.__name__:<14} exact {kinds['exact'] / count:7.2%}  "
        f"wrong count {kinds['wrong digit count'] / count:6.2%}  "
        f"misread {kinds['misread digit'] / count:6.2%}  ({seconds * 1000:.0f} ms per number)"
    )
    print(f"    exact by length  {lengths}")


def number_photo_in_shadow(digits, rng) -> bytes:
    """A number's phone photo with a shadow across the page (renderings.paper_photo_of_ink)."""
    return number_photo(digits, rng, cast_shadow=True)


# The kinds of number measured, by name: here and in compare_models.py --numbers.
NUMBER_RENDERINGS = {
    "numbers on a canvas": number_canvas,
    "numbers, paper photos": number_photo,
    "numbers, half in shadow": number_photo_in_shadow,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(SHARED_MNIST))
    parser.add_argument("--count", type=int, default=300, help="numbers per rendering")
    parser.add_argument("--show", type=int, default=0, help="print this many failures")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--rules-only", action="store_true", help="cut numbers without the number reader"
    )
    parser.add_argument(
        "--digit-model-weight",
        type=float,
        help="weigh the digit model's probabilities this much against the reader's "
        "(default: NumberReadingConfig's)",
    )
    parser.add_argument(
        "--usps", help="compose from this .npz of 16x16 digits (images, labels) instead of MNIST"
    )
    arguments = parser.parse_args()
    data = load_mnist(arguments.data)
    images, labels = data.x_test, data.y_test
    if arguments.usps:  # handwriting from elsewhere: a check the reader did not learn MNIST only
        usps = np.load(arguments.usps)
        images = np.stack([to_mnist(image) for image in usps["images"]]) * 255
        images, labels = images.astype(np.uint8), usps["labels"]
    classifier = DigitClassifier.load()
    if arguments.rules_only:
        classifier.reader = None
    if arguments.digit_model_weight is not None:
        classifier.reading = NumberReadingConfig(arguments.digit_model_weight)
    reader = "rules only" if classifier.reader is None else f"reader {classifier.reader.path}"
    print(
        f"model: {classifier.path}; {reader}, digit model weighed "
        f"{classifier.reading.digit_model_weight:g}; {arguments.count} numbers of 2-6 "
        f"{'USPS' if arguments.usps else 'MNIST'} test digits each"
    )
    for render in NUMBER_RENDERINGS.values():
        measure(
            classifier,
            images,
            labels,
            arguments.count,
            render,
            arguments.seed,
            arguments.show,
        )


if __name__ == "__main__":
    main()
