"""Reading a whole number: the digits cut by rules (:mod:`mnist_core.numbers`), weighed against
what the number reader sees in the whole strip (:mod:`mnist_core.number_reader`), each digit
read by the digit model. Also the one rule for an uploaded photo: a number or one digit.

The reader and the digit model err on different inputs (the whole number at half resolution;
each digit alone at full size): the reading both find likely wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .config import NumberReadingConfig
from .decode import decode
from .number_reader import NumberReader, greedy_read, log_likelihood
from .numbers import DigitSegment, NumberInk, number_ink, number_strip, segment_number
from .prediction import Prediction
from .preprocess import cleaned_ink, fitted_digits

# A photo in which fewer digits than this are found is read as one digit (which may also be
# refused as "not a digit"); with this many or more, as a number.
MIN_NUMBER_DIGITS = 2

# (N, 28, 28) digits -> (N, 10) probabilities of each digit, rows summing to 1: the digit
# model's reading (DigitClassifier.probabilities).
DigitProbabilities = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NumberReading:
    """A whole number read from an image: its text, and each digit left to right."""

    text: str  # e.g. "2026"; "" when the image holds no digit
    digits: list[Prediction]  # one per digit, each with its ``box`` in the original image
    confidence: float  # probability that every digit is right (product of the digits')


class _Cut(NamedTuple):
    """One way to cut a number into digits, and how each digit is read."""

    segments: list[DigitSegment]
    model: np.ndarray  # (n, 10) the digit model's probabilities of each segment
    reported: np.ndarray  # (n, 10) what the reading reports for each segment


def read_number(
    image,
    probabilities: DigitProbabilities,
    reader: NumberReader | None = None,
    config: NumberReadingConfig = NumberReadingConfig(),
) -> NumberReading:
    """Read every digit in ``image`` (a number on a canvas or on paper), left to right.

    Parameters
    ----------
    image : numpy.ndarray | PIL.Image.Image | bytes
        See :func:`mnist_core.decode.decode` for what is accepted.
    probabilities : callable
        The digit model: (N, 28, 28) digits -> (N, 10) probabilities.
    reader : NumberReader | None
        The whole-number reader; without one the digits are cut by rules alone.
    config : NumberReadingConfig
        How the reader's and the digit model's readings are weighed.

    Raises
    ------
    InvalidImageError
        When ``image`` cannot be read.
    """
    number = number_ink(image)
    if number is None:
        return NumberReading("", [], 0.0)
    segments = segment_number(number, probabilities)
    model = _segment_probabilities(segments, probabilities)
    cut = _Cut(segments, model, model)
    if reader is not None:
        cut = _weigh_with_reader(number, cut, probabilities, reader, config)
    if not cut.segments:
        return NumberReading("", [], 0.0)
    digits = [
        _digit_prediction(row, segment.model_input, segment.box)
        for row, segment in zip(cut.reported, cut.segments, strict=True)
    ]
    return NumberReading(
        "".join(str(digit.digit) for digit in digits),
        digits,
        float(np.prod([digit.confidence for digit in digits])),
    )


def holds_number(reading: NumberReading) -> bool:
    """Is a photo a number rather than one digit? The rule both the app and the CLI follow."""
    return len(reading.digits) >= MIN_NUMBER_DIGITS


def read_photo(classifier, image) -> NumberReading | Prediction:
    """Read an uploaded photo as a number when it holds one (:func:`holds_number`), else as
    one digit with ``classifier.predict`` (which can say "blank" or "not a digit"); but as
    one digit when the digit model reads all of the picture's strokes as one digit at least
    as sure as the number is read (:func:`_one_digit_rather_than`).

    Raises
    ------
    InvalidImageError
        When ``image`` cannot be read.
    """
    picture = decode(image)  # once: a file's bytes are decoded for both readings
    number = classifier.read_number(picture)
    digit = classifier.predict(picture)
    if holds_number(number) and not _one_digit_rather_than(number, digit, picture):
        return number
    return digit


def _one_digit_rather_than(number: NumberReading, digit: Prediction, picture) -> bool:
    """Is ``picture``, whose cut found ``number``, one digit? When the digit model read it as
    ``digit`` at least as sure as the number, with none of its strokes taken out (a line under
    it, slivers of neighbours at its sides: a "71" cut tight at the 1 reads 7 without it).
    The digit model learnt two digits side by side as "not a digit" and refused every one of
    2,000 number photos (two to six digits, 1,000 each of seeds 13 and 43); the cut found two
    digits in 0.4-0.6% of one-digit photos and scans (a closed 4 read "11", a 6 written like
    "lo" read "10"; ``benchmarks/photo_or_number.py``).
    """
    if digit.verdict != "digit" or digit.confidence < number.confidence:
        return False
    ink = cleaned_ink(picture)
    return ink is None or fitted_digits(ink)[1] is None


def _weigh_with_reader(
    number: NumberInk,
    rules_cut: _Cut,
    probabilities: DigitProbabilities,
    reader: NumberReader,
    config: NumberReadingConfig,
) -> _Cut:
    """The rules' cut against the reader's (as many digits as the reader saw, each where the
    digit model reads what the reader saw), each scored by both networks: the reader's
    probability of the whole text (CTC, over every alignment) times the digit model's of
    each cut digit, the latter weighed more (``NumberReadingConfig``)."""
    logits = reader.logits(number_strip(number))
    reader_digits = greedy_read(logits)
    cuts = [rules_cut]
    if reader_digits:
        reader_probabilities = np.stack([digit.probabilities for digit in reader_digits])
        segments = segment_number(number, probabilities, reader_probabilities)
        model = _segment_probabilities(segments, probabilities)
        # The geometric mean: the product's ranking, without claiming the certainty of two
        # independent witnesses (the two networks learnt from the same digits).
        if len(segments) == len(reader_digits):
            reported = np.sqrt(model * reader_probabilities)
        else:
            reported = model
        cuts.append(_Cut(segments, model, reported))

    def log_probability(cut: _Cut) -> float:
        if not cut.segments:
            return -np.inf
        text = cut.reported.argmax(axis=1)
        model_of_text = cut.model[np.arange(len(cut.segments)), text]
        model_log_probability = float(np.log(np.maximum(model_of_text, 1e-9)).sum())
        return log_likelihood(logits, text) + config.digit_model_weight * model_log_probability

    return max(cuts, key=log_probability)


def _segment_probabilities(segments, probabilities: DigitProbabilities) -> np.ndarray:
    """(n, 10): the digit model's reading of each of n segments."""
    if not segments:
        return np.zeros((0, 10), np.float32)
    return probabilities(np.stack([segment.model_input for segment in segments]))


def _digit_prediction(probabilities: np.ndarray, digit_image: np.ndarray, box) -> Prediction:
    """One digit of a number: the most probable digit of its (renormalised) probabilities."""
    probabilities = probabilities.astype(np.float32)
    probabilities /= probabilities.sum()
    top = int(np.argmax(probabilities))
    return Prediction(top, probabilities, float(probabilities[top]), digit_image, box)
