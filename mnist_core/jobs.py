"""Training runs in their own process, one at a time for the whole server.

The app starts ``python -m mnist_core train`` as a child in a new session: a Streamlit rerun, a
closed tab or a crash of the training cannot touch the app, and the app's death does not kill a
run. The child reports through ``progress.json``; cancelling kills its process group. An
exclusive ``flock`` on ``train.lock`` makes "is one running? if not, start" atomic across
sessions, threads and processes.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from .config import TrainConfig, validate_config
from .config_flags import command_line
from .registry import ModelRegistry, read_json, write_json_atomically

# glibc gives each of TensorFlow's threads its own malloc arena; two arenas keep the freed
# memory of one batch for the next. Measured on the Quick preset: peak RSS 1,289 -> 1,040 MB,
# training itself unchanged (the same code, only the allocator differs).
TRAINING_CHILD_ENV = {"MALLOC_ARENA_MAX": "2"}

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
        self.current_file = registry.home / "current.json"

    @contextmanager
    def _exclusive(self):
        self.registry.home.mkdir(parents=True, exist_ok=True)
        with open(self.registry.home / "train.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def running(self) -> str | None:
        """The id of the run in progress, or None. Marks runs whose process died as failed."""
        current = read_json(self.current_file) if self.current_file.exists() else None
        if not current or "run_id" not in current:
            return None
        run_id = current["run_id"]
        progress = self.registry.progress(run_id)
        if progress.get("status") not in (None, "starting", "running"):
            return None
        if _alive(int(current.get("pid", -1))):
            return run_id
        self._mark_failed(run_id, "the training process stopped unexpectedly")
        return None

    def _mark_failed(self, run_id: str, reason: str) -> None:
        progress = self.registry.progress(run_id)
        progress.update(status="failed", error=reason)
        write_json_atomically(self.registry.run_dir(run_id) / "progress.json", progress)

    def start(self, config: TrainConfig) -> str:
        """Start a run and return its id.

        Raises
        ------
        TrainingBusy
            When a run is already in progress (for anyone on this server).
        ValueError
            When ``config`` is out of bounds.
        OSError
            When the run folder cannot be written (read-only or full disk).
        """
        validate_config(config)
        with self._exclusive():
            running = self.running()
            if running is not None:
                raise TrainingBusy(running)
            run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
            run_dir = self.registry.run_dir(run_id)
            run_dir.mkdir(parents=True)
            write_json_atomically(
                run_dir / "progress.json", {"status": "starting", "config": asdict(config)}
            )
            child = subprocess.Popen(
                _command(config, run_dir, self.data_path),
                stdin=subprocess.DEVNULL,
                stdout=open(run_dir / "log.txt", "wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=Path(__file__).parent.parent,
                env={**os.environ, **TRAINING_CHILD_ENV},
            )
            _children[child.pid] = child
            threading.Thread(target=_reap, args=(child,), daemon=True).start()
            write_json_atomically(self.current_file, {"run_id": run_id, "pid": child.pid})
        return run_id

    def cancel(self, run_id: str) -> None:
        """Stop the run now and mark it cancelled.

        Its process group is killed rather than asked to stop after its batch: at the lowest
        priority on a busy server a batch took seconds to end. A kill loses nothing, as a run
        writes its model only when it completes, atomically, and promotes nothing by itself."""
        with self._exclusive():
            # Also a stop request, for a child this process cannot signal (another user's).
            (self.registry.run_dir(run_id) / "cancel").touch()
            if self.running() != run_id:
                return  # not running: nothing to stop
            pid = int(read_json(self.current_file)["pid"])
            try:
                os.killpg(pid, signal.SIGKILL)  # its own session: the group is the child's
            except (ProcessLookupError, PermissionError):
                return
            child = _children.get(pid)
            if child is not None:
                child.wait(timeout=10)
            progress = self.registry.progress(run_id)
            if progress.get("status") in ("starting", "running"):  # it may have just ended
                progress.update(status="cancelled")
                write_json_atomically(self.registry.run_dir(run_id) / "progress.json", progress)

    def wait(self, run_id: str, timeout_s: float = 600) -> dict:
        """Block until the run ends (for tests and scripts); returns its final progress."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.running() != run_id:
                return self.registry.progress(run_id)
            time.sleep(0.2)
        raise TimeoutError(f"run {run_id} still running after {timeout_s} s")


def _command(config: TrainConfig, run_dir: Path, data_path: str | None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "mnist_core",
        "train",
        *command_line(config),
        "--output",
        str(run_dir / "model.keras"),
        "--progress-file",
        str(run_dir / "progress.json"),
        "--stop-file",
        str(run_dir / "cancel"),
        "--background",
    ]
    if data_path:
        command += ["--data", str(data_path)]
    return command


def _reap(child: subprocess.Popen) -> None:
    child.wait()
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


class ProgressFile:
    """The child's side of the protocol: training progress -> ``progress.json`` (twice a second
    at most, atomically), and the final status with the record's summary."""

    def __init__(self, path: str | os.PathLike, config: TrainConfig):
        self.path, self.config = Path(path), config
        self.last_written = 0.0

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if (
            progress.phase == "training"
            and progress.batch != progress.batches
            and (now - self.last_written < 0.5)
        ):
            return
        self.last_written = now
        write_json_atomically(
            self.path,
            {
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
                "pid": os.getpid(),
            },
        )

    def finish(self, status: str, record: dict | None = None, error: str | None = None) -> None:
        payload = read_json(self.path) or {}
        payload.update(
            status=status,
            config=asdict(self.config),
            fraction=1.0 if status == "completed" else payload.get("fraction", 0.0),
        )
        if record is not None:
            payload["history"] = record.get("history", [])
            payload["test_accuracy"] = record.get("test_accuracy")
        if error is not None:
            payload["error"] = error
        write_json_atomically(self.path, payload)
