"""The serving-side preprocessing of this checkout against another commit's, in one process:
are the outputs the same, and how much faster is it?

    python benchmarks/preprocess_ab.py check [--baseline REV] [--data ../shared/data/mnist.npz]
    python benchmarks/preprocess_ab.py time [--baseline REV] [--rounds 5]

The baseline is a temporary copy of this checkout's ``mnist_core`` with the serving modules
(``--files``: decode, lighting, form_lines, ink, marks, preprocess, numbers, number_reading,
classifier, runtime) as they are at ``REV`` (one split off since is left out), beside a link to
``models/``, so both versions load the same networks. ``check`` runs both on
every input of a corpus (the committed MNIST sample, MNIST's 10,000 test digits, USPS and Semeion as
arrays and as paper scans, canvases from :mod:`mnist_core.renderings` on three backgrounds and
as the app's opaque canvas sends them, hard canvases, drawn 1s and 7s, phone photos, not-digit
drawings, specks, blanks, numbers on canvases and in photos) and requires ``to_mnist`` byte
for byte, ``predict_batch``'s readings and probabilities, and ``read_number``'s text, digits,
boxes and inputs to be equal; it exits 1 on any difference. ``time`` alternates the two
versions on the same inputs round by round (the machine's other load hits both alike) and
prints the CPU time each version takes and the ratio (wall-clock times on a shared machine
are noise; ``benchmarks/bench_core.py --speed-only`` gives them on an idle one).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.negatives import KINDS, not_digit_canvas  # noqa: E402
from mnist_core.renderings import (  # noqa: E402
    as_paper_scan,
    canvas_drawing,
    composed_numbers,
    crossed_seven_canvas,
    flagged_one_canvas,
    hard_canvas_drawing,
    number_canvas,
    number_photo,
    paper_photo,
    specks,
)

SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "tests" / "data" / "mnist_sample.npz"
SEED = 2026
# What this comparison is about: the preprocessing and the reading built on it.
SERVING_FILES = (
    "decode.py",
    "lighting.py",
    "form_lines.py",
    "ink.py",
    "marks.py",
    "preprocess.py",
    "numbers.py",
    "number_reading.py",
    "classifier.py",
    "runtime.py",
)


def baseline_package(revision: str, files: list[str], folder: Path) -> str:
    """This checkout's mnist_core with ``files`` as they are at ``revision``, as the package
    ``mnist_core_baseline``; its name. The other modules are the working tree's, so changes
    others make to them meanwhile do not count as differences."""
    package = folder / "mnist_core_baseline"
    shutil.copytree(ROOT / "mnist_core", package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in files:
        shown = subprocess.run(
            ["git", "show", f"{revision}:mnist_core/{name}"], cwd=ROOT, capture_output=True
        )
        if shown.returncode == 0:
            (package / name).write_bytes(shown.stdout)
        elif name not in _added_since(revision):
            raise RuntimeError(shown.stderr.decode().strip())
        # else a module split off since: the baseline's own modules never import it
    (folder / "models").symlink_to(ROOT / "models")
    sys.path.insert(0, str(folder))
    return package.name


def _added_since(revision: str) -> set[str]:
    """The modules of mnist_core added since ``revision``."""
    listed = subprocess.run(
        ["git", "diff", "--name-only", "--diff-filter=A", revision, "--", "mnist_core"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {Path(line).name for line in listed.splitlines()}


def app_canvas(digit: np.ndarray, rng: np.random.Generator, width: int = 280) -> np.ndarray:
    """The canvas as the app receives it: opaque RGBA, white background, black ink."""
    drawn = canvas_drawing(digit, rng, size=280, colour=(0, 0, 0), background="white")
    if width == 280:
        return drawn
    wide = np.full((280, width, 4), 255, np.uint8)
    left = int(rng.integers(0, width - 280 + 1))
    wide[:, left : left + 280] = drawn
    return wide


def digit_corpus(data, quick: bool = False) -> dict[str, list]:
    """Named sets of single-digit inputs."""
    rng = np.random.default_rng(SEED)
    n = 100 if quick else 500
    with np.load(SAMPLE) as sample:
        sets = {"sample x_train": list(sample["x_train"]), "sample x_test": list(sample["x_test"])}
    sets["MNIST test"] = list(data.x_test[: 1000 if quick else None])
    sets["MNIST test as paper scans"] = [as_paper_scan(d) for d in data.x_test[:n]]
    for name in ("usps_test", "semeion"):
        path = SHARED / "ood" / f"{name}.npz"
        if path.is_file():
            with np.load(path) as ood:
                sets[name] = list(ood["images"][: n if quick else None])
                sets[f"{name} as paper scans"] = [as_paper_scan(i) for i in ood["images"][:n]]
    pick = rng.choice(len(data.x_test), n, replace=False)
    for background in ("transparent", "white", "black"):
        sets[f"canvas {background}"] = [
            canvas_drawing(data.x_test[i], rng, background=background) for i in pick
        ]
    sets["app canvas 280"] = [app_canvas(data.x_test[i], rng) for i in pick]
    sets["app canvas 560"] = [app_canvas(data.x_test[i], rng, 560) for i in pick[: n // 2]]
    sets["canvas small 100"] = [canvas_drawing(data.x_test[i], rng, size=100) for i in pick]
    sets["hard canvas"] = [
        hard_canvas_drawing(data.x_test[i], int(data.y_test[i]), rng) for i in pick
    ]
    sets["flagged 1s"] = [flagged_one_canvas(rng) for _ in range(n // 3)]
    sets["crossed 7s"] = [crossed_seven_canvas(rng) for _ in range(n // 3)]
    sets["paper photos"] = [paper_photo(data.x_test[i], rng) for i in pick[: n // 4]]
    sets["not digits"] = [
        not_digit_canvas(rng, kind, "heldout", data.x_test, data.y_test)
        for kind in KINDS
        for _ in range(n // 8)
    ]
    sets["specks"] = specks(rng, n // 3)
    sets["blanks"] = [np.zeros((int(s), int(s), 4), np.uint8) for s in rng.integers(28, 500, 20)]
    return sets


def number_corpus(data, quick: bool = False) -> dict[str, list]:
    count = 30 if quick else 150
    return {
        "number canvases": [
            image
            for _, image in composed_numbers(data.x_test, data.y_test, count, number_canvas, 7)
        ],
        "number photos": [
            image
            for _, image in composed_numbers(data.x_test, data.y_test, count // 3, number_photo, 8)
        ],
    }


def same_array(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check(new, old, data, quick: bool) -> int:
    """Print each set's differences; the number of inputs that differ."""
    new_classifier = new.DigitClassifier.load()
    old_classifier = old.DigitClassifier.load()
    differ = 0
    for name, images in digit_corpus(data, quick).items():
        new_out = [new.preprocess.to_mnist(image) for image in images]
        old_out = [old.preprocess.to_mnist(image) for image in images]
        changed = [
            i for i, (a, b) in enumerate(zip(new_out, old_out, strict=True)) if not same_array(a, b)
        ]
        worst = max(
            (
                float(np.abs(new_out[i] - old_out[i]).max())
                for i in changed
                if new_out[i] is not None and old_out[i] is not None
            ),
            default=0.0,
        )
        new_read = new_classifier.predict_batch(images)
        old_read = old_classifier.predict_batch(images)
        misread = sum(
            (a.digit, a.verdict) != (b.digit, b.verdict)
            or not np.array_equal(a.probabilities, b.probabilities)
            for a, b in zip(new_read, old_read, strict=True)
        )
        single = new_classifier.predict(images[0])
        if (single.digit, single.verdict) != (new_read[0].digit, new_read[0].verdict):
            misread += 1
        differ += len(changed) + misread
        print(
            f"  {name:<28} {len(images):6,}  to_mnist differ {len(changed):4}"
            f" (max |d| {worst:.4f})  readings differ {misread:4}",
            flush=True,
        )
    for name, images in number_corpus(data, quick).items():
        changed = 0
        for image in images:
            a = new_classifier.read_number(image)
            b = old_classifier.read_number(image)
            same = (
                a.text == b.text
                and a.confidence == b.confidence
                and len(a.digits) == len(b.digits)
                and all(
                    x.box == y.box
                    and same_array(x.model_input, y.model_input)
                    and np.array_equal(x.probabilities, y.probabilities)
                    for x, y in zip(a.digits, b.digits, strict=False)
                )
            )
            strips_same = True
            rules_same = True
            number_new, number_old = new.numbers.number_ink(image), old.numbers.number_ink(image)
            if (number_new is None) != (number_old is None):
                strips_same = False
            elif number_new is not None:
                strips_same = same_array(
                    new.numbers.number_strip(number_new), old.numbers.number_strip(number_old)
                )
                rules_new = new.numbers.segment_number(number_new)
                rules_old = old.numbers.segment_number(number_old)
                rules_same = len(rules_new) == len(rules_old) and all(
                    x.box == y.box and same_array(x.model_input, y.model_input)
                    for x, y in zip(rules_new, rules_old, strict=False)
                )
            photo_new = new.number_reading.read_photo(new_classifier, image)
            photo_old = old.number_reading.read_photo(old_classifier, image)
            photo_same = type(photo_new).__name__ == type(photo_old).__name__ and (
                getattr(photo_new, "text", None) == getattr(photo_old, "text", None)
                and getattr(photo_new, "digit", None) == getattr(photo_old, "digit", None)
            )
            changed += not (same and strips_same and rules_same and photo_same)
        differ += changed
        print(f"  {name:<28} {len(images):6,}  readings, strips or cuts differ {changed:4}")
    return differ


def timing(new, old, data, rounds: int) -> None:
    rng = np.random.default_rng(SEED)
    digits = list(data.x_test[:2000])
    canvases = [canvas_drawing(d, rng) for d in data.x_test[:300]]
    app = [app_canvas(d, rng) for d in data.x_test[300:600]]
    numbers = [
        image for _, image in composed_numbers(data.x_test, data.y_test, 40, number_canvas, 7)
    ]
    classifiers = {version: version.DigitClassifier.load() for version in (new, old)}

    def each(version, classifier, images):
        return [version.preprocess.to_mnist(image) for image in images]

    def batch(version, classifier, images):
        return classifier.predict_batch(images)

    def numbers_read(version, classifier, images):
        return [classifier.read_number(image) for image in images]

    tasks = {  # name: (inputs, what is timed, chunk)
        "to_mnist, 2,000 MNIST digits": (digits, each, 50),
        "to_mnist, 300 transparent canvases": (canvases, each, 10),
        "to_mnist, 300 app canvases": (app, each, 10),
        "predict_batch, 2,000 MNIST digits": (digits, batch, 500),
        "predict_batch, 300 canvases": (canvases, batch, 100),
        "read_number, 40 number canvases": (numbers, numbers_read, 2),
    }
    print(
        f"CPU ms per input (the process' CPU time, so other load on the machine counts little):"
        f" each set in chunks, each chunk run {rounds} times per version, the two versions"
        " alternating; each chunk's best, summed"
    )
    for name, (inputs, run, chunk) in tasks.items():
        chunks = [inputs[start : start + chunk] for start in range(0, len(inputs), chunk)]
        best = {new: np.full(len(chunks), np.inf), old: np.full(len(chunks), np.inf)}
        for round_ in range(rounds):
            for index, part in enumerate(chunks):
                order = (old, new) if (round_ + index) % 2 else (new, old)
                for version in order:
                    started = time.process_time()
                    run(version, classifiers[version], part)
                    elapsed = time.process_time() - started
                    best[version][index] = min(best[version][index], elapsed)
        before, after = (best[v].sum() / len(inputs) * 1000 for v in (old, new))
        print(
            f"  {name:<38} before {before:7.3f}  after {after:7.3f}  x{before / after:5.2f}",
            flush=True,
        )


def load_versions(baseline: str, files: list[str], folder: Path):
    name = baseline_package(baseline, files, folder)
    modules = ("preprocess", "numbers", "number_reading", "classifier")
    new = importlib.import_module("mnist_core")
    old = importlib.import_module(name)
    for module in modules:
        importlib.import_module(f"mnist_core.{module}")
        importlib.import_module(f"{name}.{module}")
    return new, old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("check", "time"))
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against")
    parser.add_argument(
        "--files",
        nargs="+",
        default=list(SERVING_FILES),
        help="the modules of mnist_core taken from --baseline (the rest: this checkout's)",
    )
    parser.add_argument("--data", default=str(SHARED / "mnist.npz"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="check: a tenth of the corpus")
    arguments = parser.parse_args()
    data = load_mnist(arguments.data)
    with tempfile.TemporaryDirectory() as folder:
        new, old = load_versions(arguments.baseline, arguments.files, Path(folder))
        if arguments.what == "time":
            timing(new, old, data, arguments.rounds)
            return
        differ = check(new, old, data, arguments.quick)
    print(f"inputs that differ: {differ}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
