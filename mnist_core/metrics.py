"""What a model's test scores say: accuracy, confusion, refusals, calibration. Shared by the
training record and the CLI's ``evaluate``, so both report the same figures the same way."""

from __future__ import annotations

import numpy as np

from .calibration import expected_calibration_error
from .classifier import refused


def test_metrics(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and confusion of the digit read (the most probable of the ten digits, as
    MNIST results are reported), how many digits were refused as not a digit, and the
    calibration error of the whole reading (refusals count as wrong)."""
    predicted = scores[:, :10].argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    wrong = np.flatnonzero(predicted != labels)
    refusals = refused(scores)
    return {
        "test_accuracy": round(float(np.mean(predicted == labels)), 5),
        "test_digits": int(len(labels)),
        "test_refused": round(float(refusals.mean()), 5),
        "test_ece": round(expected_calibration_error(scores, labels), 5),
        "confusion_matrix": confusion.tolist(),  # rows: true digit, columns: predicted
        "misclassified": [[int(index), int(predicted[index])] for index in wrong[:200]],
    }


def test_digits_as_seen(data_source: str, indices) -> tuple[np.ndarray, np.ndarray]:
    """MNIST test digits (e.g. a record's ``misclassified``) as the model saw them: uint8
    (n, 28, 28) through training's own preprocessing, and their labels.

    Only these go through it, not the whole test set (training's cached copy is keyed by
    all of it): a gallery's 24 digits take milliseconds, all 10,000 seconds of both cores.
    ``data_source`` is the record's (:func:`mnist_core.data.load_recorded`).
    """
    from .data import load_recorded
    from .training_data import _preprocess_chunk

    data = load_recorded(data_source)
    rows = list(indices)
    return _preprocess_chunk(data.x_test[rows]), data.y_test[rows]
