"""Whole numbers, corrections that teach the model, and 'why this digit'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import PROJECT_ROOT as ROOT
from helpers import SAMPLE

from mnist_core import DigitClassifier
from mnist_core.config import TrainConfig
from mnist_core.corrections import CorrectionStore
from mnist_core.decode import on_white
from mnist_core.explain import OUTLINE_RGB, occlusion_map, outlined
from mnist_core.renderings import (
    as_paper_scan,
    canvas_drawing,
    composed_numbers,
    number_canvas,
    number_photo,
    paper_photo,
    png_bytes,
)
from mnist_core.train import train


def test_numbers_drawn_on_a_canvas_are_read_exactly(classifier, mnist):
    results = [
        classifier.read_number(image).text == truth
        for truth, image in composed_numbers(
            mnist["x_test"], mnist["y_test"], 60, number_canvas, seed=3
        )
    ]
    assert np.mean(results) >= 0.93  # measured 60/60 with the bundled reader, 57/60 without


def test_numbers_photographed_on_paper_are_mostly_read_exactly(classifier, mnist):
    results = [
        classifier.read_number(image).text == truth
        for truth, image in composed_numbers(
            mnist["x_test"], mnist["y_test"], 40, number_photo, seed=3
        )
    ]
    assert np.mean(results) >= 0.8  # measured 35/40 with the bundled reader, 32/40 without


def test_a_thin_pen_never_breaks_a_rendered_digit(mnist):
    """The renderings thin MNIST's strokes to the pen's width; where a stroke was already
    thinner, it must stay whole, not vanish (a 7 without its bar would be a wrong truth)."""
    import cv2

    def pieces(alpha):
        ink = (alpha > 127).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        return int((stats[1:, cv2.CC_STAT_AREA] >= 0.01 * ink.sum()).sum())

    for seed, digit in enumerate(mnist["x_test"][:40]):
        # The same size and place twice: MNIST's own stroke width (2.5 px at 20 px tall), and a
        # pen far thinner than that at this size.
        height = int(np.random.default_rng(seed).uniform(0.35, 0.9) * 560)
        as_written = canvas_drawing(digit, np.random.default_rng(seed), 560, 2.5 * height / 20)
        thin = canvas_drawing(digit, np.random.default_rng(seed), 560, stroke_px=8)
        assert 0 < (thin[..., 3] > 127).sum() < (as_written[..., 3] > 127).sum()
        assert pieces(thin[..., 3]) <= pieces(as_written[..., 3]), f"digit {seed} broke apart"


def test_digits_come_left_to_right_with_boxes_inside_the_image(classifier, mnist):
    image = number_canvas(
        [mnist["x_test"][0], mnist["x_test"][1], mnist["x_test"][2]], np.random.default_rng(0)
    )
    reading = classifier.read_number(image)
    lefts = [digit.box[0] for digit in reading.digits]
    assert lefts == sorted(lefts)
    for left, top, width, height in (digit.box for digit in reading.digits):
        assert 0 <= left and 0 <= top and left + width <= 560 and top + height <= 280
    assert reading.confidence == pytest.approx(np.prod([d.confidence for d in reading.digits]))


def test_a_single_digit_reads_as_one_character(classifier, mnist):
    image = canvas_drawing(mnist["x_test"][5], np.random.default_rng(5))
    reading = classifier.read_number(image)
    assert reading.text == str(int(mnist["y_test"][5]))


def test_a_blank_image_reads_as_no_number(classifier):
    reading = classifier.read_number(np.zeros((280, 560, 4), np.uint8))
    assert (reading.text, reading.digits, reading.confidence) == ("", [], 0.0)


def test_a_photo_is_a_number_when_two_or_more_digits_are_found(classifier, mnist):
    from mnist_core.number_reading import NumberReading, holds_number, read_photo
    from mnist_core.prediction import Prediction

    picks = [int(np.flatnonzero(mnist["y_test"] == digit)[0]) for digit in (4, 2)]
    number = read_photo(
        classifier, number_photo([mnist["x_test"][i] for i in picks], np.random.default_rng(4))
    )
    assert isinstance(number, NumberReading) and holds_number(number)
    assert number.text == "42"
    digit = read_photo(classifier, as_paper_scan(mnist["x_test"][7]))
    assert isinstance(digit, Prediction) and digit.digit == int(mnist["y_test"][7])
    assert not holds_number(classifier.read_number(as_paper_scan(mnist["x_test"][7])))


def test_a_one_digit_photo_the_cut_splits_in_two_is_read_as_the_digit(classifier, mnist):
    """A 6 written like "lo" and a closed 4: the cut finds two digits ("10", "11", as the
    code before this rule returned them), the digit model reads one digit surer than that."""
    from mnist_core.number_reading import holds_number, read_photo
    from mnist_core.prediction import Prediction

    for index, truth, cut in ((386, 6, "10"), (609, 4, "11")):
        photo = paper_photo(mnist["x_test"][index], np.random.default_rng(0))
        number = classifier.read_number(photo)
        assert holds_number(number) and number.text == cut
        reading = read_photo(classifier, photo)
        assert isinstance(reading, Prediction) and reading.digit == truth


def test_cli_prints_the_whole_number(tmp_path, mnist):
    image = number_canvas([mnist["x_test"][i] for i in (3, 4)], np.random.default_rng(1))
    path = tmp_path / "number.png"
    path.write_bytes(png_bytes(image))
    expected = DigitClassifier.load().read_number(image).text
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "predict", "--number", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert f"{path}: {expected} (confidence" in result.stdout


@pytest.mark.parametrize("attempt", range(3))
def test_corrections_from_many_threads_are_all_kept(tmp_path, attempt):
    # Eight sessions' first corrections at the same instant, on a store no one has opened yet:
    # each connection found the file new and asked to switch it to WAL; SQLite does not wait
    # for that switch, and some writes failed with "database is locked" (1 CI run in ~10).
    store = CorrectionStore(tmp_path / "c.sqlite")
    digit = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    start = threading.Barrier(8)
    failures = []

    def writer(worker):
        start.wait()
        try:
            for label in range(10):
                store.add(digit, label, (label + worker) % 10, f"model-{worker}")
        except Exception as error:  # counted: a thread's exception would only be a warning
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert store.count() == 80
    images, labels = store.arrays()
    assert images.shape == (80, 28, 28) and sorted(labels.tolist()) == sorted(list(range(10)) * 8)
    assert np.abs(store.list()[0].model_input - digit).max() <= 1 / 255


def test_corrections_survive_a_killed_writer(tmp_path):
    path = tmp_path / "c.sqlite"
    script = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from mnist_core.corrections import CorrectionStore\n"
        f"store = CorrectionStore({str(path)!r})\n"
        "while True:\n"
        "    store.add(np.zeros((28, 28)), 3, 8, 'bundled')\n"
        "    print('ok', flush=True)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    committed = sum(1 for _, line in zip(range(30), writer.stdout, strict=False) if line == "ok\n")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    store = CorrectionStore(path)
    assert store.count() >= committed  # nothing acknowledged is lost
    assert all(correction.label == 3 for correction in store.list())
    store.add(np.zeros((28, 28)), 5, None, "bundled")  # and the file still takes writes
    assert store.count() >= committed + 1


def test_corrections_export_in_the_mnist_layout(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite")
    store.add(np.ones((28, 28)) * 0.5, 4, 9, "bundled", np.zeros((900, 600), np.uint8))
    path = tmp_path / "export.npz"
    path.write_bytes(store.export_npz())
    with np.load(path) as exported:
        assert exported["x_train"].shape == (1, 28, 28) and exported["x_train"].dtype == np.uint8
        assert exported["y_train"].tolist() == [4]
    original = store.list()[0].original
    assert original.startswith(b"\x89PNG")


def test_bad_corrections_are_refused(tmp_path):
    store = CorrectionStore(tmp_path / "c.sqlite")
    with pytest.raises(ValueError):
        store.add(np.zeros((28, 28)), 12, 1, "bundled")
    with pytest.raises(ValueError):
        store.add(np.zeros((10, 10)), 1, 1, "bundled")
    assert store.count() == 0


def test_a_retrain_with_corrections_runs_and_reports_them(tmp_path, mnist):
    store = CorrectionStore(tmp_path / "c.sqlite")
    for index in range(20):
        store.add(mnist["x_train"][index] / 255, int(mnist["y_train"][index]), None, "bundled")
    config = TrainConfig(epochs=1, subset=0, corrections=store.location, corrections_oversample=5)
    result = train(config, tmp_path / "model.keras", SAMPLE)
    assert result.status == "completed"
    record = result.record
    assert record["corrections_used"] == 16 and record["corrections_held_out"] == 4
    assert 0 <= record["corrections_test_accuracy"] <= 1
    # The fitting digits, their styled 1s and 7s and the not-digit drawings, and the 16
    # corrections five times each.
    extras = record["styled_digits"] + record["not_digit_drawings"]
    assert record["train_digits"] == int(2000 * 11 / 12) + extras + 16 * 5


def test_outlined_boxes_each_digit_over_the_picture_as_a_page_shows_it(classifier, mnist):
    number = next(composed_numbers(mnist["x_test"], mnist["y_test"], 1, number_canvas, seed=5))[1]
    reading = classifier.read_number(number)
    shown = outlined(number, reading.digits)
    assert shown.shape == (*number.shape[:2], 3) and shown.dtype == np.uint8
    blue = np.all(shown == OUTLINE_RGB, axis=-1)
    for digit in reading.digits:  # each box's corner is drawn in the outline colour
        left, top, _, _ = digit.box
        assert blue[top, left]
    # Away from the boxes and their labels (above or just inside each), the canvas as a page
    # shows it: its transparent background white.
    near = np.zeros(number.shape[:2], bool)
    for left, top, width, height in (digit.box for digit in reading.digits):
        near[max(0, top - 40) : top + height + 5, max(0, left - 5) : left + width + 5] = True
    np.testing.assert_array_equal(shown[~near], np.repeat(on_white(number)[~near, None], 3, 1))
    transparent = np.zeros((40, 40, 4), np.uint8)
    transparent[10:30, 18:22, 3] = 255  # a black bar on a transparent canvas
    shown = outlined(transparent, [])
    assert shown[0, 0].tolist() == [255, 255, 255] and shown[20, 20].tolist() == [0, 0, 0]


def test_occlusion_map_points_at_the_ink(classifier, mnist):
    digit = classifier.predict(mnist["x_test"][0]).model_input
    heat = occlusion_map(classifier.probabilities, digit, int(mnist["y_test"][0]))
    assert heat.shape == (28, 28) and heat.max() == pytest.approx(1.0)
    ink, background = heat[digit > 0.5].mean(), heat[digit == 0].mean()
    assert ink > background
