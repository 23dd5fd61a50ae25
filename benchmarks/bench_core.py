"""Measure the digit-reading core against its targets, side by side with the tutorial.

    python benchmarks/bench_core.py [--data ../shared/data/mnist.npz] [--train]

Prints accuracy (MNIST test, USPS and Semeion as paper scans, canvas drawings, phone photos,
blank canvases and specks), single-image latency and batch throughput, and with --train the
duration and accuracy of the default and quick training runs. Uses ../shared/data; never
trains on the out-of-distribution sets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.renderings import as_paper_scan, canvas_drawing, paper_photo  # noqa: E402
from tutorial_pipeline import tutorial_model, tutorial_predict  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def accuracy_of(read, images, labels) -> float:
    return float(
        np.mean([read(image) == label for image, label in zip(images, labels, strict=True)])
    )


def specks(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Blank canvases with one stray dot or short dab, the way a tap leaves one."""
    result = []
    for _ in range(count):
        side = int(rng.integers(200, 420))
        canvas = np.zeros((side, side, 4), np.uint8)
        centre = tuple(int(v) for v in rng.integers(20, side - 20, 2))
        radius = int(rng.integers(2, 15))
        end = (centre[0] + int(rng.integers(-radius, radius + 1)), centre[1])
        cv2.line(canvas, centre, end, (0, 0, 0, 255), 2 * radius)
        result.append(canvas)
    return result


def timed(function, repeats: int) -> np.ndarray:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(SHARED / "mnist.npz"))
    parser.add_argument("--samples", type=int, default=1000, help="drawings per background")
    parser.add_argument("--train", action="store_true", help="also time the training presets")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy tables")
    arguments = parser.parse_args()
    rng = np.random.default_rng(2026)
    data = load_mnist(arguments.data)
    ours = DigitClassifier.load()
    tutorial = tutorial_model(data.x_train, data.y_train)

    def our_read(image):
        return ours.predict(image).digit

    def tutorial_read(image):
        return tutorial_predict(tutorial, image)

    print(f"model: {ours.path} (recorded test accuracy {ours.record.get('test_accuracy')})")
    if not arguments.speed_only:
        accuracy_tables(arguments, rng, data, our_read, tutorial_read)
    speed(rng, data, ours, tutorial_read)
    if arguments.train:
        time_training(arguments.data)


def accuracy_tables(arguments, rng, data, our_read, tutorial_read) -> None:
    print(f"{'set':<40}{'ours':>10}{'tutorial':>10}")
    mnist = accuracy_of(our_read, data.x_test, data.y_test)
    pick = rng.choice(len(data.x_test), 1000, replace=False)
    tutorial_mnist = accuracy_of(tutorial_read, data.x_test[pick], data.y_test[pick])
    print(f"{'MNIST test (10,000; tutorial: 1,000)':<40}{mnist:>10.2%}{tutorial_mnist:>10.2%}")
    for name in ("usps_test", "semeion"):
        ood = np.load(SHARED / "ood" / f"{name}.npz")
        files = [as_paper_scan(image) for image in ood["images"]]
        row = [accuracy_of(reader, files, ood["labels"]) for reader in (our_read, tutorial_read)]
        print(f"{name + ' as PNG, dark on white':<40}{row[0]:>10.2%}{row[1]:>10.2%}")
    count = arguments.samples
    pick = rng.choice(len(data.x_test), count, replace=False)
    for background in ("transparent", "white", "black"):
        drawings = [canvas_drawing(data.x_test[i], rng, background=background) for i in pick]
        row = [accuracy_of(r, drawings, data.y_test[pick]) for r in (our_read, tutorial_read)]
        print(f"{'canvas, ' + background + f' ({count})':<40}{row[0]:>10.2%}{row[1]:>10.2%}")
    photos = [paper_photo(data.x_test[i], rng) for i in pick[:300]]
    row = [accuracy_of(r, photos, data.y_test[pick[:300]]) for r in (our_read, tutorial_read)]
    print(f"{'phone photos of paper (300)':<40}{row[0]:>10.2%}{row[1]:>10.2%}")
    blanks = [np.zeros((int(s), int(s), 4), np.uint8) for s in rng.integers(100, 500, 100)]
    dots = specks(rng, 300)
    print(
        f"{'blank canvases -> no digit (100)':<40}"
        f"{np.mean([our_read(b) is None for b in blanks]):>10.2%}{'n/a':>10}"
    )
    print(
        f"{'stray specks -> no digit (300)':<40}"
        f"{np.mean([our_read(d) is None for d in dots]):>10.2%}{'n/a':>10}"
    )


def speed(rng, data, ours, tutorial_read) -> None:
    canvas = canvas_drawing(data.x_test[0], rng, background="transparent")
    ours.predict(canvas)
    tutorial_read(canvas)
    our_times = timed(lambda: ours.predict(canvas), 500)
    tutorial_times = timed(lambda: tutorial_read(canvas), 100)
    print("\nlatency of one 280x280 RGBA canvas, end to end (ms)")
    print(f"  ours     p50 {np.median(our_times):6.2f}  p95 {np.percentile(our_times, 95):6.2f}")
    print(
        f"  tutorial p50 {np.median(tutorial_times):6.2f}  p95 "
        f"{np.percentile(tutorial_times, 95):6.2f}  "
        f"(ours is {np.median(tutorial_times) / np.median(our_times):.0f}x faster)"
    )
    from mnist_core.preprocess import to_mnist

    pre = timed(lambda: to_mnist(canvas), 500)
    digit = to_mnist(canvas)[None]
    model = timed(lambda: ours.probabilities(digit), 500)
    print(f"  of which preprocessing p50 {np.median(pre):.2f}, model p50 {np.median(model):.2f}")
    started = time.perf_counter()
    ours.predict_batch(data.x_test)
    rate = len(data.x_test) / (time.perf_counter() - started)
    print(f"predict_batch on 10,000 MNIST test digits: {rate:,.0f} images/s")


def time_training(data_path: str) -> None:
    from mnist_core.cli import QUICK
    from mnist_core.config import TrainConfig
    from mnist_core.train import train

    print("\ntraining runs (this machine):")
    for name, config in (("quick preset", TrainConfig(**QUICK)), ("default", TrainConfig())):
        with tempfile.TemporaryDirectory() as folder:
            result = train(config, Path(folder) / "model.keras", data_path)
        record = result.record
        print(
            f"  {name:<14} {record['duration_s']:6.0f} s  test accuracy "
            f"{record['test_accuracy']:.2%}  ({config.epochs} epochs, "
            f"{record['train_digits']:,} digits)"
        )


if __name__ == "__main__":
    main()
