"""Serving runtime: a trained network exported to ONNX (see :mod:`mnist_core.export`), run by
ONNX Runtime. The app, the CLI's ``predict`` and ``evaluate`` read digits through this module
alone, so none of them imports TensorFlow (3 s and ~400 MB of a process that only reads).

ONNX Runtime over LiteRT (benchmarks/bench_runtimes.py, docs/performance.md): both read one
digit in ~0.1 ms and agree with Keras to 2e-6; ONNX Runtime is as fast or faster in batches,
and its ``run`` may be called from many threads at once (Streamlit's sessions are threads),
where a LiteRT interpreter serves one thread at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

EXPORT_SUFFIX = ".onnx"


class ModelFileError(ValueError):
    """The file is not a network this runtime can run; the message says why."""


def exported_path(path: str | os.PathLike) -> Path:
    """The ONNX export that serves a model: ``path`` itself, or the file beside a ``.keras``."""
    return Path(path).with_suffix(EXPORT_SUFFIX)


class OnnxNetwork:
    """Callable: (N, *input_shape) float32 -> (N, *output_shape) float32. Thread-safe."""

    def __init__(self, path: str | os.PathLike):
        import onnxruntime

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no exported model at {self.path}")
        options = onnxruntime.SessionOptions()
        # One thread per call: a digit is ~0.1 ms of arithmetic, and a thread pool's workers
        # spin-wait between calls, burning the core that another session's reading needs.
        # Batches are parallelised by the caller (one call per chunk, from a few threads).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its notices are not our users' business
        try:
            self._session = onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's own exception types: not a model it can run
            raise ModelFileError(f"{self.path} is not a readable ONNX model: {error}") from None
        (model_input,) = self._session.get_inputs()
        self._input_name = model_input.name
        self.input_shape = _static(model_input.shape[1:], self.path)
        # None where the converter left a size symbolic (the reader's frames): known per call.
        self.output_shape = tuple(
            size if isinstance(size, int) else None
            for size in self._session.get_outputs()[0].shape[1:]
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, np.float32)
        return self._session.run(None, {self._input_name: batch})[0]


def _static(dimensions, path: Path) -> tuple[int, ...]:
    if not all(isinstance(size, int) for size in dimensions):
        raise ModelFileError(f"{path} has no fixed input shape: {dimensions}")
    return tuple(dimensions)
