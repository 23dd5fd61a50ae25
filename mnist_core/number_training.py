"""Training the number reader: numbers composed from MNIST training digits, each drawn on a
canvas, photographed on paper or scanned (:mod:`mnist_core.renderings`), cut to a strip by the
app's own :func:`~mnist_core.numbers.number_strip`, and learnt with CTC.

    python -m mnist_core train-numbers [--data ../shared/data/mnist.npz]
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .config import NumberTrainConfig
from .data import MnistData
from .numbers import STRIP, number_ink, number_strip
from .renderings import compose_strip, number_canvas, number_photo

PAD = -1  # label of "no digit" after a number's last one
# The last twelfth of the training digits (5,000 of MNIST's 60,000) compose the validation
# numbers, as the digit model keeps as many out for its curves; the test numbers come from
# the test digits.
VALIDATION_SHARE = 1 / 12


def render_number(digits, kind: str, rng: np.random.Generator):
    """``digits`` (MNIST 28x28) written as one number: "scan", "canvas" or "photo"."""
    if kind == "scan":
        return compose_strip(digits, rng)
    if kind == "canvas":
        return number_canvas(
            digits, rng, width=int(rng.integers(280, 900)), height=int(rng.integers(140, 400))
        )
    # A phone photo at 4-8x MNIST's scale: as the app downsizes any photo to 640 px anyway,
    # larger ones only cost time to render.
    return number_photo(digits, rng, zoom=int(rng.integers(4, 9)))


def compose(images, labels, count: int, seed: int, config: NumberTrainConfig, strip=STRIP):
    """``count`` composed numbers: (strips (N, H, W) uint8, labels (N, longest) int8 padded
    with PAD), rendered by kinds in ``config.kinds``, through the app's number_strip."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(("scan", "canvas", "photo"), size=count, p=config.kinds)
    strips = np.zeros((count, strip.height, strip.width), np.uint8)
    targets = np.full((count, config.digits[1]), PAD, np.int8)
    for row, kind in enumerate(kinds):
        picks = rng.choice(len(images), int(rng.integers(config.digits[0], config.digits[1] + 1)))
        number = number_ink(render_number(list(images[picks]), kind, rng))
        if number is not None:  # never seen: MNIST digits always leave ink
            strips[row] = np.round(number_strip(number, strip) * 255)
            targets[row, : len(picks)] = labels[picks]
    return strips, targets


def compose_in_parallel(images, labels, count: int, seed: int, config: NumberTrainConfig):
    """:func:`compose` split over ``config.workers`` processes (spawned: TensorFlow's threads
    must not be forked)."""
    parts = max(1, config.workers) * 4
    sizes = [count // parts + (part < count % parts) for part in range(parts)]
    jobs = [(images, labels, size, seed * 1000 + part, config) for part, size in enumerate(sizes)]
    with multiprocessing.get_context("spawn").Pool(max(1, config.workers)) as pool:
        results = pool.starmap(compose, jobs)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def exact_rate(model, strips: np.ndarray, targets: np.ndarray) -> float:
    """Share of composed numbers the reader reads exactly (every digit, no more, no less)."""
    from .number_reader import greedy_read

    logits = model.predict(strips.astype(np.float32) / 255, batch_size=256, verbose=0)
    right = 0
    for frames, target in zip(logits, targets, strict=True):
        read = [int(digit.probabilities.argmax()) for digit in greedy_read(frames)]
        right += read == [int(value) for value in target if value != PAD]
    return right / max(len(targets), 1)


def train_number_reader(
    config: NumberTrainConfig, data: MnistData, output: Path, report=print
) -> dict:
    """Compose, train, measure and save the reader (atomically) with its JSON record."""
    from .train import save_model_atomically

    started = time.monotonic()
    split = len(data.x_train) - max(1, round(len(data.x_train) * VALIDATION_SHARE))
    report(f"composing {config.examples:,} training numbers ...")
    x_fit, y_fit = compose_in_parallel(
        data.x_train[:split], data.y_train[:split], config.examples, config.seed, config
    )
    x_val, y_val = compose(
        data.x_train[split:], data.y_train[split:], config.validation, config.seed + 1, config
    )
    composing_s = time.monotonic() - started
    model, history = _fit_reader(config, x_fit, y_fit, x_val, y_val, report)
    test = _test_exact(model, data, config)
    record = {
        "kind": "number reader",
        "config": asdict(config),
        "strip": asdict(STRIP),
        "history": history,
        "test_exact": test,  # test_numbers numbers of MNIST test digits per kind
        "data_source": data.source,
        "data_checksum": data.checksum,
        "composing_s": round(composing_s, 1),
        "duration_s": round(time.monotonic() - started, 1),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    save_model_atomically(model, record, Path(output))
    return record


def _fit_reader(config: NumberTrainConfig, x_fit, y_fit, x_val, y_val, report):
    """Build the reader and fit it epoch by epoch on uint8 strips, measuring each epoch on
    the validation numbers: (model, a {loss, val_exact} per epoch)."""
    import keras

    from .number_reader import build_reader, ctc_loss

    keras.utils.set_random_seed(config.seed)
    model = build_reader(STRIP)
    steps = config.epochs * int(np.ceil(len(x_fit) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=config.learning_rate, warmup_steps=steps // 10
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=ctc_loss)
    # Converted once: 60,000 float strips are ~0.5 GB, not to be rebuilt every epoch.
    x_fit, y_fit = x_fit.astype(np.float32) / 255, y_fit.astype(np.int32)
    history = []
    for epoch in range(1, config.epochs + 1):
        logs = model.fit(
            x_fit,
            y_fit,
            batch_size=config.batch_size,
            epochs=1,
            shuffle=True,
            verbose=0,
        ).history
        history.append(
            {"loss": float(logs["loss"][0]), "val_exact": exact_rate(model, x_val, y_val)}
        )
        report(
            f"epoch {epoch}: loss {history[-1]['loss']:.3f}  "
            f"validation numbers read exactly {history[-1]['val_exact']:.2%}"
        )
        if not np.isfinite(history[-1]["loss"]):
            raise ValueError("training diverged (loss is not finite); nothing was saved")
    return model, history


def _test_exact(model, data: MnistData, config: NumberTrainConfig) -> dict[str, float]:
    """The share of test numbers (MNIST test digits) read exactly, per kind of rendering."""
    test = {}
    for kind in ("scan", "canvas", "photo"):
        only = replace(config, kinds=_only(kind))
        x_test, y_test = compose(
            data.x_test, data.y_test, config.test_numbers, config.seed + 2, only
        )
        test[kind] = exact_rate(model, x_test, y_test)
    return test


def _only(kind: str) -> tuple[float, float, float]:
    return tuple(float(kind == name) for name in ("scan", "canvas", "photo"))
