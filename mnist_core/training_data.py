"""The digits one training run learns from, as the app will see them.

MNIST's digits go through :func:`~mnist_core.preprocess.to_mnist`, the path every user image
takes, with what MNIST lacks added beside them: styled copies of its 1s, 7s and 9s (the
flagged European 1, the crossed 7, the hooked 9) and drawings that are not a digit (label
:data:`NOT_A_DIGIT`). Everything is stored as uint8 (a quarter of float32's memory: the
~81,000 digits of a full run take 64 MB) and built by worker processes on both cores, then
cached on disk, since drawing and preprocessing them takes ~35 s of one core.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import CACHE, TrainConfig
from .data import MnistData
from .ink import DECODE
from .preprocess import PREPROCESS, to_mnist

NOT_A_DIGIT = 10  # the 11th class
# What cached digits depend on: the code that draws and preprocesses them, and the values of
# the preprocessing configs (not the whole of config.py: an edit to, say, the training
# defaults must not cost a rebuild).
_SOURCES = (
    "preprocess.py",
    "ink.py",
    "lighting.py",
    "marks.py",
    "decode.py",
    "styles.py",
    "negatives.py",
    "renderings.py",
    "training_data.py",
)
_CHUNK = 2_500  # images per worker task: small enough to keep both workers busy to the end
_EXTRAS = ("styled", "styled_labels", "not_digits", "validation_not_digits", "heldout_not_digits")
# Drawings that are not a digit, held out with the validation digits (temperature, curves).
VALIDATION_NOT_DIGITS = 500
HELDOUT_NOT_DIGITS = 1_000  # of the held-out kinds, for the record's refusal rate


@dataclass(frozen=True)
class TrainingSet:
    """uint8 (N, 28, 28) digits as ``to_mnist`` returns them (x255), and their labels."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_validation: np.ndarray  # held-out training digits and not-digits
    y_validation: np.ndarray
    x_test: np.ndarray  # MNIST's test digits
    y_test: np.ndarray
    # Drawings of the held-out kinds (letters, hands, shapes training never draws), drawn
    # around MNIST's test digits: what the record's refusal rate is measured on.
    heldout_not_digits: np.ndarray
    styled: int  # styled 1s, 7s and 9s among x_fit
    not_digits: int  # not-digit drawings among x_fit


def as_uint8(digits: np.ndarray) -> np.ndarray:
    """float [0, 1] digits -> uint8 0-255, rounded (at most 1/510 off)."""
    return np.round(np.clip(digits, 0, 1) * 255).astype(np.uint8)


def _preprocess_chunk(images: np.ndarray) -> np.ndarray:
    """Worker task: raw images -> uint8 MNIST-style digits. No MNIST digit is blank, but if
    the speck filter ever disagrees the original stands in."""
    processed = np.empty((len(images), 28, 28), np.uint8)
    for index, image in enumerate(images):
        digit = to_mnist(image)
        processed[index] = as_uint8(digit) if digit is not None else image
    return processed


def _styled_chunk(images: np.ndarray, labels: np.ndarray, shares: tuple, seed: int):
    """Worker task: restyled copies of some of these digits, preprocessed: a share of the 1s,
    7s and 9s in European styles, then a share of all of them (the European ones included)
    stretched to fill their box, half of those also coarsely scanned."""
    from .styles import coarse_scan, fill_box, styled_digits

    styled_share, filled_share = shares
    rng = np.random.default_rng(seed)
    raw, styled_labels = styled_digits(images, labels, rng, share=styled_share)
    raw, styled_labels = list(raw), list(styled_labels)
    for index in np.flatnonzero(rng.random(len(images) + len(raw)) < filled_share):
        source = images[index] if index < len(images) else raw[index - len(images)]
        label = labels[index] if index < len(images) else styled_labels[index - len(images)]
        filled = fill_box(source)
        raw.append(coarse_scan(filled, rng) if rng.random() < 0.5 else filled)
        styled_labels.append(label)
    digits = [to_mnist(image) for image in raw]
    kept = [index for index, digit in enumerate(digits) if digit is not None]
    stacked = np.stack([as_uint8(digits[index]) for index in kept]) if kept else _empty()
    return stacked, np.asarray(styled_labels, np.uint8)[kept]


def _not_digit_chunk(count: int, seed: int, split: str, digits: np.ndarray) -> np.ndarray:
    """Worker task: ``count`` not-digit drawings, preprocessed (uint8)."""
    from .negatives import not_digit_images

    return not_digit_images(count, np.random.default_rng(seed), split=split, digits=digits)


def _empty() -> np.ndarray:
    return np.zeros((0, 28, 28), np.uint8)


def _source_hash() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        path = Path(__file__).parent / name
        if path.is_file():
            digest.update(path.read_bytes())
    digest.update(repr((PREPROCESS, DECODE)).encode())
    return digest.hexdigest()[:16]


class _Cache:
    """Arrays on disk named by what they were made from; a cache we cannot write only costs
    time."""

    def __init__(self, checksum: str | None):
        self.prefix = None if checksum is None else f"{checksum[:16]}-{_source_hash()}"

    def path(self, name: str) -> Path | None:
        return None if self.prefix is None else Path(CACHE.value()) / f"{self.prefix}-{name}.npz"

    def load(self, name: str, keys: tuple[str, ...]) -> dict | None:
        """The arrays cached under ``name``, or None when absent or unreadable (a damaged
        file is removed, so the next run rebuilds it rather than failing on it)."""
        path = self.path(name)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path) as arrays:
                loaded = {key: arrays[key] for key in keys}
        except Exception:  # truncated zip, missing key, bad header: any reader error
            path.unlink(missing_ok=True)
            return None
        return loaded

    def save(self, name: str, **arrays) -> None:
        path = self.path(name)
        if path is None:
            return
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(temporary, **arrays)
            os.replace(temporary, path)
        except OSError:
            if temporary is not None:
                temporary.unlink(missing_ok=True)


def preprocess_images(images: np.ndarray, checksum: str | None = None, workers: int = 2):
    """Raw uint8 images -> uint8 (N, 28, 28) through ``to_mnist`` on ``workers`` processes,
    cached by ``checksum`` (of the data) and the preprocessing code."""
    cache = _Cache(checksum)
    name = f"mnist-{len(images)}"
    cached = cache.load(name, ("digits",))
    if cached is not None:
        return cached["digits"]
    with _pool(workers) as pool:
        digits = _gather(_preprocess_tasks(pool, images))
    cache.save(name, digits=digits)
    return digits


def build_training_set(data: MnistData, config: TrainConfig, workers: int = 2) -> TrainingSet:
    """MNIST split into fitting and held-out digits (the last ``validation_split`` of the
    training digits), plus styled digits and not-digits, all preprocessed and cached."""
    held = _held_out(data, config)
    fit_rows = np.arange(len(data.x_train) - held)
    if config.subset and config.subset < len(fit_rows):
        fit_rows = np.sort(
            np.random.default_rng(config.seed).permutation(fit_rows)[: config.subset]
        )
    cache = _Cache(data.checksum)
    made_from = hashlib.sha256(fit_rows.tobytes())
    made_from.update(
        repr((config.seed, config.styled_share, config.filled_share, config.not_digits)).encode()
    )
    extras_name = f"extras-{made_from.hexdigest()[:16]}"
    mnist_name = f"mnist-{len(data.x_train)}-{len(data.x_test)}"
    mnist = cache.load(mnist_name, ("train", "test"))
    extras = cache.load(extras_name, _EXTRAS)
    if mnist is None or extras is None:
        with _pool(workers) as pool:
            pending_mnist = None
            if mnist is None:
                pending_mnist = {
                    "train": _preprocess_tasks(pool, data.x_train),
                    "test": _preprocess_tasks(pool, data.x_test),
                }
            pending_extras = None
            if extras is None:
                pending_extras = _extras_tasks(pool, data, fit_rows, config)
            if pending_mnist is not None:
                mnist = {name: _gather(tasks) for name, tasks in pending_mnist.items()}
                cache.save(mnist_name, **mnist)
            if pending_extras is not None:
                extras = _collect_extras(pending_extras)
                cache.save(extras_name, **extras)
    train_digits = mnist["train"]
    validation_rows = np.arange(len(data.x_train) - held, len(data.x_train))
    x_fit = np.concatenate([_taken(train_digits, fit_rows), extras["styled"], extras["not_digits"]])
    y_fit = np.concatenate(
        [
            data.y_train[fit_rows].astype(np.uint8),
            extras["styled_labels"],
            np.full(len(extras["not_digits"]), NOT_A_DIGIT, np.uint8),
        ]
    )
    x_validation = np.concatenate([train_digits[validation_rows], extras["validation_not_digits"]])
    y_validation = np.concatenate(
        [
            data.y_train[validation_rows].astype(np.uint8),
            np.full(len(extras["validation_not_digits"]), NOT_A_DIGIT, np.uint8),
        ]
    )
    return TrainingSet(
        x_fit,
        y_fit,
        x_validation,
        y_validation,
        mnist["test"],
        data.y_test.astype(np.uint8),
        extras["heldout_not_digits"],
        styled=len(extras["styled"]),
        not_digits=len(extras["not_digits"]),
    )


def _held_out(data: MnistData, config: TrainConfig) -> int:
    return int(round(len(data.x_train) * config.validation_split))


def _extras_tasks(pool, data: MnistData, fit_rows: np.ndarray, config: TrainConfig) -> dict:
    """Worker tasks for the styled digits and the not-digits, each chunk with its own seed so
    the result does not depend on how many workers there are."""
    images, labels = _taken(data.x_train, fit_rows), _taken(data.y_train, fit_rows)
    tasks = {name: [] for name in ("styled", "not_digits", "validation_not_digits", "heldout")}
    if config.styled_share > 0 or config.filled_share > 0:
        for index, start in enumerate(range(0, len(images), _CHUNK)):
            part = slice(start, start + _CHUNK)
            seed = _task_seed(config.seed, "styled", index)
            shares = (config.styled_share, config.filled_share)
            task = (images[part], labels[part], shares, seed)
            tasks["styled"].append(pool.apply_async(_styled_chunk, task))
    if config.not_digits:
        # As many not-digits per digit in a subset run as in a full one.
        fitting = len(data.x_train) - _held_out(data, config)
        share = max(1, round(config.not_digits * len(fit_rows) / fitting))
        for name, count, split, around in (
            ("not_digits", share, "train", images),
            ("validation_not_digits", VALIDATION_NOT_DIGITS, "train", images),
            ("heldout", HELDOUT_NOT_DIGITS, "heldout", data.x_test),
        ):
            for index, start in enumerate(range(0, count, _CHUNK // 2)):
                size = min(_CHUNK // 2, count - start)
                seed = _task_seed(config.seed, name, index)
                # Two-digit drawings pair digits from a sample: not every digit down the pipe.
                sample = np.random.default_rng(seed).choice(len(around), 4 * size)
                task = (size, seed, split, around[np.sort(sample)])
                tasks[name].append(pool.apply_async(_not_digit_chunk, task))
    return tasks


def _taken(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` for sorted ``rows``; a view, not a 43 MB copy, when they follow one
    another, as in every run on all the digits."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return array[rows[0] : rows[-1] + 1]
    return array[rows]


def _collect_extras(tasks: dict) -> dict:
    styled = [task.get() for task in tasks["styled"]]
    return {
        "styled": np.concatenate([_empty()] + [digits for digits, _ in styled]),
        "styled_labels": np.concatenate([np.zeros(0, np.uint8)] + [labels for _, labels in styled]),
        "not_digits": _gather(tasks["not_digits"]),
        "validation_not_digits": _gather(tasks["validation_not_digits"]),
        "heldout_not_digits": _gather(tasks["heldout"]),
    }


def _task_seed(seed: int, name: str, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}/{index}".encode()).digest()[:8], "little")


def _preprocess_tasks(pool, images: np.ndarray) -> list:
    """Worker tasks running ``images`` through to_mnist, a chunk each, in order."""
    return [pool.apply_async(_preprocess_chunk, (part,)) for part in _parts(images)]


def _parts(images: np.ndarray) -> list[np.ndarray]:
    return [images[start : start + _CHUNK] for start in range(0, len(images), _CHUNK)]


def _gather(pending: list) -> np.ndarray:
    """The tasks' digits, in order, in one array; empties ``pending`` (each task keeps its
    result while it is referenced) and lets each part go once it is copied in, so the digits
    are never held twice: a cold run's memory peak is its data building."""
    parts = [task.get() for task in pending]
    pending.clear()
    gathered = np.empty((sum(map(len, parts)), 28, 28), np.uint8)
    start = 0
    for index, part in enumerate(parts):
        gathered[start : start + len(part)] = part
        start += len(part)
        parts[index] = None
    return gathered


def _pool(workers: int):
    # Spawned, not forked: the parent may hold TensorFlow's threads, which a fork copies
    # half-alive. A worker imports only numpy, OpenCV and the preprocessing (~0.5 s).
    return multiprocessing.get_context("spawn").Pool(max(1, workers), initializer=_one_thread)


def _one_thread() -> None:
    # One process per core already: OpenCV's own thread pool would only oversubscribe them.
    import cv2

    cv2.setNumThreads(1)
