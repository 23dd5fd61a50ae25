"""Reliability and security promises of the Streamlit app, through AppTest: the admin gate,
hostile uploads, an unwritable run folder and a corrupt active model."""

from __future__ import annotations

import numpy as np
import pytest
from app_helpers import (
    FakeCanvas,
    choose,
    completed_run,
    own_app_home,
    prediction_metric,
    run_app,
)
from helpers import PROJECT_ROOT, SAMPLE, png_declaring_size, point_at

from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.registry import ModelRegistry, RegistryConfig
from mnist_core.renderings import as_paper_scan, canvas_drawing, png_bytes

PASSWORD = "Adm1n-pa55word-do-not-keep"
START = "FormSubmitter:retrain_form-Start training"
UNLOCK = "FormSubmitter:retrain_login-Unlock"


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch):
    """Each test gets its own run folder and trains (if at all) on the committed sample."""
    return own_app_home(tmp_path, monkeypatch, "0.5")


@pytest.fixture(scope="module")
def drawing():
    """An injected canvas drawing and its true label (test_app reads this one correctly)."""
    with np.load(SAMPLE) as data:
        digit, label = data["x_test"][3], int(data["y_test"][3])
    return canvas_drawing(digit, np.random.default_rng(3), background="transparent"), label


def contains(value, secret: str) -> bool:
    """Does ``secret`` appear anywhere in ``value`` (nested containers, bytes, reprs)?"""
    if isinstance(value, bytes):
        return secret.encode() in value
    if isinstance(value, str):
        return secret in value
    if isinstance(value, dict):
        return any(contains(k, secret) or contains(v, secret) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains(item, secret) for item in value)
    return secret in repr(value)


def button_keys(app) -> set[str]:
    return {button.key for button in app.button}


# --------------------------------------------------------------------------- admin gate


def test_admin_gate_locks_unlocks_and_never_keeps_the_password(app_home, monkeypatch):
    monkeypatch.setenv("MNIST_ADMIN_PASSWORD", PASSWORD)
    run_id = completed_run(app_home)

    app = run_app(page="app_pages/retrain.py")
    assert not app.exception
    # Locked: the run is listed, but nothing can be started, promoted or cancelled.
    assert app.selectbox(key="retrain_history_select").value == run_id
    assert START not in button_keys(app)
    assert "retrain_promote" not in button_keys(app)
    assert "retrain_cancel" not in button_keys(app)
    assert UNLOCK in button_keys(app)
    assert any("protected" in info.value for info in app.info)

    with FakeCanvas(None):
        [field] = [field for field in app.text_input if field.label == "Admin password"]
        field.input(PASSWORD[:-1] + "X")
        app.button(key=UNLOCK).click().run()
    assert not app.exception
    assert any("Wrong password" in error.value for error in app.error)
    assert START not in button_keys(app)
    assert "retrain_promote" not in button_keys(app)
    assert not app.session_state.get("admin_unlocked", False)
    assert "retrain_login_password" in app.session_state  # the field the check below sees

    with FakeCanvas(None):
        [field] = [field for field in app.text_input if field.label == "Admin password"]
        field.input(PASSWORD)
        app.button(key=UNLOCK).click().run()
    assert not app.exception
    assert not app.error
    assert START in button_keys(app)
    assert "retrain_promote" in button_keys(app)
    assert not [field for field in app.text_input if field.label == "Admin password"]

    # The session keeps a yes/no flag, never the text: not in any value it holds, the
    # password field's own (keyed, so the public session state lists it) included.
    state = app.session_state.to_dict()
    assert state.get("admin_unlocked") is True
    assert not [
        key for key, value in state.items() if contains(key, PASSWORD) or contains(value, PASSWORD)
    ]

    # The unlocked session really can act: promoting the run works.
    with FakeCanvas(None):
        app.button(key="retrain_promote").click().run()
    assert not app.exception
    assert ModelRegistry().active().run_id == run_id


def test_admin_gate_with_the_secret_from_st_secrets(app_home):
    """The same gate when the password comes from st.secrets instead of the environment."""
    completed_run(app_home)
    with FakeCanvas(None):
        from streamlit.testing.v1 import AppTest

        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90)
        app.secrets["admin_password"] = PASSWORD
        app.run()
        app.switch_page("app_pages/retrain.py").run()
    assert not app.exception
    assert START not in button_keys(app)
    assert "retrain_promote" not in button_keys(app)
    with FakeCanvas(None):
        [field] = [field for field in app.text_input if field.label == "Admin password"]
        field.input(PASSWORD)
        app.button(key=UNLOCK).click().run()
    assert START in button_keys(app)


# --------------------------------------------------------------------------- hostile uploads


def png(width=64, height=64) -> bytes:
    return png_bytes(np.random.default_rng(5).integers(0, 256, (height, width), dtype=np.uint8))


SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280">
  <script>alert(1)</script><text x="100" y="200" font-size="200">7</text>
</svg>"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + b"0" * 500 + b"\n%%EOF\n"

HOSTILE = {
    "empty": ("empty.png", b"", "image/png", "empty"),
    "random-bytes": (
        "random.jpg",
        np.random.default_rng(9).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "image/jpeg",
        "not an image file",
    ),
    "text": (
        "notes.png",
        b"Dear user,\nthis is not a picture.\n" * 30,
        "image/png",
        "not an image",
    ),
    "truncated-png": ("cut.png", png(200, 200)[:3000], "image/png", "damaged|cut off"),
    "svg": ("vector.png", SVG, "image/png", "not an image"),
    "pdf": ("scan.jpg", PDF, "image/jpeg", "not an image|not supported"),
    "bomb": ("bomb.png", png_declaring_size(50_000, 50_000), "image/png", "too large"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_upload_shows_a_readable_error_and_drawing_keeps_working(drawing, kind):
    import re

    name, content, mime, reason = HOSTILE[kind]
    image, label = drawing
    with FakeCanvas(image):
        app = choose(run_app(image), "photo").run()
        app.file_uploader(key="draw_upload").set_value((name, content, mime))
        app.run()
    assert not app.exception
    errors = [error.value for error in app.error]
    assert len(errors) == 1, errors
    message = errors[0]
    assert name in message
    assert re.search(reason, message), message
    # Written for a person: no traceback, no exception class, no Python reprs.
    assert not re.search(r"Traceback|Error\b|Exception|<class|\bb'", message), message
    # Back on the canvas, the drawing is read as before.
    with FakeCanvas(image):
        choose(app, "digit").run()
    assert not app.exception
    assert [metric.value for metric in prediction_metric(app)] == [str(label)]


def test_a_good_upload_after_a_hostile_one_is_read(drawing):
    """The error does not stick: the same session then reads a real photo."""
    with np.load(SAMPLE) as data:
        digit, label = data["x_test"][7], int(data["y_test"][7])
    with FakeCanvas(None):
        app = choose(run_app(), "photo").run()
        app.file_uploader(key="draw_upload").set_value(HOSTILE["bomb"][:3])
        app.run()
        assert app.error
        app.file_uploader(key="draw_upload").set_value(
            ("digit.png", as_paper_scan(digit), "image/png")
        )
        app.run()
    assert not app.exception
    assert not app.error
    assert prediction_metric(app)[0].value == str(label)


# --------------------------------------------------------------------------- unwritable home


def test_an_unwritable_run_folder_is_reported_and_drawing_still_works(
    tmp_path, monkeypatch, drawing
):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file where a folder should be")
    home = blocker / "home"
    monkeypatch.setenv("MNIST_APP_HOME", str(home))
    image, label = drawing

    with FakeCanvas(image):
        app = run_app(image, page="app_pages/retrain.py")
        assert not app.exception
        app.radio(key="retrain_preset").set_value("custom").run()
        app.number_input(key="retrain_epochs").set_value(1)
        app.button(key=START).click().run()
        assert not app.exception
        errors = [error.value for error in app.error]
        assert any(str(home) in error and "run folder" in error for error in errors), errors
        assert blocker.read_text() == "a regular file where a folder should be"
        app.switch_page("app_pages/draw.py").run()
    assert not app.exception
    assert prediction_metric(app)[0].value == str(label)


# --------------------------------------------------------------------------- corrupt model


def test_a_truncated_active_model_falls_back_to_the_bundled_one_in_the_app(app_home, drawing):
    model = BUNDLED_MODEL.read_bytes()
    run_id = completed_run(app_home, model_bytes=model[: len(model) // 3])
    point_at(ModelRegistry(RegistryConfig(home=app_home)), run_id)
    image, label = drawing

    app = run_app(image)
    assert not app.exception
    assert "Bundled model" in app.sidebar.markdown[0].value
    warnings = [warning.value for warning in app.sidebar.warning]
    assert any("bundled" in warning and run_id in warning for warning in warnings), warnings
    assert prediction_metric(app)[0].value == str(label)
    assert ModelRegistry().active_id() == run_id  # left as it was: nothing repaired

    # The retrain page renders too, and still lists the broken run.
    with FakeCanvas(image):
        app.switch_page("app_pages/retrain.py").run()
    assert not app.exception
    assert any(run_id in option for option in app.selectbox(key="retrain_history_select").options)


# --------------------------------------------------------------------------- database down


def test_a_database_that_cannot_be_reached_leaves_drawing_working(app_home, drawing, monkeypatch):
    """PostgreSQL down (nothing listens on its port): drawing reads digits, training and
    corrections say they are unavailable, and the password shows nowhere."""
    from browser import free_port

    password = "do-not-show-this-pw"
    url = f"postgresql+psycopg://mnist:{password}@127.0.0.1:{free_port()}/mnist"
    monkeypatch.setenv("MNIST_DATABASE_URL", url)
    image, label = drawing

    app = run_app(image)
    assert not app.exception
    assert prediction_metric(app)[0].value == str(label)
    warnings = [warning.value for warning in app.sidebar.warning]
    assert any("cannot be read" in warning for warning in warnings), warnings

    with FakeCanvas(image):
        app.switch_page("app_pages/retrain.py").run()
    assert not app.exception
    shown = " ".join(element.value for element in [*app.warning, *app.error])
    assert "cannot be reached" in shown
    assert password not in str(app)


@pytest.mark.parametrize("epochs, words", [(1, "· 1 epoch ·"), (18, "· 18 epochs ·")])
def test_a_runs_summary_counts_its_epochs_in_words(app_home, epochs, words):
    completed_run(app_home, config={"arch": "compact", "epochs": epochs, "batch_size": 128})

    app = run_app(page="app_pages/retrain.py")
    assert not app.exception
    summaries = [caption.value for caption in app.caption if "batch 128" in caption.value]
    assert len(summaries) == 1 and words in summaries[0]
