"""Fleet behaviour on one PostgreSQL URL: two replicas of the app, each with its own app home
(its own model cache and run folders) and its own registry and job manager, sharing only the
database, as two machines behind a load balancer would.

Training here uses the committed sample (MNIST_DATA), and each run started is cancelled or
killed: the machine may be busy training for real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import PROJECT_ROOT, SAMPLE, start_at_once, wait_for

import mnist_core.jobs as jobs_module
from mnist_core import DigitClassifier, database, training_lock
from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.config import TrainConfig
from mnist_core.jobs import TrainingBusy, TrainingJobs
from mnist_core.registry import BUNDLED_ID, SERVED, ModelRegistry, RegistryConfig
from mnist_core.renderings import png_bytes
from mnist_core.run_report import STARTER_GONE

LONG_RUN = TrainConfig(epochs=50, subset=0)  # minutes on the sample: still going when we look
SHORT_RUN = TrainConfig(epochs=1, subset=0)


@pytest.fixture
def replicas(postgres_database, tmp_path, monkeypatch):
    """Two replicas' registries on one database; at the end, any training process started
    here and left running is killed (by its own pid)."""
    monkeypatch.setenv("MNIST_DATA", str(SAMPLE))

    def replica(name: str) -> ModelRegistry:
        return ModelRegistry(
            RegistryConfig(
                home=tmp_path / name, min_promote_accuracy=0.9, database=postgres_database
            )
        )

    yield replica("replica_a"), replica("replica_b")
    for child in list(jobs_module._children.values()):
        if child.poll() is None and str(tmp_path) in " ".join(map(str, child.args)):
            child.kill()
            child.wait(timeout=30)


def lock_holder(registry: ModelRegistry) -> int | None:
    with database.reading(registry.engine) as connection:
        return training_lock.run_lock_holder(connection)


def test_a_promotion_through_one_replica_is_served_by_the_other_at_its_next_reading(replicas):
    replica_a, replica_b = replicas
    run_id = "20250101-120000-a001"
    model = BUNDLED_MODEL.read_bytes()
    record = {"status": "completed", "test_accuracy": 0.99, "temperature": 1.0}
    replica_a.finish_run(run_id, {"status": "completed"}, record, {SERVED: model})
    assert replica_b.active().run_id == BUNDLED_ID

    replica_a.promote(run_id)

    served = replica_b.active()  # B's next reading
    assert (served.run_id, served.warning) == (run_id, None)
    assert served.path.is_relative_to(replica_b.cache_dir)  # its own copy, from the database
    assert served.path.read_bytes() == model
    digit = np.load(SAMPLE)["x_test"][3]
    label = int(np.load(SAMPLE)["y_test"][3])
    assert DigitClassifier.load(served.path).predict(png_bytes(255 - digit)).digit == label
    # Read once: later readings reuse the file (same path, not rewritten).
    written = served.path.stat().st_mtime_ns
    assert replica_b.active().path == served.path
    assert served.path.stat().st_mtime_ns == written

    replica_b.promote(BUNDLED_ID)  # a rollback from B is served by A at once
    assert replica_a.active().run_id == BUNDLED_ID


def test_simultaneous_starts_on_two_replicas_give_one_run(replicas):
    outcomes = start_at_once([TrainingJobs(registry) for registry in replicas], SHORT_RUN)
    assert sorted(kind for kind, _ in outcomes) == ["busy", "started"], outcomes
    run_id = next(value for kind, value in outcomes if kind == "started")
    assert next(value for kind, value in outcomes if kind == "busy") == run_id
    for registry in replicas:
        assert registry.run_ids() == [BUNDLED_ID, run_id]
        assert TrainingJobs(registry).running() == run_id
    TrainingJobs(replicas[0]).cancel(run_id)
    assert replicas[1].progress(run_id)["status"] == "cancelled"


def test_a_run_on_one_replica_is_watched_and_cancelled_from_the_other(replicas, monkeypatch):
    replica_a, replica_b = replicas
    run_id = TrainingJobs(replica_a).start(LONG_RUN)
    with pytest.raises(TrainingBusy) as busy:
        TrainingJobs(replica_b).start(SHORT_RUN)
    assert busy.value.run_id == run_id
    # B shows A's live progress and curves' source, from the database.
    wait_for(
        lambda: replica_b.progress(run_id).get("phase") == "training",
        timeout_s=240,
        what="replica B to see the run training",
    )
    assert replica_b.progress(run_id)["epochs"] == 50
    # B is another machine: it cannot signal A's child, so it asks through the database.
    monkeypatch.setattr(jobs_module.socket, "gethostname", lambda: "replica-b")
    TrainingJobs(replica_b).cancel(run_id)
    monkeypatch.undo()
    final = wait_for(
        lambda: (
            replica_b.progress(run_id).get("status") not in ("starting", "running")
            and replica_b.progress(run_id)
        ),
        timeout_s=60,
        what="the child to stop at the request",
    )
    assert final["status"] == "cancelled", final
    wait_for(lambda: lock_holder(replica_b) is None, 30, "the run lock to be free")
    assert replica_b.model_file(run_id, SERVED) is None


@contextlib.contextmanager
def replica_process(home: Path, database_url: str):
    """An app replica of its own (a process, as `streamlit run` would be) that starts LONG_RUN
    and lives on; yields (the process, the run id). Killed at the end if still alive."""
    code = (
        "import sys, time\n"
        "from mnist_core.config import TrainConfig\n"
        "from mnist_core.jobs import TrainingJobs\n"
        "from mnist_core.registry import ModelRegistry\n"
        f"print(TrainingJobs(ModelRegistry()).start(TrainConfig(**{LONG_RUN.__dict__!r})),"
        " flush=True)\n"
        "time.sleep(3600)\n"
    )
    # Given as the app takes them: the environment, never the command line.
    env = {**os.environ, "MNIST_APP_HOME": str(home), "MNIST_DATABASE_URL": database_url}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    app = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT
    )
    try:
        run_id = app.stdout.readline().strip()
        assert run_id, f"the replica did not start a run (exit {app.poll()})"
        yield app, run_id
    finally:
        app.kill()
        app.wait(timeout=30)


def training_gone(pid: int) -> bool:
    """The process ended (a zombie no parent has reaped yet counts as ended)."""
    return not jobs_module._alive(pid)


@pytest.mark.parametrize("killed", ["the training process", "the replica that started it"])
def test_a_killed_training_process_frees_the_lock_and_its_run_is_marked_failed(
    replicas, killed, postgres_database
):
    """SIGKILL of the training process, or of the app replica that started it (the run dies
    with its replica, docs/deploy.md): the lock is free, the run failed, nothing else lost."""
    replica_a, replica_b = replicas
    jobs_a, jobs_b = TrainingJobs(replica_a), TrainingJobs(replica_b)
    with contextlib.ExitStack() as stack:
        if killed == "the training process":
            app, run_id = None, jobs_a.start(LONG_RUN)
        else:
            app, run_id = stack.enter_context(replica_process(replica_a.home, postgres_database))
        assert lock_holder(replica_b) is not None
        wait_for(
            lambda: replica_a.progress(run_id).get("phase") == "training",
            timeout_s=240,
            what="the run to reach its training phase",
        )
        pid = jobs_a.current()["pid"]
        # The child was given the database through its environment: no URL (no password) is
        # on its command line, which every user of the machine can read.
        assert b"postgresql" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert replica_a.database_url.encode() in Path(f"/proc/{pid}/environ").read_bytes()
        os.kill(pid if app is None else app.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        # The database sees the connection close and frees the lock: B knows at its next look.
        wait_for(lambda: jobs_b.running() is None, 10, "B to see the run end", poll_s=0.05)
        assert time.monotonic() - killed_at < 10
        wait_for(lambda: training_gone(pid), 10, "the training process to end", poll_s=0.05)
    # The server ends the dead process' session (and frees its lock) as it reads the closed
    # connection: milliseconds after the process, which may have marked its run failed first.
    wait_for(lambda: lock_holder(replica_b) is None, 5, "the run lock to be free", poll_s=0.05)
    progress = replica_b.progress(run_id)
    assert progress["status"] == "failed" and progress.get("error"), progress
    if app is not None:  # the child said why before it ended itself
        assert progress["error"] == STARTER_GONE, progress
    assert replica_b.model_file(run_id, SERVED) is None
    # The fleet is free again: B starts the next run.
    second = jobs_b.start(SHORT_RUN)
    assert jobs_a.running() == second
    jobs_b.cancel(second)
    assert replica_a.progress(second)["status"] == "cancelled"
    assert replica_a.progress(run_id)["status"] == "failed"  # the killed run stays failed


def test_on_one_machine_a_run_dies_with_the_app_that_started_it(tmp_path, monkeypatch):
    """The SQLite default: the app restarted (or killed) ends its run; the next app process
    finds it failed and the server free."""
    monkeypatch.setenv("MNIST_DATA", str(SAMPLE))
    database_url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    registry = ModelRegistry(RegistryConfig(home=tmp_path, database=database_url))
    jobs = TrainingJobs(registry)
    with replica_process(tmp_path, database_url) as (app, run_id):
        wait_for(
            lambda: registry.progress(run_id).get("status") == "running",
            timeout_s=240,
            what="the run to report",
        )
        pid = jobs.current()["pid"]
        assert jobs.running() == run_id
        app.send_signal(signal.SIGKILL)
        wait_for(lambda: training_gone(pid), 10, "the training process to end", poll_s=0.05)
    assert jobs.running() is None
    assert registry.progress(run_id)["status"] == "failed"
    assert registry.progress(run_id)["error"] == STARTER_GONE
    second = jobs.start(SHORT_RUN)
    jobs.cancel(second)
    assert registry.progress(second)["status"] == "cancelled"


def test_a_training_process_that_stops_answering_is_failed_and_its_lock_freed(
    replicas, monkeypatch
):
    """A holder whose machine vanished without closing its connection keeps the lock until
    TCP gives up (hours); its silent heartbeat ends it instead. A stopped process stands in."""
    replica_a, replica_b = replicas
    jobs_a = TrainingJobs(replica_a)
    run_id = jobs_a.start(LONG_RUN)
    wait_for(
        lambda: replica_a.progress(run_id).get("status") == "running",
        timeout_s=240,
        what="the run to report",
    )
    pid = jobs_a.current()["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        monkeypatch.setattr(jobs_module, "HEARTBEAT_TIMEOUT_S", 2)
        time.sleep(3)
        assert lock_holder(replica_b) is not None  # the frozen process still holds it
        assert TrainingJobs(replica_b).running() is None
        progress = replica_b.progress(run_id)
        assert progress["status"] == "failed" and "stopped answering" in progress["error"]
        wait_for(lambda: lock_holder(replica_b) is None, 10, "the lock to be freed")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)


def test_a_database_that_goes_down_and_comes_back(tmp_path):
    """PostgreSQL stopped mid-way: the active model serves on from the cache, corrections and
    training refuse with the database's error; started again, everything works as before."""
    from postgres import require_postgres, throwaway_postgres

    from mnist_core.corrections import CorrectionStore

    require_postgres()
    with throwaway_postgres() as server:
        registry = ModelRegistry(
            RegistryConfig(home=tmp_path, min_promote_accuracy=0.9, database=server.url)
        )
        run_id = "20250101-120000-d0e5"
        record = {"status": "completed", "test_accuracy": 0.99, "temperature": 1.0}
        model = {SERVED: BUNDLED_MODEL.read_bytes()}
        registry.finish_run(run_id, {"status": "completed"}, record, model)
        registry.promote(run_id)
        assert registry.active().run_id == run_id
        store = CorrectionStore(server.url)
        store.add(np.zeros((28, 28)), 4, 9, run_id)

        server.stop()
        served = registry.active()
        assert served.run_id == run_id and "cannot be read" in served.warning
        digit, label = np.load(SAMPLE)["x_test"][3], int(np.load(SAMPLE)["y_test"][3])
        assert DigitClassifier.load(served.path).predict(png_bytes(255 - digit)).digit == label
        with pytest.raises(database.UNAVAILABLE):
            store.add(np.zeros((28, 28)), 5, 9, run_id)
        with pytest.raises(database.UNAVAILABLE):
            TrainingJobs(registry).start(SHORT_RUN)

        server.start()
        assert (registry.active().run_id, registry.active().warning) == (run_id, None)
        store.add(np.zeros((28, 28)), 5, 9, run_id)
        assert sorted(c.label for c in store.list()) == [4, 5]
        assert TrainingJobs(registry).running() is None
