"""What every page shares: the cached model, the registry, the admin gate, the prediction block."""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import sys
from pathlib import Path

import cv2
import numpy as np
import streamlit as st

from mnist_core import DigitClassifier, Prediction, legacy, serving
from mnist_core.config import ADMIN_PASSWORD, VerdictConfig
from mnist_core.corrections import CorrectionStore
from mnist_core.database import UNAVAILABLE
from mnist_core.explain import occlusion_map, overlay
from mnist_core.jobs import TrainingJobs
from mnist_core.registry import BUNDLED_ID, ModelRegistry

# Under this top probability we show the two best guesses, not one answer (the core's setting:
# the reader looks twice at such a picture).
UNSURE_BELOW = VerdictConfig().unsure_below
NOT_A_DIGIT = "not_a_digit"  # Prediction.verdict of ink that is not one digit
NOT_A_DIGIT_MESSAGE = "That does not look like a digit"
# A refusal shows the ten digits' bars only when they hold this much together: under it every bar
# is an empty line under a tall blank.
DIGIT_BARS_FROM = 0.01
MODEL_INPUT_CAPTION = "What the model saw (28x28)"
EXPLANATION_PICTURE_PX = 168  # six screen pixels a model pixel
EXPLANATION_TEXT_PX = 200  # the "Why this digit?" words: beside the picture from this width
# A figure's caption: #5c5c5c is 6.7:1 on white, above WCAG's 4.5:1 for small text.
CAPTION_STYLE = "font-size:0.875rem;color:#5c5c5c"


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_classifier(path: str, modified: float) -> DigitClassifier:
    """One classifier per model file version, shared by every session (it is thread-safe).

    ``modified`` is part of the cache key so a replaced file is loaded afresh.
    """
    classifier = DigitClassifier.load(path)
    hide_from_garbage_collector()
    return classifier


def hide_from_garbage_collector() -> None:
    """Take every object alive now (Streamlit, the libraries imported so far, the models) out
    of the cyclic garbage collector's sight.

    Each full collection walks every object alive while holding the GIL, every session
    waiting; frozen, they are skipped. Libraries imported later, when first used, are frozen
    by :func:`hide_new_libraries_from_garbage_collector`.
    """
    global _modules_when_frozen
    gc.unfreeze()  # a model replaced since the last freeze is collected now, not kept
    gc.collect()
    gc.freeze()
    _modules_when_frozen = len(sys.modules)


# Modules imported since the last freeze that make a library worth freezing (pandas with
# pyarrow are ~350, Altair ~180; a stray submodule now and then is not worth a pass).
NEW_MODULES_TO_FREEZE = 50
_modules_when_frozen = 0


def hide_new_libraries_from_garbage_collector() -> None:
    """Freeze what the libraries imported since the last freeze keep alive: Altair, pandas and
    pyarrow (the retrain page's charts and tables). They are not imported with the model, so
    the draw page does not wait for them (Altair alone is ~0.2 s of CPU and 26 MB; pandas with
    pyarrow 66 MB, kept from the canvas by ``canvas._skip_the_dataframe_check_of_plain_values``).
    Run at the end of a page run: a young-generation collection and the freeze take a few ms."""
    global _modules_when_frozen
    if len(sys.modules) - _modules_when_frozen < NEW_MODULES_TO_FREEZE:
        return
    gc.collect(1)  # the young garbage of the imports is freed, not frozen
    gc.freeze()
    _modules_when_frozen = len(sys.modules)


def registry() -> ModelRegistry:
    found = ModelRegistry()
    legacy.import_once(found)  # once per process: an app home from before the database
    return found


def jobs() -> TrainingJobs:
    return TrainingJobs(registry())


def active_classifier() -> tuple[DigitClassifier, str, str | None]:
    """(classifier, run id, warning): the active model from this process' cache, or the
    bundled one when it is missing or does not load (``serving.active_classifier``)."""
    return serving.active_classifier(registry(), cached_classifier)


def cached_classifier(path: Path) -> DigitClassifier:
    """The model at ``path`` from the cache, loaded afresh when the file has changed."""
    return load_classifier(str(path), path.stat().st_mtime)


def follow_the_active_model(run_id: str) -> None:
    """Called by a fragment that found ``run_id`` active: when the sidebar names another
    model (promoted by someone else since this page last ran whole), run the whole page so
    it names the one that reads."""
    if st.session_state.get("sidebar_model", run_id) != run_id:
        st.rerun(scope="app")


def model_label(run_id: str) -> str:
    return "Bundled model" if run_id == BUNDLED_ID else f"Run {run_id}"


def admin_password() -> str | None:
    """The admin password from st.secrets["admin_password"] or $MNIST_ADMIN_PASSWORD, if set."""
    try:
        secret = st.secrets.get("admin_password")
    except Exception:  # no secrets.toml at all
        secret = None
    return secret or ADMIN_PASSWORD.value()


def is_admin() -> bool:
    """True when no password is configured, or this session has entered it."""
    return admin_password() is None or st.session_state.get("admin_unlocked", False)


def admin_login_form(key: str) -> None:
    """Ask for the admin password; only a yes/no flag is kept in the session, never the text."""
    with st.form(key, clear_on_submit=True):
        # Keyed, so what the session holds of it is in plain sight (st.session_state): the
        # form clears it when sent, and it is gone once the form is no longer drawn.
        entered = st.text_input("Admin password", type="password", key=f"{key}_password")
        if st.form_submit_button("Unlock"):
            expected = admin_password() or ""
            if hmac.compare_digest(entered.encode(), expected.encode()):
                st.session_state["admin_unlocked"] = True
                st.rerun()
            else:
                st.error("Wrong password.")


def show_prediction(
    prediction: Prediction,
    key: str,
    classifier=None,
    original=None,
    model_version: str = "",
    not_a_digit_hint: str = "",
) -> None:
    """The prediction block: big digit, confidence, all ten probabilities, the model's input,
    and (when ``classifier`` is given) "Why this digit?" and "Wrong? It is a ...". Ink that
    is not one digit gets :func:`show_not_a_digit` instead, with ``not_a_digit_hint``."""
    if prediction.verdict == NOT_A_DIGIT:
        show_not_a_digit(prediction, key, classifier, original, model_version, not_a_digit_hint)
        return
    reading, seen = st.columns(2)
    with reading:
        st.metric("Prediction", str(prediction.digit))
        st.caption(f"Confidence {prediction.confidence:.1%}")
    seen.html(pixel_figure(prediction.model_input, 140, MODEL_INPUT_CAPTION))
    if prediction.confidence < UNSURE_BELOW:
        (first, p_first), (second, p_second) = prediction.ranked[:2]
        st.warning(f"The model is unsure: {first} ({p_first:.0%}) or {second} ({p_second:.0%}).")
    st.html(probability_bars(prediction.probabilities, prediction.digit))
    if classifier is not None:
        explanation(prediction, classifier, key)
        correction_control(prediction, key, original, model_version)


def show_not_a_digit(
    prediction: Prediction, key: str, classifier, original, model_version: str, hint: str
) -> None:
    """The block for ink the model refused as not one digit: the refusal in words, what the
    model saw, each digit's probability should it be one after all, and the correction
    control (a digit it refused can still be taught)."""
    reading, seen = st.columns(2)
    with reading:
        st.metric("Prediction", "Not a digit")
        st.caption(f"{prediction.not_digit:.0%} sure it is not one digit")
    seen.html(pixel_figure(prediction.model_input, 140, MODEL_INPUT_CAPTION))
    st.warning(f"**{NOT_A_DIGIT_MESSAGE}.** {hint}".strip())
    digits_share = 1 - prediction.not_digit
    if digits_share < DIGIT_BARS_FROM:  # ten empty bars under a tall blank: say it in words
        st.caption(
            f"Should it be a digit after all, none is likely: the ten together have"
            f' {digits_share:.1%}, "not a digit" the rest.'
        )
    else:
        st.html(probability_bars(prediction.probabilities, None))
        st.caption(
            f"The bars: how likely each digit is, should it be one ({digits_share:.0%} in"
            f' all); "not a digit" has the other {prediction.not_digit:.0%}.'
        )
    if classifier is not None:
        correction_control(
            prediction, key, original, model_version, "A digit after all? It is a ..."
        )


def pixel_figure(digit: np.ndarray, size_px: int, caption: str, alt: str | None = None) -> str:
    """A 28x28 digit as an HTML figure, each pixel a sharp square, the PNG inline: the one way
    every page shows a model's input. ``digit``: grey floats in [0, 1] (as ``to_mnist`` gives
    them) or uint8, or (28, 28, 3) uint8 RGB; ``alt`` defaults to the caption.

    Not ``st.image``: its picture is a file the browser fetches after each stroke, then lays
    the page out again when it arrives, a second round trip to a server busy with other
    sessions' strokes. Inline and sized, it is drawn with the page."""
    pixels = digit if digit.dtype == np.uint8 else (np.clip(digit, 0, 1) * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)  # PNG encoding takes OpenCV's order
    _, png = cv2.imencode(".png", pixels)
    source = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")
    return (
        f'<figure style="margin:0"><img src="{source}" width="{size_px}" height="{size_px}"'
        f' alt="{alt or caption}" style="image-rendering:pixelated;display:block;'
        f'max-width:100%;height:auto"><figcaption style="{CAPTION_STYLE}">{caption}'
        "</figcaption></figure>"
    )


def probability_bars(probabilities: np.ndarray, chosen: int | None) -> str:
    """The ten probabilities as a bar chart in plain HTML, ``chosen``'s bar darker (none
    when None).

    Not ``st.bar_chart``: a Vega chart is rebuilt in the browser on every stroke, tens of ms
    of CPU each time; these bars are laid out like text."""
    bars = []
    for digit, probability in enumerate(probabilities):
        colour = "#3b5bdb" if digit == chosen else "#a5b4fc"
        label = f"{probability:.0%}" if probability >= 0.005 else ""
        bars.append(
            f'<div title="{digit}: {probability:.2%}" style="flex:1;display:flex;'
            'flex-direction:column;justify-content:flex-end;align-items:center;height:100%">'
            f'<span style="font-size:0.7rem;color:#555">{label}</span>'
            f'<div style="width:70%;height:{max(probability, 0.004) * 85:.1f}%;'
            f'background:{colour};border-radius:2px 2px 0 0"></div></div>'
        )
    digits = "".join(
        f'<span style="flex:1;text-align:center">{digit}</span>' for digit in range(10)
    )
    return (
        '<div role="img" aria-label="Probability of each digit">'
        '<div style="display:flex;align-items:flex-end;height:120px;gap:2px;'
        f'border-bottom:1px solid #ccc">{"".join(bars)}</div>'
        f'<div style="display:flex;gap:2px;font-size:0.85rem">{digits}</div></div>'
    )


# Under this a runner-up shows as 0.0%: naming it would suggest the model weighed it.
RUNNER_UP_SHOWN_FROM = 0.0005


def runner_ups(ranked) -> str:
    """The next most likely digits after the reading (``ranked``: (digit, probability), most
    likely first), or that none comes close."""
    close = [(digit, p) for digit, p in ranked[1:4] if p >= RUNNER_UP_SHOWN_FROM]
    if not close:
        return "No other digit comes close (each under 0.1%)."
    return "Next most likely: " + ", ".join(f"{digit} ({p:.1%})" for digit, p in close) + "."


def explanation(prediction: Prediction, classifier, key: str) -> None:
    """Occlusion map and runner-ups, computed only while the toggle is on."""
    if not st.toggle("Why this digit?", key=f"{key}_explain"):
        return
    heat = occlusion_map(classifier.probabilities, prediction.model_input, prediction.digit)
    # A row that wraps: the words beside the picture where both fit, under it where not (in
    # a narrow answer column, two fixed columns would put the picture over the words).
    with st.container(horizontal=True, gap="small"):
        st.html(
            pixel_figure(
                overlay(prediction.model_input, heat),
                EXPLANATION_PICTURE_PX,
                "Red: the pixels the reading depends on most",
                f"The drawing as the model saw it, the strokes its reading {prediction.digit} "
                "depends on most in red",
            ),
            width=EXPLANATION_PICTURE_PX,
        )
        st.markdown(
            f"Hiding the red strokes lowers the model's belief in **{prediction.digit}** "
            f"the most. {runner_ups(prediction.ranked)}",
            width=EXPLANATION_TEXT_PX,
        )


def correction_control(
    prediction: Prediction,
    key: str,
    original,
    model_version: str,
    question: str = "Wrong? It is a ...",
) -> None:
    """ "Wrong? It is a ..." -> one row in the corrections store (its read digit None when
    the model read no digit)."""
    # One key for the control, its choice emptied when the drawing changes. Not a key per
    # drawing: Streamlit keeps every widget drawn in a fragment's runs for the session's life,
    # so each reading (each stroke) added one (docs/capacity.md, "Soak at 4f97b0a").
    digest = hashlib.sha1(prediction.model_input.tobytes()).hexdigest()[:12]
    saved_key = f"{key}_saved_{digest}"
    if st.session_state.get(saved_key) is not None:
        st.success(
            f"Thanks: saved as a {st.session_state[saved_key]}. It will help the next model."
        )
        return
    choice_key, drawing_key = f"{key}_correct", f"{key}_correct_drawing"
    if st.session_state.get(drawing_key) != digest:
        st.session_state[drawing_key] = digest
        st.session_state[choice_key] = None  # before the widget exists in this run: allowed
    choice = st.pills(question, list(range(10)), key=choice_key, wrap=True)
    if choice is None:
        return
    try:
        CorrectionStore().add(
            prediction.model_input, int(choice), prediction.digit, model_version, original
        )
    except OSError as error:
        st.error(f"Could not save the correction: {error}")
        return
    except UNAVAILABLE:
        # Not the error itself: its text may name the database's host and user.
        st.error("Could not save the correction: the database is unavailable. Try again later.")
        return
    st.session_state[saved_key] = int(choice)
    st.rerun()
