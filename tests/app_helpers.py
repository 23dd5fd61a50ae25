"""Driving the Streamlit app in tests: a stand-in for the drawing canvas, a run of the app
through AppTest, the draw page's controls and answers, and a finished run in the registry."""

from __future__ import annotations

import base64
import contextlib
import re
import sys
import types
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from helpers import PROJECT_ROOT, SAMPLE
from streamlit.testing.v1 import AppTest

from mnist_core import renderings
from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.registry import SERVED, ModelRegistry, RegistryConfig

FAKE_RUN = "20250101-120000-beef"  # a run id in the registry's format


def own_app_home(tmp_path: Path, monkeypatch, min_promote_accuracy: str | None = None) -> Path:
    """Point the app at a run folder of its own, train (if at all) on the committed sample,
    and lock nothing (no admin password); ``min_promote_accuracy`` replaces the promotion
    bar when given. Returns the run folder (created by the app when it first writes)."""
    monkeypatch.setenv("MNIST_APP_HOME", str(tmp_path / "app_home"))
    monkeypatch.setenv("MNIST_DATA", str(SAMPLE))
    if min_promote_accuracy is not None:
        monkeypatch.setenv("MNIST_MIN_PROMOTE_ACCURACY", min_promote_accuracy)
    monkeypatch.delenv("MNIST_ADMIN_PASSWORD", raising=False)
    return tmp_path / "app_home"


@contextlib.contextmanager
def FakeCanvas(image, calls: list | None = None):
    """Stands in for the browser component while the block runs: ``st_canvas`` returns what
    a user 'drew' (and appends its arguments to ``calls``).

    The whole module is replaced, since importing the real one outside a Streamlit runtime
    fails before AppTest has registered its front-end assets. Only the two entries of
    ``sys.modules`` it concerns are swapped: ``mock.patch.dict(sys.modules)`` dropped on exit
    every module first imported inside it, and a module imported afresh after that is a
    second copy beside the first (a SQLAlchemy then mixed the objects of two).
    """

    def st_canvas(**kwargs):
        if calls is not None:
            calls.append(kwargs)
        return mock.Mock(image_data=image, image_bytes=png_bytes(image), json_data={"objects": []})

    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = st_canvas
    real = sys.modules.get("streamlit_drawable_canvas")
    # app_pages.canvas binds st_canvas when first imported: forgotten here, it is imported
    # afresh inside the block with this stand-in, and forgotten again when the block ends.
    sys.modules.pop("app_pages.canvas", None)
    sys.modules["streamlit_drawable_canvas"] = module
    try:
        yield
    finally:
        sys.modules.pop("app_pages.canvas", None)
        if real is None:
            sys.modules.pop("streamlit_drawable_canvas", None)
        else:
            sys.modules["streamlit_drawable_canvas"] = real


def png_bytes(image: np.ndarray | None) -> bytes | None:
    """``image`` as the PNG file the canvas sends (its ``image_bytes``), or None."""
    return None if image is None else renderings.png_bytes(image)


def run_app(image=None, page=None) -> AppTest:
    with FakeCanvas(image):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        if page is not None:
            app.switch_page(page).run()
    return app


def choose(app: AppTest, source: str) -> AppTest:
    """Pick what the draw page reads ("digit", "number" or "photo") as a user would."""
    app.segmented_control(key="draw_mode").set_value(source)
    return app


def prediction_metric(app: AppTest):
    """The metrics showing a reading: "Prediction" (one digit) or "Prediction (number)"."""
    return [metric for metric in app.metric if metric.label.startswith("Prediction")]


def reading_line(app: AppTest) -> str:
    """The one-line reading above the canvas (shown on phones, where the answer is below)."""
    (line,) = [
        html.proto.body for html in app.get("html") if "draw-reading-line" in html.proto.body
    ]
    return line


def figures(app: AppTest) -> dict[str, np.ndarray]:
    """The pictures the app drew inline (``shared.pixel_figure``), by caption: each PNG's
    pixels as the browser gets them, (H, W) grey or (H, W, 3) in OpenCV's BGR order."""
    found = {}
    for html in app.get("html"):
        for encoded, caption in re.findall(
            r'base64,([^"]+)".*?<figcaption[^>]*>(.*?)</figcaption>', html.proto.body
        ):
            png = np.frombuffer(base64.b64decode(encoded), np.uint8)
            found[caption] = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    return found


def completed_run(
    home: Path, model_bytes: bytes | None = None, database_url: str | None = None, **fields
) -> str:
    """A finished, promotable run (a copy of the bundled model, or the given bytes) in the
    registry of ``home`` (and ``database_url``, default the home's); ``fields`` are added to
    its record."""
    record = {
        "status": "completed",
        "config": {"arch": "compact", "epochs": 1, "batch_size": 256, "augment": True},
        "history": [{"loss": 1.0, "accuracy": 0.7, "val_loss": 0.8, "val_accuracy": 0.8}],
        "train_digits": 1833,
        "trained_at": "2025-01-01T12:00:00+00:00",
        "duration_s": 20.0,
        "test_accuracy": 0.99,
        "confusion_matrix": np.eye(10, dtype=int).tolist(),
        **fields,
    }
    model = BUNDLED_MODEL.read_bytes() if model_bytes is None else model_bytes
    registry = ModelRegistry(RegistryConfig(home=home, database=database_url))
    registry.finish_run(FAKE_RUN, {"status": "completed"}, record, {SERVED: model})
    return FAKE_RUN
