"""The Streamlit app through AppTest: pages render, predictions show, training can be promoted."""

from __future__ import annotations

import gc
import re
import time

import numpy as np
import pytest
from app_helpers import (
    FakeCanvas,
    choose,
    figures,
    own_app_home,
    prediction_metric,
    reading_line,
    run_app,
)
from helpers import PROJECT_ROOT
from streamlit.testing.v1 import AppTest

from mnist_core.jobs import TrainingJobs
from mnist_core.registry import ModelRegistry
from mnist_core.renderings import as_paper_scan, canvas_drawing


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch):
    """Each test gets its own run folder and trains on the committed sample."""
    return own_app_home(tmp_path, monkeypatch, "0")  # 1 epoch of 7 batches: any accuracy


def test_draw_page_renders_an_invitation_when_the_canvas_is_empty():
    app = run_app()
    assert not app.exception
    assert not prediction_metric(app)
    assert any("Draw a digit" in info.value for info in app.info)
    assert "its reading appears here" in reading_line(app)


def test_sidebar_names_the_active_model():
    app = run_app()
    assert "Bundled model" in app.sidebar.markdown[0].value
    assert any("test accuracy" in block.value for block in app.sidebar.markdown)


def test_sidebar_links_to_the_retrain_page_except_on_it():
    """On the retrain page its navigation entry is marked already; a second, marked link
    to the page the visitor is on would only repeat it."""
    draw = run_app()
    assert [link.proto.label for link in draw.sidebar.get("page_link")] == ["Retrain the model"]
    retrain = run_app(page="app_pages/retrain.py")
    assert not retrain.exception
    assert not retrain.sidebar.get("page_link")
    assert "Bundled model" in retrain.sidebar.markdown[0].value


@pytest.mark.parametrize("position", [3, 17, 42])
def test_draw_page_reads_an_injected_drawing(mnist, classifier, position):
    digit, label = mnist["x_test"][position], int(mnist["y_test"][position])
    drawing = canvas_drawing(digit, np.random.default_rng(position), background="transparent")
    app = run_app(drawing)
    assert not app.exception
    assert prediction_metric(app)[0].value == str(label)
    # The ten probabilities are drawn as bars, the read digit's the highest and labelled.
    (bars,) = [
        html.proto.body for html in app.get("html") if "Probability of each" in html.proto.body
    ]
    heights = [float(height) for height in re.findall(r"height:([\d.]+)%;background", bars)]
    assert len(heights) == 10 and int(np.argmax(heights)) == label
    assert f"Read: <b>{label} (" in reading_line(app)
    # What the model saw: the 28x28 input itself, inline, a digit the model reads the same.
    seen = figures(app)["What the model saw (28x28)"]
    assert seen.shape == (28, 28)
    assert classifier.predict(seen).digit == label


def test_clear_empties_the_canvas_in_place_and_removes_the_prediction(mnist):
    drawing = canvas_drawing(mnist["x_test"][3], np.random.default_rng(3))
    calls = []
    with FakeCanvas(drawing, calls):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        assert prediction_metric(app)
        # The canvas still reports its last drawing until it has sent its blank state.
        app.button(key="draw_clear").click().run()
    assert not app.exception
    assert not prediction_metric(app)
    assert any("Draw a digit" in info.value for info in app.info)
    # The same canvas, told to empty itself: not a new one mounted after the run, which
    # would lose the strokes drawn before it listened.
    before, after = calls[0], calls[-1]
    assert after["key"] == before["key"]
    assert after["initial_drawing"]["objects"] == []
    assert after["initial_drawing"] != before["initial_drawing"]
    # Its blank state, then a new digit on it, read as usual.
    with FakeCanvas(None):
        app.run()
    assert not prediction_metric(app)
    label = int(mnist["y_test"][5])
    with FakeCanvas(canvas_drawing(mnist["x_test"][5], np.random.default_rng(5))):
        app.run()
    assert prediction_metric(app)[0].value == str(label)


def test_only_the_chosen_mode_is_drawn_and_the_pen_width_outlives_a_photo():
    calls = []
    with FakeCanvas(None, calls):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        assert not app.get("file_uploader")  # one digit: the canvas alone
        app.slider(key="draw_stroke_width").set_value(33).run()
        drawn = len(calls)
        choose(app, "photo").run()
        assert app.file_uploader(key="draw_upload") is not None
        assert len(calls) == drawn  # no canvas behind the photo
        choose(app, "digit").run()
    assert not app.exception
    assert not app.get("file_uploader")
    assert calls[-1]["stroke_width"] == 33


def test_the_very_same_drawing_after_clear_is_read_again(mnist):
    drawing = canvas_drawing(mnist["x_test"][3], np.random.default_rng(3))
    with FakeCanvas(drawing):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        app.button(key="draw_clear").click().run()
    assert not prediction_metric(app)
    with FakeCanvas(np.full_like(drawing, 0)):  # the canvas' blank state
        app.run()
    # Pixel for pixel what was cleared: a new drawing, not the stale report of the old one.
    with FakeCanvas(drawing):
        app.run()
    assert prediction_metric(app)[0].value == str(int(mnist["y_test"][3]))


def test_the_loaded_model_is_out_of_the_garbage_collectors_sight():
    # Streamlit's full collections after every run would otherwise walk every object the
    # model, Streamlit, pandas and Altair keep alive, every stroke; frozen ones are skipped.
    run_app()
    assert gc.get_freeze_count() > 100_000


def test_upload_of_a_digit_photo_is_read(mnist):
    app = run_app()
    with FakeCanvas(None):
        choose(app, "photo").run()
    app.file_uploader(key="draw_upload").set_value(
        ("digit.png", as_paper_scan(mnist["x_test"][7]), "image/png")
    )
    with FakeCanvas(None):
        app.run()
    assert not app.exception
    assert prediction_metric(app)[0].value == str(int(mnist["y_test"][7]))


def test_upload_of_a_photo_of_a_number_shows_the_whole_number(mnist):
    from mnist_core.renderings import number_photo

    picks = [int(np.flatnonzero(mnist["y_test"] == digit)[0]) for digit in (4, 2)]
    photo = number_photo([mnist["x_test"][i] for i in picks], np.random.default_rng(4))
    app = run_app()
    with FakeCanvas(None):
        choose(app, "photo").run()
    app.file_uploader(key="draw_upload").set_value(("number.png", photo, "image/png"))
    with FakeCanvas(None):
        app.run()
    assert not app.exception
    number = [metric for metric in app.metric if metric.label == "Prediction (number)"]
    assert number and number[0].value == "42"


def test_upload_of_a_bad_file_shows_the_error_and_the_page_keeps_working():
    app = run_app()
    with FakeCanvas(None):
        choose(app, "photo").run()
    app.file_uploader(key="draw_upload").set_value(
        ("notes.png", b"hello, not a picture", "image/png")
    )
    with FakeCanvas(None):
        app.run()
    assert not app.exception
    assert any(
        "notes.png" in error.value and "not an image file" in error.value for error in app.error
    )


def test_retrain_page_renders_the_form_and_the_bundled_run():
    app = run_app(page="app_pages/retrain.py")
    assert not app.exception
    assert app.button(key="FormSubmitter:retrain_form-Start training") is not None
    assert any(metric.label == "Test accuracy" for metric in app.metric)


def test_retrain_form_bounds_epochs_and_the_server_rejects_out_of_range(app_home):
    app = run_app(page="app_pages/retrain.py")
    app.radio(key="retrain_preset").set_value("custom").run()
    epochs = app.number_input(key="retrain_epochs")
    assert (epochs.min, epochs.max) == (1, 50)
    from mnist_core.config import TrainConfig

    with pytest.raises(ValueError, match="epochs must be between 1 and 50"):
        TrainingJobs(ModelRegistry()).start(TrainConfig(epochs=10_000))
    assert not (app_home / "runs").exists() or not any((app_home / "runs").iterdir())


def chart_column(chart, column: str) -> list:
    """A column of the data a chart element carries (Arrow IPC bytes)."""
    import pyarrow as pa

    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all()[column].to_pylist()


def first_live_points(run_id: str, timeout_s: float) -> list[dict]:
    """The curve points of the run's progress the first time it reports some while running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        progress = ModelRegistry().progress(run_id)
        if progress.get("status") not in ("starting", "running"):
            return []
        if progress.get("points"):
            return progress["points"]
        time.sleep(0.1)
    return []


def test_a_short_training_run_completes_shows_curves_and_can_be_promoted():
    app = run_app(page="app_pages/retrain.py")
    app.radio(key="retrain_preset").set_value("custom").run()
    app.number_input(key="retrain_epochs").set_value(1)
    app.selectbox(key="retrain_subset").set_value(3_000)
    app.number_input(key="retrain_not_digits").set_value(1_000)
    with FakeCanvas(None):
        app.button(key="FormSubmitter:retrain_form-Start training").click().run()
        run_id = TrainingJobs(ModelRegistry()).running()
        assert run_id is not None
        live = first_live_points(run_id, timeout_s=240)
        final = TrainingJobs(ModelRegistry()).wait(run_id, timeout_s=240)
        assert final["status"] == "completed", final
        # The one-epoch run's curves grew while it ran: points within the epoch, with held-out
        # figures, before it ended.
        assert live and all(0 < point["epoch"] < 1 and "val_accuracy" in point for point in live)
        app.run()
        assert not app.exception
        assert app.selectbox(key="retrain_history_select").value == run_id
        charts = app.get("vega_lite_chart")
        assert len(charts) >= 2  # accuracy and loss curves
        # The finished run's chart draws its twelve points, not one per epoch.
        epochs = sorted(set(chart_column(charts[0], "epoch")))
        assert len(epochs) == 12 and 0 < epochs[0] < 0.1 and epochs[-1] == 1
        app.button(key="retrain_promote").click().run()
        assert not app.exception
        assert ModelRegistry().active().run_id == run_id
        app.switch_page("app_pages/draw.py").run()
    assert f"Run {run_id}" in app.sidebar.markdown[0].value


def test_number_mode_shows_the_whole_number(mnist):
    from mnist_core.renderings import number_canvas

    picks = [int(np.flatnonzero(mnist["y_test"] == digit)[0]) for digit in (4, 2)]
    image = number_canvas([mnist["x_test"][i] for i in picks], np.random.default_rng(4))
    with FakeCanvas(image):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        choose(app, "number").run()
    assert not app.exception
    number = [metric for metric in app.metric if metric.label == "Prediction (number)"]
    assert number and number[0].value == "42"


def test_a_correction_is_stored_and_listed_on_the_retrain_page(mnist):
    drawing = canvas_drawing(mnist["x_test"][3], np.random.default_rng(3))
    with FakeCanvas(drawing):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        pills = [widget for widget in app.get("button_group") if "Wrong?" in str(widget.proto)]
        assert pills, "the correction control is shown under the prediction"
        pills[0].set_value(9).run()
        assert not app.exception
        assert any("saved as a 9" in message.value for message in app.success)
        app.switch_page("app_pages/retrain.py").run()
    from mnist_core.corrections import CorrectionStore

    stored = CorrectionStore().list()
    assert [(c.label, c.model_version) for c in stored] == [(9, "bundled")]
    assert any("Collected corrections (1)" in header.value for header in app.subheader)


def test_why_this_digit_shows_the_occlusion_map_only_when_asked(mnist):
    drawing = canvas_drawing(mnist["x_test"][3], np.random.default_rng(3))
    with FakeCanvas(drawing):
        app = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=90).run()
        assert not [caption for caption in figures(app) if caption.startswith("Red:")]
        app.toggle(key="draw_explain").set_value(True).run()
    assert not app.exception
    (heat,) = [image for caption, image in figures(app).items() if caption.startswith("Red:")]
    assert heat.shape == (28, 28, 3)  # the model's input, its pixels enlarged by the browser
    (words,) = [block.value for block in app.markdown if "lowers the model's belief" in block.value]
    assert "Next most likely" in words or "No other digit comes close" in words


def test_why_this_digit_names_only_runner_ups_the_model_gave_a_chance():
    from app_pages.shared import runner_ups

    assert runner_ups([(7, 0.9999), (9, 0.0001), (3, 0.0), (4, 0.0)]) == (
        "No other digit comes close (each under 0.1%)."
    )
    assert runner_ups([(1, 0.7), (7, 0.25), (4, 0.04), (9, 0.0001)]) == (
        "Next most likely: 7 (25.0%), 4 (4.0%)."
    )
