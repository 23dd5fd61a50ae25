"""An app home from before the database (runs as folders of files, active.json, the
corrections' own SQLite file) is moved into the database once, losing nothing."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import numpy as np

from mnist_core import legacy
from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.corrections import CorrectionStore
from mnist_core.registry import BUNDLED_ID, SERVED, ModelRegistry, RegistryConfig

COMPLETED, FAILED = "20250101-120000-c0de", "20250102-120000-dead"
# The corrections table exactly as corrections.py made it before the database.
OLD_SCHEMA = """
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted INTEGER,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    model_input BLOB NOT NULL,
    original BLOB
)"""


def old_home(home):
    """A home as the file-based registry left it: a completed and active run, a failed one,
    and two corrections."""
    completed = home / "runs" / COMPLETED
    completed.mkdir(parents=True)
    (completed / "model.onnx").write_bytes(BUNDLED_MODEL.read_bytes())
    (completed / "model.keras").write_bytes(b"keras file bytes")
    record = {"status": "completed", "test_accuracy": 0.99, "temperature": 1.0}
    (completed / "model.json").write_text(json.dumps(record))
    (completed / "progress.json").write_text(json.dumps({"status": "completed"}))
    failed = home / "runs" / FAILED
    failed.mkdir()
    (failed / "progress.json").write_text(json.dumps({"status": "failed", "error": "offline"}))
    (failed / "log.txt").write_text("Traceback ...")
    (home / "active.json").write_text(json.dumps({"run_id": COMPLETED}))
    with closing(sqlite3.connect(home / "corrections.sqlite")) as connection, connection:
        connection.execute(OLD_SCHEMA)
        for label in (3, 8):
            connection.execute(
                "INSERT INTO corrections (created_at, model_version, predicted, label, "
                "model_input) VALUES (?, ?, ?, ?, ?)",
                ("2025-01-01T12:00:00+00:00", "bundled", 5, label, bytes(784)),
            )


def test_an_old_home_is_imported_once_and_whole(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MNIST_APP_HOME", str(home))
    monkeypatch.delenv("MNIST_DATABASE_URL", raising=False)
    old_home(home)
    registry = ModelRegistry(RegistryConfig(home=home))

    assert legacy.import_files(registry) == {"runs": 2, "active": 1, "corrections": 2}

    assert registry.run_ids() == [BUNDLED_ID, COMPLETED, FAILED]
    assert registry.active().run_id == COMPLETED  # the promotion survives the upgrade
    assert registry.active().path.read_bytes() == BUNDLED_MODEL.read_bytes()
    assert registry.model_file(COMPLETED) == b"keras file bytes"
    assert registry.record(COMPLETED)["test_accuracy"] == 0.99
    assert registry.progress(FAILED) == {"status": "failed", "error": "offline"}
    assert registry.model_file(FAILED, SERVED) is None
    store = CorrectionStore()
    assert sorted(c.label for c in store.list()) == [3, 8]
    assert np.all(store.list()[0].model_input == 0)
    # The sources are marked, not deleted; a second pass moves nothing.
    assert (home / "active.json.imported").is_file() and not (home / "active.json").exists()
    assert (home / "corrections.sqlite.imported").is_file()
    assert legacy.import_files(registry) == {"runs": 0, "active": 0, "corrections": 0}
    assert store.count() == 2


def test_an_old_pointer_does_not_undo_a_promotion_made_since(tmp_path):
    home = tmp_path / "home"
    old_home(home)
    registry = ModelRegistry(RegistryConfig(home=home, database=f"sqlite:///{tmp_path}/db"))
    newer = "20250103-120000-0001"
    registry.finish_run(
        newer,
        {"status": "completed"},
        {"status": "completed", "test_accuracy": 0.995},
        {SERVED: BUNDLED_MODEL.read_bytes()},
    )
    registry.promote(newer)
    legacy.import_files(registry)
    assert registry.active_id() == newer


def test_a_damaged_old_file_never_stops_the_app(tmp_path, caplog):
    home = tmp_path / "home"
    home.mkdir()
    (home / "corrections.sqlite").write_bytes(b"not a database at all" * 100)
    (home / "active.json").write_text("{garbage")
    registry = ModelRegistry(RegistryConfig(home=home, database=f"sqlite:///{tmp_path}/db"))
    legacy.import_once(registry)
    assert registry.active().run_id == BUNDLED_ID
    assert "not imported yet" in caplog.text
    assert (home / "corrections.sqlite").is_file()  # left for a person to look at
