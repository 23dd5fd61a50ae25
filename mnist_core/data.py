"""MNIST loading: an explicit file, else $MNIST_DATA, else Keras' download (the users' path)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DATA
from .errors import DataError

ENV_VAR = DATA.name
KEYS = ("x_train", "y_train", "x_test", "y_test")
DOWNLOADED = "keras download"  # MnistData.source of Keras' own copy


@dataclass(frozen=True)
class MnistData:
    """The four MNIST arrays (uint8, white ink on black) and where they came from."""

    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8, 0-9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # a path, or DOWNLOADED
    checksum: str  # sha256 of the four arrays' bytes: the record says what a model saw


def load_mnist(path: str | os.PathLike | None = None) -> MnistData:
    """Load and validate MNIST.

    Parameters
    ----------
    path : str | Path | None
        An ``.npz`` in the Keras layout (``x_train``, ``y_train``, ``x_test``, ``y_test``).
        None: the ``MNIST_DATA`` environment variable, else ``keras.datasets.mnist.load_data()``
        (which downloads once, to ``~/.keras/datasets``).

    Raises
    ------
    DataError
        The file is missing or malformed, or the download failed; the message says what to do.
    """
    path = path or DATA.value()
    if path is not None:
        arrays, source = _read_npz(Path(path)), str(Path(path).resolve())
    else:
        arrays, source = _download(), DOWNLOADED
    _validate(arrays, source)
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return MnistData(*(arrays[key] for key in KEYS), source=source, checksum=digest.hexdigest())


def load_recorded(source: str) -> MnistData:
    """The MNIST a training record names (its ``data_source``: a path, or "keras download")
    when this machine has that file, else this machine's own (:func:`load_mnist` with no
    path): a record made on another machine names a path that may not exist here, and
    MNIST's test set is the same everywhere."""
    local = source != DOWNLOADED and Path(source).is_file()
    return load_mnist(source if local else None)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path}. Pass --data PATH or set {ENV_VAR}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise DataError(f"{path} is not MNIST: it lacks {', '.join(missing)}")
            return {key: npz[key] for key in KEYS}
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"cannot read {path} as an .npz file: {error}") from None


def _download() -> dict[str, np.ndarray]:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:
        raise DataError(
            f"could not download MNIST ({error.__class__.__name__}: {error}). Without internet, "
            f"point to a local copy: --data PATH/mnist.npz or export {ENV_VAR}=PATH/mnist.npz"
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _validate(arrays: dict[str, np.ndarray], source: str) -> None:
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(
                f"{source}: x_{split} must be uint8 (N, 28, 28), got {images.dtype} {images.shape}"
            )
        if len(images) == 0:
            raise DataError(f"{source}: x_{split} holds no images")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{source}: y_{split} must hold one label per image")
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
            raise DataError(f"{source}: y_{split} labels must be integers 0-9")
