"""Where a training run's memory goes: the peak of its anonymous memory in each phase.

    python benchmarks/training_memory_phases.py [--preset full|quick] [--epochs 2] [--warm]

Runs `mnist_core.train.train` in this process, as `python -m mnist_core train` does, with
the app's training child's environment (TRAINING_CHILD_ENV: set it before starting, e.g.
`MALLOC_ARENA_MAX=2 python benchmarks/...`; the script warns otherwise), and samples
/proc/self/status every 0.1 s. Anonymous memory is what a host's memory limit cannot take
back (no swap); the libraries' file pages it can, and RSS counts them too
(benchmarks/bench_memory_limit.py runs a whole run under a limit).

The preset's data and network with fewer epochs (--epochs, default 2) reach the same phases
and the same steady state as the whole run. The preprocessing cache starts empty (a run's
first on a host, the peak) unless --warm, which reuses $MNIST_CACHE.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"


def memory_mb() -> tuple[int, int]:
    """(anonymous, file-backed) resident memory of this process, MB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) // 1024
    return fields["RssAnon"], fields["RssFile"]


class PhasePeaks:
    """The highest anonymous memory seen in each named phase, sampled on a thread."""

    def __init__(self):
        self.phase = "importing TensorFlow and the project"
        self.peaks: dict[str, tuple[int, int]] = {}
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while True:
            anonymous, file_backed = memory_mb()
            if anonymous > self.peaks.get(self.phase, (0, 0))[0]:
                self.peaks[self.phase] = (anonymous, file_backed)
            time.sleep(0.1)

    def enter(self, phase: str) -> None:
        memory_mb()  # the phase before gets its last sample's chance
        time.sleep(0.2)
        self.phase = phase


def wrapped(module, name: str, peaks: PhasePeaks, phase: str, after: str) -> None:
    """``module.name`` replaced by a call that marks ``phase`` while it runs, ``after`` once
    it returns."""
    function = getattr(module, name)

    def marking(*args, **kwargs):
        peaks.enter(phase)
        result = function(*args, **kwargs)
        peaks.enter(after)
        return result

    setattr(module, name, marking)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=("full", "quick"), default="full")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--warm", action="store_true", help="reuse $MNIST_CACHE")
    parser.add_argument("--data", default=os.environ.get("MNIST_DATA") or str(SHARED_MNIST))
    arguments = parser.parse_args()

    peaks = PhasePeaks()
    from mnist_core import train as training
    from mnist_core.config import TRAIN_PRESETS
    from mnist_core.jobs import TRAINING_CHILD_ENV

    for key, value in TRAINING_CHILD_ENV.items():
        if os.environ.get(key) != value:
            print(f"warning: {key} is not {value} as in the app's training child")
    config = replace(TRAIN_PRESETS[arguments.preset].config, epochs=arguments.epochs)
    wrapped(training, "load_mnist", peaks, "loading MNIST", "loaded")
    wrapped(training, "build_training_set", peaks, "building the digits", "built")
    wrapped(training, "export_onnx", peaks, "exporting to ONNX", "exported")
    wrapped(training, "_export_metrics", peaks, "measuring the export", "saving")

    def progress(report):
        if report.phase == "training":
            peaks.phase = f"epoch {report.epoch}"

    with tempfile.TemporaryDirectory() as folder:
        if not arguments.warm:
            os.environ["MNIST_CACHE"] = str(Path(folder) / "cache")
        started = time.monotonic()
        result = training.train(
            config, Path(folder) / "model.keras", arguments.data, on_progress=progress
        )
        peaks.enter("done")
    cache = "reused" if arguments.warm else "empty at the start"
    print(
        f"{arguments.preset} preset, {arguments.epochs} epochs, preprocessing cache {cache}: "
        f"{result.status}, {time.monotonic() - started:.0f} s, "
        f"MNIST test {result.record.get('test_accuracy', 0):.2%}"
    )
    print(f"{'phase':40s} {'anonymous':>10s} {'file-backed':>12s}  (MB, at the phase's peak)")
    for phase, (anonymous, file_backed) in peaks.peaks.items():
        print(f"{phase:40s} {anonymous:10d} {file_backed:12d}")
    top = max(peaks.peaks.items(), key=lambda item: item[1][0])
    print(f"peak: {top[1][0]} MB anonymous, {top[0]}")


if __name__ == "__main__":  # data building spawns workers, which import this module
    main()
