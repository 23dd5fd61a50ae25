"""Model versions: past training runs, their models, and which one is active, in the app's
database (database.py), so every replica of the app sees the same ones.

The database holds each run's progress and record (JSON), its model files (the ONNX export the
app serves, the ``.keras`` training format) and the one active-model row. A replica reads a
model's bytes once and keeps them under the app home (``model_cache/<run>-<sha256>.onnx``, its
record beside): checking which model is active is one small query, loading a new one happens
only when that answer changes. Each time it adds one, the cache is pruned to the active model
and the few used last (a rollback to a recent model reads no bytes again).

Under the app home (``$MNIST_APP_HOME``, default ``<project>/app_data``, git-ignored) stay only
local things: ``runs/<run_id>/``, the training process' working folder (its log, its files
before they are stored), and the model cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from . import database
from .classifier import BUNDLED_MODEL, DigitClassifier, record_path
from .config import APP_HOME, DATABASE_URL, MIN_PROMOTE_ACCURACY
from .database import ONE_ROW, active_model, model_files, runs

BUNDLED_ID = "bundled"
_RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")
SERVED, TRAINING_FORMAT = "onnx", "keras"  # model_files.kind
# Cached models kept besides the active one: each is a few MB, and one pruned is fetched from
# the database again when asked for.
CACHE_KEEP = 3
# A cache file this process handed out (or anyone wrote) this recently may be about to be
# loaded (a model is read whole when it is loaded, never after): it is never deleted.
CACHE_IN_USE_S = 600


@dataclass(frozen=True)
class RegistryConfig:
    """Where model versions live and what may be promoted."""

    home: Path = field(default_factory=lambda: Path(APP_HOME.value()))
    # Promotion refuses a model below this MNIST test accuracy: a broken run never goes live.
    min_promote_accuracy: float = field(default_factory=lambda: float(MIN_PROMOTE_ACCURACY.value()))
    # The database URL; None: the SQLite file in ``home`` (database.DEFAULT_FILE).
    database: str | None = field(default_factory=lambda: DATABASE_URL.value())


class PromotionError(ValueError):
    """The model cannot be made active; the message says why."""


@dataclass(frozen=True)
class ActiveModel:
    run_id: str  # BUNDLED_ID for the bundled model
    path: Path
    warning: str | None = None  # set when the chosen model was unusable and we fell back


def write_bytes_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` via a temporary file and a rename: a reader sees the old
    file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: the app's sessions are threads of one process, and two writing
    # the same file through one temporary name would move each other's file away.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_bytes(content)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing or unreadable."""
    return _object(_read_text(path))


def _read_text(path: Path) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _object(text: str | None) -> dict | None:
    """The JSON object in ``text``, or None when there is none."""
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def valid_run_id(run_id) -> bool:
    return isinstance(run_id, str) and bool(_RUN_ID.match(run_id))


class ModelRegistry:
    """Lists runs, resolves the active model, promotes and rolls back."""

    def __init__(self, config: RegistryConfig | None = None):
        self.config = config or RegistryConfig()
        self.home = Path(self.config.home)
        self.runs_dir = self.home / "runs"
        self.cache_dir = self.home / "model_cache"
        self.database_url = database.database_url(
            self.config.database or self.home / database.DEFAULT_FILE
        )

    @property
    def engine(self) -> sa.Engine:
        # Made (and the schema migrated) at first use, not when a page builds a registry.
        return database.engine(self.database_url)

    def run_dir(self, run_id: str) -> Path:
        """The run's local working folder (the training process' files and log)."""
        if not valid_run_id(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs_dir / run_id

    def model_path(self, run_id: str) -> Path:
        """A local file holding ``run_id``'s ONNX export (its record beside it), fetched from the
        database the first time this replica asks for it.

        Raises
        ------
        FileNotFoundError
            The run has no model (it did not complete).
        """
        if run_id == BUNDLED_ID:
            return BUNDLED_MODEL
        self.run_dir(run_id)  # validates the id
        with database.reading(self.engine) as connection:
            digest = connection.execute(
                sa.select(model_files.c.sha256).where(
                    model_files.c.run_id == run_id, model_files.c.kind == SERVED
                )
            ).scalar()
        if digest is None:
            raise FileNotFoundError(f"run {run_id} has no model")
        path = self.cache_dir / f"{run_id}-{digest}.onnx"
        _handed_out[path] = time.time()  # before pruning: never the file being fetched
        if not path.is_file():
            content, record = self._model_bytes(run_id), self.record(run_id)
            # The record first: the model file's presence says the cache entry is whole.
            write_bytes_atomically(record_path(path), json.dumps(record).encode())
            write_bytes_atomically(path, content)
            self.prune_cache()
        return path

    def prune_cache(self) -> list[Path]:
        """Delete cached models beyond the active one and the CACHE_KEEP used last, except
        those handed out or written within CACHE_IN_USE_S; returns the deleted model files.
        Keeps everything while the database cannot say which model is active."""
        try:
            active = self.active_id()
        except database.UNAVAILABLE:
            return []
        now = time.time()
        cached = []
        for path in self.cache_dir.glob("*.onnx"):
            try:
                written = path.stat().st_mtime
            except FileNotFoundError:
                continue  # pruned by another process sharing this home
            cached.append((max(written, _handed_out.get(path, 0.0)), path))
        cached.sort(reverse=True)
        deleted = []
        for last_used, path in cached[CACHE_KEEP:]:
            if path.name.startswith(f"{active}-") or now - last_used < CACHE_IN_USE_S:
                continue
            path.unlink(missing_ok=True)  # the model first: without it the entry is not whole
            record_path(path).unlink(missing_ok=True)
            _handed_out.pop(path, None)
            deleted.append(path)
        # Leftovers of a process killed mid-write: a record without its model, a temporary.
        for leftover in [*self.cache_dir.glob("*.json"), *self.cache_dir.glob(".*.tmp")]:
            whole = leftover.suffix == ".json" and leftover.with_suffix(".onnx").exists()
            try:
                if not whole and now - leftover.stat().st_mtime > CACHE_IN_USE_S:
                    leftover.unlink()
            except FileNotFoundError:
                pass
        return deleted

    def model_file(self, run_id: str, kind: str = TRAINING_FORMAT) -> bytes | None:
        """A stored file of the run (``"keras"``: the training format), or None."""
        with database.reading(self.engine) as connection:
            content = connection.execute(
                sa.select(model_files.c.content).where(
                    model_files.c.run_id == run_id, model_files.c.kind == kind
                )
            ).scalar()
        return None if content is None else bytes(content)

    def _model_bytes(self, run_id: str) -> bytes:
        content = self.model_file(run_id, SERVED)
        if content is None:
            raise FileNotFoundError(f"run {run_id} has no model")
        return content

    def record(self, run_id: str) -> dict:
        """The run's training record ({} when it has none yet)."""
        if run_id == BUNDLED_ID:
            return read_json(record_path(BUNDLED_MODEL)) or {}
        return self._column(run_id, runs.c.record)

    def progress(self, run_id: str) -> dict:
        if run_id == BUNDLED_ID:
            return {"status": "completed"}
        return self._column(run_id, runs.c.progress)

    def _column(self, run_id: str, column: sa.Column) -> dict:
        with database.reading(self.engine) as connection:
            text = connection.execute(sa.select(column).where(runs.c.run_id == run_id)).scalar()
        return _object(text) or {}

    def run_ids(self) -> list[str]:
        """The bundled model first, then past runs, oldest first (ids sort by start time)."""
        with database.reading(self.engine) as connection:
            found = connection.execute(sa.select(runs.c.run_id).order_by(runs.c.run_id)).scalars()
            return [BUNDLED_ID, *(run_id for run_id in found if valid_run_id(run_id))]

    def active_id(self) -> str:
        """The active run's id as stored (not checked): one small query."""
        with database.reading(self.engine) as connection:
            stored = connection.execute(
                sa.select(active_model.c.run_id).where(active_model.c.slot == ONE_ROW)
            ).scalar()
        return BUNDLED_ID if stored is None else stored

    def active(self) -> ActiveModel:
        """The active model, falling back to the bundled one (with a warning) if the chosen
        model is missing. While the database cannot be read, the last model this process
        found active serves on (the bundled one if none). Never modifies the database."""
        try:
            run_id = self.active_id()
        except database.UNAVAILABLE as error:
            last = _last_active.get(self.database_url, _bundled(None))
            return ActiveModel(
                last.run_id,
                last.path,
                f"the model registry cannot be read ({type(error).__name__}); serving "
                + ("the bundled model" if last.run_id == BUNDLED_ID else f"{last.run_id} still"),
            )
        found = self._resolve(run_id)
        if found.warning is None:
            _last_active[self.database_url] = found
        return found

    def _resolve(self, run_id: str) -> ActiveModel:
        if run_id == BUNDLED_ID:
            return ActiveModel(BUNDLED_ID, BUNDLED_MODEL)
        if not valid_run_id(run_id):
            return _bundled(f"the active model id {run_id!r} is invalid; using the bundled model")
        try:
            return ActiveModel(run_id, self.model_path(run_id))
        except FileNotFoundError:
            return _bundled(f"the active model {run_id} is missing; using the bundled model")
        except database.UNAVAILABLE as error:
            return _bundled(
                f"the active model {run_id} cannot be fetched ({type(error).__name__}); "
                "using the bundled model"
            )

    def promote(self, run_id: str) -> None:
        """Make ``run_id`` the active model (also the way to roll back to an earlier one), for
        every replica at its next reading: one transaction.

        Raises
        ------
        PromotionError
            The run did not complete, its model does not load, or its test accuracy is below
            ``min_promote_accuracy``.
        """
        if run_id != BUNDLED_ID:
            if not valid_run_id(run_id):
                raise PromotionError(f"not a run id: {run_id!r}")
            self._check_promotable(run_id)
        with self.engine.begin() as connection:
            moved = connection.execute(
                active_model.update().where(active_model.c.slot == ONE_ROW).values(run_id=run_id)
            )
            if moved.rowcount == 0:  # a database emptied by hand: the row is made again
                connection.execute(active_model.insert().values(slot=ONE_ROW, run_id=run_id))

    def _check_promotable(self, run_id: str) -> None:
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

    # ------------------------------------------------------------------ writing runs

    def create_run(self, run_id: str, progress: dict, connection: sa.Connection | None = None):
        """Add a new run with its first progress (in ``connection``'s transaction if given)."""
        self.run_dir(run_id)  # validates the id
        row = runs.insert().values(run_id=run_id, progress=json.dumps(progress))
        if connection is not None:
            connection.execute(row)
            return
        with self.engine.begin() as own:
            own.execute(row)

    def report(self, run_id: str, progress: dict) -> bool:
        """Store the run's live progress and a heartbeat; returns whether a cancel was asked."""
        return self.heartbeat(run_id, progress=json.dumps(progress))

    def heartbeat(self, run_id: str, **values) -> bool:
        """The training process is alive (and sets ``values``); returns whether a cancel was
        asked, which it hears this way from any replica."""
        with self.engine.begin() as connection:
            connection.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(heartbeat_at=database.now(connection), **values)
            )
            return bool(
                connection.execute(
                    sa.select(runs.c.cancel_requested).where(runs.c.run_id == run_id)
                ).scalar()
            )

    def request_cancel(self, run_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                runs.update().where(runs.c.run_id == run_id).values(cancel_requested=True)
            )

    def finish_run(
        self,
        run_id: str,
        progress: dict,
        record: dict | None = None,
        files: dict[str, bytes] | None = None,
        only_if_unfinished: bool = False,
    ) -> bool:
        """End a run in one transaction: its final progress, its record and its model files
        (``{"onnx": ..., "keras": ...}``) land together or not at all. With
        ``only_if_unfinished``, a run that already ended is left as it is. Returns whether
        the run was changed. Creates the run if it does not exist (a run made by hand)."""
        with self.engine.begin() as connection:
            current = connection.execute(
                sa.select(runs.c.progress).where(runs.c.run_id == run_id)
            ).first()
            if current is None:
                self.create_run(run_id, progress, connection)
            elif only_if_unfinished and (_object(current[0]) or {}).get("status") not in (
                None,
                "starting",
                "running",
            ):
                return False
            values = {"progress": json.dumps(progress)}
            if record is not None:
                values["record"] = json.dumps(record)
            connection.execute(runs.update().where(runs.c.run_id == run_id).values(**values))
            for kind, content in (files or {}).items():
                connection.execute(
                    model_files.insert().values(
                        run_id=run_id,
                        kind=kind,
                        sha256=hashlib.sha256(content).hexdigest(),
                        content=content,
                    )
                )
        return True


# The last model found active, per database URL: what serves while the database is down.
_last_active: dict[str, ActiveModel] = {}
# Cache file -> when this process last handed it out (model_path), for prune_cache.
_handed_out: dict[Path, float] = {}


def _bundled(warning: str | None) -> ActiveModel:
    return ActiveModel(BUNDLED_ID, BUNDLED_MODEL, warning)
