"""The training commands' own process: its CPU priority below the app's, so a retrain never
slows the readings, and a one-line progress bar on stderr."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def lower_priority(nice: int) -> None:
    """Lower this process' CPU priority to ``nice`` (never raise it), and its autogroup's when
    it leads its own session, as the app's training child does."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    # Linux sets a nice per thread: numpy's and OpenCV's pools already run (imported with the
    # package); threads started later inherit it from the thread that starts them.
    tasks = Path("/proc/self/task")
    for thread in [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [0]:
        try:
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, max(nice, current))
        except ProcessLookupError:
            pass  # the thread ended since it was listed: nothing left to lower
    if os.getsid(0) != os.getpid():
        return  # a terminal's session: its shell and editor must keep their priority
    try:
        # Linux schedules autogroups (one per session) against each other first, then the
        # processes inside; without this the child's group weighs as much as the server's.
        Path("/proc/self/autogroup").write_text(str(nice))
    except OSError:
        pass  # not Linux, or no autogroup support: the process' nice is all there is


class ProgressBar:
    """A one-line text progress bar on stderr (training's on_progress callback)."""

    def __init__(self):
        self.last_drawn = 0.0

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if (
            progress.phase == "training"
            and progress.batch not in (1, progress.batches)
            and (now - self.last_drawn < 0.5)
        ):
            return  # redraw twice a second, not 470 times an epoch
        self.last_drawn = now
        if progress.phase != "training":
            print(f"\r{progress.phase}...".ljust(100), end="", file=sys.stderr, flush=True)
            return
        filled = int(progress.fraction * 30)
        remaining = progress.remaining_s
        eta = f" ~{remaining:.0f}s left" if remaining is not None else ""
        last = progress.history[-1] if progress.history else {}
        val = f" val_acc {last['val_accuracy']:.4f}" if "val_accuracy" in last else ""
        print(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] epoch {progress.epoch}/{progress.epochs}"
            f" batch {progress.batch}/{progress.batches} {progress.elapsed_s:.0f}s{eta}{val}  ",
            end="",
            file=sys.stderr,
            flush=True,
        )
