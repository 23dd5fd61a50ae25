import sys
from pathlib import Path

# Tests import the project (mnist_core, app_pages) and their own helpers without installation.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SAMPLE = Path(__file__).resolve().parent / "data" / "mnist_sample.npz"


@pytest.fixture(scope="module")
def classifier():
    """The bundled model, as the app loads it (a module may define its own)."""
    from mnist_core import DigitClassifier

    return DigitClassifier.load()


@pytest.fixture(scope="module")
def mnist():
    """The committed MNIST sample: x_train, y_train, x_test, y_test."""
    with np.load(SAMPLE) as data:
        return {key: data[key] for key in data.files}
