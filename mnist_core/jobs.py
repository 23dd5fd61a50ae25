"""Training runs in their own process, one at a time for the whole fleet.

The app starts ``python -m mnist_core train --run RUN_ID`` as a child in a new session: a
Streamlit rerun, a closed tab or a crash of the training cannot touch the app. A run dies with
the app process that started it (a replica gone, or the app restarted): the child's stdin is a
pipe whose other end only this process holds, and the child ends itself, run marked failed, when
it reads end-of-file (run_report.py). The child reports its progress and a heartbeat to the
database, so every replica shows it; cancelling kills its process group when it runs here, and
otherwise asks it, through the database, to stop after its batch.

"Is one running? if not, start" is atomic for the fleet: on PostgreSQL an advisory start lock,
and a run lock the child holds until it dies (training_lock.py); on SQLite (one machine) an
exclusive ``flock`` on ``train.lock`` and the child's pid.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from . import database, training_lock
from .config import APP_HOME, DATABASE_URL, TrainConfig, validate_config
from .config_flags import command_line
from .database import ONE_ROW, runs, training
from .registry import ModelRegistry

# glibc gives each of TensorFlow's threads its own malloc arena, each holding on to what its
# thread freed; with two, one batch's freed memory serves the next (docs/performance.md).
TRAINING_CHILD_ENV = {"MALLOC_ARENA_MAX": "2"}
# A run whose process has not written a heartbeat for this long has stopped answering (the
# child writes one every run_report.HEARTBEAT_S = 5 s, whatever it is doing).
HEARTBEAT_TIMEOUT_S = 60

_children: dict[int, subprocess.Popen] = {}  # reaped by a thread each, so pids do not linger


class TrainingBusy(RuntimeError):
    """Another training run is in progress."""

    def __init__(self, run_id: str):
        super().__init__(f"a training run ({run_id}) is already in progress; watch it below")
        self.run_id = run_id


class TrainingJobs:
    """Start, watch and cancel training runs stored in a :class:`ModelRegistry`."""

    def __init__(self, registry: ModelRegistry, data_path: str | None = None):
        self.registry = registry
        self.data_path = data_path  # None: the child uses $MNIST_DATA or Keras' download

    @property
    def _fleet(self) -> bool:
        """PostgreSQL: replicas on other machines may train, and the locks are the database's."""
        return not database.is_sqlite(self.registry.engine)

    @contextmanager
    def _exclusive(self):
        """Hold the start lock; yields the connection (PostgreSQL, its transaction holds the
        lock) or None (SQLite: the file lock)."""
        if self._fleet:
            with self.registry.engine.begin() as connection:
                training_lock.take_start_lock(connection)
                yield connection
            return
        self.registry.home.mkdir(parents=True, exist_ok=True)
        with open(self.registry.home / "train.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield None
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def current(self, connection: sa.Connection | None = None) -> dict | None:
        """The latest run and its process: {"run_id", "host", "pid"}, or None before any."""
        query = sa.select(training.c.run_id, training.c.host, training.c.pid).where(
            training.c.slot == ONE_ROW
        )
        if connection is not None:
            row = connection.execute(query).first()
        else:
            with database.reading(self.registry.engine) as reader:
                row = reader.execute(query).first()
        return None if row is None else dict(row._mapping)

    def running(self, connection: sa.Connection | None = None) -> str | None:
        """The id of the run in progress anywhere, or None. Marks a run whose process died (or
        stopped answering) as failed."""
        current = self.current(connection)
        if current is None:
            return None
        run_id = current["run_id"]
        if self.registry.progress(run_id).get("status") not in (None, "starting", "running"):
            return None
        reason = self._why_dead(current, connection)
        if reason is None:
            return run_id
        self._end(run_id, "failed", reason)
        return None

    def _why_dead(self, current: dict, connection: sa.Connection | None) -> str | None:
        """None while the run's process lives; otherwise why we think it does not."""
        if not self._fleet:
            alive = _alive(int(current["pid"]))
            return None if alive else "the training process stopped unexpectedly"
        with _connection(self.registry.engine, connection) as reader:
            holder = training_lock.run_lock_holder(reader)
            if holder is None:
                return "the training process stopped unexpectedly"
            silent_s = reader.execute(
                sa.select(database.now(reader) - runs.c.heartbeat_at).where(
                    runs.c.run_id == current["run_id"]
                )
            ).scalar()
            if silent_s is None or silent_s < HEARTBEAT_TIMEOUT_S:
                return None
            training_lock.end_holder(reader, holder)
        return f"the training process stopped answering ({silent_s:.0f} s without a heartbeat)"

    def _end(self, run_id: str, status: str, reason: str | None = None) -> None:
        progress = self.registry.progress(run_id)
        progress["status"] = status
        if reason is not None:
            progress["error"] = reason
        self.registry.finish_run(run_id, progress, only_if_unfinished=True)

    def start(self, config: TrainConfig) -> str:
        """Start a run and return its id.

        Raises
        ------
        TrainingBusy
            When a run is already in progress (for anyone on any replica).
        ValueError
            When ``config`` is out of bounds.
        OSError
            When the run folder cannot be written (read-only or full disk).
        """
        validate_config(config)
        with self._exclusive() as connection:
            running = self.running(connection)
            if running is not None:
                raise TrainingBusy(running)
            run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
            run_dir = self.registry.run_dir(run_id)
            run_dir.mkdir(parents=True)
            progress = {"status": "starting", "config": asdict(config)}
            with _connection(self.registry.engine, connection, write=True) as writer:
                self.registry.create_run(run_id, progress, writer)
            child = self._spawn(config, run_id, run_dir)
            with _connection(self.registry.engine, connection, write=True) as writer:
                _set_current(writer, run_id, child.pid)
            if connection is not None and not training_lock.await_holder(
                connection, lambda: child.poll() is not None
            ):
                # The child died (or hung) before it held the run lock: nothing runs.
                _kill(child.pid)
                progress.update(status="failed", error="the training process did not start")
                failed = runs.update().where(runs.c.run_id == run_id)
                connection.execute(failed.values(progress=json.dumps(progress)))
        return run_id

    def _spawn(self, config: TrainConfig, run_id: str, run_dir: Path) -> subprocess.Popen:
        # The child finds this registry through its environment, never its command line: a
        # database password must not show in the process list.
        env = {
            **os.environ,
            **TRAINING_CHILD_ENV,
            APP_HOME.name: str(self.registry.home),
            DATABASE_URL.name: self.registry.database_url,
        }
        # stdin: the pipe the child watches for this process' death (the write end, never
        # written, is closed by the kernel however we die). Not prctl(PR_SET_PDEATHSIG): it
        # fires when the spawning *thread* ends, and Streamlit runs each rerun in a thread of its
        # own, so every run would be killed as soon as the rerun that pressed Start finished.
        child = subprocess.Popen(
            _command(config, run_id, run_dir, self.data_path),
            stdin=subprocess.PIPE,
            stdout=open(run_dir / "log.txt", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).parent.parent,
            env=env,
        )
        _children[child.pid] = child  # holds child.stdin open until the child has ended
        threading.Thread(target=_reap, args=(child,), daemon=True).start()
        return child

    def cancel(self, run_id: str) -> None:
        """Stop the run and mark it cancelled.

        Here, its process group is killed rather than asked to stop after its batch: at the
        lowest priority on a busy server a batch took seconds to end. A kill loses nothing, as
        a run stores its model only when it completes, in one transaction, and promotes nothing
        by itself. A run on another replica is asked through the database and stops after its
        current batch."""
        self.registry.request_cancel(run_id)
        with self._exclusive() as connection:
            if self.running(connection) != run_id:
                return  # not running: nothing to stop
            current = self.current(connection)
            if current["host"] != socket.gethostname():
                return  # another replica's child: it reads the request within a second
            pid = int(current["pid"])
            if not _kill(pid):
                return
            child = _children.get(pid)
            if child is not None:
                child.wait(timeout=10)
        self._end(run_id, "cancelled")  # unless it had just ended by itself

    def wait(self, run_id: str, timeout_s: float = 600) -> dict:
        """Block until the run ends (for tests and scripts); returns its final progress."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running() != run_id:
                return self.registry.progress(run_id)
            time.sleep(0.2)
        raise TimeoutError(f"run {run_id} still running after {timeout_s} s")


@contextmanager
def _connection(engine: sa.Engine, given: sa.Connection | None, write: bool = False):
    """``given`` (the start lock's transaction), else a connection of our own."""
    if given is not None:
        yield given
    elif write:
        with engine.begin() as own:
            yield own
    else:
        with database.reading(engine) as own:
            yield own


def _set_current(connection: sa.Connection, run_id: str, pid: int) -> None:
    values = {"run_id": run_id, "host": socket.gethostname(), "pid": pid}
    moved = connection.execute(training.update().where(training.c.slot == ONE_ROW).values(values))
    if moved.rowcount == 0:
        connection.execute(training.insert().values(slot=ONE_ROW, **values))


def _command(config: TrainConfig, run_id: str, run_dir: Path, data_path: str | None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "mnist_core",
        "train",
        *command_line(config),
        "--output",
        str(run_dir / "model.keras"),
        "--run",
        run_id,
        "--background",
    ]
    if data_path:
        command += ["--data", str(data_path)]
    return command


def _kill(pid: int) -> bool:
    """Kill the child's process group (its own session: the group is the child's)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _reap(child: subprocess.Popen) -> None:
    child.wait()
    child.stdin.close()
    _children.pop(child.pid, None)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead, not yet reaped by a parent that is not us) still answers kill(0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True
