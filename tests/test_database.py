"""The one database of shared state (mnist_core.database) and the corrections kept in it, on a
SQLite file and on a real PostgreSQL server (tests/postgres.py): the schema the app makes, and
what every replica sharing one URL sees."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa
from helpers import PROJECT_ROOT

from mnist_core import database
from mnist_core.corrections import CorrectionStore


def replica(url: str, code: str) -> str:
    """Run ``code`` in a process of its own (another replica of the app), the database given
    as the app takes it, through $MNIST_DATABASE_URL; return what it printed."""
    env = {**os.environ, "MNIST_DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_schema_is_made_and_versioned_by_the_app(database_url):
    engine = database.engine(database_url)
    with database.reading(engine) as connection:
        version = connection.execute(sa.select(database.schema_version.c.version)).scalar_one()
        tables = set(sa.inspect(connection).get_table_names())
    assert version == len(database.MIGRATIONS)
    assert {"schema_version", "corrections"} <= tables
    assert database.migrate(engine) == version  # a second start applies nothing again


def test_a_database_newer_than_the_code_is_refused(database_url):
    engine = database.engine(database_url)
    newer = len(database.MIGRATIONS) + 1
    with engine.begin() as connection:
        connection.execute(database.schema_version.update().values(version=newer))
    try:
        with pytest.raises(RuntimeError, match="newer than this code"):
            database.migrate(engine)
    finally:
        with engine.begin() as connection:
            connection.execute(
                database.schema_version.update().values(version=len(database.MIGRATIONS))
            )


def test_replicas_starting_together_migrate_once(postgres_url):
    """Four processes meeting a database with no schema at the same instant: each comes up,
    and the schema is made once (the advisory lock), not four times or half."""
    with database.engine(postgres_url).begin() as connection:
        database.metadata.drop_all(connection)
    code = (
        "from mnist_core import database\n"
        "print(database.migrate(database._create_engine(database.database_url())))\n"
    )
    outputs: list[str] = []
    threads = [
        threading.Thread(target=lambda: outputs.append(replica(postgres_url, code)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == [f"{len(database.MIGRATIONS)}\n"] * 4
    with database.reading(database.engine(postgres_url)) as connection:
        rows = connection.execute(sa.select(database.schema_version.c.version)).all()
    assert rows == [(len(database.MIGRATIONS),)]


def test_the_default_is_a_sqlite_file_in_the_app_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_APP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MNIST_DATABASE_URL", raising=False)
    assert database.database_url() == f"sqlite:///{tmp_path / 'home' / database.DEFAULT_FILE}"
    CorrectionStore().add(np.zeros((28, 28)), 1, 7, "bundled")
    assert (tmp_path / "home" / database.DEFAULT_FILE).is_file()  # nothing else to set up
    monkeypatch.setenv("MNIST_DATABASE_URL", "postgresql+psycopg://app:secret@db/mnist")
    assert database.database_url() == "postgresql+psycopg://app:secret@db/mnist"


# --------------------------------------------------------------------------- corrections


def test_corrections_round_trip(database_url):
    store = CorrectionStore(database_url)
    digit = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    first = store.add(digit, 4, 9, "bundled", np.zeros((900, 600), np.uint8))
    second = store.add(np.zeros((28, 28)), 7, None, "20250101-120000-beef")
    assert second > first
    listed = store.list()
    assert [c.id for c in listed] == [second, first]  # newest first
    assert (listed[1].label, listed[1].predicted, listed[1].model_version) == (4, 9, "bundled")
    assert listed[0].predicted is None
    assert np.abs(listed[1].model_input - digit).max() <= 1 / 255
    assert listed[1].original.startswith(b"\x89PNG") and listed[0].original is None
    assert [c.label for c in store.list([7])] == [7]
    images, labels = store.arrays()
    assert images.shape == (2, 28, 28) and labels.tolist() == [4, 7]  # oldest first
    store.delete(first)
    assert store.count() == 1 and store.list()[0].id == second


def test_bad_corrections_are_refused_on_either_database(database_url):
    store = CorrectionStore(database_url)
    with pytest.raises(ValueError):
        store.add(np.zeros((28, 28)), 10, 1, "bundled")
    with pytest.raises(ValueError):
        store.add(np.zeros((27, 28)), 1, 1, "bundled")
    assert store.count() == 0


def test_a_label_filter_is_a_parameter_never_sql_text(database_url):
    store = CorrectionStore(database_url)
    store.add(np.zeros((28, 28)), 2, 3, "bundled")
    with pytest.raises((ValueError, TypeError)):
        store.list(["2) OR 1=1 --"])
    assert store.count() == 1


def test_corrections_written_by_one_replica_are_listed_by_another(postgres_database):
    postgres_url = postgres_database
    CorrectionStore(postgres_url).add(np.ones((28, 28)) * 0.5, 8, 3, "bundled")
    written = replica(
        postgres_url,
        "import numpy as np\n"
        "from mnist_core.corrections import CorrectionStore\n"
        "store = CorrectionStore()\n"
        "print(store.add(np.zeros((28, 28)), 6, 5, 'bundled'))\n"
        "print(sorted(c.label for c in store.list()))\n",
    ).split("\n")
    assert written[1] == "[6, 8]"  # the other replica sees ours
    store = CorrectionStore(postgres_url)
    assert [(c.id, c.label) for c in store.list()][0] == (int(written[0]), 6)  # we see theirs


# --------------------------------------------------------------------------- the model cache


def test_the_model_cache_keeps_the_active_model_and_the_few_used_last(
    database_url, tmp_path, monkeypatch
):
    """A replica's copies of models (model_cache/) do not grow without end: each new copy
    prunes all but the active model and the CACHE_KEEP used last; a pruned model is fetched
    again when asked for; a copy handed out or written lately is never deleted."""
    from mnist_core import registry as registry_module
    from mnist_core.classifier import BUNDLED_MODEL
    from mnist_core.registry import CACHE_KEEP, SERVED, ModelRegistry, RegistryConfig

    registry = ModelRegistry(
        RegistryConfig(home=tmp_path / "home", min_promote_accuracy=0.9, database=database_url)
    )
    record = {"status": "completed", "test_accuracy": 0.99, "temperature": 1.0}
    run_ids = [f"20250101-12000{index}-cac{index}" for index in range(7)]
    for index, run_id in enumerate(run_ids):
        # The active one is a real model (promotion loads it); the cache never reads the rest.
        content = BUNDLED_MODEL.read_bytes() if index == 0 else f"model {index}".encode()
        registry.finish_run(run_id, {"status": "completed"}, record, {SERVED: content})
    registry.promote(run_ids[0])

    # Fetched lately: all kept, however many.
    paths = {run_id: registry.model_path(run_id) for run_id in run_ids}
    assert sorted(registry.cache_dir.glob("*.onnx")) == sorted(paths.values())

    monkeypatch.setattr(registry_module, "CACHE_IN_USE_S", 0)
    stale = time.time() - 3600
    for path in registry.cache_dir.iterdir():
        os.utime(path, (stale, stale))
    registry_module._handed_out.clear()  # as in a new process: only the files' times count
    leftover = registry.cache_dir / ".20250101-120009-dead.onnx.1.2.tmp"
    leftover.write_bytes(b"half a model")
    os.utime(leftover, (stale, stale))
    for run_id in run_ids[3:]:  # used in this order, the last one last
        paths[run_id].unlink(missing_ok=True)  # asking for it writes it again, and prunes
        registry.model_path(run_id)
        time.sleep(0.01)

    def cached(suffix: str) -> list[str]:
        return sorted(path.name[: len(run_ids[0])] for path in registry.cache_dir.glob(suffix))

    expected = sorted([run_ids[0], *run_ids[-CACHE_KEEP:]])  # the active one, the 3 used last
    assert cached("*.onnx") == cached("*.json") == expected
    assert not leftover.exists()
    assert list(registry.cache_dir.glob(".*")) == []

    # A pruned model asked for again is fetched again, whole.
    again = registry.model_path(run_ids[1])
    assert again == paths[run_ids[1]] and again.read_bytes() == b"model 1"
    assert registry_module.read_json(again.with_suffix(".json")) == record
    assert registry.active().path == paths[run_ids[0]]  # the active one was never deleted
