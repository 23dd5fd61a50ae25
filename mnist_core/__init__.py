"""mnist_core: read a handwritten digit from any image with a small CNN (trained with Keras,
served by ONNX Runtime).

>>> from mnist_core import DigitClassifier
>>> DigitClassifier.load().predict(open("seven.png", "rb").read()).digit
7
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN notices, CPU feature lines) is noise for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import preprocess  # noqa: E402
from .classifier import DigitClassifier, Prediction  # noqa: E402
from .errors import InvalidImageError  # noqa: E402

__all__ = ["DigitClassifier", "Prediction", "InvalidImageError", "preprocess"]
