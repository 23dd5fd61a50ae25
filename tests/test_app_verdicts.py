"""The app's answers beyond a digit, through AppTest: ink that is not one digit on the draw
page, and the retrain page's presets, custom settings and a run's refusal and calibration
figures."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from app_helpers import (
    FAKE_RUN,
    FakeCanvas,
    choose,
    completed_run,
    figures,
    own_app_home,
    prediction_metric,
    reading_line,
    run_app,
)
from helpers import SAMPLE

from mnist_core import DigitClassifier, Prediction
from mnist_core.classifier import no_digit
from mnist_core.config import TRAIN_PRESETS, TrainConfig
from mnist_core.corrections import CorrectionStore
from mnist_core.jobs import TrainingJobs
from mnist_core.preprocess import to_mnist
from mnist_core.renderings import as_paper_scan, canvas_drawing
from mnist_core.training_data import as_uint8

START = "FormSubmitter:retrain_form-Start training"
RETRAIN = "app_pages/retrain.py"


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch):
    """Each test gets its own run folder; nothing here trains."""
    return own_app_home(tmp_path, monkeypatch)


@pytest.fixture()
def drawing(mnist):
    return canvas_drawing(mnist["x_test"][3], np.random.default_rng(3), background="transparent")


def refusal(mnist) -> Prediction:
    """What an 11-class model answers to a scribble: no digit, 80% "not a digit"."""
    seen = (mnist["x_test"][3] / 255).astype(np.float32)
    probabilities = np.full(10, 0.02, np.float32)
    return Prediction(None, probabilities, 0.0, seen, verdict="not_a_digit", not_digit=0.8)


def refused(prediction: Prediction):
    """The classifier answers ``prediction`` to any single-digit reading."""
    return mock.patch.object(DigitClassifier, "predict", return_value=prediction)


# --------------------------------------------------------------------------- not a digit


def test_a_drawing_that_is_not_a_digit_is_refused_in_words(mnist, drawing):
    with refused(refusal(mnist)):
        app = run_app(drawing)
    assert not app.exception
    assert [metric.value for metric in prediction_metric(app)] == ["Not a digit"]
    (warning,) = [warning.value for warning in app.warning]
    assert "That does not look like a digit" in warning
    assert "A number" in warning  # several digits: the mode that reads them
    assert "Read: <b>not a digit (80% sure)</b>" in reading_line(app)
    assert any("What the model saw" in html.proto.body for html in app.get("html"))
    assert not any(toggle.label == "Why this digit?" for toggle in app.toggle)


def test_a_sure_refusal_says_in_words_that_no_digit_is_likely(mnist, drawing):
    """Ten bars of 0% are ten empty lines under a tall blank: a sure refusal says it instead;
    an unsure one (80%, the digits 20%) keeps its bars."""
    unsure = refusal(mnist)
    sure = replace(unsure, probabilities=unsure.probabilities / 100, not_digit=0.998)
    for prediction, bars in ((sure, False), (unsure, True)):
        with refused(prediction):
            app = run_app(drawing)
        assert not app.exception
        shown = any("Probability of each digit" in html.proto.body for html in app.get("html"))
        assert shown == bars
        captions = [caption.value for caption in app.caption]
        assert any("none is likely" in caption for caption in captions) != bars


def test_a_refused_drawing_can_still_be_corrected_to_a_digit(mnist, drawing):
    with refused(refusal(mnist)), FakeCanvas(drawing):
        app = run_app(drawing)
        (pills,) = [
            widget for widget in app.get("button_group") if "A digit after all" in str(widget.proto)
        ]
        pills.set_value(5).run()
    assert not app.exception
    assert any("saved as a 5" in message.value for message in app.success)
    stored = CorrectionStore().list()
    assert [(c.label, c.predicted) for c in stored] == [(5, None)]
    assert np.allclose(stored[0].model_input, refusal(mnist).model_input, atol=1 / 255)


def test_a_blank_drawing_still_invites_a_digit(drawing):
    with refused(no_digit()):
        app = run_app(drawing)
    assert not app.exception
    assert not prediction_metric(app)
    assert not app.warning
    assert any("Draw a digit" in info.value for info in app.info)
    assert "its reading appears here" in reading_line(app)


def test_a_photo_that_is_not_a_digit_is_refused_with_a_photo_hint(mnist):
    app = run_app()
    with FakeCanvas(None):
        choose(app, "photo").run()
    app.file_uploader(key="draw_upload").set_value(
        ("doodle.png", as_paper_scan(mnist["x_test"][7]), "image/png")
    )
    with refused(refusal(mnist)), FakeCanvas(None):
        app.run()
    assert not app.exception
    assert [metric.value for metric in prediction_metric(app)] == ["Not a digit"]
    (warning,) = [warning.value for warning in app.warning]
    assert "That does not look like a digit" in warning and "Photograph one digit" in warning
    assert any("A digit after all" in str(widget.proto) for widget in app.get("button_group"))


# --------------------------------------------------------------------------- presets


def test_the_presets_are_offered_by_name_with_their_summaries():
    app = run_app(page=RETRAIN)
    assert not app.exception
    chooser = app.radio(key="retrain_preset")
    assert chooser.options == [
        *(f"{preset.label} — {preset.summary}" for preset in TRAIN_PRESETS.values()),
        "Custom",
    ]
    assert chooser.value == next(iter(TRAIN_PRESETS))
    # The advice to start with Quick gives the time it takes here, as its button does.
    quick = TRAIN_PRESETS["quick"]
    advice = [c.value for c in app.caption if c.value.startswith("New to training?")]
    assert advice == [advice[0]] and f"process in {quick.duration_here}," in advice[0]
    # The raw settings wait under Custom; starting needs one press.
    assert not [field for field in app.number_input if field.key == "retrain_epochs"]
    assert app.button(key=START) is not None


@pytest.mark.parametrize("name", list(TRAIN_PRESETS))
def test_starting_a_preset_starts_exactly_its_config(name):
    app = run_app(page=RETRAIN)
    with mock.patch.object(TrainingJobs, "start", return_value=FAKE_RUN) as start:
        app.radio(key="retrain_preset").set_value(name).run()
        app.button(key=START).click().run()
    assert not app.exception
    start.assert_called_once_with(TRAIN_PRESETS[name].config)


def test_the_corrections_checkbox_adds_them_to_a_preset(mnist):
    store = CorrectionStore()
    store.add((mnist["x_test"][0] / 255).astype(np.float32), 3, 5, "bundled")
    app = run_app(page=RETRAIN)
    with mock.patch.object(TrainingJobs, "start", return_value=FAKE_RUN) as start:
        app.checkbox(key="retrain_use_corrections").check()
        app.button(key=START).click().run()
    assert not app.exception
    quick = next(iter(TRAIN_PRESETS.values())).config
    start.assert_called_once_with(replace(quick, corrections=store.location))


def test_custom_settings_reach_the_config():
    app = run_app(page=RETRAIN)
    app.radio(key="retrain_preset").set_value("custom").run()
    app.number_input(key="retrain_epochs").set_value(3)
    app.select_slider(key="retrain_batch_size").set_value(64)
    app.number_input(key="retrain_learning_rate").set_value(0.001)
    app.radio(key="retrain_arch").set_value("tutorial")
    app.checkbox(key="retrain_augment").uncheck()
    app.selectbox(key="retrain_subset").set_value(3_000)
    app.number_input(key="retrain_not_digits").set_value(500)
    app.slider(key="retrain_styled_percent").set_value(10)
    app.number_input(key="retrain_oversample").set_value(5)
    with mock.patch.object(TrainingJobs, "start", return_value=FAKE_RUN) as start:
        app.button(key=START).click().run()
    assert not app.exception
    start.assert_called_once_with(
        TrainConfig(
            epochs=3,
            batch_size=64,
            learning_rate=0.001,
            arch="tutorial",
            augment=False,
            subset=3_000,
            not_digits=500,
            styled_share=0.1,
            corrections_oversample=5,
        )
    )


def test_custom_starts_at_the_defaults_within_the_limits():
    from mnist_core.config import TRAIN_LIMITS

    app = run_app(page=RETRAIN)
    app.radio(key="retrain_preset").set_value("custom").run()
    defaults = TrainConfig()
    for key, field in [
        ("retrain_epochs", "epochs"),
        ("retrain_not_digits", "not_digits"),
        ("retrain_oversample", "corrections_oversample"),
    ]:
        widget = app.number_input(key=key)
        assert widget.value == getattr(defaults, field)
        assert (widget.min, widget.max) == TRAIN_LIMITS[field]
    assert app.slider(key="retrain_styled_percent").value == round(defaults.styled_share * 100)
    assert app.selectbox(key="retrain_subset").value == defaults.subset
    # The fitting set is what is left once the held-out digits are kept out.
    held_out = round(60_000 * defaults.validation_split)
    assert (
        f"All {60_000 - held_out:,} training digits" in app.selectbox(key="retrain_subset").options
    )


# --------------------------------------------------------------------------- a run's results


def test_a_runs_refusals_and_calibration_are_shown_in_words(app_home):
    completed_run(
        app_home,
        not_digit_drawings=6000,
        styled_digits=1300,
        test_refused=0.0042,
        not_digit_refusal=0.953,
        test_ece=0.0061,
        test_ece_before=0.0123,
        temperature=1.37,
    )
    app = run_app(page=RETRAIN)
    assert not app.exception
    assert app.selectbox(key="retrain_history_select").value == FAKE_RUN
    text = " ".join(block.value for block in app.markdown)
    assert "6,000 drawings that are not digits" in text
    assert "1,300 restyled digits (European styles, stretched to fill a box)" in text
    assert '"not a digit" to 0.42% of the MNIST test digits' in text
    assert '"not a digit" to 95.3% of held-out drawings' in text
    assert "off from how often it is right by 0.6%" in text and "1.2% before" in text
    assert "temperature of 1.37" in text


def test_a_run_without_the_new_figures_shows_none_of_them(app_home):
    completed_run(app_home)
    app = run_app(page=RETRAIN)
    assert not app.exception
    text = " ".join(block.value for block in app.markdown)
    assert "not a digit" not in text and "temperature" not in text


def test_the_mistakes_gallery_shows_the_digits_as_the_model_saw_them(app_home, mnist):
    completed_run(app_home, misclassified=[[0, 9], [4, 1]], data_source=str(SAMPLE))
    app = run_app(page=RETRAIN)
    assert not app.exception
    gallery = {caption: image for caption, image in figures(app).items() if "→" in caption}
    expected = {
        f"{int(mnist['y_test'][index])} → {read}": index for index, read in ((0, 9), (4, 1))
    }
    assert list(gallery) == list(expected)
    for caption, index in expected.items():
        # White ink on black, as training's preprocessing gives it: not raw MNIST, not inverted.
        np.testing.assert_array_equal(gallery[caption], as_uint8(to_mnist(mnist["x_test"][index])))
