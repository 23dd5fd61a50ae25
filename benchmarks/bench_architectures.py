"""What each architecture costs to serve, through the app's own path (ONNX Runtime), before
any training: the weights are random, the arithmetic is the same.

    python benchmarks/bench_architectures.py [--repeat 3]

Per architecture, best of --repeat: the network alone on one digit (p50 of 300 calls) and on
the 10,000 MNIST test digits at once (already preprocessed), and ``predict_batch`` on the raw
10,000 (preprocessing included), the figure issue 13 holds to >= 5,000/s. MNIST at
$MNIST_DATA or ../shared/data/mnist.npz.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from mnist_core.architectures import build_model  # noqa: E402
from mnist_core.classifier import DigitClassifier  # noqa: E402
from mnist_core.config import ARCHITECTURES  # noqa: E402
from mnist_core.data import load_mnist  # noqa: E402
from mnist_core.export import export_onnx  # noqa: E402
from mnist_core.runtime import OnnxNetwork  # noqa: E402
from mnist_core.training_data import preprocess_images  # noqa: E402


def best_rate(count: int, work, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    data = load_mnist(os.environ.get("MNIST_DATA") or ROOT.parent / "shared/data/mnist.npz")
    digits = preprocess_images(data.x_test, data.checksum)
    one = digits[:1]
    header = ("architecture", "one digit p50", "network, batch", "predict_batch")
    print(f"{header[0]:<12} {header[1]:>14} {header[2]:>16} {header[3]:>15}")
    with tempfile.TemporaryDirectory() as folder:
        for arch in ARCHITECTURES:
            export = export_onnx(build_model(arch, 11, 0.1), Path(folder) / f"{arch}.onnx")
            classifier = DigitClassifier(OnnxNetwork(export))
            classifier.predict_batch(data.x_test[:500])  # warm: sessions, caches
            single = []
            for _ in range(300):
                started = time.perf_counter()
                classifier.scores(one)
                single.append(time.perf_counter() - started)
            network = best_rate(
                len(digits), lambda c=classifier: c.scores(digits), arguments.repeat
            )
            batch = best_rate(
                len(data.x_test),
                lambda c=classifier: c.predict_batch(data.x_test),
                arguments.repeat,
            )
            print(
                f"{arch:<12} {np.median(single) * 1e3:>11.3f} ms {network:>14,.0f}/s "
                f"{batch:>13,.0f}/s"
            )


if __name__ == "__main__":
    main()
