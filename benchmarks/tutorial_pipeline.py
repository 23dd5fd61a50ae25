"""The tutorial we started from, reproduced faithfully so benchmarks compare like with like.

Its recipe: `tf.keras.utils.normalize(x, axis=1)` on raw MNIST, 3x Conv2D(64)+MaxPool, Dense
64/32/10, adam, 5 epochs; for "your own image": `cv2.resize(image, (28, 28))` of the grey
frame (first channel: alpha dropped, no inversion, no cropping), `model.predict`.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import keras
import numpy as np
from PIL import Image

from mnist_core.architectures import build_model

MODEL_PATH = Path(__file__).resolve().parent / "tutorial_model.keras"


def normalize(images: np.ndarray) -> np.ndarray:
    """tf.keras.utils.normalize(x, axis=1): each image row scaled to unit L2 norm."""
    images = images.astype(np.float32)
    norms = np.linalg.norm(images, axis=1, keepdims=True)
    return images / np.where(norms == 0, 1, norms)


def tutorial_model(x_train: np.ndarray, y_train: np.ndarray) -> keras.Model:
    """Load the tutorial's trained model, training it (5 epochs, ~6 min) on first use."""
    if MODEL_PATH.is_file():
        return keras.models.load_model(MODEL_PATH, safe_mode=True)
    keras.utils.set_random_seed(0)
    model = build_model("tutorial")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(normalize(x_train), y_train, epochs=5, verbose=2)
    model.save(MODEL_PATH)
    return model


def tutorial_input(image) -> np.ndarray:
    """The tutorial's preprocessing of one image (array or file bytes) -> (1, 28, 28)."""
    if isinstance(image, bytes):
        image = np.asarray(Image.open(io.BytesIO(image)))
    if image.ndim == 3:
        image = image[:, :, 0]  # the tutorial's `[:, :, 0]`: alpha and colour dropped
    return normalize(cv2.resize(image, (28, 28))[None])


def tutorial_predict(model: keras.Model, image) -> int:
    return int(np.argmax(model.predict(tutorial_input(image), verbose=0)))
