"""Training's distortions (mnist_core.augment): a digit stays the same digit, moved, turned and
worn as real drawings are, and the annealed last epochs show digits as they are drawn."""

from __future__ import annotations

import cv2
import numpy as np

from mnist_core.augment import _with_gaps, augment_batch
from mnist_core.config import AugmentConfig


def digits(mnist, count=64):
    return mnist["x_test"][:count].astype(np.float32) / 255


def centre_of_ink(batch):
    rows, cols = np.mgrid[0:28, 0:28]
    mass = batch.sum(axis=(1, 2))
    return np.stack(
        [(batch * rows).sum(axis=(1, 2)) / mass, (batch * cols).sum(axis=(1, 2)) / mass]
    )


def test_a_distorted_digit_stays_in_its_frame_and_keeps_its_ink(mnist):
    batch = digits(mnist)
    warped = augment_batch(batch, np.random.default_rng(0))
    assert warped.shape == batch.shape and warped.dtype == np.float32
    assert warped.min() >= 0 and warped.max() <= 1
    # Shifted at most 2 px and turned 10 degrees: the ink's centre moves a few pixels at most,
    # and a digit keeps most of its ink (no stroke pushed out of the frame).
    assert np.abs(centre_of_ink(warped) - centre_of_ink(batch)).max() < 5
    assert np.median(warped.sum(axis=(1, 2)) / batch.sum(axis=(1, 2))) > 0.7


def test_no_distortion_at_zero_strength(mnist):
    batch = digits(mnist, 16)
    still = augment_batch(batch, np.random.default_rng(1), AugmentConfig().scaled(0))
    np.testing.assert_allclose(still, batch, atol=1e-5)


def test_gaps_only_rub_out_and_break_a_stroke():
    bars = np.zeros((200, 28, 28), np.float32)
    bars[:, 4:24, 13:15] = 1.0  # a 1 as a straight stem two pixels wide
    gapped = _with_gaps(bars, np.random.default_rng(2), 0.5, (1.2, 1.6))
    assert np.all(gapped <= bars)  # ink is only taken away
    changed = np.flatnonzero((gapped != bars).any(axis=(1, 2)))
    assert 70 <= len(changed) <= 130  # about half of them
    pieces = [
        cv2.connectedComponents((gapped[index] > 0.5).astype(np.uint8))[0] - 1 for index in changed
    ]
    # A gap across the stem splits it unless it falls on an end: most stems are in pieces.
    assert np.mean(np.greater(pieces, 1)) > 0.6
    # A gap is small: at most two discs of 1.6 px radius rubbed out.
    lost = (bars[changed] - gapped[changed]).sum(axis=(1, 2))
    assert lost.max() <= 2 * np.pi * 2.6**2


def test_gaps_in_any_share_of_a_batch():
    """From none of a batch to all of it, one digit alone with no second gap included."""
    bars = np.zeros((1, 28, 28), np.float32)
    bars[:, 4:24, 13:15] = 1.0
    for seed in range(20):
        for probability in (0.0, 0.5, 1.0):
            gapped = _with_gaps(bars, np.random.default_rng(seed), probability, (0.6, 1.6))
            assert gapped.shape == bars.shape and np.all(gapped <= bars)
    assert np.array_equal(_with_gaps(bars, np.random.default_rng(0), 0.0, (0.6, 1.6)), bars)
