"""The whole-number reader: a small CNN that reads a number's strip (see
:func:`mnist_core.numbers.number_strip`) as a sequence of frames, trained with CTC.

CTC lets the network learn where one digit ends and the next begins from whole numbers and
their text alone, so touching and overlapping digits need no cutting rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import StripConfig
from .runtime import OnnxNetwork, exported_path

BLANK = 10  # CTC's "no digit here" class; classes 0-9 are the digits themselves


def build_reader(strip: StripConfig = StripConfig()):
    """(batch, height, width) strips -> (batch, width / frame_px, 11) logits per frame."""
    import keras
    from keras import layers

    inputs = keras.Input((strip.height, strip.width), name="strip")
    features = layers.Reshape((strip.height, strip.width, 1))(inputs)
    # One 2x2 pooling sets the frame width (strip.frame_px = 2); the rest fold the rows away.
    for filters, pool in ((16, (2, 2)), (32, (2, 1)), (64, (2, 1)), (64, (2, 1))):
        features = layers.Conv2D(filters, 3, padding="same", use_bias=False)(features)
        features = layers.BatchNormalization(momentum=0.9)(features)
        features = layers.ReLU()(features)
        features = layers.MaxPooling2D(pool)(features)
    frames = strip.width // strip.frame_px
    features = layers.Permute((2, 1, 3))(features)  # (frames, rows, channels)
    features = layers.Reshape((frames, -1))(features)
    features = layers.Dense(96, activation="relu")(features)
    # Each frame looks at its neighbours: which stroke belongs to which digit is decided by
    # the context two or three digits wide.
    for _ in range(2):
        features = layers.Conv1D(96, 3, padding="same", activation="relu")(features)
    features = layers.Dropout(0.2)(features)
    logits = layers.Dense(BLANK + 1, name="frame_logits")(features)
    return keras.Model(inputs, logits, name="number_reader")


def ctc_loss(labels, logits):
    """labels: (batch, max_digits) digits padded with -1."""
    import keras

    labels = keras.ops.cast(labels, "int32")
    lengths = keras.ops.sum(keras.ops.cast(labels >= 0, "int32"), axis=1)
    frames = keras.ops.full((keras.ops.shape(logits)[0],), keras.ops.shape(logits)[1], "int32")
    return keras.ops.ctc_loss(
        keras.ops.maximum(labels, 0), logits, lengths, frames, mask_index=BLANK
    )


@dataclass(frozen=True)
class ReadDigit:
    """One digit of a read number, as sure as the reader is of it."""

    probabilities: np.ndarray  # (10,) its most confident frame's, renormalised over digits


def greedy_read(logits: np.ndarray) -> list[ReadDigit]:
    """Best path decoding of one strip's (frames, 11) logits: the most probable class per
    frame, repeats merged, blanks dropped."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    best = probabilities.argmax(axis=1)
    digits, start = [], 0
    for frame in range(1, len(best) + 1):
        if frame < len(best) and best[frame] == best[start]:
            continue
        if best[start] != BLANK:
            run = probabilities[start:frame, best[start]]
            peak = start + int(run.argmax())
            digit_probabilities = probabilities[peak, :BLANK] / probabilities[peak, :BLANK].sum()
            digits.append(ReadDigit(digit_probabilities))
        start = frame
    return digits


def log_likelihood(logits: np.ndarray, digits) -> float:
    """log P(the strip reads exactly ``digits``) under CTC: the sum over every alignment of
    the digits to the frames (the forward algorithm), so any text can be weighed, not only
    the reader's own best one."""
    log_probabilities = logits - logits.max(axis=1, keepdims=True)
    log_probabilities -= np.log(np.exp(log_probabilities).sum(axis=1, keepdims=True))
    states = np.full(2 * len(digits) + 1, BLANK)  # blank, d1, blank, d2, ..., blank
    states[1::2] = digits
    # A state may be entered from two back when it is a digit unlike the one two back.
    skip = np.zeros(len(states), bool)
    skip[2:] = (states[2:] != BLANK) & (states[2:] != states[:-2])
    alpha = np.full(len(states), -np.inf)
    alpha[:2] = log_probabilities[0, states[:2]]
    for frame in log_probabilities[1:]:
        one_back = np.concatenate([[-np.inf], alpha[:-1]])
        two_back = np.where(skip, np.concatenate([[-np.inf, -np.inf], alpha[:-2]]), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, one_back), two_back) + frame[states]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(states) > 1 else alpha[-1])


# What the app serves: the export of models/number_reader.keras (mnist_core.export).
BUNDLED_READER = Path(__file__).resolve().parent.parent / "models" / "number_reader.onnx"


class NumberReader:
    """A trained reader: a number's strip -> the digits it sees, left to right. Thread-safe."""

    def __init__(self, network, path: Path | None = None):
        # (N, height, width) float32 strips -> (N, frames, 11) logits: an OnnxNetwork.
        self.network, self.path = network, path
        self.strip = StripConfig()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> NumberReader:
        """Load an exported reader (default: the bundled one); ``path`` may name its ``.keras``
        file, whose export beside it is loaded."""
        path = exported_path(path) if path is not None else BUNDLED_READER
        if not path.is_file():
            raise FileNotFoundError(f"no number reader at {path}")
        network = OnnxNetwork(path)
        reader = cls(network, path)
        if network.input_shape != (reader.strip.height, reader.strip.width):
            raise ValueError(f"{path} is not a number reader: input {network.input_shape}")
        return reader

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """(frames, 11) logits for one (height, width) strip."""
        return self.network(np.asarray(pixels, np.float32)[None])[0]

    def read(self, pixels: np.ndarray) -> list[ReadDigit]:
        """The digits seen in one (height, width) strip."""
        return greedy_read(self.logits(pixels))
