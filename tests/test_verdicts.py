"""What MNIST never taught: European 1s, 4s, 7s and 9s read right; letters, scribbles and shapes
refused as "not a digit" while digits are not; blank stays blank; calibrated confidence."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mnist_core import DigitClassifier, renderings
from mnist_core.calibration import expected_calibration_error
from mnist_core.config import VerdictConfig
from mnist_core.negatives import not_digit_canvas
from mnist_core.preprocess import to_mnist
from mnist_core.styles import restyle


def digits_read(classifier, images) -> np.ndarray:
    return np.array([prediction.digit for prediction in classifier.predict_batch(images)])


def refused(classifier, images) -> float:
    verdicts = [prediction.verdict for prediction in classifier.predict_batch(images)]
    return float(np.mean([verdict == "not_a_digit" for verdict in verdicts]))


def test_the_bundled_model_knows_not_a_digit(classifier):
    assert classifier.classes == 11
    assert 0.5 < classifier.temperature < 2  # fitted, and in a sane range


def test_reads_flagged_european_ones_drawn_on_the_canvas(classifier):
    rng = np.random.default_rng(11)
    drawings = [renderings.flagged_one_canvas(rng) for _ in range(40)]
    assert np.mean(digits_read(classifier, drawings) == 1) >= 0.9


def test_reads_crossed_sevens_drawn_on_the_canvas(classifier):
    rng = np.random.default_rng(12)
    drawings = [renderings.crossed_seven_canvas(rng) for _ in range(40)]
    assert np.mean(digits_read(classifier, drawings) == 7) >= 0.9


def test_reads_fours_whose_stem_starts_at_the_bar_drawn_on_the_canvas(classifier):
    # Drawn in the renderings but not taught: the bundled model reads 99.85% of 2,000 such
    # drawings anyway (compare_models); a model that took them for 9s would fail here.
    rng = np.random.default_rng(15)
    drawings = [renderings.short_stem_four_canvas(rng) for _ in range(40)]
    assert np.mean(digits_read(classifier, drawings) == 4) >= 0.9


def test_reads_nines_with_a_hooked_tail_drawn_on_the_canvas(classifier, mnist):
    # The sample's test 9s given a tail curling back left (as many Italians write it), then
    # redrawn along their centre lines with a jittery mouse, as the hard canvases are. The
    # model bundled before the style read 70 of these 73, the 3s and 5s Semeion's 9s were
    # misread as; now 72.
    rng = np.random.default_rng(14)
    nines = mnist["x_test"][mnist["y_test"] == 9]
    styled = [image for image in (restyle(nine, 9, rng) for nine in nines) if image is not None]
    drawings = [
        renderings._jittery_canvas(renderings._centre_line_segments(image, 2), rng, 280)
        for image in styled
    ]
    assert len(drawings) >= 60
    assert np.mean(digits_read(classifier, drawings) == 9) >= 0.95


@pytest.mark.parametrize("kind", ["letter", "scribble", "shape"])
def test_held_out_drawings_that_are_not_digits_are_refused(classifier, kind):
    rng = np.random.default_rng(13)
    canvases = [not_digit_canvas(rng, kind, "heldout") for _ in range(40)]
    assert refused(classifier, canvases) >= 0.85


def test_a_refusal_has_no_digit_but_keeps_what_the_model_saw(classifier):
    rng = np.random.default_rng(14)
    canvas = next(
        canvas
        for canvas in (not_digit_canvas(rng, "letter", "heldout") for _ in range(20))
        if classifier.predict(canvas).verdict == "not_a_digit"
    )
    prediction = classifier.predict(canvas)
    assert prediction.digit is None and prediction.confidence == 0.0
    assert prediction.not_digit > prediction.probabilities.max()
    assert prediction.not_digit >= VerdictConfig().not_digit_threshold
    assert prediction.model_input.shape == (28, 28) and prediction.ranked == []


def test_canvas_digits_are_seldom_refused(classifier, mnist):
    rng = np.random.default_rng(15)
    drawings = [renderings.canvas_drawing(digit, rng) for digit in mnist["x_test"][:300]]
    assert refused(classifier, drawings) <= 0.02


def test_a_blank_canvas_is_blank_not_a_refusal(classifier):
    prediction = classifier.predict(np.zeros((280, 280, 4), np.uint8))
    assert prediction.digit is None and prediction.verdict == "blank"
    assert prediction.not_digit == 0.0


def test_the_temperature_lowers_the_calibration_error_on_canvas_drawings(classifier, mnist):
    """The temperature was fitted on held-out training digits; here it must also help on
    drawings of the sample's test digits, which it never saw."""
    rng = np.random.default_rng(16)
    drawings = [
        renderings.hard_canvas_drawing(d, int(y), rng)
        for d, y in zip(mnist["x_test"], mnist["y_test"], strict=True)
    ]
    inputs = np.stack([to_mnist(drawing) for drawing in drawings])
    raw = DigitClassifier(classifier.model)  # temperature 1: the network's own confidence
    before = expected_calibration_error(raw.scores(inputs), mnist["y_test"])
    after = expected_calibration_error(classifier.scores(inputs), mnist["y_test"])
    assert after < before


def test_the_command_line_says_not_a_digit_for_a_letter(classifier, tmp_path, capsys):
    from mnist_core.cli import main

    rng = np.random.default_rng(17)
    letter = next(
        canvas
        for canvas in (not_digit_canvas(rng, "letter", "heldout") for _ in range(20))
        if classifier.predict(canvas).verdict == "not_a_digit"
    )
    path = tmp_path / "letter.png"
    path.write_bytes(renderings.png_bytes(letter))
    assert main(["predict", str(path)]) == 0
    assert re.fullmatch(
        rf"{re.escape(str(path))}: not a digit \(\d+\.\d% sure\)\n", capsys.readouterr().out
    )


def test_only_a_sure_not_a_digit_is_refused():
    from mnist_core.classifier import refused

    threshold = VerdictConfig().not_digit_threshold
    unsure, sure = np.zeros(11), np.zeros(11)
    unsure[4], unsure[10] = 1 - (threshold - 0.05), threshold - 0.05  # most probable, not sure
    sure[4], sure[10] = 1 - threshold, threshold
    assert refused(np.stack([unsure, sure])).tolist() == [False, True]
    assert not refused(np.full((1, 10), 0.1)).any()  # a 10-class model never refuses
