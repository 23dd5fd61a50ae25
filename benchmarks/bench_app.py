"""Measure the app as users meet it: `streamlit run` to a usable canvas, stroke end to the
prediction on screen, and the server's memory, with N concurrent browser sessions drawing
while (optionally) a training run goes on.

    python benchmarks/bench_app.py [--sessions 1 4 8] [--strokes 12] [--with-training] [--floor]
    python benchmarks/bench_app.py --startup-only [--repeat 5]

The start-up gives two figures. "usable canvas" is the one measured since issue 13: from
`streamlit run` through the server's start, Playwright's and Chromium's (begun once the server
answers), the page, and two quiet spells of QUIET_MS after the script is done. "a visitor's"
leaves out what is the bench's own: starting the browser (a visitor's is open already, and the
server has nothing to do meanwhile, so it is taken off exactly) and the quiet spells (the
canvas asks for no second run); it ends when the canvas is drawn and the script is done.
--startup-only stops after the first digit's and number's memory; --repeat starts the
server afresh (a new app home) that many times.

--floor runs the same load on benchmarks/floor_app.py, the app's canvas and one metric with its
reading alone: the share of the figures that is the browser's and Streamlit's, whatever the app
shows.

Needs Chromium (apt-get install chromium) and, for --with-training, MNIST at $MNIST_DATA or
../shared/data/mnist.npz. The N sessions are N tabs (contexts) of one headless Chromium,
driven by Playwright's async API: N renderer processes, not N whole browsers, share the CPU
with the server, as N visitors' own machines would not; the numbers are a pessimistic bound.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cpu import CpuUse  # noqa: E402
from playwright.async_api import Error as PlaywrightError  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from browser import (  # noqa: E402
    ARTIFACTS,
    DIGIT_STROKES,
    IDLE_JS,
    launch_options,
    pen_path,
    streamlit_server,
)
from mnist_core.config import TrainConfig  # noqa: E402
from mnist_core.jobs import TrainingJobs  # noqa: E402
from mnist_core.registry import ModelRegistry, RegistryConfig  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
METRIC_JS = """() => { const v = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .filter(e => e.offsetParent !== null); return v.length ? v[0].innerText.trim() : null; }"""
DIGITS = (1, 7, 0)  # one stroke each: the last stroke's end is the moment a user waits from
# A hand draws ~800 px/s and a mouse reports at 60 Hz: an event every ~15 px (the tests'
# fixed 4 steps a segment give the 36-segment 0 four times as many, at 8 ms of repaint each).
PX_PER_MOUSE_EVENT = 15
POLL_MS = 20  # a timer, not requestAnimationFrame: polling must not make idle tabs repaint
TIMEOUT_MS = 60_000  # a prediction or a cleared canvas later than this is an error
QUIET_MS = 300  # after the script is idle, a component may still ask for one more run
# The canvas' drawing layer (Playwright's CSS engine pierces the component's shadow DOM).
CANVAS = "canvas.upper-canvas"


@dataclass
class LoadResult:
    latency_s: list[float] = field(default_factory=list)
    ready_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: str = ""  # cores busy per group of processes while the sessions drew
    drawing_s: float = 0.0  # how long the sessions drew: the load they offered is served/this


@dataclass
class StartUp:
    """Seconds from `streamlit run` to each step of the first page, in one browser tab."""

    healthy_s: float = 0.0  # the server answers /_stcore/health
    launch_s: float = 0.0  # Playwright and Chromium started (once the server answers)
    opened_s: float = 0.0  # the page is asked for
    canvas_s: float = 0.0  # the canvas is drawn
    done_s: float = 0.0  # ... and the script run that drew it is done
    settled_s: float = 0.0  # ... and two quiet spells later (the figure since issue 13)
    # CPU seconds, which hold when other work shares the cores: the server's from its start to
    # the script done, the browser's from asking for the page to the same moment.
    server_cpu_s: float = 0.0
    browser_cpu_s: float = 0.0

    @property
    def visitor_canvas_s(self) -> float:
        """The canvas drawn, had the page been asked for the moment the server answered."""
        return self.healthy_s + self.canvas_s - self.opened_s

    @property
    def visitor_s(self) -> float:
        return self.healthy_s + self.done_s - self.opened_s


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
    for line in os.popen(f"pgrep -f 'streamlit run .* --server.port {port}'").read().split():
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


async def idle(page) -> None:
    """Wait until Streamlit has finished running the script, twice around a quiet spell (the
    async twin of tests/browser.py's settle): a click during a run can be lost."""
    for _ in range(2):
        await page.wait_for_function(IDLE_JS, polling=POLL_MS, timeout=TIMEOUT_MS)
        await page.wait_for_timeout(QUIET_MS)


async def metric(page, shown: bool) -> str | None:
    """Wait until a prediction is shown (or, ``shown=False``, gone); return its text."""
    test = "!==" if shown else "==="
    await page.wait_for_function(
        f"({METRIC_JS})() {test} null", polling=POLL_MS, timeout=TIMEOUT_MS
    )
    return await page.evaluate(METRIC_JS)


async def draw(page, digit: int) -> tuple[float, str | None]:
    """Draw ``digit`` with the mouse: (seconds from the pen lifting to a prediction shown, the
    digit shown)."""
    await draw_strokes(page, digit)
    lifted = time.perf_counter()
    read = await metric(page, shown=True)
    return time.perf_counter() - lifted, read


async def draw_strokes(page, digit: int) -> None:
    canvas = page.locator(CANVAS).first
    for points in DIGIT_STROKES[digit]:
        previous, *rest = pen_path(await canvas.bounding_box(), points)
        await page.mouse.move(*previous)
        await page.mouse.down()
        for point in rest:
            # As many events as a hand's mouse gives; each one repaints the canvas, on the
            # server's cores here, where a real visitor's own machine would pay for it.
            steps = max(1, round(math.dist(previous, point) / PX_PER_MOUSE_EVENT))
            await page.mouse.move(*point, steps=steps)
            previous = point
        await page.mouse.up()


async def clear(page) -> None:
    await idle(page)
    await page.get_by_role("button", name="Clear the canvas").click()
    # The canvas empties in place and keeps listening: the next stroke may follow at once.
    await metric(page, shown=False)


async def evidence(page, name: str) -> None:
    """What the page showed when a step failed: test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    except PlaywrightError:
        pass  # a crashed tab has nothing to show


async def open_app(context, url: str, result: LoadResult):
    """A new tab with the app ready to draw on, or None (an error counted)."""
    page = await context.new_page()
    opened = time.perf_counter()
    try:
        await page.goto(url)
        await page.locator("canvas.upper-canvas").first.wait_for(timeout=120_000)
        await idle(page)
    except PlaywrightError as error:
        result.errors.append(f"page load: {str(error).splitlines()[0]}")
        return None
    result.ready_s.append(time.perf_counter() - opened)
    return page


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def first_page(url: str, pid: int, started: float, result: LoadResult) -> StartUp:
    """Chromium launched, the app opened and one digit drawn and read, as the first visitor
    of server ``pid`` started at ``started`` (perf_counter); the digit's reading goes to
    ``result``."""
    times = StartUp(healthy_s=time.perf_counter() - started)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        times.opened_s = time.perf_counter() - started
        times.launch_s = times.opened_s - times.healthy_s
        with CpuUse({"server": [pid]}) as cpu:
            await page.goto(url)
            await page.locator(CANVAS).first.wait_for(timeout=120_000)
            times.canvas_s = time.perf_counter() - started
            await page.wait_for_function(IDLE_JS, polling=POLL_MS, timeout=TIMEOUT_MS)
            times.done_s = time.perf_counter() - started
            times.server_cpu_s = cpu_s(pid)
        times.browser_cpu_s = cpu.used["browser"] * cpu.seconds
        await idle(page)
        times.settled_s = time.perf_counter() - started
        await session(page, 1, 0, result)
        await browser.close()
    return times


def report_startup(times: StartUp) -> None:
    print(
        f"streamlit run -> usable canvas: {times.settled_s:.1f} s (server answering "
        f"{times.healthy_s:.1f} s, Playwright and Chromium started {times.launch_s:.1f} s, page "
        f"load {times.settled_s - times.opened_s:.1f} s)"
    )
    print(
        "    a visitor's (browser open, page asked for when the server answers, no quiet spells):"
        " canvas drawn "
        f"{times.visitor_canvas_s:.2f} s, and the script done {times.visitor_s:.2f} s; CPU to "
        f"then: server {times.server_cpu_s:.2f} s, browser {times.browser_cpu_s:.2f} s"
    )


async def read_a_number(url: str) -> str | None:
    """One tab picks "A number" and writes 17 on the wide canvas; returns what it read."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        page = await (await browser.new_context(viewport={"width": 1100, "height": 900})).new_page()
        await page.goto(url)
        await page.locator(CANVAS).first.wait_for(timeout=120_000)
        await idle(page)
        await page.get_by_text("A number", exact=True).first.click()
        for _ in range(120):  # the wide canvas for numbers replaces the square one
            box = await page.locator(CANVAS).first.bounding_box()
            if box and box["width"] > 500:
                break
            await page.wait_for_timeout(250)
        await idle(page)
        canvas = page.locator(CANVAS).first
        for digit, shift in ((1, 0), (7, 250)):
            for points in DIGIT_STROKES[digit]:
                start, *rest = pen_path(await canvas.bounding_box(), points)
                await page.mouse.move(start[0] + shift, start[1])
                await page.mouse.down()
                for x, y in rest:
                    await page.mouse.move(x + shift, y, steps=4)
                await page.mouse.up()
                await page.wait_for_timeout(300)
        shown = page.locator('[data-testid="stMetric"]:visible', has_text="Prediction (number)")
        value = shown.locator('[data-testid="stMetricValue"]').first
        try:
            await value.wait_for(timeout=TIMEOUT_MS)
            # The canvas sends each stroke after a pause: the first reading shown may be of
            # the 1 alone; what is shown once the runs are done is the reading of 17.
            await idle(page)
            return (await value.inner_text()).strip()
        except PlaywrightError:
            await evidence(page, "bench_number")
            return None
        finally:
            await browser.close()


async def session(page, strokes: int, index: int, result: LoadResult) -> None:
    """One user: draw ``strokes`` digits, clearing between them. Every failure is counted."""
    for number in range(strokes):
        digit = DIGITS[(number + index) % len(DIGITS)]
        step = "clear"
        try:
            if number:
                await clear(page)
            step = "draw"
            latency, read = await draw(page, digit)
            result.latency_s.append(latency)
            if read != str(digit):
                result.errors.append(f"session {index}: drew {digit}, read {read}")
        except PlaywrightError as error:  # a timeout, a crashed tab: counted, and go on
            first_line = str(error).splitlines()[0]
            result.errors.append(f"session {index}, digit {number + 1}, {step}: {first_line}")
            await evidence(page, f"bench_session{index}_digit{number + 1}")


async def load(url: str, sessions: int, strokes: int, groups: dict) -> LoadResult:
    """``sessions`` tabs open the app, then, all ready, draw at once. ``groups``: processes
    whose CPU use to report (name -> root pids), the browser and the rest of the machine too."""
    result = LoadResult()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        contexts = [
            await browser.new_context(viewport={"width": 1100, "height": 900})
            for _ in range(sessions)
        ]
        pages = await asyncio.gather(*(open_app(each, url, result) for each in contexts))
        started = time.perf_counter()
        with CpuUse(groups) as cpu:
            await asyncio.gather(
                *(
                    session(page, strokes, index, result)
                    for index, page in enumerate(pages)
                    if page is not None
                )
            )
        result.drawing_s = time.perf_counter() - started
        result.cpu = cpu.summary()
        await browser.close()
    return result


async def main_thread_s(cdp) -> float:
    """CPU seconds the tab's main thread has worked so far (scripts, style, layout, paint)."""
    metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
    return next(metric["value"] for metric in metrics if metric["name"] == "TaskDuration")


async def tab_cost(url: str, strokes: int) -> dict[str, float]:
    """One tab alone: its main thread's CPU seconds per digit for each step a user takes,
    drawing the strokes, showing the reading, clearing (the part of the load that is the
    page's own, whatever the server does), and the whole browser's per digit (compositor,
    GPU and browser processes too)."""
    spent = {"strokes": [], "reading shown": [], "clear": []}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await open_app(context, url, LoadResult())
        cdp = await context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        with CpuUse({}) as whole:
            for number in range(strokes):
                if number:
                    before = await main_thread_s(cdp)
                    await clear(page)
                    spent["clear"].append(await main_thread_s(cdp) - before)
                before = await main_thread_s(cdp)
                await draw_strokes(page, DIGITS[number % len(DIGITS)])
                lifted = await main_thread_s(cdp)
                await metric(page, shown=True)
                spent["strokes"].append(lifted - before)
                spent["reading shown"].append(await main_thread_s(cdp) - lifted)
        await browser.close()
    cost = {step: float(np.mean(values)) for step, values in spent.items() if values}
    cost["whole browser"] = whole.used["browser"] * whole.seconds / strokes
    return cost


def run_load(url: str, sessions: int, strokes: int, groups: dict | None = None) -> LoadResult:
    return asyncio.run(load(url, sessions, strokes, groups or {}))


def report(count: int, training: bool, result: LoadResult, memory_mb: float) -> None:
    latency = np.array(result.latency_s or [0.0]) * 1000
    print(
        f"N={count}{' while training' if training else ''}: {len(result.latency_s)} predictions "
        f"shown, {len(result.errors)} errors, stroke end -> prediction shown p50 "
        f"{np.median(latency):.0f} ms, p95 {np.percentile(latency, 95):.0f} ms, max "
        f"{latency.max():.0f} ms; peak memory (server + training) {memory_mb:.0f} MB"
    )
    rate = len(result.latency_s) / max(result.drawing_s, 1e-9)
    print(f"    {rate:.2f} predictions/s; CPU while drawing, cores busy on average: {result.cpu}")
    for error in result.errors[:8]:
        print("   ", error)


def start_training(jobs: TrainingJobs) -> tuple[str, list[int]]:
    """Start a run long enough to outlast the load; return once its epochs are under way
    (preparing MNIST takes seconds from the cache, minutes without)."""
    run_id = jobs.start(TrainConfig(epochs=50))
    deadline = time.monotonic() + 900
    while jobs.registry.progress(run_id).get("phase") != "training":
        if time.monotonic() > deadline or jobs.running() != run_id:
            raise RuntimeError(f"training run {run_id} did not reach its epochs")
        time.sleep(1)
    return run_id, [int(jobs.current()["pid"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1])
    parser.add_argument("--strokes", type=int, default=12, help="digits drawn per session")
    parser.add_argument("--with-training", action="store_true")
    parser.add_argument(
        "--floor", action="store_true", help="load benchmarks/floor_app.py instead of app.py"
    )
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="stop after the start-up and the first digit's and number's memory",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="start the server this many times (a new home each)"
    )
    arguments = parser.parse_args()
    script = "benchmarks/floor_app.py" if arguments.floor else "app.py"
    print(f"page: {script}")
    starts = []
    for attempt in range(arguments.repeat):
        starts.append(run_server(arguments, script, last=attempt == arguments.repeat - 1))
    if len(starts) > 1:
        for name, values in (
            ("usable canvas", [each.settled_s for each in starts]),
            ("a visitor's, script done", [each.visitor_s for each in starts]),
            ("server CPU", [each.server_cpu_s for each in starts]),
            ("browser CPU", [each.browser_cpu_s for each in starts]),
        ):
            print(
                f"{name}: median {np.median(values):.2f} s, {min(values):.2f}-{max(values):.2f} s"
                f" over {len(values)} starts"
            )


def run_server(arguments, script: str, last: bool) -> StartUp:
    """Start the server, measure the first page, digit and number; on the ``last`` start
    (unless --startup-only) go on with one tab's cost and the loads."""
    data = os.environ.get("MNIST_DATA") or str(SHARED_MNIST)
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        with streamlit_server(Path(home), {"MNIST_DATA": data}, script=script) as url:
            pid = server_pid(url)
            first = LoadResult()
            times = asyncio.run(first_page(url, pid, started, first))
            report_startup(times)
            print(f"server memory after the first digit: {rss_mb(pid):.0f} MB")
            for error in first.errors:
                print("   ", error)
            number = asyncio.run(read_a_number(url))
            print(f"server memory after the first number (read {number}): {rss_mb(pid):.0f} MB")
            if not last or arguments.startup_only:
                return times
            cost = asyncio.run(tab_cost(url, arguments.strokes))
            print(
                "one tab alone, CPU per digit, its main thread's then the whole browser's: "
                + ", ".join(f"{step} {seconds * 1000:.0f} ms" for step, seconds in cost.items())
            )
            jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=Path(home))), data)
            for count in arguments.sessions:
                run_id, training_pid = None, []
                if arguments.with_training:
                    run_id, training_pid = start_training(jobs)
                groups = {"server": [pid], "training": training_pid}
                with PeakMemory(pid, *training_pid) as memory:
                    result = run_load(url, count, arguments.strokes, groups)
                report(count, run_id is not None, result, memory.peak_mb)
                if run_id:
                    jobs.cancel(run_id)
                    jobs.wait(run_id, 300)  # the batch under way, then Keras' validation pass
            print(f"server alive at the end: {Path(f'/proc/{pid}').exists()}")
    return times


if __name__ == "__main__":
    main()
