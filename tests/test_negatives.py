"""The "not a digit" negatives: canvases as the app receives them, MNIST-style images out."""

import numpy as np
import pytest
from helpers import SAMPLE

from mnist_core import negatives
from mnist_core.negatives import KINDS, not_digit_canvas, not_digit_images
from mnist_core.preprocess import to_mnist

DIGITS = np.load(SAMPLE)
TRAIN_DIGITS, TEST_DIGITS = DIGITS["x_train"], DIGITS["x_test"]


@pytest.mark.parametrize("split", ["train", "heldout"])
@pytest.mark.parametrize("kind", KINDS)
def test_canvas_is_a_transparent_drawing_that_to_mnist_reads(kind, split):
    rng = np.random.default_rng(3)
    for size in (280, 112):
        canvas = not_digit_canvas(rng, kind, split, TRAIN_DIGITS, DIGITS["y_train"], size=size)
        assert canvas.shape == (size, size, 4) and canvas.dtype == np.uint8
        ink = canvas[..., 3]
        assert ink.max() == 255 and np.count_nonzero(ink) < ink.size / 2  # ink in alpha only
        assert to_mnist(canvas) is not None


def test_images_are_mnist_style_and_never_blank():
    images = not_digit_images(40, np.random.default_rng(0), digits=TRAIN_DIGITS)
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert (images.max(axis=(1, 2)) > 200).all()
    assert (images[:, 0, :].max(axis=1) < 128).mean() > 0.9  # centred, MNIST's dark border


def test_images_are_deterministic_for_a_seed():
    first = not_digit_images(12, np.random.default_rng(7), digits=TRAIN_DIGITS)
    again = not_digit_images(12, np.random.default_rng(7), digits=TRAIN_DIGITS)
    other = not_digit_images(12, np.random.default_rng(8), digits=TRAIN_DIGITS)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_train_and_heldout_splits_differ():
    train = not_digit_images(12, np.random.default_rng(0), "train", TRAIN_DIGITS)
    heldout = not_digit_images(12, np.random.default_rng(0), "heldout", TEST_DIGITS)
    assert not (train[:, None] == heldout[None]).all(axis=(2, 3)).any()


def test_heldout_letters_fonts_and_shapes_are_never_drawn_in_train():
    assert not set(negatives.HELDOUT_LETTERS) & set(negatives.TRAIN_LETTERS)
    for variants in (negatives.SCRIBBLES, negatives.SHAPES):
        assert not set(variants["train"]) & set(variants["heldout"])
    rng = np.random.default_rng(0)
    drawn = {negatives._letter_strokes(rng, "train")[0] for _ in range(300)}
    assert drawn == set(negatives.TRAIN_LETTERS)


def test_every_kind_appears_in_its_share(monkeypatch):
    drawn = []

    def recording(rng, kind, *arguments, **keywords):
        drawn.append(kind)
        return not_digit_canvas(rng, kind, *arguments, **keywords)

    monkeypatch.setattr(negatives, "not_digit_canvas", recording)
    not_digit_images(100, np.random.default_rng(0), digits=TRAIN_DIGITS)
    counts = {kind: drawn.count(kind) for kind in KINDS}
    assert counts == {kind: round(100 * negatives.SHARES[kind]) for kind in KINDS}
    drawn.clear()
    not_digit_images(20, np.random.default_rng(0))
    assert "two_digits" not in drawn and set(drawn) == set(KINDS) - {"two_digits"}


def test_bad_arguments_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        not_digit_canvas(rng, "two_digits")  # no digits to draw
    with pytest.raises(ValueError):
        not_digit_canvas(rng, "digit")
    with pytest.raises(ValueError):
        not_digit_images(3, rng, split="test")
