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
from pathlib import Path

import gevent
import numpy as np
import psutil
from locust.env import Environment  # importing Locust makes gevent patch the standard library

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests")]

import capacity_drawings  # noqa: E402
from capacity_user import CanvasUser, Recorder  # noqa: E402
from cpu import CpuUse  # noqa: E402
from streamlit_client import StreamlitSession  # noqa: E402

from browser import streamlit_server  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
KNEE_P95_S = 0.5
SETTLE_S = 5.0  # after the last session connected, before measuring (less for short runs)
SPAWN_PER_S = 20.0


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


def measure(url: str, server: int, sessions: int, seconds: float, training: list[int]) -> dict:
    """Run ``sessions`` users; measure ``seconds`` once all are connected."""
    recorder = CanvasUser.recorder = Recorder()
    idle_mb = rss_mb(server)
    environment = Environment(user_classes=[CanvasUser], host=url)
    runner = environment.create_local_runner()
    runner.start(sessions, spawn_rate=SPAWN_PER_S)
    deadline = time.monotonic() + 120
    while recorder.sessions_started < sessions and time.monotonic() < deadline:
        gevent.sleep(0.2)
    gevent.sleep(min(SETTLE_S, seconds / 10))
    peak = [rss_mb(server)]

    def watch_memory():
        while True:
            peak.append(rss_mb(server))
            gevent.sleep(0.5)

    watcher = gevent.spawn(watch_memory)
    generator_before = generator_cpu_s()
    recorder.measuring = True
    with CpuUse({"server": [server], "training": training}) as cpu:
        gevent.sleep(seconds)
    recorder.measuring = False
    generator = (generator_cpu_s() - generator_before) / cpu.seconds
    loaded_mb = rss_mb(server)
    watcher.kill()
    runner.quit()
    gevent.sleep(3)  # closed sockets: their sessions end
    latencies = [value for found in recorder.latencies.values() for value in found]
    return {
        "sessions": sessions,
        "with_training": bool(training),
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
        "sessions_connected": recorder.sessions_started,
    }


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


def start_training(home: Path, data: str):
    """A Full run of the app's own training job; returns once its epochs are under way."""
    from mnist_core.config import TrainConfig
    from mnist_core.jobs import TrainingJobs
    from mnist_core.registry import ModelRegistry, RegistryConfig

    jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=home)), data)
    run_id = jobs.start(TrainConfig())
    deadline = time.monotonic() + 900
    while jobs.registry.progress(run_id).get("phase") != "training":
        if time.monotonic() > deadline or jobs.running() != run_id:
            raise RuntimeError(f"training run {run_id} did not reach its epochs")
        gevent.sleep(1)
    pid = int(json.loads((home / "current.json").read_text())["pid"])
    return jobs, run_id, pid


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--with-training", action="store_true")
    parser.add_argument("--json", required=True, help="where to write the report")
    arguments = parser.parse_args()
    data = os.environ.get("MNIST_DATA") or str(SHARED_MNIST)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        drawings, blank, dropped = capacity_drawings.load(
            prepare_drawings(home, smoke=arguments.seconds < 30)
        )
        CanvasUser.drawings, CanvasUser.blank = drawings, blank
        started = time.perf_counter()
        runs = []
        with streamlit_server(home, {"MNIST_DATA": data}) as url:
            server = next(
                p.pid
                for p in psutil.Process().children()
                if "streamlit" in p.name() or "streamlit" in " ".join(p.cmdline())
            )
            startup_s = time.perf_counter() - started
            first_reading_s = warm_up(url, drawings)
            for sessions in sorted(arguments.sessions):
                training = None
                if arguments.with_training:
                    training = start_training(home, data)
                run = measure(
                    url, server, sessions, arguments.seconds, [training[2]] if training else []
                )
                if training:
                    jobs, run_id, _ = training
                    run["training_progress"] = jobs.registry.progress(run_id)
                    jobs.cancel(run_id)
                    jobs.wait(run_id, 300)
                runs.append(run)
                print(
                    json.dumps({k: v for k, v in run.items() if k != "error_examples"}), flush=True
                )
    report = {
        "runs": runs,
        "knee_sessions": knee(runs),
        "knee_rule": f"first N whose p95 from send to reading passes {KNEE_P95_S * 1000:.0f} ms",
        "server_start_s": round(startup_s, 1),
        "first_reading_s": round(first_reading_s, 2),
        "drawings": {kind: len(found) for kind, found in drawings.items()},
        "drawings_left_out_as_misread": dropped,
        "cpu_count": os.cpu_count(),
    }
    Path(arguments.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
