"""Run a training run, or the app with a visitor's training run, under a memory limit the way a
host enforces one, and say whether it completes.

A host limits memory per container (Streamlit Community Cloud gives a shared link about 1 GB)
through a memory cgroup: the kernel counts every page the group holds and, at the limit, first
takes back pages it can read again (shared libraries' code, files), then kills a process. RSS
counts those re-readable pages as well (TensorFlow's libraries keep ~350 MB of them resident
after its import), so a training run's RSS over-states what it needs: run it under the limit.

    python benchmarks/bench_memory_limit.py                  # `train --quick` under 600 MB
    python benchmarks/bench_memory_limit.py --preset full    # the Full preset under 600 MB
    python benchmarks/bench_memory_limit.py --app [--preset full] --limit-mb 1000
        # the server, a first digit and number, then the app's own Quick (or Full) run (what
        # the retrain page's Start does) while two visitors draw, all in one 1,000 MB group

Prints whether the run completed, the kernel's OOM kills in the group, the group's peak charge
(what the limit is held against), and the peaks of its processes' RSS and anonymous memory
(sampled every 0.25 s). The page cache is emptied first, so the group pays for every library
and file it reads, as on a freshly started host. Needs root and a memory cgroup (v1 or v2);
the app mode needs Chromium. MNIST at $MNIST_DATA or ../shared/data/mnist.npz.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bench_app  # noqa: E402
from bench_app import PeakMemory  # noqa: E402

from browser import streamlit_server  # noqa: E402
from mnist_core.config import TRAIN_PRESETS  # noqa: E402
from mnist_core.config_flags import command_line  # noqa: E402
from mnist_core.jobs import TRAINING_CHILD_ENV, TrainingJobs  # noqa: E402
from mnist_core.registry import ModelRegistry, RegistryConfig  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
SAMPLE_S = 0.25


class MemoryGroup:
    """A memory cgroup of its own with a limit; processes started inside :meth:`joined` are
    in it (a child stays in its parent's group)."""

    def __init__(self, limit_mb: int):
        self.v2 = not Path("/sys/fs/cgroup/memory").is_dir()
        root = Path("/sys/fs/cgroup") if self.v2 else Path("/sys/fs/cgroup/memory")
        self.home = root / self._own_group()
        self.path = root / f"mnist-bench-{os.getpid()}"
        self.path.mkdir()
        limit = str(limit_mb * 1024 * 1024)
        (self.path / ("memory.max" if self.v2 else "memory.limit_in_bytes")).write_text(limit)
        self.limit_mb = limit_mb

    def _own_group(self) -> str:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            memory = controllers == "" if self.v2 else "memory" in controllers.split(",")
            if memory:
                return path.lstrip("/")
        raise RuntimeError("this process is in no memory cgroup")

    @contextlib.contextmanager
    def joined(self):
        (self.path / "cgroup.procs").write_text(str(os.getpid()))
        try:
            yield
        finally:
            self.leave()

    def leave(self) -> None:
        """This process back to the group it came from (its children started meanwhile stay)."""
        (self.home / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]

    def peak_mb(self) -> float:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.path / name).read_text()) / 2**20

    def oom_kills(self) -> int:
        name = "memory.events" if self.v2 else "memory.oom_control"
        for line in (self.path / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.path.rmdir()


class GroupMemory(PeakMemory):
    """Samples the summed RSS and anonymous memory of the group's processes."""

    def __init__(self, group: MemoryGroup):
        super().__init__()
        self.group, self.rss_mb, self.anon_mb = group, 0.0, 0.0

    def _watch(self) -> None:
        while not self._stop.is_set():
            rss = anon = 0
            for pid in self.group.pids():
                with contextlib.suppress(OSError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            rss += int(line.split()[1])
                        elif line.startswith("RssAnon:"):
                            anon += int(line.split()[1])
            self.rss_mb, self.anon_mb = max(self.rss_mb, rss / 1024), max(self.anon_mb, anon / 1024)
            time.sleep(SAMPLE_S)


def drop_page_cache() -> None:
    """Empty the kernel's page cache: a page is charged to the group that first reads it, so
    libraries and files another process read before would otherwise be free for this group,
    as they are not on a host that starts the app afresh."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3")


def report(what: str, completed: bool, seconds: float, group: MemoryGroup, sampled: GroupMemory):
    print(
        f"{what} under {group.limit_mb} MB: {'completed' if completed else 'DID NOT COMPLETE'} "
        f"in {seconds:.0f} s; OOM kills {group.oom_kills()}; the group's peak charge "
        f"{group.peak_mb():.0f} MB; its processes' peak RSS {sampled.rss_mb:.0f} MB, "
        f"anonymous {sampled.anon_mb:.0f} MB",
        flush=True,
    )


def train_alone(group: MemoryGroup, preset: str, data: str, timeout_s: float) -> None:
    """`python -m mnist_core train` as a user runs it, with the app's training child's
    environment (TRAINING_CHILD_ENV)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "mnist_core", "train", "--data", data]
        command += ["--output", str(Path(folder) / "model.keras")]
        command += command_line(TRAIN_PRESETS[preset].config)
        started = time.monotonic()
        with GroupMemory(group) as sampled:
            with group.joined():
                child = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env={**os.environ, **TRAINING_CHILD_ENV},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            try:
                output = child.communicate(timeout=timeout_s)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                # At a limit too close to what it needs, a run does not die: the kernel takes
                # back TensorFlow's code pages as fast as they are read again, and it crawls.
                child.kill()
                output = f"stopped after {timeout_s:.0f} s, not finished"
        print(output.strip().splitlines()[-1] if output.strip() else "(no output)")
        completed = child.returncode == 0 and (Path(folder) / "model.onnx").is_file()
        report(f"train ({preset})", completed, time.monotonic() - started, group, sampled)


def app_with_training(group: MemoryGroup, preset: str, data: str, visitors: int) -> None:
    """The server in the group: its first digit and number, then the app's run of ``preset``
    while ``visitors`` tabs draw until it ends."""

    with tempfile.TemporaryDirectory() as home:
        with group.joined(), streamlit_server(Path(home), {"MNIST_DATA": data}) as url:
            # The server (started above, inside the group) is what the limit holds; this
            # process leaves the group as soon as the server has started.
            group.leave()
            pid = bench_app.server_pid(url)
            first = bench_app.LoadResult()
            asyncio.run(bench_app.first_page(url, pid, time.perf_counter(), first))
            number = asyncio.run(bench_app.read_a_number(url))
            print(f"first number read: {number}; server RSS {bench_app.rss_mb(pid):.0f} MB")
            jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=Path(home))), data)
            started = time.monotonic()
            with GroupMemory(group) as sampled:
                with group.joined():  # the run's process starts in the group, as the server's would
                    run_id = jobs.start(TRAIN_PRESETS[preset].config)
                readings = []
                while jobs.running() == run_id:
                    result = bench_app.run_load(url, visitors, 3)
                    readings += result.latency_s
                    for error in result.errors[:3]:
                        print("   ", error)
                progress = jobs.registry.progress(run_id)
            completed = progress.get("status") == "completed"
            print(
                f"the app's {preset} run: {progress.get('status')} "
                f"({progress.get('error', 'no error')}); {len(readings)} digits read meanwhile; "
                f"server alive: {Path(f'/proc/{pid}').exists()}"
            )
            seconds = time.monotonic() - started
            report(f"server + the app's {preset} run", completed, seconds, group, sampled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-mb", type=int, default=600)
    parser.add_argument("--preset", choices=sorted(TRAIN_PRESETS), default="quick")
    parser.add_argument(
        "--app", action="store_true", help="the server and the app's run of --preset"
    )
    parser.add_argument(
        "--timeout-s", type=float, default=300, help="give up on the run after this long"
    )
    parser.add_argument("--visitors", type=int, default=2, help="tabs drawing during the run")
    arguments = parser.parse_args()
    data = os.environ.get("MNIST_DATA") or str(SHARED_MNIST)
    group = MemoryGroup(arguments.limit_mb)
    drop_page_cache()
    try:
        if arguments.app:
            app_with_training(group, arguments.preset, data, arguments.visitors)
        else:
            train_alone(group, arguments.preset, data, arguments.timeout_s)
    finally:
        group.remove()


if __name__ == "__main__":
    main()
