"""Would averaging models beat one? MNIST test read by each model and by every combination.

    python benchmarks/bench_ensemble.py MODEL.onnx MODEL.onnx [...] [--data MNIST.npz]

Each model reads MNIST's 10,000 test digits through ``to_mnist`` (the app's path); a
combination reads them by the sum of its models' log-probabilities. Prints the share read
right, refusals of "not a digit" ignored (the best digit counts). A combination costs its
models' serving time together, so it earns its place only by a clear gain.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.runtime import OnnxNetwork  # noqa: E402
from mnist_core.training_data import preprocess_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+", type=Path, help="ONNX exports (.onnx)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    arguments = parser.parse_args()
    data = load_mnist(arguments.data)
    digits = preprocess_images(data.x_test, data.checksum).astype(np.float32) / 255
    log_probabilities = {
        path: np.log(OnnxNetwork(path)(digits)[:, :10] + 1e-9) for path in arguments.models
    }
    for size in range(1, len(arguments.models) + 1):
        for combination in itertools.combinations(arguments.models, size):
            read = sum(log_probabilities[path] for path in combination).argmax(axis=1)
            names = " + ".join(str(path) for path in combination)
            print(f"{np.mean(read == data.y_test):.2%}  {names}")


if __name__ == "__main__":
    main()
