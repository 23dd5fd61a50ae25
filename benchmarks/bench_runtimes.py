"""ONNX Runtime against LiteRT for serving the bundled models: how the choice was made.

    pip install ai-edge-litert   # LiteRT is not a project dependency
    python benchmarks/bench_runtimes.py [--data ../shared/data/mnist.npz]

Exports both bundled ``.keras`` models to ``.tflite`` (Keras' ``format="litert"``) in a temporary
folder, then measures each runtime in a fresh process (so imports and memory are its own):
import + load of both models, RSS after loading, one digit's latency, 10,000 MNIST test digits
in batches of 512, one number strip, and the largest difference from Keras on 2,000 digits.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

# Runs in a fresh interpreter: argv = runtime, digit model, reader model, data path.
PROBE = r"""
import json, sys, time
started = time.perf_counter()
import numpy as np
runtime, digit_path, reader_path, data_path = sys.argv[1:]
if runtime == "onnxruntime":
    import onnxruntime
    imported = time.perf_counter()
    def load(path):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda batch: session.run(None, {name: batch})[0]
else:
    from ai_edge_litert.interpreter import Interpreter
    imported = time.perf_counter()
    def load(path):
        interpreter = Interpreter(model_path=path, num_threads=1)
        interpreter.allocate_tensors()
        entry = interpreter.get_input_details()[0]["index"]
        exit_ = interpreter.get_output_details()[0]["index"]
        shape = {"batch": None}
        def run(batch):
            if shape["batch"] != len(batch):
                interpreter.resize_tensor_input(entry, batch.shape)
                interpreter.allocate_tensors()
                shape["batch"] = len(batch)
            interpreter.set_tensor(entry, batch)
            interpreter.invoke()
            return interpreter.get_tensor(exit_)
        return run
digits, reader = load(digit_path), load(reader_path)
loaded = time.perf_counter()
# VmRSS, not ru_maxrss: a child's maximum starts from its parent's at fork, and survives exec.
status = open("/proc/self/status").read()
rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
test = np.load(data_path)["x_test"].astype(np.float32) / 255
one = test[:1]
digits(one)
times = []
for _ in range(2000):
    begun = time.perf_counter()
    digits(one)
    times.append(time.perf_counter() - begun)
chunks = [test[start : start + 512] for start in range(0, 9728, 512)]
digits(chunks[0])
begun = time.perf_counter()
for chunk in chunks:
    digits(chunk)
batch_rate = 9728 / (time.perf_counter() - begun)
strip = np.zeros((1, 16, 128), np.float32)
reader(strip)
begun = time.perf_counter()
for _ in range(200):
    reader(strip)
strip_ms = (time.perf_counter() - begun) / 200 * 1000
outputs = np.concatenate([digits(test[start : start + 500]) for start in range(0, 2000, 500)])
print(json.dumps({
    "import_and_load_s": round(loaded - started, 3),
    "rss_after_load_mb": round(rss),
    "one_digit_p50_us": round(float(np.median(times)) * 1e6),
    "batch_digits_per_s": round(batch_rate),
    "number_strip_ms": round(strip_ms, 2),
    "outputs": outputs.tolist(),
}))
"""


def export_litert(folder: Path) -> tuple[Path, Path]:
    import keras

    paths = []
    for name in ("mnist_cnn", "number_reader"):
        model = keras.models.load_model(MODELS / f"{name}.keras", compile=False, safe_mode=True)
        path = folder / f"{name}.tflite"
        model.export(path, format="litert", verbose=False)
        paths.append(path)
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    arguments = parser.parse_args()
    import keras
    import numpy as np

    test = np.load(arguments.data)["x_test"][:2000].astype(np.float32) / 255
    model = keras.models.load_model(MODELS / "mnist_cnn.keras", compile=False, safe_mode=True)
    expected = np.asarray(model.predict(test, batch_size=500, verbose=0))
    with tempfile.TemporaryDirectory() as folder:
        tflite_digits, tflite_reader = export_litert(Path(folder))
        candidates = {
            "onnxruntime": (MODELS / "mnist_cnn.onnx", MODELS / "number_reader.onnx"),
            "litert": (tflite_digits, tflite_reader),
        }
        for runtime, (digits, reader) in candidates.items():
            result = subprocess.run(
                [sys.executable, "-c", PROBE, runtime, str(digits), str(reader), arguments.data],
                capture_output=True,
                text=True,
                check=True,
            )
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            outputs = np.asarray(measured.pop("outputs"), np.float32)
            measured["max_difference_from_keras"] = float(np.abs(outputs - expected).max())
            measured["same_digits_as_keras"] = bool(
                (outputs.argmax(axis=1) == expected.argmax(axis=1)).all()
            )
            print(f"{runtime}: " + ", ".join(f"{key} {value}" for key, value in measured.items()))


if __name__ == "__main__":
    main()
