"""DigitClassifier: the bundled (or any exported) model behind one fast, thread-safe predict()."""

from __future__ import annotations

import functools
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .calibration import with_temperature
from .config import NumberReadingConfig, VerdictConfig
from .errors import InvalidImageError
from .number_reader import NumberReader, greedy_read, log_likelihood
from .numbers import number_ink, number_strip, segment_number
from .preprocess import to_mnist
from .runtime import OnnxNetwork, exported_path

# What the app serves: the export of models/mnist_cnn.keras (mnist_core.export).
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "models" / "mnist_cnn.onnx"
# Chunk for batched inference: beyond ~256 digits a call, ONNX Runtime reads no faster.
BATCH_CHUNK = 512


VERDICTS = ("digit", "blank", "not_a_digit")


@dataclass(frozen=True)
class Prediction:
    """What the model read in one image."""

    digit: int | None  # 0-9, or None when the image holds no digit (blank or not a digit)
    # (10,) float32: each digit's calibrated probability; with not_digit they sum to 1
    # (zeros when blank)
    probabilities: np.ndarray = field(repr=False)
    confidence: float  # the read digit's probability (0.0 when no digit is read)
    model_input: np.ndarray | None = field(repr=False)  # (28, 28) float32 in [0, 1], or None
    box: tuple[int, int, int, int] | None = None  # x, y, width, height (read_number only)
    # "digit"; "blank" (no ink, or only specks); "not_a_digit" (a letter, a doodle, two digits)
    verdict: str = "digit"
    not_digit: float = 0.0  # probability that the ink is not one digit

    @property
    def ranked(self) -> list[tuple[int, float]]:
        """(digit, probability) pairs, most probable first; empty when there is no digit."""
        if self.digit is None:
            return []
        order = np.argsort(-self.probabilities)
        return [(int(index), float(self.probabilities[index])) for index in order]


def no_digit() -> Prediction:
    """A fresh "blank" result (fresh, so no caller can alter another's probabilities)."""
    return Prediction(None, np.zeros(10, np.float32), 0.0, None, verdict="blank")


def record_path(model_path: Path) -> Path:
    """The JSON training record saved beside a model file."""
    return Path(model_path).with_suffix(".json")


class DigitClassifier:
    """A trained model plus the one preprocessing path. Safe to share between threads."""

    def __init__(
        self,
        model,
        path: Path | None = None,
        record: dict | None = None,
        reader: NumberReader | None = None,
        reading: NumberReadingConfig = NumberReadingConfig(),
        verdicts: VerdictConfig = VerdictConfig(),
    ):
        # Any thread-safe callable (N, 28, 28) float32 -> (N, classes) probabilities with an
        # ``output_shape``: an OnnxNetwork when serving.
        self.model = model
        self.path = path
        self.record = record or {}
        # Whole numbers: found by the reader when there is one, else cut by rules alone.
        self.reader = reader
        self.reading = reading
        self.verdicts = verdicts
        # Fitted on held-out digits after training (calibration.py); 1.0 for older models.
        self.temperature = float(self.record.get("temperature", 1.0))
        # 11 when the model has a "not a digit" class, 10 for older ones.
        self.classes = int(model.output_shape[-1])

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> DigitClassifier:
        """Load an exported model (default: the bundled one) and its JSON record if present.

        ``path`` may name the ``.onnx`` export or the ``.keras`` file it was exported from
        (the export beside it is loaded). An ONNX file holds no code: loading runs none.
        """
        path = exported_path(path) if path is not None else BUNDLED_MODEL
        if not path.is_file():
            keras_file = path.with_suffix(".keras")
            if keras_file.is_file():
                raise FileNotFoundError(
                    f"{keras_file} has no export to serve; make it with: "
                    f"python -m mnist_core export {keras_file}"
                )
            raise FileNotFoundError(f"no model file at {path}")
        model = OnnxNetwork(path)
        if model.input_shape != (28, 28) or model.output_shape not in ((10,), (11,)):
            raise ValueError(
                f"{path} is not a digit model: input {model.input_shape}, "
                f"output {model.output_shape}"
            )
        record = {}
        if record_path(path).is_file():
            record = json.loads(record_path(path).read_text())
        return cls(model, path, record, bundled_reader())

    def scores(self, digits: np.ndarray) -> np.ndarray:
        """(N, 28, 28) preprocessed digits (float in [0, 1], or uint8 0-255) -> (N, classes)
        calibrated probabilities: the ten digits, then "not a digit" if the model has it."""
        digits = np.asarray(digits)
        if digits.dtype == np.uint8:
            digits = digits.astype(np.float32) * np.float32(1 / 255)
        digits = digits.astype(np.float32, copy=False)
        chunks = [
            self.model(digits[start : start + BATCH_CHUNK])
            for start in range(0, len(digits), BATCH_CHUNK)
        ]
        if not chunks:
            return np.zeros((0, self.classes), np.float32)
        return with_temperature(np.concatenate(chunks), self.temperature)

    def probabilities(self, digits: np.ndarray) -> np.ndarray:
        """(N, 28, 28) preprocessed digits -> (N, 10) float32: which digit each is, supposing
        it is one (each row sums to 1). What the number reading weighs."""
        digit_scores = self.scores(digits)[:, :10]
        return digit_scores / np.maximum(digit_scores.sum(axis=1, keepdims=True), 1e-12)

    def predict(self, image) -> Prediction:
        """Read the digit in one image.

        Parameters
        ----------
        image : numpy.ndarray | PIL.Image.Image | bytes
            Grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) uint8 array (a canvas' ``image_data``),
            a PIL image, or the bytes of an image file.

        Returns
        -------
        Prediction
            ``digit`` None when the image holds no digit: ``verdict`` then says whether it
            was blank or held something that is not a digit.

        Raises
        ------
        InvalidImageError
            When ``image`` cannot be read; the message is meant for the user.
        """
        digit = to_mnist(image)
        if digit is None:
            return no_digit()
        return _reading(self.scores(digit[None])[0], digit, self.verdicts)

    def predict_batch(self, images) -> list[Prediction]:
        """Read many images; one model call per chunk. Raises on the first unreadable image.

        The model reads each chunk on a second thread while the next chunk is preprocessed
        (ONNX Runtime releases the GIL): on two cores the network's time hides behind the
        preprocessing's, and the results are those of :meth:`predict`, image by image.
        """
        images = list(images)
        results = [no_digit() for _ in images]
        with ThreadPoolExecutor(max_workers=1) as model_thread:
            chunks = []
            for start in range(0, len(images), BATCH_CHUNK):
                digits = [to_mnist(image) for image in images[start : start + BATCH_CHUNK]]
                present = [index for index, digit in enumerate(digits) if digit is not None]
                if present:
                    batch = np.stack([digits[index] for index in present])
                    chunks.append((start, digits, present, model_thread.submit(self.scores, batch)))
            for start, digits, present, scores in chunks:
                for row, index in enumerate(present):
                    scored = scores.result()[row]
                    results[start + index] = _reading(scored, digits[index], self.verdicts)
        return results

    def read_number(self, image) -> NumberReading:
        """Read every digit in ``image`` (a number on a canvas or on paper), left to right.

        Raises
        ------
        InvalidImageError
            When ``image`` cannot be read.
        """
        number = number_ink(image)
        if number is None:
            return NumberReading("", [], 0.0)
        segments = segment_number(number, self.probabilities)
        probabilities = self._probabilities_of(segments)
        if self.reader is not None:
            segments, probabilities = self._weigh_with_reader(number, segments, probabilities)
        if not segments:
            return NumberReading("", [], 0.0)
        digits = [
            _prediction(row, segment.model_input, segment.box)
            for row, segment in zip(probabilities, segments, strict=True)
        ]
        return NumberReading(
            "".join(str(digit.digit) for digit in digits),
            digits,
            float(np.prod([digit.confidence for digit in digits])),
        )

    def _weigh_with_reader(self, number, segments, probabilities):
        """The reader's cut (as many digits as it saw, each where the model reads what the
        reader saw) against the rules' cut, each scored by both networks: the reader's
        probability of the whole text (CTC, over every alignment) times the model's of each
        cut digit, the latter weighed more (``NumberReadingConfig``). The reader and the model
        err on different inputs (the whole number at half resolution; each digit alone at full
        size): the reading both find likely wins."""
        logits = self.reader.logits(number_strip(number))
        seen = greedy_read(logits)
        candidates = [(segments, probabilities, probabilities)]  # cut, model's, combined
        if seen:
            expected = np.stack([digit.probabilities for digit in seen])
            guided = segment_number(number, self.probabilities, expected)
            own = self._probabilities_of(guided)
            # The geometric mean: the product's ranking, without claiming the certainty of
            # two independent witnesses (the two networks learnt from the same digits).
            both = np.sqrt(own * expected) if len(guided) == len(seen) else own
            candidates.append((guided, own, both))

        def joint(candidate) -> float:
            cut, own, both = candidate
            if not cut:
                return -np.inf
            text = both.argmax(axis=1)
            mine = own[np.arange(len(cut)), text]
            model = float(np.log(np.maximum(mine, 1e-9)).sum())
            return log_likelihood(logits, text) + self.reading.digit_model_weight * model

        cut, _, both = max(candidates, key=joint)
        return cut, both

    def _probabilities_of(self, segments) -> np.ndarray:
        if not segments:
            return np.zeros((0, 10), np.float32)
        return self.probabilities(np.stack([segment.model_input for segment in segments]))


@dataclass(frozen=True)
class NumberReading:
    """A whole number read from an image: its text, and each digit left to right."""

    text: str  # e.g. "2026"; "" when the image holds no digit
    digits: list[Prediction]  # one per digit, each with its ``box`` in the original image
    confidence: float  # probability that every digit is right (product of the digits')


@functools.cache
def bundled_reader() -> NumberReader | None:
    """The bundled number reader, loaded once for every model; None (with a warning) when it
    is missing or unreadable: numbers are then cut by rules alone."""
    try:
        return NumberReader.load()
    except Exception as error:  # a missing, truncated or foreign file: any loader error
        warnings.warn(f"number reader unavailable, cutting numbers by rules: {error}", stacklevel=2)
        return None


def refused(scores: np.ndarray, verdicts: VerdictConfig = VerdictConfig()) -> np.ndarray:
    """(N, classes) calibrated scores -> (N,) bool: which are "not a digit" (never, for a
    10-class model)."""
    if scores.shape[-1] <= 10:
        return np.zeros(scores.shape[:-1], bool)
    not_digit = scores[..., 10]
    return (not_digit >= verdicts.not_digit_threshold) & (not_digit > scores[..., :10].max(-1))


def _reading(scores: np.ndarray, digit_image: np.ndarray, verdicts: VerdictConfig) -> Prediction:
    """One digit's Prediction from its calibrated scores over 10 or 11 classes."""
    probabilities = scores[:10].astype(np.float32)
    not_digit = float(scores[10]) if len(scores) > 10 else 0.0
    if refused(scores, verdicts):
        return Prediction(None, probabilities, 0.0, digit_image, None, "not_a_digit", not_digit)
    top = int(np.argmax(probabilities))
    return Prediction(
        top, probabilities, float(probabilities[top]), digit_image, None, "digit", not_digit
    )


def _prediction(probabilities: np.ndarray, digit_image: np.ndarray, box=None) -> Prediction:
    probabilities = probabilities.astype(np.float32)
    probabilities /= probabilities.sum()
    top = int(np.argmax(probabilities))
    return Prediction(top, probabilities, float(probabilities[top]), digit_image, box)


__all__ = [
    "DigitClassifier",
    "Prediction",
    "NumberReading",
    "InvalidImageError",
    "record_path",
    "BUNDLED_MODEL",
]
