"""Model versions on disk: past training runs, and which model is active.

Layout under the app home (``$MNIST_APP_HOME``, default ``<project>/app_data``, git-ignored)::

    runs/<run_id>/model.keras   the run's model, the training format (only when it completed)
    runs/<run_id>/model.onnx    its export, what the app serves (mnist_core.runtime)
    runs/<run_id>/model.json    its record: config, curves, test accuracy, confusion matrix
    runs/<run_id>/progress.json live status written by the training process
    active.json                 {"run_id": ...}; absent means the bundled model

Every write is a temporary file plus ``os.replace``, so a crash at any moment leaves either the
old or the new state on disk, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .classifier import BUNDLED_MODEL, DigitClassifier, record_path
from .config import APP_HOME, MIN_PROMOTE_ACCURACY

BUNDLED_ID = "bundled"
_RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


@dataclass(frozen=True)
class RegistryConfig:
    """Where model versions live and what may be promoted."""

    home: Path = field(default_factory=lambda: Path(APP_HOME.value()))
    # Promotion refuses a model below this MNIST test accuracy: a broken run never goes live.
    min_promote_accuracy: float = field(default_factory=lambda: float(MIN_PROMOTE_ACCURACY.value()))


class PromotionError(ValueError):
    """The model cannot be made active; the message says why."""


@dataclass(frozen=True)
class ActiveModel:
    run_id: str  # BUNDLED_ID for the bundled model
    path: Path
    warning: str | None = None  # set when the chosen model was unusable and we fell back


def write_json_atomically(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: the app's sessions are threads of one process, and two writing
    # the same file through one temporary name would move each other's file away.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(json.dumps(payload, indent=1))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


class ModelRegistry:
    """Lists runs, resolves the active model, promotes and rolls back."""

    def __init__(self, config: RegistryConfig | None = None):
        self.config = config or RegistryConfig()
        self.home = Path(self.config.home)
        self.runs_dir = self.home / "runs"
        self.active_file = self.home / "active.json"

    def run_dir(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs_dir / run_id

    def model_path(self, run_id: str) -> Path:
        """The file that serves ``run_id``: its ONNX export."""
        return BUNDLED_MODEL if run_id == BUNDLED_ID else self.run_dir(run_id) / "model.onnx"

    def record(self, run_id: str) -> dict:
        """The run's training record ({} when it has none yet)."""
        return read_json(record_path(self.model_path(run_id))) or {}

    def progress(self, run_id: str) -> dict:
        if run_id == BUNDLED_ID:
            return {"status": "completed"}
        return read_json(self.run_dir(run_id) / "progress.json") or {}

    def run_ids(self) -> list[str]:
        """The bundled model first, then past runs, oldest first (ids sort by start time)."""
        found = []
        if self.runs_dir.is_dir():
            found = sorted(
                entry.name
                for entry in self.runs_dir.iterdir()
                if entry.is_dir() and _RUN_ID.match(entry.name)
            )
        return [BUNDLED_ID, *found]

    def active(self) -> ActiveModel:
        """The active model, falling back to the bundled one (with a warning) if the chosen
        model is missing or unreadable. Never modifies anything on disk."""
        pointer = read_json(self.active_file) if self.active_file.exists() else {}
        if pointer is None:
            return ActiveModel(
                BUNDLED_ID,
                BUNDLED_MODEL,
                f"{self.active_file} is unreadable; using the bundled model",
            )
        run_id = pointer.get("run_id", BUNDLED_ID)
        try:
            path = self.model_path(run_id)
        except ValueError:
            return ActiveModel(
                BUNDLED_ID,
                BUNDLED_MODEL,
                f"the active model id {run_id!r} is invalid; using the bundled model",
            )
        if not path.is_file():
            return ActiveModel(
                BUNDLED_ID,
                BUNDLED_MODEL,
                f"the active model {run_id} is missing; using the bundled model",
            )
        return ActiveModel(run_id, path)

    def promote(self, run_id: str) -> None:
        """Make ``run_id`` the active model (also the way to roll back to an earlier one).

        Raises
        ------
        PromotionError
            The run did not complete, its model does not load, or its test accuracy is below
            ``min_promote_accuracy``.
        """
        if run_id != BUNDLED_ID:
            record = self.record(run_id)
            if record.get("status") != "completed":
                raise PromotionError(f"run {run_id} did not complete; it cannot be promoted")
            accuracy = record.get("test_accuracy", 0.0)
            if (
                isinstance(accuracy, bool)
                or not isinstance(accuracy, (int, float))
                or math.isnan(accuracy)
            ):
                raise PromotionError(
                    f"run {run_id} has no valid test accuracy ({accuracy!r}); it cannot be promoted"
                )
            if accuracy < self.config.min_promote_accuracy:
                raise PromotionError(
                    f"run {run_id} reached {accuracy:.2%} test accuracy, below the "
                    f"{self.config.min_promote_accuracy:.2%} required to promote a model"
                )
            try:
                DigitClassifier.load(self.model_path(run_id))
            except Exception as error:
                raise PromotionError(f"the model of run {run_id} does not load: {error}") from None
        write_json_atomically(self.active_file, {"run_id": run_id})
