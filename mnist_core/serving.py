"""The model that reads: the registry's active one, loaded, or the bundled one when it cannot be.

The registry falls back to the bundled model when the active one is missing or cannot be
fetched (:meth:`~mnist_core.registry.ModelRegistry.active`); a file that is there but does not
load (truncated, foreign) is found only by loading it, which the server does through its own
cache. Both fallbacks leave the registry as it is: the warning says what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .classifier import BUNDLED_MODEL, DigitClassifier
from .registry import BUNDLED_ID, ModelRegistry


def active_classifier(
    registry: ModelRegistry, load: Callable[[Path], DigitClassifier] = DigitClassifier.load
) -> tuple[DigitClassifier, str, str | None]:
    """The active model, ready to read.

    Parameters
    ----------
    registry : ModelRegistry
        Says which model is active.
    load : callable
        Path of an ONNX model -> classifier; the app passes its cached loader.

    Returns
    -------
    (classifier, run id, warning)
        The run id is ``BUNDLED_ID`` when the bundled model serves; the warning is None unless
        the active model was unusable.
    """
    active = registry.active()
    try:
        return load(active.path), active.run_id, active.warning
    except Exception as error:  # a truncated or foreign file: keep serving with the bundled one
        warning = (
            f"the active model {active.run_id} could not be loaded ({error}); "
            "using the bundled model"
        )
        return load(BUNDLED_MODEL), BUNDLED_ID, warning
