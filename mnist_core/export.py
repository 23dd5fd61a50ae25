"""Training side of serving: a trained Keras network -> its ONNX export beside the ``.keras`` file.

Every training run ends here (the digit model in :mod:`mnist_core.train`, the number reader in
:mod:`mnist_core.number_training`); the ``.keras`` file stays the training format, the export is
what :mod:`mnist_core.runtime` serves. The conversion is Keras' own (``Model.export`` with
``format="onnx"``, tf2onnx underneath), and each export is checked against Keras before it is
kept, so a converter that drifts with a new TensorFlow fails the run instead of misreading.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .runtime import OnnxNetwork, exported_path

# The export must give Keras' outputs to within float rounding (measured: 2e-6).
EXPORT_TOLERANCE = 1e-4


class ExportError(ValueError):
    """The exported network does not compute what the Keras one does."""


def export_onnx(model, path: str | os.PathLike) -> Path:
    """Write ``model``'s ONNX export to ``path`` (its suffix made ``.onnx``), atomically, after
    checking it on probe inputs. Returns the export's path.

    Raises
    ------
    ExportError
        When the export's outputs differ from the Keras model's by more than
        ``EXPORT_TOLERANCE``.
    """
    import keras

    path = exported_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    signature = [keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32")]
    try:
        with warnings.catch_warnings():  # tf2onnx's deprecation notices about numpy and TF
            warnings.simplefilter("ignore")
            model.export(temporary, format="onnx", verbose=False, input_signature=signature)
        check_export(model, OnnxNetwork(temporary))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_export(model, network: OnnxNetwork, probes: np.ndarray | None = None) -> float:
    """The largest difference between ``model`` and its export on ``probes`` (default: a blank
    input and 31 random ones); raises :class:`ExportError` above ``EXPORT_TOLERANCE``."""
    if probes is None:
        shape = tuple(model.input_shape[1:])
        random = np.random.default_rng(0).random((31, *shape), dtype=np.float32)
        probes = np.concatenate([np.zeros((1, *shape), np.float32), random])
    expected = np.asarray(model(probes, training=False))
    exported = network(probes)
    difference = float(np.max(np.abs(expected - exported))) if expected.size else 0.0
    if expected.shape != exported.shape or not difference <= EXPORT_TOLERANCE * max(
        1.0, float(np.max(np.abs(expected)))
    ):
        raise ExportError(
            f"the ONNX export of {model.name} differs from the Keras model by {difference:.2e} "
            f"(shapes {exported.shape} and {expected.shape}); it was not saved"
        )
    return difference


def export_saved_model(keras_path: str | os.PathLike) -> Path:
    """Export a saved ``.keras`` file (a run trained before exports existed) beside itself."""
    import keras

    keras_path = Path(keras_path)
    if keras_path.suffix != ".keras" or not keras_path.is_file():
        raise FileNotFoundError(f"no .keras model at {keras_path}")
    model = keras.models.load_model(keras_path, compile=False, safe_mode=True)
    return export_onnx(model, keras_path)
