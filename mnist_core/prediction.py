"""What the model read in one image: the result type every reading path returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
