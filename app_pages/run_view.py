"""A training run as the retrain page shows it: live progress and curves, and a finished
run's figures, mistakes and promotion."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages.shared import is_admin, jobs, model_label, pixel_figure, registry
from mnist_core.data import DOWNLOADED
from mnist_core.database import UNAVAILABLE
from mnist_core.registry import PromotionError

# Said when the database fails: never its error's text, which may name its host and user.
UNREACHABLE = "the database cannot be reached"
GALLERY_DIGITS = 24  # misread test digits shown: a few rows on a laptop, no scrolling wall
ARCH_NAMES = {
    "compact": "Ours (compact, batch-normalised CNN)",
    "deep": "Ours, a layer deeper (half as fast to train, a little more accurate)",
    "tutorial": "The tutorial's CNN",
}


def curves(run: dict) -> None:
    """Accuracy and loss, train and validation, side by side: the live points where the run
    kept them (several an epoch), else one point per finished epoch (older runs)."""
    frame = curve_frame(run)
    if frame.empty:
        st.caption("The curves start after the first stretch of training, in seconds.")
        return
    # The axis spans the whole run from its start, so the curves also show how far it has got.
    epochs = run.get("epochs") or run.get("config", {}).get("epochs") or frame["epoch"].max()
    span = (0, float(max(epochs, frame["epoch"].max()))) if run.get("points") else None
    accuracy, loss = st.columns(2)
    with accuracy:
        curve_chart(frame, ["accuracy", "val_accuracy"], "Accuracy", span)
    with loss:
        curve_chart(frame, ["loss", "val_loss"], "Loss", span)
    st.caption(
        "Held-out digits are never trained on: they show how well the network reads digits it "
        "has not seen. Training digits are mostly shown distorted (shifted, turned, thickened), "
        "which is why the network can score lower on them."
    )


def curve_frame(run: dict) -> pd.DataFrame:
    """A run's (progress' or record's) curve points, with "epoch" counted from the run's start
    (a fraction within an epoch)."""
    if run.get("points"):
        return pd.DataFrame(run["points"])
    frame = pd.DataFrame(run.get("history", []))
    frame["epoch"] = range(1, len(frame) + 1)
    return frame


# What the curves are, in words for someone who has never trained a network.
CURVE_NAMES = {"accuracy": "training digits", "loss": "training digits"}
CURVE_NAMES.update({f"val_{key}": "held-out digits" for key in CURVE_NAMES})


def curve_chart(
    frame: pd.DataFrame, columns: list[str], title: str, span: tuple | None = None
) -> None:
    """One chart of ``columns`` against the epoch. Its title, axes and legend below take ~200
    px of the height Vega-Lite fits it to: at 240 px the lines had ~40 px; at 340, ~140."""
    long = frame.melt("epoch", [c for c in columns if c in frame], "curve", "value")
    long["curve"] = long["curve"].map(CURVE_NAMES)
    # Whole epochs on the axis, except in a run of one or two, whose points fall within them.
    whole = (span[1] if span else frame["epoch"].max()) > 2
    chart = (
        alt.Chart(long, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "epoch:Q",
                axis=alt.Axis(tickMinStep=1 if whole else 0.25, format="d" if whole else ".2~f"),
                scale=alt.Scale(domain=list(span)) if span else alt.Undefined,
            ),
            # The y axis fits the data (not 0..1): 98% and 99.5% must look different.
            y=alt.Y("value:Q", title=title.lower(), scale=alt.Scale(zero=False)),
            color=alt.Color("curve:N", legend=alt.Legend(orient="bottom", title=None)),
        )
    )
    st.altair_chart(chart, height=340)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def live_run(run_id: str) -> None:
    """Progress, time left, live curves and Cancel for the run in progress."""
    progress = registry().progress(run_id)
    st.subheader(f"Training run {run_id}")
    refused = st.session_state.get("retrain_refused")
    if refused and refused[0] == run_id:
        st.info(f"Your training did not start: {refused[1]}.")
    if progress.get("phase") == "preparing" or progress.get("status") == "starting":
        st.progress(0.0, text="Preparing the data (the first run on a server takes a minute)...")
    elif progress.get("phase") == "evaluating":
        st.progress(1.0, text="Evaluating on the 10,000 test digits...")
    else:
        st.progress(
            min(1.0, progress.get("fraction", 0.0)),
            text=f"Epoch {progress.get('epoch', 0)}/{progress.get('epochs', '?')} · batch "
            f"{progress.get('batch', 0)}/{progress.get('batches', '?')} · "
            f"{duration(progress.get('elapsed_s', 0))} elapsed · "
            f"{duration(progress.get('remaining_s'))} left",
        )
    if is_admin() and st.button("Cancel training", key="retrain_cancel"):
        try:
            jobs().cancel(run_id)
        except UNAVAILABLE:
            st.error(f"Not cancelled: {UNREACHABLE}. Try again in a moment.")
        else:
            st.toast("Training cancelled; the active model is unchanged.")
    curves(progress)


@st.cache_data(show_spinner="Loading the test digits...", max_entries=4)
def test_digits(source: str, indices: tuple[int, ...]):
    """:func:`mnist_core.metrics.test_digits_as_seen`, kept per record's data and digits."""
    from mnist_core.metrics import test_digits_as_seen

    return test_digits_as_seen(source, indices)


def mistakes_gallery(record: dict) -> None:
    mistakes = record.get("misclassified", [])
    confusion = np.asarray(record.get("confusion_matrix", [[0]]))
    wrong = int(confusion.sum() - np.trace(confusion))
    if not mistakes:
        return
    shown = mistakes[:GALLERY_DIGITS]
    try:
        images, labels = test_digits(
            record.get("data_source", DOWNLOADED), tuple(index for index, _ in shown)
        )
    except Exception as error:
        st.caption(f"The test digits are not available here ({error}).")
        return
    st.caption(
        f"Misclassified test digits (true → read): {wrong:,} in all, the first {len(shown)} shown"
    )
    # A row that wraps, not eight columns: those stack on a phone, one digit a line.
    row = st.container(horizontal=True)
    for image, label, (_, predicted) in zip(images, labels, shown, strict=True):
        row.html(
            pixel_figure(
                image, 56, f"{label} → {predicted}", f"A test {label} the model read as {predicted}"
            ),
            width=56,
        )


def record_extras(record: dict) -> list[str]:
    """What a run taught besides MNIST, how it refuses what is not a digit and how far its
    confidence can be trusted, in plain words; only what the record holds (older runs hold
    none of it)."""
    lines = []
    taught = [
        f"{record[key]:,} {words}"
        for key, words in (
            ("not_digit_drawings", "drawings that are not digits"),
            # Generic: a record from before a style was added is shown with the same words.
            ("styled_digits", "restyled digits (European styles, stretched to fill a box)"),
        )
        if record.get(key)
    ]
    if taught:
        lines.append("Also taught " + " and ".join(taught) + ".")
    if "test_refused" in record:
        lines.append(
            f'Says "not a digit" to {record["test_refused"]:.2%} of the MNIST test digits '
            "(the accuracy above counts the digit it would read)."
        )
    if "not_digit_refusal" in record:
        lines.append(
            f'Says "not a digit" to {record["not_digit_refusal"]:.1%} of held-out drawings '
            "that are not digits (kinds of letters and shapes it never saw in training)."
        )
    if "test_ece" in record:
        before = record.get("test_ece_before")
        lines.append(
            f"Its stated confidence is off from how often it is right by {record['test_ece']:.1%}"
            " on average (calibration error on the test digits"
            + (f"; {before:.1%} before the temperature below" if before is not None else "")
            + ")."
        )
    if "temperature" in record:
        lines.append(
            f"Calibrated by a temperature of {record['temperature']:.2f}, fitted on held-out "
            "digits (1 = confidences left as the network gave them)."
        )
    return lines


def run_details(run_id: str, active_id: str) -> None:
    record, progress = registry().record(run_id), registry().progress(run_id)
    status = record.get("status") or progress.get("status", "unknown")
    if status in ("starting", "running"):
        st.info("This run is still in progress (above); its results appear here when it ends.")
        return
    if status != "completed":
        reason = progress.get("error", "")
        st.warning(
            f"This run {status}{': ' + reason if reason else ''}. It has no model to promote."
        )
        curves(progress)
        return
    run_summary(record, run_id, active_id)
    curves(record)
    with st.expander("Confusion matrix (rows: true digit, columns: read as)"):
        st.dataframe(
            pd.DataFrame(
                record.get("confusion_matrix", []),
                index=pd.Index(range(10), name="true"),
                columns=[str(digit) for digit in range(10)],
            )
        )
    mistakes_gallery(record)
    promotion(run_id, active_id)


def run_summary(record: dict, run_id: str, active_id: str) -> None:
    """A completed run's figures beside the active model's, its settings, and what else it
    learnt and measured."""
    accuracy = record.get("test_accuracy", 0)
    active_accuracy = registry().record(active_id).get("test_accuracy", 0)
    config = record.get("config", {})
    first, second, third = st.columns(3)
    first.metric(
        "Test accuracy",
        f"{accuracy:.2%}",
        delta=f"{(accuracy - active_accuracy) * 100:+.2f} pts vs active"
        if run_id != active_id
        else None,
    )
    second.metric("Training time", duration(record.get("duration_s")))
    third.metric("Training digits", f"{record.get('train_digits', 0):,}")
    epochs = config.get("epochs")
    st.caption(
        f"{ARCH_NAMES.get(config.get('arch'), config.get('arch'))} · {epochs} "
        f"epoch{'' if epochs == 1 else 's'} · batch {config.get('batch_size')} · learning rate "
        f"{config.get('learning_rate')} · augmentation {'on' if config.get('augment') else 'off'}"
        f" · trained {record.get('trained_at', '?').replace('T', ' ')[:16]} UTC"
    )
    extras = record_extras(record)
    if extras:
        st.markdown("\n".join(f"- {line}" for line in extras))
    if "corrections_used" in record:
        held_out = record.get("corrections_test_accuracy")
        st.caption(
            f"Trained on {record['corrections_used']} collected corrections; on the "
            f"{record['corrections_held_out']} held out it reads "
            + (f"{held_out:.1%}" if held_out is not None else "n/a (too few)")
        )


def promotion(run_id: str, active_id: str) -> None:
    """Says this is the active model, or gives an admin the button that makes it so."""
    if run_id == active_id:
        st.success("This is the active model.")
    elif is_admin() and st.button(
        f"Make {model_label(run_id).lower()} the active model",
        type="primary",
        key="retrain_promote",
    ):
        try:
            registry().promote(run_id)
        except (PromotionError, OSError) as error:
            st.error(f"Not promoted: {error}")
        except UNAVAILABLE:
            st.error(f"Not promoted: {UNREACHABLE}. The active model is unchanged.")
        else:
            st.toast(f"{model_label(run_id)} is now active for everyone.")
            st.rerun()
