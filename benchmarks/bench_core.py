"""Every figure of the digit-reading core in one table, ours beside the tutorial's pipeline.

    python benchmarks/bench_core.py [--model models/mnist_cnn.onnx] [--samples 1000] [--train]
        [--speed-only] [--baseline ../other-checkout]

Accuracy on MNIST test, USPS and Semeion (as paper scans), canvas drawings (three backgrounds,
and the hard set: European styles, squeezed, jittery, very thin and very thick pens), flagged
1s, crossed 7s, hooked 9s and 4s with the stem from the bar drawn from scratch, phone
photos, form scans with and without their printed box, photos of ruled paper, of a page half
in shadow and on a desk, digits cut from a row with slivers of their neighbours; "not a
digit" refusals of held-out drawings and false refusals of digits; expected calibration error
(15 bins) before and after the temperature; blank canvases and specks; single-canvas
latency and batch throughput. With --train, the presets' duration and accuracy (the Full
preset over --seeds seeds). Seed 2026 for every drawing. ``../shared/data/ood`` sets are
measured only, never trained or tuned on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from mnist_core import DigitClassifier  # noqa: E402
from mnist_core.calibration import expected_calibration_error  # noqa: E402
from mnist_core.classifier import refused  # noqa: E402
from mnist_core.config import CACHE  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.negatives import KINDS, not_digit_canvas  # noqa: E402
from mnist_core.preprocess import to_mnist  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    as_paper_scan,
    boxed_form_scan,
    canvas_drawing,
    crossed_seven_canvas,
    cut_from_a_row,
    desk_photo,
    flagged_one_canvas,
    form_scan,
    hard_canvas_drawing,
    hooked_nine_canvas,
    paper_photo,
    ruled_paper_photo,
    short_stem_four_canvas,
    specks,
)
from mnist_core.training_data import preprocess_images  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SEED = 2026


class Table:
    """Rows of ``set | ours | tutorial``, printed as they are measured."""

    def __init__(self):
        print(f"| {'set':<52} | {'ours':>8} | {'tutorial':>8} |")
        print(f"|{'-' * 54}|{'-' * 10}|{'-' * 10}|")

    def row(self, name: str, ours: float | str, tutorial: float | str = "n/a") -> None:
        cells = [
            f"{value:.2%}" if isinstance(value, float) else value for value in (ours, tutorial)
        ]
        print(f"| {name:<52} | {cells[0]:>8} | {cells[1]:>8} |", flush=True)


def read_rate(read, images, labels) -> float:
    """Share of ``images`` whose digit ``read`` (images -> digits) gets right."""
    return float(np.mean(np.asarray(read(images)) == np.asarray(labels)))


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
    parser.add_argument("--model", help="model file (default: the bundled model)")
    parser.add_argument("--samples", type=int, default=1000, help="drawings per rendered set")
    parser.add_argument("--train", action="store_true", help="also time the training presets")
    parser.add_argument("--seeds", type=int, default=3, help="Full preset runs with --train")
    parser.add_argument("--keep", help="with --train, save each run's model and record here")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy table")
    parser.add_argument(
        "--baseline", help="another checkout whose `predict` process to time beside this one's"
    )
    arguments = parser.parse_args()
    # Imported here, not at the top: the training runs' worker processes import this module
    # (spawned), and must not load Keras for nothing.
    from tutorial_pipeline import tutorial_model

    data = load_mnist(arguments.data)
    ours = DigitClassifier.load(arguments.model)
    tutorial = tutorial_model(data.x_train, data.y_train)
    print(
        f"model: {ours.path} (temperature {ours.temperature}); "
        f"{arguments.samples} drawings a set, seed {SEED}\n"
    )
    if not arguments.speed_only:
        accuracy_table(arguments, data, ours, lambda images: tutorial_digits(tutorial, images))
    speed(data, ours, tutorial, arguments.baseline)
    if arguments.train:
        time_training(arguments.data, arguments.seeds, arguments.keep)


def tutorial_digits(model, images) -> np.ndarray:
    """The tutorial's pipeline on each image, its network called once for all of them."""
    from tutorial_pipeline import tutorial_input

    inputs = np.concatenate([tutorial_input(image) for image in images])
    return model.predict(inputs, batch_size=1024, verbose=0).argmax(axis=1)


def accuracy_table(arguments, data, ours, tutorial_read) -> None:
    rng = np.random.default_rng(SEED)
    count = arguments.samples
    table = Table()

    def our_read(images):
        return [prediction.digit for prediction in ours.predict_batch(images)]

    def both(name, images, labels):
        table.row(
            name, read_rate(our_read, images, labels), read_rate(tutorial_read, images, labels)
        )

    test_digits = preprocess_images(data.x_test, data.checksum)
    scores = ours.scores(test_digits)
    digits_read = scores[:, :10].argmax(axis=1)
    table.row(
        "MNIST test (10,000)",
        float(np.mean(digits_read == data.y_test)),
        read_rate(tutorial_read, data.x_test, data.y_test),
    )
    refusals = refused(scores, ours.verdicts)
    table.row(
        "MNIST test read right, refusals counted wrong",
        float(np.mean((digits_read == data.y_test) & ~refusals)),
    )
    table.row("MNIST test digits refused as not a digit", float(refusals.mean()))
    for name in ("usps_test", "semeion"):
        ood = np.load(SHARED / "ood" / f"{name}.npz")
        files = [as_paper_scan(image) for image in ood["images"]]
        both(f"{name} ({len(files):,}) as PNG, dark on white", files, ood["labels"])
        if name == "semeion":
            ones = ood["labels"] == 1
            table.row(
                "  of which the 1s",
                read_rate(our_read, [files[i] for i in np.flatnonzero(ones)], ood["labels"][ones]),
            )
    pick = rng.choice(len(data.x_test), count, replace=False)
    labels = data.y_test[pick]
    canvases = []
    for background in ("transparent", "white", "black"):
        drawings = [canvas_drawing(data.x_test[i], rng, background=background) for i in pick]
        canvases += drawings
        both(f"canvas, {background} ({count:,})", drawings, labels)
    hard = [hard_canvas_drawing(data.x_test[i], int(data.y_test[i]), rng) for i in pick]
    both(f"canvas, hard: styles, aspect, jitter, pens ({count:,})", hard, labels)
    ones = [flagged_one_canvas(rng) for _ in range(count // 5)]
    sevens = [crossed_seven_canvas(rng) for _ in range(count // 5)]
    both(f"flagged European 1s drawn ({len(ones)})", ones, [1] * len(ones))
    both(f"crossed 7s drawn ({len(sevens)})", sevens, [7] * len(sevens))
    photos = [paper_photo(data.x_test[i], rng) for i in pick[:300]]
    both("phone photos of paper (300)", photos, labels[:300])
    scans = [form_scan(data.x_test[i], int(data.y_test[i]), rng) for i in pick]
    both(f"form scans: box-filled, 16-24 px, binarised ({count:,})", scans, labels)
    canvas_predictions = ours.predict_batch(canvases + hard)
    canvas_labels = np.concatenate([labels, labels, labels, labels])
    table.row(
        f"canvas digits refused as not a digit ({len(canvas_predictions):,})",
        float(np.mean([p.verdict == "not_a_digit" for p in canvas_predictions])),
    )
    not_digits(table, ours, rng, data, count)
    calibration(table, ours, test_digits, data.y_test, canvases + hard, canvas_labels)
    blanks = [np.zeros((int(s), int(s), 4), np.uint8) for s in rng.integers(100, 500, 100)]
    table.row(
        "blank canvases -> blank (100)",
        float(np.mean([ours.predict(b).verdict == "blank" for b in blanks])),
    )
    dots = specks(rng, 300)
    table.row(
        "stray specks -> blank (300)",
        float(np.mean([ours.predict(d).verdict == "blank" for d in dots])),
    )
    # Last, so that the sets above draw the same renderings as before these existed.
    boxed = [boxed_form_scan(data.x_test[i], rng) for i in pick]
    both(f"form scans cut out with their printed box ({count:,})", boxed, labels)
    ruled = [ruled_paper_photo(data.x_test[i], rng) for i in pick[:300]]
    both("phone photos of ruled or squared paper (300)", ruled, labels[:300])
    shadowed = [paper_photo(data.x_test[i], rng, cast_shadow=True) for i in pick[:300]]
    both("phone photos with a shadow across the page (300)", shadowed, labels[:300])
    on_desk = [desk_photo(data.x_test[i], rng) for i in pick[:300]]
    both("phone photos of a page on a darker desk (300)", on_desk, labels[:300])
    beside = rng.choice(len(data.x_test), (count, 2))
    cuts = [
        cut_from_a_row(data.x_test[i], (data.x_test[j], data.x_test[k]), rng)
        for i, (j, k) in zip(pick, beside, strict=True)
    ]
    both(f"digits cut from a row, slivers of their neighbours ({count:,})", cuts, labels)
    nines = [hooked_nine_canvas(rng) for _ in range(count // 5)]
    both(f"hooked 9s (a tail curling left) drawn ({len(nines)})", nines, [9] * len(nines))
    fours = [short_stem_four_canvas(rng) for _ in range(count // 5)]
    both(f"4s with the stem from the bar drawn ({len(fours)})", fours, [4] * len(fours))


def not_digits(table, ours, rng, data, count) -> None:
    """Held-out not-digit drawings (letters, hands and shapes training never draws) as
    canvases through the app's whole path."""
    per_kind = count // len(KINDS)
    for kind in KINDS:
        canvases = [
            not_digit_canvas(rng, kind, "heldout", data.x_test, data.y_test)
            for _ in range(per_kind)
        ]
        refused = [p.verdict == "not_a_digit" for p in ours.predict_batch(canvases)]
        name = {"two_digits": "pairs of digits"}.get(kind, kind + "s")
        table.row(f"held-out {name} refused ({per_kind})", float(np.mean(refused)))


def calibration(table, ours, test_digits, test_labels, canvases, labels) -> None:
    raw = DigitClassifier(ours.model)  # temperature 1: the network's own confidence
    inputs = [to_mnist(canvas) for canvas in canvases]
    drawn = np.flatnonzero([digit is not None for digit in inputs])
    drawn_inputs = np.stack([inputs[index] for index in drawn])
    for name, classifier in (("before", raw), ("after", ours)):
        test = expected_calibration_error(classifier.scores(test_digits), test_labels)
        canvas = expected_calibration_error(classifier.scores(drawn_inputs), labels[drawn])
        table.row(f"calibration error, MNIST test, {name} temperature", f"{test:.2%}")
        table.row(f"calibration error, canvas drawings, {name} temperature", f"{canvas:.2%}")


class KerasNetwork:
    """The TensorFlow path, for comparison: the served model's ``.keras`` file called through
    Keras, as the app did before it served the ONNX export."""

    def __init__(self, path: Path):
        import keras

        self.model = keras.models.load_model(path, compile=False, safe_mode=True)
        self.output_shape = tuple(self.model.output_shape[1:])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(batch, training=False))


def speed(data, ours, tutorial, baseline: str | None) -> None:
    """Latency and throughput of the served path (ONNX Runtime) beside the TensorFlow path
    (the same model through Keras) and the tutorial's pipeline, in this one run."""
    from tutorial_pipeline import tutorial_predict

    keras_path = DigitClassifier(
        KerasNetwork(ours.path.with_suffix(".keras")), ours.path, ours.record
    )
    rng = np.random.default_rng(SEED)
    canvas = canvas_drawing(data.x_test[0], rng, background="transparent")
    for read in (ours.predict, keras_path.predict, lambda c: tutorial_predict(tutorial, c)):
        read(canvas)
    print("\nlatency of one 280x280 RGBA canvas, end to end (ms; 500 runs, tutorial 100)")
    for name, read, runs in (
        ("ours (ONNX Runtime)", ours.predict, 500),
        ("ours through TensorFlow", keras_path.predict, 500),
        ("tutorial", lambda c: tutorial_predict(tutorial, c), 100),
    ):
        times = timed(lambda read=read: read(canvas), runs)
        print(f"  {name:<24} p50 {np.median(times):6.2f}  p95 {np.percentile(times, 95):6.2f}")
    pre = timed(lambda: to_mnist(canvas), 500)
    digit = to_mnist(canvas)[None]
    model = timed(lambda: ours.scores(digit), 500)
    print(f"  of which preprocessing p50 {np.median(pre):.2f}, model p50 {np.median(model):.2f}")
    canvases = [canvas_drawing(digit, rng) for digit in data.x_test[:1000]]
    for name, images in (("10,000 MNIST test digits", data.x_test), ("1,000 canvases", canvases)):
        for path_name, classifier in (("ONNX Runtime", ours), ("TensorFlow", keras_path)):
            started = time.perf_counter()
            read = classifier.predict_batch(images)
            rate = len(images) / (time.perf_counter() - started)
            print(f"predict_batch on {name}, {path_name}: {rate:,.0f} images/s")
            if classifier is ours:
                ours_read = [prediction.digit for prediction in read]
            else:
                changed = sum(a != b.digit for a, b in zip(ours_read, read, strict=True))
                print(f"  digits read differently by the two paths: {changed}")
    predict_process(data, baseline)


def predict_process(data, baseline: str | None) -> None:
    """``python -m mnist_core predict one.png`` as a whole process, best of 5 (this checkout,
    and ``baseline``, another checkout of the project, e.g. the commit before serving moved)."""
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "one.png"
        image.write_bytes(as_paper_scan(data.x_test[0]))
        for name, tree in (("this checkout", ROOT), ("baseline", baseline)):
            if tree is None:
                continue
            times = []
            for _ in range(5):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "mnist_core", "predict", str(image)],
                    cwd=tree,
                    check=True,
                    capture_output=True,
                    env={**os.environ, "PYTHONPATH": str(tree)},
                )
                times.append(time.perf_counter() - started)
            print(
                f"python -m mnist_core predict one.png, whole process, {name}: {min(times):.2f} s"
            )


def time_training(data_path: str, seeds: int, keep: str | None) -> None:
    from mnist_core.config import TRAIN_PRESETS
    from mnist_core.train import train

    print("\ntraining runs (this machine; a fresh cache: the first run preprocesses MNIST, each")
    print("seed draws its own styled digits and not-digits, as a user's first run would)")
    runs = [("quick", TRAIN_PRESETS["quick"].config)]
    runs += [
        ("full", replace_seed(TRAIN_PRESETS["full"].config, seed)) for seed in range(1, seeds + 1)
    ]
    full = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE.name] = cache  # read when a run caches its digits
        for name, config in runs:
            with tempfile.TemporaryDirectory() as folder:
                output = Path(keep or folder) / f"{name}-seed{config.seed}.keras"
                record = train(config, output, data_path).record
            print(
                f"  {name:<6} seed {config.seed}  {record['duration_s']:6.0f} s  MNIST test "
                f"{record['test_accuracy']:.2%}  refused {record['test_refused']:.2%}  "
                f"not-digits refused {record.get('not_digit_refusal', 0):.1%}  "
                f"({config.epochs} epochs, {record['train_digits']:,} digits)",
                flush=True,
            )
            if name == "full":
                full.append(record["test_accuracy"])
    if full:
        print(
            f"  full: mean {np.mean(full):.2%}, min {min(full):.2%}, max {max(full):.2%} "
            f"over {len(full)} seeds"
        )


def replace_seed(config, seed: int):
    from dataclasses import replace

    return replace(config, seed=seed)


if __name__ == "__main__":
    main()
