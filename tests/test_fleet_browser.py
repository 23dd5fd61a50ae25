"""A real fleet on this machine: a throwaway PostgreSQL, two `streamlit run` replicas sharing
it, and HAProxy with deploy/haproxy.cfg in front; real browsers go through the proxy.

Skipped without HAProxy (apt-get install haproxy), a browser or PostgreSQL's binaries, except
in CI (REQUIRE_POSTGRES=1), which installs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from app_helpers import FAKE_RUN
from helpers import PROJECT_ROOT, SAMPLE, wait_for
from postgres import emptied

from browser import (
    ADMIN_PASSWORD,
    DIGIT_STROKES,
    free_port,
    streamlit_server,
    stroke,
    unlock,
)

pytest.importorskip("playwright.sync_api")

PROXY_CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"
PIN_COOKIE = "MNIST_REPLICA"  # the proxy's cookie: which replica a browser is pinned to


@dataclass(frozen=True)
class Fleet:
    url: str  # the proxy's: what users open
    database: str
    homes: dict[str, Path]  # replica cookie value -> its app home


@contextlib.contextmanager
def haproxy(replica_a: str, replica_b: str, log_folder: Path):
    """HAProxy with the deploy configuration on a free port; yields its URL."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    port = free_port()
    env = {
        **os.environ,
        "MNIST_PROXY_BIND": f"127.0.0.1:{port}",
        "MNIST_REPLICA_A": replica_a.removeprefix("http://"),
        "MNIST_REPLICA_B": replica_b.removeprefix("http://"),
    }
    log = open(log_folder / "haproxy.log", "wb")
    # -db: in the foreground, so that the test owns (and ends) the process.
    proxy = subprocess.Popen(
        [binary, "-db", "-f", str(PROXY_CONFIG)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((log_folder / "haproxy.log").read_text())
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        proxy.wait(10)
        log.close()


@pytest.fixture(scope="module")
def fleet(browser_available, postgres_url, tmp_path_factory):
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").is_file()):
        message = "no HAProxy: apt-get install haproxy"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    database = emptied(postgres_url)
    homes = {name: tmp_path_factory.mktemp(f"replica_{name}") for name in ("a", "b")}
    env = {
        "MNIST_DATABASE_URL": database,
        "MNIST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MNIST_DATA": str(SAMPLE),
    }
    with (
        streamlit_server(homes["a"], env) as replica_a,
        streamlit_server(homes["b"], env) as replica_b,
        haproxy(replica_a, replica_b, homes["a"]) as proxy,
    ):
        yield Fleet(proxy, database, homes)


@contextlib.contextmanager
def session_on(browser, fleet: Fleet, replica: str, path: str = ""):
    """A browser session the proxy pinned to ``replica`` ("a" or "b") at ``path`` (the draw
    page, or "retrain"), loaded. New browsers are dealt out in turn: a few tries find either."""
    for _ in range(6):
        context = browser.new_context(viewport={"width": 1280, "height": 1800})
        page = context.new_page()
        page.goto(f"{fleet.url}/{path}")
        if pinned(context) == replica:
            try:
                if path == "retrain":
                    page.get_by_role("heading", name="Retrain the model").wait_for(timeout=90_000)
                else:
                    page.locator("canvas.upper-canvas").first.wait_for(timeout=90_000)
                yield page
            finally:
                context.close()
            return
        context.close()
    raise AssertionError(f"the proxy never pinned a browser to replica {replica}")


def pinned(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == PIN_COOKIE), None)


def draw(page, digit) -> str:
    """Clear the canvas, draw ``digit``; the prediction shown."""
    page.get_by_role("button", name="Clear the canvas").click()
    page.get_by_text("Draw a digit on the canvas").first.wait_for(timeout=30_000)
    for points in DIGIT_STROKES[digit]:
        stroke(page, page.locator("canvas.upper-canvas").first, points)
    value = page.locator('[data-testid="stMetric"]:visible', has_text="Prediction").locator(
        '[data-testid="stMetricValue"]'
    )
    value.first.wait_for(timeout=30_000)
    return value.first.inner_text().strip()


def test_a_browser_stays_on_its_replica_while_it_draws(browser, fleet):
    for replica in ("a", "b"):
        with session_on(browser, fleet, replica) as page:
            assert draw(page, 7) == "7"  # the WebSocket goes through the proxy
            assert draw(page, 1) == "1"
            assert pinned(page.context) == replica  # never re-dealt mid-session


def test_a_promotion_on_replica_a_is_used_by_a_session_on_replica_b(browser, fleet):
    from app_helpers import completed_run

    from mnist_core.registry import BUNDLED_ID, ModelRegistry, RegistryConfig

    replica_a = ModelRegistry(RegistryConfig(home=fleet.homes["a"], database=fleet.database))
    with session_on(browser, fleet, "b") as page:
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert draw(page, 7) == "7"
        assert "Bundled model" in sidebar.inner_text()
        run_id = completed_run(fleet.homes["a"], database_url=fleet.database)
        replica_a.promote(run_id)
        try:
            assert draw(page, 1) == "1"  # its next digit
            sidebar.get_by_text(f"Run {run_id}").wait_for(timeout=30_000)
        finally:
            replica_a.promote(BUNDLED_ID)
    assert run_id == FAKE_RUN


def test_corrections_made_through_both_replicas_are_in_the_one_table(browser, fleet):
    from mnist_core.corrections import CorrectionStore

    before = CorrectionStore(fleet.database).count()
    for replica, label in (("a", "3"), ("b", "5")):
        with session_on(browser, fleet, replica) as page:
            assert draw(page, 7) == "7"
            question = page.get_by_role("radiogroup", name="Wrong? It is a ...")
            question.get_by_role("radio", name=label, exact=True).click()
            page.get_by_text(f"Thanks: saved as a {label}").wait_for(timeout=30_000)
    stored = CorrectionStore(fleet.database).list()
    assert len(stored) == before + 2
    assert sorted(c.label for c in stored[:2]) == [3, 5]


def test_start_pressed_on_both_replicas_starts_one_run_that_both_show(browser, fleet):
    from mnist_core.jobs import TrainingJobs
    from mnist_core.registry import BUNDLED_ID, ModelRegistry, RegistryConfig

    registry = ModelRegistry(RegistryConfig(home=fleet.homes["b"], database=fleet.database))
    runs_before = registry.run_ids()
    with (
        session_on(browser, fleet, "a", "retrain") as page_a,
        session_on(browser, fleet, "b", "retrain") as page_b,
    ):
        for page in (page_a, page_b):
            unlock(page)
            page.get_by_role("button", name="Start training").wait_for(timeout=30_000)
        # Both clicks go out before either page hears back.
        for page in (page_a, page_b):
            page.get_by_role("button", name="Start training").click(no_wait_after=True)
        (run_id,) = wait_for(
            lambda: [run for run in registry.run_ids() if run not in runs_before],
            30,
            "the run to be stored",
        )
        try:
            # The same live run on both, whichever replica started it: the refused page
            # shows it at once (no reload), and says why its own Start did not run.
            headings = [
                page.get_by_role("heading", name=f"Training run {run_id}")
                for page in (page_a, page_b)
            ]
            # The refusal is said above the run it shows: looked for while the pages load.
            refusals = [
                page.get_by_text(f"a training run ({run_id}) is already in progress")
                for page in (page_a, page_b)
            ]
            refused = False
            deadline = time.monotonic() + 60
            while not all(heading.is_visible() for heading in headings):
                refused = refused or any(refusal.first.is_visible() for refusal in refusals)
                assert time.monotonic() < deadline, "a page did not show the run"
                page_a.wait_for_timeout(100)
            refused = refused or any(refusal.first.is_visible() for refusal in refusals)
            assert refused, "the page whose Start was refused did not say why"
            page_a.wait_for_timeout(2_000)  # a late second start would have shown by now
            assert [run for run in registry.run_ids() if run not in runs_before] == [run_id]
            assert BUNDLED_ID in runs_before
        finally:
            TrainingJobs(registry).cancel(run_id)
    assert registry.progress(run_id)["status"] == "cancelled"
