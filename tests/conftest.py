import sys
from pathlib import Path

# Tests import the project (mnist_core, app_pages) and their own helpers without installation.
sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import SAMPLE  # noqa: E402


@pytest.fixture(autouse=True)
def main_module_restored():
    """AppTest runs the app's script as ``__main__`` and leaves it there. A process spawned
    later (a training run's data building) re-runs ``__main__`` before its task, so each
    worker would run the app script, and one that stops on it fails the pool's task forever."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="module")
def classifier():
    """The bundled model, as the app loads it (a module may define its own)."""
    from mnist_core import DigitClassifier

    return DigitClassifier.load()


@pytest.fixture(scope="module")
def mnist():
    """The committed MNIST sample: x_train, y_train, x_test, y_test."""
    with np.load(SAMPLE) as data:
        return {key: data[key] for key in data.files}


# The browser tests' one app server and one Chromium, shared by every browser test module: a
# server takes seconds to start and its first page loads the model.


@pytest.fixture(scope="session")
def browser_available():
    """Skip (or, under CI's REQUIRE_BROWSER=1, fail) when Playwright or Chromium is missing:
    in CI a missing browser must fail the run, not silently skip every browser test."""
    import importlib.util
    import os

    from browser import chromium_path, playwright_has_browser

    if importlib.util.find_spec("playwright") is None:
        message = "no Playwright: pip install -r requirements-dev.txt"
    elif chromium_path() is None and not playwright_has_browser():
        message = "no Chromium: apt-get install chromium, or playwright install chromium"
    else:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server_home(tmp_path_factory):
    """The app server's run folder ($MNIST_APP_HOME): runs, the active model, corrections."""
    return tmp_path_factory.mktemp("app_home")


@pytest.fixture(scope="session")
def app_url(browser_available, server_home):
    """`streamlit run app.py` with an admin password, so the retrain page has its lock."""
    from browser import ADMIN_PASSWORD, streamlit_server

    with streamlit_server(server_home, {"MNIST_ADMIN_PASSWORD": ADMIN_PASSWORD}) as url:
        yield url


@pytest.fixture(scope="session")
def browser(browser_available):
    from playwright.sync_api import sync_playwright

    from browser import launch_browser

    with sync_playwright() as playwright:
        launched = launch_browser(playwright)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server's URL for the session; skipped (failed under CI's
    REQUIRE_POSTGRES=1) when the server's binaries are not installed."""
    from postgres import require_postgres, throwaway_postgres

    require_postgres()
    with throwaway_postgres() as server:
        yield server.url


@pytest.fixture
def postgres_database(postgres_url):
    """The session's PostgreSQL, emptied first: each test starts from a new database."""
    from postgres import emptied

    return emptied(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each storage test runs on a SQLite file of its own and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.sqlite'}"
    return request.getfixturevalue("postgres_database")
