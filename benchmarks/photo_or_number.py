"""Uploaded photos through ``read_photo``, as the app reads them: is one digit read as one
digit, and a number as a number? This checkout's reading path against another commit's.

    python benchmarks/photo_or_number.py [--baseline REV] [--count 500] [--seed 13]

``read_photo`` reads a photo as a number when the cut finds two digits or more, so a digit
the cut splits in two (a closed 4 as "11") comes back as a number. This reads ``--count``
one-digit photos and scans of each kind (paper, a desk, ruled paper, form scans stretched to
their box and in their box) and as many numbers of 2-6 digits photographed (plain and half
in shadow), all from MNIST test digits chosen by ``--seed``, with the serving modules as they
are at ``--baseline`` and as they are here (``preprocess_ab.load_versions``), and prints the
share each reads right, how many one-digit photos each read as a number, and the photos only
one of them read right.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_numbers import NUMBER_RENDERINGS  # noqa: E402
from misread_gallery import RENDERERS  # noqa: E402
from preprocess_ab import SERVING_FILES, load_versions  # noqa: E402

from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    composed_numbers,
    desk_photo,
    paper_photo,
    ruled_paper_photo,
)

ONE_DIGIT_PHOTOS = {
    "one digit, paper": lambda digit, label, rng: paper_photo(digit, rng),
    "one digit, a desk": lambda digit, label, rng: desk_photo(digit, rng),
    "one digit, ruled paper": lambda digit, label, rng: ruled_paper_photo(digit, rng),
    "form scans, box-filled": RENDERERS["form"],
    "form scans in their box": RENDERERS["boxed"],
}
NUMBER_PHOTOS = ("numbers, paper photos", "numbers, half in shadow")


def text(reading) -> str:
    """What the app shows: a number's digits, or one digit ("None" when it reads none)."""
    return reading.text if hasattr(reading, "text") else str(reading.digit)


def photos(data, count: int, seed: int):
    """(kind, [(truth, photo bytes), ...]) for every kind, one-digit photos first."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data.x_test), count, replace=False)
    digits, labels = data.x_test[pick], data.y_test[pick]
    for kind, render in ONE_DIGIT_PHOTOS.items():
        yield kind, [(str(y), render(d, y, rng)) for d, y in zip(digits, labels, strict=True)]
    for kind in NUMBER_PHOTOS:
        render = NUMBER_RENDERINGS[kind]
        yield kind, list(composed_numbers(data.x_test, data.y_test, count, render, seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    parser.add_argument("--count", type=int, default=500, help="photos of each kind")
    parser.add_argument("--seed", type=int, default=13)
    arguments = parser.parse_args()
    data = load_mnist(arguments.data)
    with tempfile.TemporaryDirectory() as folder:
        new, old = load_versions(arguments.baseline, list(SERVING_FILES), Path(folder))
        versions = [
            (module.number_reading.read_photo, module.DigitClassifier.load())
            for module in (old, new)
        ]
        print(f"A: read as {arguments.baseline} reads, B: as this checkout reads")
        print(f"seed {arguments.seed}, {arguments.count} photos a kind\n")
        print(f"| {'kind':<25} | {'A':>7} | {'B':>7} | as a number A / B | only A | only B |")
        print(f"|{'-' * 27}|{'-' * 9}|{'-' * 9}|-------------------|--------|--------|")
        for kind, pictures in photos(data, arguments.count, arguments.seed):
            read = [
                [text(read_photo(classifier, photo)) for _, photo in pictures]
                for read_photo, classifier in versions
            ]
            truths = [truth for truth, _ in pictures]
            right = [np.array(texts) == np.array(truths) for texts in read]
            numbers = (
                ""
                if kind in NUMBER_PHOTOS
                else " / ".join(
                    str(sum(len(t) > 1 and t != "None" for t in texts)) for texts in read
                )
            )
            print(
                f"| {kind:<25} | {right[0].mean():7.2%} | {right[1].mean():7.2%} | "
                f"{numbers:>17} | {np.sum(right[0] & ~right[1]):6d} | "
                f"{np.sum(right[1] & ~right[0]):6d} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
