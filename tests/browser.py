"""Helpers for the real-browser tests: a `streamlit run` server and headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# The test server's admin password: the retrain page is locked until a session enters it.
ADMIN_PASSWORD = "browser-tests-admin"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    app_home: Path, extra_env: dict | None = None, timeout_s: float = 90, script: str = "app.py"
):
    """Run ``streamlit run <script>`` (a path from the project root) on a free localhost port;
    yield its base URL."""
    port = free_port()
    env = {**os.environ, "MNIST_APP_HOME": str(app_home), **(extra_env or {})}
    log = open(app_home / "streamlit.log", "wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"streamlit did not start: {(app_home / 'streamlit.log').read_text()}"
                )
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def chromium_path() -> str | None:
    """Playwright's own Chromium if installed, else the system's (``apt-get install chromium``)."""
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def playwright_has_browser() -> bool:
    """Did `playwright install chromium` put a browser where Playwright looks?"""
    cache = Path(
        os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright")
    )
    return cache.is_dir() and any(cache.glob("chromium*"))


IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.getAttribute('data-test-script-state');
    return state !== null && !['running', 'rerunRequested', 'initial'].includes(state);
}"""


def settle(page, quiet_ms: int = 1500) -> None:
    """Wait until Streamlit has finished running the script and the page has stopped changing."""
    page.wait_for_load_state("networkidle")
    for _ in range(2):  # idle, a quiet spell (a component may trigger one more run), idle again
        page.wait_for_function(IDLE_JS, timeout=60_000)
        page.wait_for_timeout(quiet_ms)


def unlock(page) -> None:
    """Enter the admin password on the retrain page, where it asks for it."""
    password = page.get_by_label("Admin password")
    password.wait_for(timeout=30_000)
    password.fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    password.wait_for(state="detached", timeout=30_000)


def launch_options() -> dict:
    """``chromium.launch`` arguments (sync or async API): Playwright's own Chromium when
    `playwright install` put one, else the system's."""
    path = None if playwright_has_browser() else chromium_path()
    return {"args": CHROMIUM_FLAGS, **({"executable_path": path} if path else {})}


def launch_browser(playwright):
    return playwright.chromium.launch(**launch_options())


def pen_path(box: dict, points) -> list[tuple[float, float]]:
    """A stroke's ``points`` (canvas pixels) in page coordinates, given the canvas' box."""
    return [(box["x"] + x, box["y"] + y) for x, y in points]


# Mouse steps between two points of a stroke: enough for the canvas to see a smooth line.
STROKE_STEPS = 4


def stroke(page, canvas, points) -> None:
    """Draw one pen stroke through ``points`` (canvas pixels) with the mouse."""
    start, *rest = pen_path(canvas.bounding_box(), points)
    page.mouse.move(*start)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(x, y, steps=STROKE_STEPS)
    page.mouse.up()


def ellipse(centre_x, centre_y, radius_x, radius_y, count=36):
    import math

    return [
        (
            centre_x + radius_x * math.sin(2 * math.pi * step / count),
            centre_y - radius_y * math.cos(2 * math.pi * step / count),
        )
        for step in range(count + 1)
    ]


# Strokes of each digit on the 280x280 canvas, as a person would draw them.
DIGIT_STROKES = {
    1: [[(150, 50), (140, 140), (135, 235)]],
    7: [[(80, 60), (150, 58), (205, 60), (170, 140), (125, 235)]],
    0: [ellipse(140, 140, 65, 95)],
    # As most of Europe writes them: a 1 with a long up-stroke flag, a 7 crossed.
    "flagged 1": [[(100, 115), (155, 45), (145, 235)]],
    "crossed 7": [
        [(80, 60), (150, 58), (205, 60), (170, 140), (125, 235)],
        [(115, 145), (205, 142)],
    ],
}
# Things that are not digits, drawn the same way.
NOT_DIGIT_STROKES = {
    "A": [[(70, 235), (140, 45), (210, 235)], [(100, 160), (180, 160)]],
    "smiley": [
        ellipse(140, 140, 100, 100),
        ellipse(105, 110, 10, 12, 12),
        ellipse(175, 110, 10, 12, 12),
        [(90, 170), (115, 195), (140, 202), (165, 195), (190, 170)],
    ],
}
