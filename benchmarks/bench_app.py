"""Measure the app as users meet it: `streamlit run` to a usable canvas, stroke end to the
prediction on screen, and the server's memory, with N concurrent browser sessions drawing
while (optionally) a training run goes on.

    python benchmarks/bench_app.py [--sessions 1 4 8] [--strokes 12] [--with-training]

Needs Chromium (apt-get install chromium) and, for --with-training, MNIST at $MNIST_DATA or
../shared/data/mnist.npz.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.sync_api import sync_playwright  # noqa: E402

from browser import DIGIT_STROKES, launch_browser, settle, streamlit_server, stroke  # noqa: E402
from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.jobs import TrainingJobs  # noqa: E402
from mnist_core.registry import ModelRegistry, RegistryConfig  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
METRIC_JS = """() => { const v = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .filter(e => e.offsetParent !== null); return v.length ? v[0].innerText.trim() : null; }"""


def rss_mb(*pids: int) -> float:
    """Resident memory of processes and their children."""
    total = 0
    pids = [p for pid in pids for p in [pid, *map(int, os.popen(f"pgrep -P {pid}").read().split())]]
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def server_pid(port_url: str) -> int:
    port = port_url.rsplit(":", 1)[1]
    for line in os.popen(f"pgrep -f 'streamlit run app.py --server.port {port}'").read().split():
        return int(line)
    raise RuntimeError("server process not found")


class PeakMemory:
    """Samples rss_mb(pid) twice a second while the `with` block runs."""

    def __init__(self, *pids: int):
        self.pids, self.peak_mb = pids, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(*self.pids))
            time.sleep(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()


def session(url: str, strokes: int, results: dict, errors: list, index: int) -> None:
    """One user: open the app, draw `strokes` digits, time stroke end -> prediction shown."""
    latencies, served = [], 0
    try:
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            opened = time.perf_counter()
            page.goto(url)
            page.locator("canvas.upper-canvas").first.wait_for(timeout=120_000)
            results.setdefault("ready_s", []).append(time.perf_counter() - opened)
            digits = [1, 7, 0]
            for number in range(strokes):
                digit = digits[(number + index) % 3]
                if number:
                    settle(page, 300)  # a click during a rerun is lost
                    page.get_by_role("button", name="Clear the canvas").click()
                    page.wait_for_function(f"({METRIC_JS})() === null", timeout=60_000)
                    page.locator("canvas.upper-canvas").first.wait_for()
                canvas = page.locator("canvas.upper-canvas").first
                for points in DIGIT_STROKES[digit][:-1]:
                    stroke(page, canvas, points)
                started = time.perf_counter()
                stroke(page, canvas, DIGIT_STROKES[digit][-1])
                page.wait_for_function(f"({METRIC_JS})() !== null", timeout=60_000)
                latencies.append(time.perf_counter() - started)
                served += 1
                if page.evaluate(METRIC_JS) != str(digit):
                    errors.append(f"session {index}: drew {digit}, read {page.evaluate(METRIC_JS)}")
            browser.close()
    except Exception as error:  # counted, reported: the load test must see every failure
        errors.append(f"session {index}: {type(error).__name__}: {error}")
    results.setdefault("latency_s", []).extend(latencies)
    results["served"] = results.get("served", 0) + served


def run_load(url: str, sessions: int, strokes: int) -> dict:
    results, errors = {}, []
    threads = [
        threading.Thread(target=session, args=(url, strokes, results, errors, index))
        for index in range(sessions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results["errors"] = errors
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1])
    parser.add_argument("--strokes", type=int, default=12, help="digits drawn per session")
    parser.add_argument("--with-training", action="store_true")
    arguments = parser.parse_args()
    data = os.environ.get("MNIST_DATA") or str(SHARED_MNIST)
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        with streamlit_server(Path(home), {"MNIST_DATA": data}) as url:
            pid = server_pid(url)
            first = run_load(url, 1, 1)
            print(
                f"streamlit run -> usable canvas: {time.perf_counter() - started:.1f} s "
                f"(page load {first['ready_s'][0]:.1f} s of it)"
            )
            print(f"server memory after the first prediction: {rss_mb(pid):.0f} MB")
            jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=Path(home))), data)
            for count in arguments.sessions:
                run_id = None
                if arguments.with_training:
                    run_id = jobs.start(TrainConfig(epochs=50))  # long enough to outlast the load
                    time.sleep(20)  # past data preparation, into the epochs
                training_pid = []
                if run_id:
                    current = json.loads((Path(home) / "current.json").read_text())
                    training_pid = [int(current["pid"])]
                with PeakMemory(pid, *training_pid) as memory:
                    result = run_load(url, count, arguments.strokes)
                latency = np.array(result.get("latency_s", [0.0])) * 1000
                training = " while training" if run_id else ""
                print(
                    f"N={count}{training}: {result.get('served', 0)} predictions shown, "
                    f"{len(result['errors'])} errors, stroke end -> prediction shown p50 "
                    f"{np.median(latency):.0f} ms, p95 {np.percentile(latency, 95):.0f} ms; "
                    f"peak memory (server + training) {memory.peak_mb:.0f} MB"
                )
                for error in result["errors"][:5]:
                    print("   ", error)
                if run_id:
                    jobs.cancel(run_id)
                    jobs.wait(run_id, 60)
            print(f"server alive at the end: {Path(f'/proc/{pid}').exists()}")


if __name__ == "__main__":
    main()
