"""DigitClassifier: the bundled (or any exported) model behind one fast, thread-safe predict()."""

from __future__ import annotations

import functools
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from .calibration import with_temperature
from .config import NumberReadingConfig, VerdictConfig
from .errors import InvalidImageError
from .form_lines import without_ruling, without_thin_lines
from .marks import without_touching_underline
from .number_reader import NumberReader
from .number_reading import NumberReading, read_number
from .prediction import Prediction, no_digit
from .preprocess import clean_ink_to_mnist, cleaned_ink, fitted_digits
from .runtime import OnnxNetwork, exported_path

# What the app serves: the export of models/mnist_cnn.keras (mnist_core.export).
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "models" / "mnist_cnn.onnx"
# Images preprocessed per step of predict_batch, whose model call runs on a second thread
# while the next step's images are preprocessed: 256 reads 10,000 MNIST test digits as fast
# as 512 (5,060-5,090/s against 4,890-5,190/s, idle); 128 is slower (4,020-4,820/s).
BATCH_CHUNK = 256
# Digits per call of the network. ONNX Runtime's memory arena grows to the largest call's
# activations and keeps them for the process' life: 64 at a time it holds 15 MB, 256 at a
# time 48 MB, and reads as fast (the compact network alone, one thread: 9,380-9,780 digits/s
# at 64 against 8,310-8,770/s at 256).
MODEL_CALL = 64
# A digit read less sure than LOOK_AGAIN_BELOW and narrower than NARROW_SHARE of its height
# is read again WIDENING times wider, and the second reading kept when it is a digit at least
# WIDENED_AT_LEAST sure, and surer (classifier._widened_kept). Chosen on seed 7's
# drawings (robustness_sweep's narrow digits and bench sets; docs/model.md, "Narrow digits").
# The same bar serves the looks for a wide digit and for a line touching it from below.
LOOK_AGAIN_BELOW = 0.95
NARROW_SHARE = 0.5
WIDENING = 1.8
WIDENED_AT_LEAST = 0.9
# A picture refused, or read less sure than LOOK_AGAIN_BELOW, whose fitted digit is wider
# than WIDE_SHARE of its height is read again WIDENING times narrower, and the second reading
# kept as a widened one is. MNIST's writers drew 0.6% of their digits that wide (mostly 2s and
# 5s), and the network reads a 0 or an 8 stretched 1.9 times as "not a digit"
# (robustness_sweep "wide": 97.0%, seed 13).
WIDE_SHARE = 1.5


VERDICTS = ("digit", "blank", "not_a_digit")


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
        # Converted a call at a time: a float32 copy of 10,000 digits would be 31 MB more.
        chunks = [
            self.model(as_float(digits[start : start + MODEL_CALL]))
            for start in range(0, len(digits), MODEL_CALL)
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
        digit, with_marks = model_inputs(image)
        if digit is None:
            return no_digit()
        if with_marks is None:
            reading = _reading(self.scores(digit[None])[0], digit, self.verdicts)
        else:
            first, second = self.scores(np.stack([digit, with_marks]))
            reading = _surer(
                _reading(first, digit, self.verdicts), _reading(second, with_marks, self.verdicts)
            )
        return self._looked_again([image], [reading])[0]

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
                inputs = [model_inputs(image) for image in images[start : start + BATCH_CHUNK]]
                present = [index for index, (digit, _) in enumerate(inputs) if digit is not None]
                marked = [index for index in present if inputs[index][1] is not None]
                if present:
                    batch = np.stack(
                        [inputs[index][0] for index in present]
                        + [inputs[index][1] for index in marked]
                    )
                    pending = model_thread.submit(self.scores, batch)
                    chunks.append((start, inputs, present, marked, pending))
            for start, inputs, present, marked, pending in chunks:
                scores = pending.result()
                for row, index in enumerate(present):
                    results[start + index] = _reading(scores[row], inputs[index][0], self.verdicts)
                for row, index in enumerate(marked, start=len(present)):
                    second = _reading(scores[row], inputs[index][1], self.verdicts)
                    results[start + index] = _surer(results[start + index], second)
        return self._looked_again(images, results)

    def _looked_again(self, images: list, readings: list[Prediction]) -> list[Prediction]:
        """``readings`` of ``images``, some replaced by a second look at the picture: first
        the doubtful ones (:meth:`_doubtful`) without their thin straight lines
        (:func:`second_look`), then the unsure narrow ones (:meth:`_unsure_and_narrow`)
        widened (:func:`widened_look`) and the doubtful wide ones
        (:meth:`_doubtful_and_wide`) narrowed (:func:`narrowed_look`), each kept when
        :func:`_surer_digit` (widened or narrowed: :func:`_widened_kept`). Such readings are
        rare (~1-2% of canvases), so the picture's ink is found again rather than kept for
        every image of a batch."""
        readings = list(readings)
        for wanted, look, kept in (
            (self._doubtful, second_look, _surer_digit),
            (self._unsure_and_narrow, widened_look, _widened_kept),
            (self._doubtful_and_wide, narrowed_look, _widened_kept),
            (self._in_doubt, underline_look, _surer_digit),
        ):
            looks = [(index, look(images[index])) for index, r in enumerate(readings) if wanted(r)]
            looks = [(index, digit) for index, digit in looks if digit is not None]
            if not looks:
                continue
            scores = self.scores(np.stack([digit for _, digit in looks]))
            for (index, digit), row in zip(looks, scores, strict=True):
                second = _reading(row, digit, self.verdicts)
                if kept(readings[index], second):
                    readings[index] = second
        return readings

    def _doubtful(self, reading: Prediction) -> bool:
        """Refused as not a digit, or read as a digit the app calls unsure."""
        return _refused_or_below(reading, self.verdicts.unsure_below)

    def _unsure_and_narrow(self, reading: Prediction) -> bool:
        """A digit read less than LOOK_AGAIN_BELOW sure, drawn narrower than NARROW_SHARE of
        its height."""
        return (
            reading.verdict == "digit"
            and reading.confidence < LOOK_AGAIN_BELOW
            and _narrow(reading.model_input)
        )

    def _doubtful_and_wide(self, reading: Prediction) -> bool:
        """In doubt (:meth:`_in_doubt`) and drawn wider than WIDE_SHARE of its height.
        Refused ones too: a 0 or an 8 drawn twice as wide as tall is refused, not misread."""
        return self._in_doubt(reading) and _wide(reading.model_input)

    def _in_doubt(self, reading: Prediction) -> bool:
        """Refused as not a digit, or a digit read less than LOOK_AGAIN_BELOW sure."""
        return _refused_or_below(reading, LOOK_AGAIN_BELOW)

    def read_number(self, image) -> NumberReading:
        """Read every digit in ``image`` (a number on a canvas or on paper), left to right:
        :func:`mnist_core.number_reading.read_number` with this model and reader.

        Raises
        ------
        InvalidImageError
            When ``image`` cannot be read.
        """
        return read_number(image, self.probabilities, self.reader, self.reading)


def model_inputs(image):
    """``image`` -> the 28x28 digit the model reads, or None when it holds none, and the same
    digit with what was taken out of it left in (a line under it, slivers of the digits
    beside it), else None (:func:`mnist_core.preprocess.fitted_digits`). The digit is read
    without the lines it holds when they are surely printed (a form's box, a notebook's
    rules, thin lines no stroke touches or meeting at the picture's corner:
    :func:`mnist_core.form_lines.without_ruling`), else
    as it is. A lone long line as thick as the pen is left in: it may be a 7's bar, and
    taking it out of refused pictures let ~1% more held-out letters through as digits."""
    ink = cleaned_ink(image)
    if ink is None:
        return None, None
    digit, with_marks = fitted_digits(ink)
    if digit is None:  # what the marks were taken from is a speck: the marks are the drawing
        return with_marks, None
    without = without_ruling(ink)
    stripped = None if without is ink else clean_ink_to_mnist(without)
    return (digit, with_marks) if stripped is None else (stripped, None)


def _refused_or_below(reading: Prediction, sure: float) -> bool:
    """Refused as not a digit, or read as a digit less than ``sure``."""
    return reading.verdict == "not_a_digit" or (
        reading.verdict == "digit" and reading.confidence < sure
    )


def _surer(first: Prediction, second: Prediction) -> Prediction:
    """Of two readings of one picture, the one that is a digit, or of two digits the more
    confident (``first`` when equal). Underlined, a 0 or 7 is read as a 2 and a 4 as a 1; a 2
    whose base is a stroke apart is read as a 7 without it, a 4 whose stem stands apart at a
    margin as a 6: each surer the right way."""
    if (first.verdict == "digit") != (second.verdict == "digit"):
        return first if first.verdict == "digit" else second
    return second if second.confidence > first.confidence else first


def _surer_digit(first: Prediction, second: Prediction) -> bool:
    """Keep a second look's reading when it is a digit read surer than the first: a form's box
    a stroke touches, left in at first look (a tightly cropped 7's bar is as thin, and read
    without it as a 1)."""
    return second.verdict == "digit" and second.confidence > first.confidence


def _widened_kept(first: Prediction, second: Prediction) -> bool:
    """Keep the widened look's reading when it is a digit at least WIDENED_AT_LEAST sure and
    surer, and not a 1 turned into a 7. MNIST's writers rarely wrote a digit narrower than half
    its height, and the network learned aspects within ~15% of theirs: squeezed to 45% of its
    width, a 9, an 8 or a 7 is read as an unsure 1 (robustness_sweep "narrow": 94.8%).
    Widened, a flagged 1's flag becomes a 7's bar, so a 1 stays a 1."""
    return (
        _surer_digit(first, second)
        and second.confidence >= WIDENED_AT_LEAST
        and (first.digit, second.digit) != (1, 7)
    )


def second_look(image):
    """The 28x28 digit in ``image`` without its straight lines thinner than the pen, or None
    when it has none (:func:`mnist_core.form_lines.without_thin_lines`): a second reading for
    a picture refused as not a digit or read unsure, such as a digit touching a form's box
    cut to two parallel sides, which :func:`model_inputs` leaves in as it may not be
    printed."""
    ink = cleaned_ink(image)
    stripped = None if ink is None else without_thin_lines(ink)
    return None if stripped is None else clean_ink_to_mnist(stripped)


def _narrow(digit: np.ndarray) -> bool:
    """Whether the fitted 28x28 ``digit``'s ink is narrower than NARROW_SHARE of its height."""
    _, _, width, height = cv2.boundingRect((digit > 0.3).view(np.uint8))
    return width < NARROW_SHARE * height  # no ink: 0 < 0


def _wide(digit: np.ndarray) -> bool:
    """Whether the fitted 28x28 ``digit``'s ink is wider than WIDE_SHARE of its height."""
    _, _, width, height = cv2.boundingRect((digit > 0.3).view(np.uint8))
    return width > WIDE_SHARE * height  # no ink: 0 > 0 is False


def narrowed_look(image):
    """The 28x28 digit in ``image`` (without the lines :func:`model_inputs` would take out)
    drawn WIDENING times narrower, or None: a second reading for a wide digit refused or read
    unsure. None too when the narrowed picture loses strokes the first look kept (a line under
    it, strokes at a side taken for a neighbour's): two digits side by side, refused, would
    otherwise be read as the one left ("63" squeezed so that the 6 touches the side, read as
    a 3 at 1.00)."""
    ink = _ink_without_ruling(image)
    if ink is None:
        return None
    digit, with_marks = fitted_digits(cv2.resize(ink, None, fx=1 / WIDENING, fy=1.0))
    return digit if with_marks is None else None


def underline_look(image):
    """The 28x28 digit in ``image`` (without the lines :func:`model_inputs` would take out)
    without a line drawn under it that touches it, or None when it has none
    (:func:`mnist_core.marks.without_touching_underline`): a second reading for a
    picture in doubt. Read with its line, an underlined 0 or 7 is taken for a 2, an 8 is
    refused."""
    ink = _ink_without_ruling(image)
    if ink is None:
        return None
    without = without_touching_underline(ink)
    return None if without is None else clean_ink_to_mnist(without)


def widened_look(image):
    """The 28x28 digit in ``image`` (without the lines :func:`model_inputs` would take out)
    drawn WIDENING times as wide, or None: a second reading for a narrow digit read unsure."""
    ink = _ink_without_ruling(image)
    return None if ink is None else clean_ink_to_mnist(cv2.resize(ink, None, fx=WIDENING, fy=1.0))


def _ink_without_ruling(image):
    """``image``'s cleaned ink without the lines :func:`model_inputs` would take out, or None
    when it holds no ink."""
    ink = cleaned_ink(image)
    return None if ink is None else without_ruling(ink)


def as_float(digits: np.ndarray) -> np.ndarray:
    """Digits as float32 in [0, 1], from uint8 0-255 or any float."""
    if digits.dtype == np.uint8:
        return digits.astype(np.float32) * np.float32(1 / 255)
    return digits.astype(np.float32, copy=False)


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


__all__ = [
    "DigitClassifier",
    "Prediction",
    "NumberReading",
    "InvalidImageError",
    "record_path",
    "BUNDLED_MODEL",
]
