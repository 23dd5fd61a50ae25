"""How many visitors one server carries, measured as the server sees them: N simulated
sessions speak Streamlit's own WebSocket protocol, no browser, and draw on the draw page.

    python benchmarks/bench_capacity.py --sessions 10 50 [--seconds 60] [--with-training]
        --json report.json

Starts ``streamlit run app.py`` on a free localhost port (a fresh MNIST_APP_HOME), prepares
drawings the bundled model reads right (capacity_drawings), then for each N runs N Locust
users (capacity_user: think 1-3 s, draw a digit, sometimes a number, Clear, now and then a
photo upload) for ``--seconds`` after they are all connected, and writes one JSON entry per
N: readings served, errors (a drawing with no reading, a wrong reading, a closed socket),
p50/p95/p99 from sending the drawing to the delta holding its reading, the server's CPU and
peak RSS, its RSS per extra session, the generator's own CPU, and the knee (the first N whose
p95 passes 500 ms). With ``--with-training`` a Full training run of the app's own job
(mnist_core.jobs, MNIST from $MNIST_DATA or ../shared/data/mnist.npz) is under way through
each N's measurement, and cancelled after it. Exits 0 whatever the figures.

The bytes are the browser's. They were read off a real Chromium session (Playwright with
Chromium headless, the app served by tests/browser.py's streamlit_server): the handshake
through CDP (``Network.webSocketWillSendHandshakeRequest``: cookie, Origin, subprotocols
``streamlit, <xsrf token>``, no compression offered by the server), every frame through
Playwright's ``websocket.on("framesent"/"framereceived")``, each parsed with
``streamlit.proto.BackMsg_pb2``/``ForwardMsg_pb2``, while tests/browser.py's ``stroke``
drew a crossed 7 and a 1, pressed Clear, chose "A number" and "A photo" and uploaded a PNG.
streamlit_client and capacity_drawings reproduce what those frames hold.

The generator runs in this one process (gevent: one core at most), unpinned: on two cores,
pinning the server to one would halve what it may use. Its CPU is reported beside the
server's so what it takes from the server is in view.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import gevent
import numpy as np
import psutil
from locust.env import Environment  # importing Locust makes gevent patch the standard library

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import capacity_drawings  # noqa: E402
from capacity_bad_traffic import BadRecorder, BadUser, probe  # noqa: E402
from capacity_user import CanvasUser, Recorder  # noqa: E402
from cpu import CpuUse  # noqa: E402
from streamlit_client import StreamlitSession  # noqa: E402

from browser import streamlit_server  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
KNEE_P95_S = 0.5
SETTLE_S = 5.0  # after the last session connected, before measuring (less for short runs)
SPAWN_PER_S = 20.0
BAD_SHARE = 0.1  # bad clients added beside N well-behaved sessions: N / 10, at least 1
RSS_EVERY_S = 5.0
# Streamlit keeps a disconnected session this long for its tab to come back
# (server.disconnectedSessionTTL): only after it may a closed session's memory be freed.
DISCONNECTED_SESSION_TTL_S = 120.0


def rss_mb(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def generator_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_s": None, "p95_s": None, "p99_s": None}
    values = np.asarray(latencies)
    return {f"p{q}_s": round(float(np.percentile(values, q)), 4) for q in (50, 95, 99)}


def measure(
    url: str, server: int, sessions: int, seconds: float, training, bad_users: int = 0
) -> dict:
    """Run ``sessions`` users (and ``bad_users`` bad clients); measure ``seconds`` once all
    are connected. ``training``: a Trainer keeping a run under way, or None."""
    recorder = CanvasUser.recorder = Recorder()
    bad = BadUser.recorder = BadRecorder()
    BadUser.fixed_count = bad_users
    idle_mb = rss_mb(server)
    environment = Environment(
        user_classes=[CanvasUser, BadUser] if bad_users else [CanvasUser], host=url
    )
    runner = environment.create_local_runner()
    runner.start(sessions + bad_users, spawn_rate=SPAWN_PER_S)
    deadline = time.monotonic() + 120
    while recorder.sessions_started < sessions and time.monotonic() < deadline:
        gevent.sleep(0.2)
    gevent.sleep(min(SETTLE_S, seconds / 10))
    peak = [rss_mb(server)]
    series = []  # (seconds into the window, RSS MB)

    def watch_memory():
        started = time.monotonic()
        while True:
            peak.append(rss_mb(server))
            if time.monotonic() - started >= RSS_EVERY_S * len(series):
                series.append((round(time.monotonic() - started, 1), round(peak[-1], 1)))
            gevent.sleep(0.5)

    watcher = gevent.spawn(watch_memory)
    generator_before = generator_cpu_s()
    recorder.measuring = bad.measuring = True
    groups = {"server": [server], "training": training.pids if training else []}
    with CpuUse(groups) as cpu:
        if training:
            training.keep_going_for(seconds)
        else:
            gevent.sleep(seconds)
    recorder.measuring = bad.measuring = False
    generator = (generator_cpu_s() - generator_before) / cpu.seconds
    loaded_mb = rss_mb(server)
    watcher.kill()
    runner.quit()
    gevent.sleep(3)  # closed sockets: their sessions end
    latencies = [value for found in recorder.latencies.values() for value in found]
    run = {
        "sessions": sessions,
        "with_training": bool(training),
        "bad_users": bad_users,
        "seconds": round(cpu.seconds, 1),
        "readings": len(latencies),
        "readings_per_s": round(len(latencies) / cpu.seconds, 2),
        "errors": sum(recorder.errors.values()),
        "errors_by_kind": recorder.errors,
        "error_examples": recorder.error_examples,
        "errors_outside_window": recorder.errors_outside,
        **percentiles(latencies),
        "by_kind": {
            kind: {"readings": len(found), **percentiles(found)}
            for kind, found in sorted(recorder.latencies.items())
        },
        "server_cpu_cores": round(cpu.used["server"], 3),
        "training_cpu_cores": round(cpu.used["training"], 3),
        "generator_cpu_cores": round(generator, 3),
        "other_cpu_cores": round(cpu.used["other"], 3),
        "server_rss_mb": round(max(peak), 1),
        "server_rss_before_mb": round(idle_mb, 1),
        "server_rss_after_disconnect_mb": round(rss_mb(server), 1),
        "rss_per_extra_session_mb": round((loaded_mb - idle_mb) / sessions, 3),
        "server_rss_series": series,
        "sessions_connected": recorder.sessions_started,
    }
    if bad_users:
        run["bad_traffic_outcomes"] = bad.outcomes
        run["bad_traffic_examples"] = bad.examples
    return run


def with_and_without_bad_traffic(url: str, server: int, sessions: int, seconds: float, training):
    """The N sessions alone, then the same N with N * BAD_SHARE bad clients beside them: one
    entry (the first), the second's figures under ``bad_traffic``."""
    clean = measure(url, server, sessions, seconds, training)
    bad_users = max(1, round(sessions * BAD_SHARE))
    mixed = measure(url, server, sessions, seconds, training, bad_users)
    added = None
    if clean["p95_s"] and mixed["p95_s"]:
        added = round(100 * (mixed["p95_s"] / clean["p95_s"] - 1), 1)
    clean["bad_traffic"] = {**mixed, "p95_added_pct": added}
    return clean


def prepare_drawings(folder: Path, smoke: bool) -> Path:
    """Drawings the bundled model reads right, made in a child process (no model here)."""
    path = folder / "drawings.pkl"
    counts = ["--digits", "24", "--numbers", "6", "--photos", "4"] if smoke else []
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "capacity_drawings.py"), "--out", str(path)]
        + counts,
        check=True,
    )
    return path


class Trainer:
    """Keeps a Quick run of the app's own training job (mnist_core.jobs, TRAIN_PRESETS["quick"])
    under way through each measurement, never cancelling one: a run that ends is timed and
    the next starts at once. ``pids`` holds the run's process (the CPU group "training")."""

    def __init__(self, home: Path, data: str):
        from mnist_core.config import TRAIN_PRESETS
        from mnist_core.jobs import TrainingJobs
        from mnist_core.registry import ModelRegistry, RegistryConfig

        self.config = TRAIN_PRESETS["quick"].config
        self.jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=home)), data)
        self.pids: list[int] = []
        self.run_id = ""
        self.started = 0.0
        self.finished: list[dict] = []  # every run that ended: id, status, seconds

    def start(self) -> None:
        """Start a run unless one is under way; return once its epochs are under way."""
        if self.run_id and self.jobs.running() == self.run_id:
            return
        known = {child.pid for child in psutil.Process().children()}
        self.run_id, self.started = self.jobs.start(self.config), time.monotonic()
        child = next(c.pid for c in psutil.Process().children() if c.pid not in known)
        self.pids[:] = [child]
        deadline = time.monotonic() + 900
        while self.jobs.registry.progress(self.run_id).get("phase") != "training":
            if time.monotonic() > deadline or self.jobs.running() != self.run_id:
                raise RuntimeError(f"training run {self.run_id} did not reach its epochs")
            gevent.sleep(1)

    def check(self) -> dict | None:
        """The run's record if it has just ended (a new one is then started), else None."""
        if self.jobs.running() == self.run_id:
            return None
        progress = self.jobs.registry.progress(self.run_id)
        ended = {
            "run_id": self.run_id,
            "status": progress.get("status"),
            "seconds": round(time.monotonic() - self.started, 1),
        }
        self.finished.append(ended)
        self.start()
        return ended

    def keep_going_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            gevent.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            self.check()

    def progress(self) -> dict:
        return self.jobs.registry.progress(self.run_id)

    def finish(self, timeout_s: float) -> dict:
        """Wait for the run under way to end by itself (no load meanwhile); its record."""
        deadline = time.monotonic() + timeout_s
        while self.jobs.running() == self.run_id and time.monotonic() < deadline:
            gevent.sleep(1)
        if self.jobs.running() == self.run_id:
            self.jobs.cancel(self.run_id)
            ended = {"run_id": self.run_id, "status": "cancelled after waiting", "seconds": None}
        else:
            ended = {
                "run_id": self.run_id,
                "status": self.progress().get("status"),
                "seconds": round(time.monotonic() - self.started, 1),
            }
        self.finished.append(ended)
        return ended


def warm_up(url: str, drawings: dict) -> float:
    """One session loads the page and reads one digit (the model loads on first use), so
    each N starts from a warm server; returns that first reading's seconds."""
    session = StreamlitSession(url, timeout_s=120)
    session.connect()
    canvas = session.widget_id("draw_canvas_280")
    drawing = drawings["digit"][0]
    session.set_state(canvas, json_value=drawing.values[-1])
    run = session.rerun(canvas)
    session.close()
    shown = run.metrics.get("Prediction")
    if shown is None or shown[0] != drawing.expected:
        raise RuntimeError(f"the warm-up drawing of {drawing.expected} was read as {shown}")
    return shown[1] - run.started


def knee(runs: list[dict]) -> int | None:
    """The first N (in the order run) whose p95 passed KNEE_P95_S, or had no readings."""
    for run in runs:
        if run["p95_s"] is None or run["p95_s"] > KNEE_P95_S:
            return run["sessions"]
    return None


def idle_session_rss_mb(url: str, server: int, sessions: int) -> dict:
    """RSS per session of ``sessions`` tabs that load the page and do nothing more."""
    before = rss_mb(server)
    opened = [StreamlitSession(url, timeout_s=120) for _ in range(sessions)]
    gevent.joinall([gevent.spawn(session.connect) for session in opened], raise_error=True)
    gevent.sleep(5)
    loaded = rss_mb(server)
    for session in opened:
        session.close()
    return {
        "sessions": sessions,
        "rss_before_mb": round(before, 1),
        "rss_connected_mb": round(loaded, 1),
        "rss_per_idle_session_mb": round((loaded - before) / sessions, 3),
    }


def soak(url: str, server: int, sessions: int, minutes: float) -> dict:
    """``sessions`` drawing for ``minutes``: RSS after the first minute and at the end; then
    RSS once every session has left and Streamlit's wait for their return has passed; then
    RSS per idle session."""
    run = measure(url, server, sessions, minutes * 60, None)
    series = run["server_rss_series"]
    first_minute = next((mb for at, mb in series if at >= 60), series[-1][1])
    end = series[-1][1]
    gevent.sleep(DISCONNECTED_SESSION_TTL_S + 10)
    run["soak"] = {
        "minutes": minutes,
        "rss_after_first_minute_mb": first_minute,
        "rss_at_end_mb": end,
        "growth_pct": round(100 * (end / first_minute - 1), 1),
        "rss_right_after_disconnect_mb": run["server_rss_after_disconnect_mb"],
        "rss_after_sessions_expired_mb": round(rss_mb(server), 1),
        "waited_after_disconnect_s": DISCONNECTED_SESSION_TTL_S + 13,
        "idle": idle_session_rss_mb(url, server, sessions),
    }
    return run


def run_steps(url: str, server: int, arguments, trainer: Trainer | None) -> list[dict]:
    """One measurement per N of ``--sessions`` (with and without the bad traffic if asked)."""
    runs = []
    for sessions in sorted(arguments.sessions):
        if trainer:
            trainer.start()
            ended_before = len(trainer.finished)
        if arguments.bad_traffic:
            run = with_and_without_bad_traffic(url, server, sessions, arguments.seconds, trainer)
        else:
            run = measure(url, server, sessions, arguments.seconds, trainer)
        if trainer:
            trainer.check()
            run["training_progress"] = trainer.progress()
            run["training_runs_ended"] = trainer.finished[ended_before:]
        runs.append(run)
        shown = {k: v for k, v in run.items() if "examples" not in k and k != "bad_traffic"}
        print(json.dumps(shown), flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--with-training", action="store_true")
    parser.add_argument(
        "--bad-traffic",
        action="store_true",
        help="measure each N twice: alone, then beside N/10 bad clients (off by default)",
    )
    parser.add_argument(
        "--soak-minutes", type=float, default=0.0, help="after the steps, a soak this long"
    )
    parser.add_argument("--soak-sessions", type=int, default=50)
    parser.add_argument(
        "--probe-bad-traffic",
        action="store_true",
        help="before the steps, each bad behaviour once and what it brought back",
    )
    parser.add_argument("--json", required=True, help="where to write the report")
    arguments = parser.parse_args()
    data = os.environ.get("MNIST_DATA") or str(SHARED_MNIST)
    report = {}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        drawings, blank, dropped = capacity_drawings.load(
            prepare_drawings(home, smoke=arguments.seconds < 30)
        )
        CanvasUser.drawings, CanvasUser.blank = drawings, blank
        BadUser.drawings = drawings
        started = time.perf_counter()
        with streamlit_server(home, {"MNIST_DATA": data}) as url:
            server = next(
                p.pid
                for p in psutil.Process().children()
                if "streamlit" in p.name() or "streamlit" in " ".join(p.cmdline())
            )
            startup_s = time.perf_counter() - started
            first_reading_s = warm_up(url, drawings)
            if arguments.probe_bad_traffic:
                before = rss_mb(server)
                report["bad_traffic_probe"] = probe(url, drawings["digit"][0])
                report["bad_traffic_probe"]["server_rss_mb"] = [round(before, 1), rss_mb(server)]
            trainer = Trainer(home, data) if arguments.with_training else None
            runs = run_steps(url, server, arguments, trainer)
            if trainer:
                report["training"] = {
                    "preset": "quick",
                    "config": asdict(trainer.config),
                    "last_run": trainer.finish(timeout_s=900),
                    "runs_ended": trainer.finished,
                }
            if arguments.soak_minutes:
                report["soak"] = soak(url, server, arguments.soak_sessions, arguments.soak_minutes)
    report = {
        "runs": runs,
        "knee_sessions": knee(runs),
        "knee_rule": f"first N whose p95 from send to reading passes {KNEE_P95_S * 1000:.0f} ms",
        "server_start_s": round(startup_s, 1),
        "first_reading_s": round(first_reading_s, 2),
        "drawings": {kind: len(found) for kind, found in drawings.items()},
        "drawings_left_out_as_misread": dropped,
        "cpu_count": os.cpu_count(),
        **report,
    }
    Path(arguments.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
