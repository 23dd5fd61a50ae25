"""What an app home kept in files before the database (runs/<id>/*.json and model files,
active.json, corrections.sqlite), moved into the database once, so that upgrading a
single-machine install loses no run, no promotion and no correction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import closing

import sqlalchemy as sa

from . import database
from .corrections import CorrectionStore
from .registry import (
    BUNDLED_ID,
    SERVED,
    TRAINING_FORMAT,
    ModelRegistry,
    read_json,
    valid_run_id,
)

IMPORTED = ".imported"  # suffix a source file gets once its rows are committed
_done: set[tuple[str, str]] = set()  # (home, database) pairs this process has looked at
_done_lock = threading.Lock()
_log = logging.getLogger(__name__)


def import_once(registry: ModelRegistry) -> None:
    """:func:`import_files` the first time this process sees ``registry``'s home and database.

    Never raises: a database down or a damaged old file leaves the files where they are, for
    the next start of the app, with a warning in its log (the error's type only: its text may
    name the database's host)."""
    key = (str(registry.home), registry.database_url)
    with _done_lock:
        if key in _done:
            return
        _done.add(key)
    if not registry.home.is_dir():
        return
    try:
        import_files(registry)
    except (*database.UNAVAILABLE, sqlite3.Error) as error:
        _log.warning("files in %s not imported yet: %s", registry.home, type(error).__name__)


def import_files(registry: ModelRegistry) -> dict[str, int]:
    """Import the home's files; returns how many runs, pointers and corrections were moved.

    Runs already in the database are left as they are, so a second call imports nothing; the
    pointer and the corrections file are renamed ``*.imported`` once committed."""
    moved = {"runs": _import_runs(registry), "active": 0, "corrections": 0}
    moved["active"] = _import_pointer(registry)
    moved["corrections"] = _import_corrections(registry)
    return moved


def _import_runs(registry: ModelRegistry) -> int:
    if not registry.runs_dir.is_dir():
        return 0
    known = set(registry.run_ids())
    count = 0
    for folder in sorted(registry.runs_dir.iterdir()):
        if folder.name in known or not valid_run_id(folder.name):
            continue
        record = read_json(folder / "model.json")
        progress = read_json(folder / "progress.json")
        if record is None and progress is None:
            continue  # a working folder with nothing to keep (a log at most)
        files = {}
        if (record or {}).get("status") == "completed" and (folder / "model.onnx").is_file():
            files[SERVED] = (folder / "model.onnx").read_bytes()
            if (folder / "model.keras").is_file():
                files[TRAINING_FORMAT] = (folder / "model.keras").read_bytes()
        registry.finish_run(folder.name, progress or {}, record, files)
        count += 1
    return count


def _import_pointer(registry: ModelRegistry) -> int:
    pointer_file = registry.home / "active.json"
    if not pointer_file.is_file():
        return 0
    run_id = (read_json(pointer_file) or {}).get("run_id")
    imported = 0
    if valid_run_id(run_id) and run_id in registry.run_ids():
        with registry.engine.begin() as connection:
            # Only over the default: a promotion made since the upgrade stands.
            imported = connection.execute(
                database.active_model.update()
                .where(database.active_model.c.run_id == BUNDLED_ID)
                .values(run_id=run_id)
            ).rowcount
    pointer_file.rename(pointer_file.with_name(pointer_file.name + IMPORTED))
    return imported


def _import_corrections(registry: ModelRegistry) -> int:
    source = registry.home / "corrections.sqlite"
    if not source.is_file():
        return 0
    with closing(sqlite3.connect(source)) as connection:
        rows = connection.execute(
            "SELECT created_at, model_version, predicted, label, model_input, original "
            "FROM corrections ORDER BY id"
        ).fetchall()
    columns = ("created_at", "model_version", "predicted", "label", "model_input", "original")
    if rows:
        store = CorrectionStore(registry.database_url)
        with store.engine.begin() as connection:
            rows_by_name = [dict(zip(columns, row, strict=True)) for row in rows]
            connection.execute(sa.insert(database.corrections), rows_by_name)
    source.rename(source.with_name(source.name + IMPORTED))
    return len(rows)
