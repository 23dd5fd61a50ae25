"""Model factories (Keras functional API). Input: (28, 28) float32 in [0, 1], white ink on black."""

from __future__ import annotations

import keras
from keras import layers

from .config import ARCHITECTURES


def build_model(
    arch: str = "compact", classes: int = 10, dropout_rate: float = 0.25
) -> keras.Model:
    """Return an uncompiled model mapping (batch, 28, 28) images to ``classes`` softmax
    probabilities: the ten digits, and "not a digit" as an 11th class when ``classes`` is 11.

    ``compact`` is ours: batch-normalised convolutions sized for a 2-core CPU (about 4.8 M
    multiply-adds per digit). ``tutorial`` is the starting tutorial's network, kept to compare.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    inputs = keras.Input((28, 28), name="digit")
    features = layers.Reshape((28, 28, 1))(inputs)
    if arch == "compact":
        outputs = _compact_head(features, classes, dropout_rate)
    elif arch == "deep":
        outputs = _deep_head(features, classes, dropout_rate)
    else:
        outputs = _tutorial_head(features, classes)
    return keras.Model(inputs, outputs, name=arch)


def _probabilities(features, classes: int):
    # float32 whatever the compute precision: a softmax in bfloat16 (8 bits of mantissa)
    # would round every confidence to about 0.4%.
    return layers.Dense(classes, activation="softmax", dtype="float32")(features)


def _conv_bn(features, filters: int, kernel_size: int):
    features = layers.Conv2D(filters, kernel_size, use_bias=False)(features)
    # momentum 0.8: the running statistics settle within ~20 batches, so even a tiny run is
    # evaluated with statistics of the data rather than the initial (0, 1).
    features = layers.BatchNormalization(momentum=0.8)(features)
    return layers.ReLU()(features)


def _compact_head(features, classes: int, dropout_rate: float):
    features = _conv_bn(features, 32, 5)  # (24, 24, 32): strokes and their ends
    features = layers.MaxPooling2D()(features)  # (12, 12, 32)
    features = _conv_bn(features, 64, 3)  # (10, 10, 64)
    features = _conv_bn(features, 64, 3)  # (8, 8, 64): loops, crossings, junctions
    features = layers.MaxPooling2D()(features)  # (4, 4, 64)
    features = layers.Flatten()(features)  # 1024
    features = layers.Dense(128, activation="relu")(features)
    features = layers.Dropout(dropout_rate)(features)
    return _probabilities(features, classes)


def _deep_head(features, classes: int, dropout_rate: float):
    features = _conv_bn(features, 32, 5)  # (24, 24, 32)
    features = layers.MaxPooling2D()(features)  # (12, 12, 32)
    features = _conv_bn(features, 64, 3)  # (10, 10, 64)
    features = _conv_bn(features, 64, 3)  # (8, 8, 64)
    features = _conv_bn(features, 128, 3)  # (6, 6, 128): whole-digit parts
    features = layers.MaxPooling2D()(features)  # (3, 3, 128)
    features = layers.Flatten()(features)  # 1152
    features = layers.Dense(128, activation="relu")(features)
    features = layers.Dropout(dropout_rate)(features)
    return _probabilities(features, classes)


def _tutorial_head(features, classes: int):
    # 3x (Conv2D(64) + MaxPool), Dense 64/32/10: 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1.
    for _ in range(3):
        features = layers.Conv2D(64, 3, activation="relu")(features)
        features = layers.MaxPooling2D()(features)
    features = layers.Flatten()(features)
    features = layers.Dense(64, activation="relu")(features)
    features = layers.Dense(32, activation="relu")(features)
    return _probabilities(features, classes)
