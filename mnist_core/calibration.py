"""Calibrated confidence: one temperature, fitted on held-out digits, so that "90% sure" is
right about 90% of the time (Guo et al., "On Calibration of Modern Neural Networks", 2017)."""

from __future__ import annotations

import numpy as np

ECE_BINS = 15  # Guo et al.'s choice, the usual one to report


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities re-tempered: softmax(logits / T), computed from the
    probabilities themselves (their logs are the logits up to a constant per row)."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.maximum(probabilities, 1e-30)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    tempered = np.exp(logits)
    return (tempered / tempered.sum(axis=-1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels.astype(np.int64)]
    return float(-np.mean(np.log(np.maximum(picked, 1e-30))))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the held-out negative log-likelihood: a golden-section
    search over log T in [1/10, 10] (the likelihood is unimodal in T)."""
    if not len(labels):
        return 1.0

    def loss(log_temperature: float) -> float:
        tempered = with_temperature(probabilities, float(np.exp(log_temperature)))
        return negative_log_likelihood(tempered, labels)

    low, high = np.log(0.1), np.log(10.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):  # the bracket shrinks to 0.618^40 of its width: ~1e-8
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        if loss(left) < loss(right):
            high = right
        else:
            low = left
    return round(float(np.exp((low + high) / 2)), 4)


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """|accuracy - confidence| of the top class, averaged over equal-width confidence bins
    weighted by how many predictions fall in each."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        inside = which == index
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)
