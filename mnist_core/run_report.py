"""The training process' side of a run the app started (jobs.py): it holds the fleet's run lock
(PostgreSQL), reports progress and a heartbeat to the database, hears a cancel asked from any
replica, stores the model, its export and its record when the run completes, and ends with the
app process that started it.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from . import database, training_lock
from .config import TrainConfig
from .registry import SERVED, TRAINING_FORMAT, ModelRegistry

HEARTBEAT_S = 5  # a sign of life this often, even while preparing data or evaluating
PROGRESS_EVERY_S = 0.5  # live progress at most this often (a batch takes milliseconds)
VISIBLE_TIMEOUT_S = 120  # how long to wait for the starter to commit the run's row
STARTER_GONE = "the app process that started this run stopped, and the run with it"


class RunReport:
    """Use as a context manager around the run; call it with each progress, then
    :meth:`finish`."""

    def __init__(self, registry: ModelRegistry, run_id: str, config: TrainConfig):
        self.registry, self.run_id, self.config = registry, run_id, config
        self.last_written = 0.0
        self.cancel_asked = False
        self.latest: dict = {"status": "starting", "config": asdict(config)}
        self._lock_connection = None
        self._stopped = threading.Event()
        self._heart = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> RunReport:
        _watch_starter(self._starter_gone)
        engine = self.registry.engine
        if not database.is_sqlite(engine):
            # Held until this process ends: its death frees the lock (the database sees the
            # connection close), which is how every replica learns the run is over.
            self._lock_connection = training_lock.hold_run_lock(engine)
            self._await_row()
        self._heart.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        self._heart.join(timeout=HEARTBEAT_S + 5)
        if self._lock_connection is not None:
            # Closed for real, not returned to the pool, whose reset keeps session locks.
            self._lock_connection.invalidate()
            self._lock_connection.close()

    def _starter_gone(self) -> None:
        """The app that started us died: the run is marked failed and this process ends (its
        process group: the data preparation's workers too), which frees the run lock. Killed,
        not exited: the main thread may be deep in TensorFlow, where no exception reaches."""
        try:
            # A start whose transaction died with its app left no row: nothing to mark.
            if self.registry.progress(self.run_id):
                progress = {**self.latest, "status": "failed", "error": STARTER_GONE}
                self.registry.finish_run(self.run_id, progress, only_if_unfinished=True)
        except database.UNAVAILABLE:
            pass  # whoever looks next finds the process gone and marks the run failed
        finally:
            group = os.getpgrp()
            # Our own session (jobs.py): the group is ours alone. Run otherwise, only ourselves.
            if group == os.getpid():
                os.killpg(group, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)

    def _await_row(self) -> None:
        """The starter commits the run's row once we hold the lock: wait for it, or our first
        reports would update no row."""
        deadline = time.monotonic() + VISIBLE_TIMEOUT_S
        while not self.registry.progress(self.run_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {self.run_id} never appeared in the database")
            time.sleep(0.05)

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                self.cancel_asked = self.registry.heartbeat(self.run_id) or self.cancel_asked
            except database.UNAVAILABLE:
                pass  # the database is back at the next beat; training goes on meanwhile

    def should_stop(self) -> bool:
        return self.cancel_asked

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if (
            progress.phase == "training"
            and progress.batch != progress.batches
            and (now - self.last_written < PROGRESS_EVERY_S)
        ):
            return
        self.last_written = now
        self.latest = {
            "status": "running",
            "phase": progress.phase,
            "config": asdict(self.config),
            "epoch": progress.epoch,
            "epochs": progress.epochs,
            "batch": progress.batch,
            "batches": progress.batches,
            "fraction": progress.fraction,
            "elapsed_s": progress.elapsed_s,
            "remaining_s": progress.remaining_s,
            "history": list(progress.history),
            "points": list(progress.points),
            "pid": os.getpid(),
        }
        try:
            self.cancel_asked = self.registry.report(self.run_id, self.latest) or self.cancel_asked
        except database.UNAVAILABLE:
            pass  # live progress is best effort; the final state is not (finish)

    def finish(
        self,
        status: str,
        record: dict | None = None,
        error: str | None = None,
        model_path: Path | None = None,
    ) -> None:
        """The run's final state; with a completed run's ``model_path`` (its ``.keras``), the
        model, its export and its record, all in one transaction."""
        payload = dict(self.latest)
        payload.update(
            status=status,
            config=asdict(self.config),
            fraction=1.0 if status == "completed" else payload.get("fraction", 0.0),
        )
        if record is not None:
            payload["history"] = record.get("history", [])
            payload["points"] = record.get("points", [])
            payload["test_accuracy"] = record.get("test_accuracy")
        if error is not None:
            payload["error"] = error
        files = None
        if model_path is not None:
            model_path = Path(model_path)
            files = {
                SERVED: model_path.with_suffix(".onnx").read_bytes(),
                TRAINING_FORMAT: model_path.read_bytes(),
            }
        self.registry.finish_run(self.run_id, payload, record, files)


def _watch_starter(on_gone) -> None:
    """Call ``on_gone`` (in a thread) when the app process that started us dies.

    jobs.py makes our stdin a pipe whose write end only the app holds, and never writes to it:
    end-of-file means the app process is gone, however it died (SIGKILL included), at once. A
    stdin that is not a pipe (a run started by hand, from a terminal) has no app to watch."""
    try:
        if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
            return
        descriptor = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # stdin closed or replaced
        return

    def watch() -> None:
        try:
            while os.read(descriptor, 4096):
                pass  # nothing is ever written; read on until end-of-file
        except OSError:
            pass  # the pipe broken is the same news
        on_gone()

    threading.Thread(target=watch, name="starter-watch", daemon=True).start()
