"""Training runs: MNIST through the app's own preprocessing, augmented, into a saved model plus
a JSON record (config, curves, test accuracy, confusion matrix, duration, data checksum).

:func:`train` takes progress and stop callbacks, so the CLI's progress bar and the app's retrain
page drive the same code.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from .augment import augment_batch
from .calibration import expected_calibration_error, fit_temperature, with_temperature
from .classifier import DigitClassifier, as_float, refused
from .config import AugmentConfig, TrainConfig, TrainResources, validate_config
from .data import load_mnist
from .export import export_onnx
from .metrics import test_metrics
from .precision import built_under, compute_policy, float32_twin
from .runtime import OnnxNetwork, exported_path
from .training_data import build_training_set


@dataclass(frozen=True)
class TrainingProgress:
    """One report from a running training, for progress bars and live curves."""

    epoch: int  # 1-based epoch being run
    epochs: int
    batch: int  # batches done in this epoch
    batches: int
    elapsed_s: float  # since the run started, preparation included
    history: tuple  # finished epochs: dicts of loss, accuracy, val_loss, val_accuracy
    phase: str = "training"  # "preparing", "training", "evaluating"
    training_s: float = 0.0  # since the first batch: the basis of the time-left estimate
    points: tuple = ()  # the live curves: history's keys and "epoch", a fraction within a run

    @property
    def fraction(self) -> float:
        if self.phase != "training":
            return 0.0 if self.phase == "preparing" else 1.0
        return ((self.epoch - 1) + self.batch / max(self.batches, 1)) / self.epochs

    @property
    def remaining_s(self) -> float | None:
        if self.phase != "training" or self.fraction <= 0.02:
            return None
        return self.training_s * (1 - self.fraction) / self.fraction


@dataclass(frozen=True)
class TrainingResult:
    status: str  # "completed", "cancelled" or "diverged"
    record: dict
    model_path: Path | None  # None unless completed


def _limit_threads(resources: TrainResources) -> None:
    # OpenCV's own thread pool, on top of TensorFlow's and the augmentation workers, only
    # oversubscribes two cores (measured: a third more system time, 25% slower epochs).
    import cv2
    import tensorflow as tf

    cv2.setNumThreads(1)
    # Must come before TensorFlow runs its first op; setting the same value again is allowed.
    if resources.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(resources.intra_op_threads)
    if resources.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(resources.inter_op_threads)


def train(
    config: TrainConfig = TrainConfig(),
    output_path: str | os.PathLike = "models/mnist_cnn.keras",
    data_path: str | os.PathLike | None = None,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resources: TrainResources = TrainResources(),
) -> TrainingResult:
    """Train one model and, if it completes, save it and its record atomically.

    Parameters
    ----------
    config : TrainConfig
        Hyper-parameters; validated against ``TRAIN_LIMITS``.
    output_path : path
        Where the ``.keras`` file goes; the record is the same path with ``.json``.
    data_path : path | None
        MNIST ``.npz``; see :func:`mnist_core.data.load_mnist`.
    on_progress : callable | None
        Called with a :class:`TrainingProgress` after every batch and epoch.
    should_stop : callable | None
        Polled after every batch; returning True cancels the run (nothing is written).
    resources : TrainResources
        TensorFlow's thread counts (the CPU priority is the caller's: it must be set before
        TensorFlow starts its threads, see ``cli.run_train``).
    """
    validate_config(config)
    _limit_threads(resources)
    started = time.monotonic()
    report = on_progress or (lambda progress: None)
    report(TrainingProgress(0, config.epochs, 0, 0, 0.0, (), "preparing"))
    data = load_mnist(data_path)
    dataset = build_training_set(data, config)
    # Preprocessed into ``dataset`` now: the raw digits (55 MB) need not live through training.
    data = replace(data, x_train=emptied(data.x_train), x_test=emptied(data.x_test))
    keras.utils.set_random_seed(config.seed)
    collected = _corrections(config)
    classes = 11 if config.not_digits else 10
    model, bridge, fitted = _fit(config, dataset, collected, classes, started, report, should_stop)
    # Fitted: the ~60 MB of fitting digits need not live through the export and its checks,
    # the run's memory peak.
    dataset = replace(dataset, x_fit=emptied(dataset.x_fit), y_fit=emptied(dataset.y_fit))
    report(
        TrainingProgress(
            config.epochs,
            config.epochs,
            0,
            0,
            time.monotonic() - started,
            tuple(bridge.history),
            "evaluating",
            points=tuple(bridge.points),
        )
    )
    record = _record(config, data, dataset, fitted, bridge, started)
    record["compute_precision"] = model.dtype_policy.name
    if bridge.status != "completed":
        return TrainingResult(bridge.status, record, None)
    model = float32_twin(model, lambda: _architecture(config, classes))
    # The fitted model, still held by the callback, with its optimizer and training functions:
    # let it go before the export and its checks, the run's peak (~10 MB less measured there).
    bridge.set_model(None)
    gc.collect()

    # Every figure of the record is measured on the export the app will serve.
    output_path = Path(output_path)
    export = export_onnx(model, temporary_path(output_path, ".onnx"))
    try:
        served = DigitClassifier(OnnxNetwork(export))  # temperature 1: the network's own
        record.update(_export_metrics(served, dataset, data.y_test, classes))
        classifier = DigitClassifier(served.model, record=record)
        record.update(_corrections_metrics(classifier, collected))
        record["duration_s"] = round(time.monotonic() - started, 1)
        save_model_atomically(model, record, output_path, export)
    finally:
        export.unlink(missing_ok=True)
    return TrainingResult("completed", record, output_path)


def emptied(array: np.ndarray) -> np.ndarray:
    """An empty array of ``array``'s kind that does not keep its memory alive, as the view
    ``array[:0]`` would."""
    return np.empty((0, *array.shape[1:]), array.dtype)


def _export_metrics(served: DigitClassifier, dataset, y_test, classes: int) -> dict:
    """The temperature fitted on the held-out digits, then the test figures with it (and the
    calibration error without it) and the held-out not-digits refused, all read by
    ``served``, the export at temperature 1."""
    untempered = served.scores
    temperature = fit_temperature(untempered(dataset.x_validation), dataset.y_validation)
    test_scores = untempered(dataset.x_test)
    metrics = {"temperature": temperature}
    metrics.update(test_metrics(with_temperature(test_scores, temperature), y_test))
    metrics["test_ece_before"] = round(expected_calibration_error(test_scores, y_test), 5)
    if classes > 10:
        scores = with_temperature(untempered(dataset.heldout_not_digits), temperature)
        metrics["not_digit_refusal"] = round(float(refused(scores).mean()), 5)
    return metrics


def _fit(config, dataset, collected: dict, classes: int, started, report, should_stop):
    """Fit a new model on the fitting digits and the collected corrections, measured on the
    held-out digits after each epoch: (model, its _ProgressBridge, digits fitted)."""
    x_fit, y_fit = dataset.x_fit, dataset.y_fit
    if len(collected["x_train"]):  # a copy of the 64,000 fitting digits only when it grows
        x_fit = np.concatenate([x_fit, collected["x_train"]])
        y_fit = np.concatenate([y_fit, collected["y_train"]])
    batches = _Batches(x_fit, y_fit, config, classes)
    model = _compiled_model(config, classes, len(batches) * config.epochs)
    validation = (dataset.x_validation, batches.onehot_of(dataset.y_validation))
    bridge = _ProgressBridge(config, len(batches), started, report, should_stop, validation)
    # The held-out figures come from the callback, not from fit's validation_data: Keras'
    # float32 copy of the held-out digits and its evaluation step held ~50 MB through the
    # run (benchmarks/training_memory_phases.py; docs/performance.md).
    model.fit(batches, epochs=config.epochs, callbacks=[bridge], verbose=0)
    batches.release()
    return model, bridge, len(x_fit)


def _corrections(config: TrainConfig) -> dict:
    """Users' corrections split into an oversampled training part and a held-out part."""
    empty = {
        "x_train": np.zeros((0, 28, 28), np.uint8),
        "y_train": np.zeros(0, np.uint8),
        "x_test": np.zeros((0, 28, 28), np.uint8),
        "y_test": np.zeros(0, np.uint8),
    }
    if not config.corrections:
        return empty
    from .corrections import CorrectionStore

    images, labels = CorrectionStore(config.corrections).arrays()
    if not len(images):
        return empty
    order = np.random.default_rng(config.seed).permutation(len(images))
    held = int(round(len(images) * config.corrections_holdout))
    train_rows, test_rows = order[held:], order[:held]
    digits = images.astype(np.uint8)  # stored exactly as the model saw them, x255
    return {
        "x_train": np.repeat(digits[train_rows], config.corrections_oversample, axis=0),
        "y_train": np.repeat(labels[train_rows], config.corrections_oversample),
        "x_test": digits[test_rows],
        "y_test": labels[test_rows],
        "used": len(train_rows),
    }


def _corrections_metrics(classifier, collected: dict) -> dict:
    if "used" not in collected:
        return {}
    metrics = {
        "corrections_used": collected["used"],
        "corrections_held_out": int(len(collected["y_test"])),
    }
    if len(collected["y_test"]):
        predicted = classifier.probabilities(collected["x_test"]).argmax(axis=1)
        metrics["corrections_test_accuracy"] = round(
            float(np.mean(predicted == collected["y_test"])), 5
        )
    return metrics


def _architecture(config: TrainConfig, classes: int):
    from .architectures import build_model

    return build_model(config.arch, classes, config.dropout)


def _compiled_model(config: TrainConfig, classes: int, total_steps: int):
    warmup = max(1, total_steps // 20)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=0.01,
    )
    model = built_under(compute_policy(config.bfloat16), lambda: _architecture(config, classes))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    # Decay shrinks the weights that shape features; a batch norm's scale and shift and the
    # biases only place them, and decaying those just fights the normalisation.
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    return model


class _Batches(keras.utils.PyDataset):
    """Shuffled batches, freshly augmented each epoch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, config: TrainConfig, classes: int):
        # Two worker threads augment the next batches while TensorFlow trains on this one
        # (the 2-epoch Quick preset in batches of 256, warm cache, idle: 70 s with one, 52 s with
        # two, three or four no faster).
        super().__init__(workers=2, use_multiprocessing=False, max_queue_size=8)
        self.classes = classes
        self.images, self.onehot = images, self.onehot_of(labels)  # uint8 digits
        self.config = config
        self.epoch = 0
        self.order = np.random.default_rng([config.seed, self.epoch]).permutation(len(images))

    def onehot_of(self, labels: np.ndarray) -> np.ndarray:
        return np.eye(self.classes, dtype=np.float32)[labels]  # label smoothing needs one-hot

    def __len__(self):
        return math.ceil(len(self.images) / self.config.batch_size)

    def __getitem__(self, index):
        size = self.config.batch_size
        rows = self.order[index * size : (index + 1) * size]
        batch = as_float(self.images[rows])
        if self.config.augment:
            # A stream of its own per batch: the two workers' order cannot change the draws.
            rng = np.random.default_rng([self.config.seed, self.epoch, index])
            batch = augment_batch(batch, rng, AugmentConfig().scaled(self.strength()))
        return batch, self.onehot[rows]

    def strength(self) -> float:
        """How large this epoch's distortions are, as a share of AugmentConfig's."""
        config = self.config
        annealed = round(config.epochs * config.augment_anneal)
        into = self.epoch - (config.epochs - annealed)  # 0 = the first annealed epoch
        if annealed <= 0 or into < 0:
            return 1.0
        # Keras may fetch batches past the last epoch's end: they get the final strength.
        return 1 + (config.augment_final - 1) * min(1.0, (into + 1) / annealed)

    def release(self) -> None:
        """Drop the digits: Keras' enqueuer keeps this dataset after ``fit`` returns, and the
        export and its checks, the run's memory peak, need none of them."""
        self.images, self.onehot = emptied(self.images), emptied(self.onehot)

    def on_epoch_end(self):
        self.epoch += 1
        self.order = np.random.default_rng([self.config.seed, self.epoch]).permutation(
            len(self.images)
        )


# The live curves get at least this many points in a run and at least two an epoch, so that
# even the one-epoch Quick run draws them as it goes. A point within an epoch measures the
# network on LIVE_VALIDATION held-out digits (~0.1 s, measured); the epoch's last point on all.
LIVE_POINTS = 12
LIVE_VALIDATION = 2_000


def live_sample(images: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every n-th held-out digit (the not-digits at the end too), LIVE_VALIDATION in all."""
    step = max(1, len(images) // LIVE_VALIDATION)
    return images[::step][:LIVE_VALIDATION], targets[::step][:LIVE_VALIDATION]


def points_per_epoch(epochs: int) -> int:
    return max(2, math.ceil(LIVE_POINTS / epochs))


class _ProgressBridge(keras.callbacks.Callback):
    """Keras callback -> TrainingProgress reports, live curve points, cancellation and NaN
    detection."""

    def __init__(
        self,
        config: TrainConfig,
        batches: int,
        started: float,
        report,
        should_stop,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        """``validation``: the held-out uint8 digits and their one-hot targets, measured at
        each epoch's end, and a sample of them at the points within it."""
        super().__init__()
        self.config, self.batches, self.started = config, batches, started
        self.report, self.should_stop = report, should_stop
        self.validation = validation
        self.live_validation = None if validation is None else live_sample(*validation)
        self.history, self.points, self.status, self.epoch = [], [], "completed", 1
        self.training_started = None
        per_epoch = points_per_epoch(config.epochs)
        # Batches (1-based) after which a point is drawn within an epoch; its end draws the last.
        self.point_batches = {round(k * batches / per_epoch) for k in range(1, per_epoch)} - {
            0,
            batches,
        }

    def _progress(self, batch: int) -> TrainingProgress:
        now = time.monotonic()
        return TrainingProgress(
            self.epoch,
            self.config.epochs,
            batch,
            self.batches,
            now - self.started,
            tuple(self.history),
            training_s=now - self.training_started,
            points=tuple(self.points),
        )

    def on_train_begin(self, logs=None):
        self.training_started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.status, self.model.stop_training = "diverged", True
        elif self.should_stop is not None and self.should_stop():
            self.status, self.model.stop_training = "cancelled", True
        elif batch + 1 in self.point_batches:
            self._point(batch + 1, {**(logs or {}), **self._held_out(self.live_validation)})
        self.report(self._progress(batch + 1))

    def on_epoch_end(self, epoch, logs=None):
        if self.status == "completed":
            figures = {**(logs or {}), **self._held_out(self.validation)}
            self.history.append(
                {
                    key: round(float(value), 5)
                    for key, value in figures.items()
                    if key != "learning_rate"
                }
            )
            self._point(self.batches, self.history[-1])
            self.report(self._progress(self.batches))

    def _point(self, batch: int, figures: dict) -> None:
        """A point of the live curves: the epoch's running training figures (Keras' logs) and
        the held-out ones, at ``batch`` of the current epoch."""
        point = {"epoch": round(self.epoch - 1 + batch / self.batches, 4)}
        point.update(
            (key, round(float(figures[key]), 5))
            for key in ("loss", "accuracy", "val_loss", "val_accuracy")
            if key in figures
        )
        self.points.append(point)

    def _held_out(self, validation: tuple[np.ndarray, np.ndarray] | None) -> dict:
        """Loss (the compiled one) and accuracy on ``validation`` (uint8 held-out digits,
        one-hot targets), as Keras' validation reports them, without Keras' evaluate, which
        would reset the epoch's running metrics."""
        if validation is None:
            return {}
        images, targets = validation
        probabilities = np.concatenate(
            [
                np.asarray(
                    self.model.predict_on_batch(as_float(images[start : start + 256])), np.float32
                )
                for start in range(0, len(images), 256)
            ]
        )
        loss = float(self.model.loss(targets, probabilities))
        accuracy = np.mean(probabilities.argmax(axis=1) == targets.argmax(axis=1))
        return {"val_loss": loss, "val_accuracy": accuracy}


def _record(config, data, dataset, train_count, bridge, started) -> dict:
    return {
        "status": bridge.status,
        "config": asdict(config),
        "history": bridge.history,
        "points": bridge.points,
        "train_digits": train_count,
        "styled_digits": dataset.styled,
        "not_digit_drawings": dataset.not_digits,
        "data_source": data.source,
        "data_sha256": data.checksum,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
    }


def temporary_path(path: Path, suffix: str) -> Path:
    """A hidden name beside ``path`` for a file on its way to ``path.with_suffix(suffix)``."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")


def save_model_atomically(model, record: dict, path: Path, export: Path | None = None) -> None:
    """Write the ``.keras`` model, its ONNX export (``export``, made here when None) and the
    record to temporary files, then rename them, the record last: a crash leaves the old set,
    or new model files without a record (a run that never completed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary_model = temporary_path(path, ".keras")
    temporary_record = temporary_path(path, ".json")
    try:
        if export is None:
            export = export_onnx(model, temporary_path(path, ".onnx"))
        model.save(temporary_model)
        temporary_record.write_text(json.dumps(record, indent=1))
        os.replace(export, exported_path(path))
        os.replace(temporary_model, path)
        os.replace(temporary_record, path.with_suffix(".json"))
    finally:
        for leftover in (temporary_model, temporary_record, export):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
