"""Where a training run's time goes, on this machine: preprocessing, augmentation, the network.

    python benchmarks/bench_training.py [--data ../shared/data/mnist.npz]

Prints per-digit costs of `to_mnist` on MNIST digits (one core) and of the batch augmentation,
then the network's training throughput (forward + backward, digits/s) at three batch sizes on
digits already in memory, and with the run's own input pipeline (augmented batches), in float32
and, where the CPU has it natively, in mixed bfloat16 (what a run uses there). Run it on an
otherwise idle machine: every figure is wall-clock time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mnist_core.augment import augment_batch  # noqa: E402
from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.precision import compute_policy  # noqa: E402
from mnist_core.preprocess import to_mnist  # noqa: E402
from mnist_core.training_data import as_uint8  # noqa: E402

DIGITS = 8_192  # per throughput measurement: 32 batches of 256


def per_item_us(function, items) -> float:
    started = time.perf_counter()
    function(items)
    return (time.perf_counter() - started) / len(items) * 1e6


def network_throughput(images, labels, batch_size: int, pipeline: bool, policy: str) -> float:
    """Digits/s of model.fit over DIGITS digits under Keras dtype ``policy``, after one warm-up
    epoch."""
    from mnist_core.architectures import build_model
    from mnist_core.precision import built_under
    from mnist_core.train import _Batches

    config = TrainConfig(batch_size=batch_size)
    model = built_under(policy, lambda: build_model("compact", 11, config.dropout))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    onehot = np.eye(11, dtype=np.float32)[labels]
    if pipeline:
        data = _Batches(as_uint8(images), labels, config, 11)
        model.fit(data, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
    else:
        model.fit(images, onehot, batch_size=batch_size, epochs=1, verbose=0)
        started = time.perf_counter()
        model.fit(images, onehot, batch_size=batch_size, epochs=1, verbose=0)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    arguments = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)  # as in the run's preprocessing workers: one core each
    with np.load(arguments.data) as data:
        raw, labels = data["x_train"][:DIGITS], data["y_train"][:DIGITS]
    cost = per_item_us(lambda items: [to_mnist(item) for item in items], raw[:2000])
    print(f"to_mnist, one 28x28 MNIST digit, one core: {cost:.0f} us")
    digits = np.stack([to_mnist(image) for image in raw])
    rng = np.random.default_rng(0)
    batches = [digits[start : start + 256] for start in range(0, DIGITS, 256)]
    cost = per_item_us(lambda items: [augment_batch(batch, rng) for batch in items], batches)
    print(f"augment_batch, a batch of 256: {cost / 256:.1f} us a digit")
    policies = sorted({"float32", compute_policy(True)}, reverse=True)  # float32 first
    for policy in policies:
        for batch_size in (128, 256, 512):
            rate = network_throughput(digits, labels, batch_size, False, policy)
            print(f"network, {policy}, batch {batch_size}, digits in memory: {rate:,.0f}/s")
        rate = network_throughput(digits, labels, 256, True, policy)
        print(f"the run's own pipeline, {policy}, batch 256 (augmented from uint8): {rate:,.0f}/s")


if __name__ == "__main__":
    main()
