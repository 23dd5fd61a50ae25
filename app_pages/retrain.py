"""Retrain page: start a training run in the background, watch it live, compare, promote."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages.shared import (
    active_classifier,
    admin_login_form,
    admin_password,
    enlarged,
    is_admin,
    jobs,
    model_label,
    registry,
)
from mnist_core.config import TRAIN_LIMITS, TrainConfig
from mnist_core.corrections import CorrectionStore
from mnist_core.jobs import TrainingBusy
from mnist_core.registry import PromotionError

DEFAULTS = TrainConfig()
TRAINING_SIZES = {
    0: "All 60,000 digits",
    15_000: "Quick: 15,000 digits",
    3_000: "Tiny: 3,000 digits",
}
BATCH_SIZES = (32, 64, 128, 256, 512)
ARCH_NAMES = {"compact": "Ours (compact, batch-normalised CNN)", "tutorial": "The tutorial's CNN"}


def curves(history: list[dict]) -> None:
    """Accuracy and loss per epoch, train and validation, side by side."""
    if not history:
        st.caption("Curves appear after the first epoch.")
        return
    frame = pd.DataFrame(history)
    frame["epoch"] = range(1, len(frame) + 1)
    accuracy, loss = st.columns(2)
    with accuracy:
        curve_chart(frame, ["accuracy", "val_accuracy"], "Accuracy")
    with loss:
        curve_chart(frame, ["loss", "val_loss"], "Loss")


def curve_chart(frame: pd.DataFrame, columns: list[str], title: str) -> None:
    # The y axis fits the data (not 0..1): 98% and 99.5% must look different.
    long = frame.melt("epoch", [c for c in columns if c in frame], "curve", "value")
    chart = (
        alt.Chart(long, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=title.lower(), scale=alt.Scale(zero=False)),
            color=alt.Color("curve:N", legend=alt.Legend(orient="bottom", title=None)),
        )
    )
    st.altair_chart(chart, height=240)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def live_run(run_id: str) -> None:
    """Progress, time left, live curves and Cancel for the run in progress."""
    progress = registry().progress(run_id)
    st.subheader(f"Training run {run_id}")
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
        jobs().cancel(run_id)
        st.toast("Training cancelled; the active model is unchanged.")
    curves(progress.get("history", []))


def watch_section() -> None:
    running = jobs().running()
    watching = st.session_state.get("retrain_watching")
    if running is None:
        if watching is not None:  # it just ended: refresh the whole page once (history, sidebar)
            st.session_state["retrain_watching"] = None
            st.session_state["retrain_history_select"] = watching  # show its results
            st.rerun(scope="app")
        return
    st.session_state["retrain_watching"] = running
    live_run(running)


def training_form() -> None:
    with st.form("retrain_form"):
        st.subheader("Train a new model")
        epochs = st.number_input(
            "Epochs", *TRAIN_LIMITS["epochs"], value=DEFAULTS.epochs, step=1, key="retrain_epochs"
        )
        batch_size = st.select_slider(
            "Batch size", BATCH_SIZES, value=DEFAULTS.batch_size, key="retrain_batch_size"
        )
        learning_rate = st.number_input(
            "Peak learning rate",
            *TRAIN_LIMITS["learning_rate"],
            value=DEFAULTS.learning_rate,
            step=5e-4,
            format="%.4f",
            key="retrain_learning_rate",
        )
        arch = st.radio(
            "Architecture", list(ARCH_NAMES), format_func=ARCH_NAMES.get, key="retrain_arch"
        )
        augment = st.checkbox(
            "Augment: shift, scale, rotation, stroke width, elastic",
            value=DEFAULTS.augment,
            key="retrain_augment",
        )
        subset = st.selectbox(
            "Training set",
            list(TRAINING_SIZES),
            format_func=TRAINING_SIZES.get,
            key="retrain_subset",
        )
        collected = CorrectionStore().count()
        use_corrections = st.checkbox(
            f"Include the {collected} collected corrections (20% held out to measure on)",
            value=False,
            disabled=collected == 0,
            key="retrain_use_corrections",
        )
        oversample = st.number_input(
            "Show each correction this many times per epoch",
            *TRAIN_LIMITS["corrections_oversample"],
            value=DEFAULTS.corrections_oversample,
            step=1,
            key="retrain_oversample",
        )
        st.caption(
            "On 2 CPU cores: all 60,000 digits for 6 epochs take about 8 minutes (99.4% on "
            "the test set); 15,000 digits for 3 epochs about 2 minutes (98.4%)."
        )
        if not st.form_submit_button("Start training", type="primary"):
            return
    config = TrainConfig(
        epochs=int(epochs),
        batch_size=int(batch_size),
        learning_rate=float(learning_rate),
        arch=arch,
        augment=bool(augment),
        subset=int(subset),
        corrections=str(CorrectionStore().path) if use_corrections else "",
        corrections_oversample=int(oversample),
    )
    try:
        run_id = jobs().start(config)
    except TrainingBusy as busy:
        st.warning(str(busy))
    except ValueError as error:
        st.error(f"Invalid settings: {error}")
    except OSError as error:
        st.error(
            f"Cannot write to the run folder {registry().home}: {error.strerror or error}. "
            "Drawing and uploads still work."
        )
    else:
        st.session_state["retrain_watching"] = run_id
        st.session_state["retrain_history_select"] = run_id
        st.rerun()


@st.cache_data(show_spinner="Loading the test digits...", max_entries=2)
def test_digits(source: str):
    """The MNIST test digits as the model saw them, for the gallery of mistakes."""
    from mnist_core.data import load_mnist
    from mnist_core.train import preprocess_images

    # A record made on another machine names a path that may not exist here: then use this
    # server's own copy ($MNIST_DATA, else Keras' download). Test sets are identical.
    local = source != "keras download" and Path(source).is_file()
    data = load_mnist(source if local else None)
    return preprocess_images(data.x_test, data.checksum), data.y_test


def mistakes_gallery(record: dict) -> None:
    mistakes = record.get("misclassified", [])
    confusion = np.asarray(record.get("confusion_matrix", [[0]]))
    wrong = int(confusion.sum() - np.trace(confusion))
    if not mistakes:
        return
    try:
        images, labels = test_digits(record.get("data_source", "keras download"))
    except Exception as error:
        st.caption(f"The test digits are not available here ({error}).")
        return
    st.caption(f"Misclassified test digits (true → read): {wrong:,} in all, the first 24 shown")
    columns = st.columns(8)
    for position, (index, predicted) in enumerate(mistakes[:24]):
        columns[position % 8].image(
            images[index], clamp=True, width=56, caption=f"{labels[index]} → {predicted}"
        )


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
        curves(progress.get("history", []))
        return
    active_record = registry().record(active_id)
    accuracy, active_accuracy = (
        record.get("test_accuracy", 0),
        active_record.get("test_accuracy", 0),
    )
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
    st.caption(
        f"{ARCH_NAMES.get(config.get('arch'), config.get('arch'))} · {config.get('epochs')} "
        f"epochs · batch {config.get('batch_size')} · learning rate "
        f"{config.get('learning_rate')} · augmentation {'on' if config.get('augment') else 'off'}"
        f" · trained {record.get('trained_at', '?').replace('T', ' ')[:16]} UTC"
    )
    if "corrections_used" in record:
        held_out = record.get("corrections_test_accuracy")
        st.caption(
            f"Trained on {record['corrections_used']} collected corrections; on the "
            f"{record['corrections_held_out']} held out it reads "
            + (f"{held_out:.1%}" if held_out is not None else "n/a (too few)")
        )
    curves(record.get("history", []))
    with st.expander("Confusion matrix (rows: true digit, columns: read as)"):
        st.dataframe(
            pd.DataFrame(
                record.get("confusion_matrix", []),
                index=pd.Index(range(10), name="true"),
                columns=[str(digit) for digit in range(10)],
            )
        )
    mistakes_gallery(record)
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
        else:
            st.toast(f"{model_label(run_id)} is now active for everyone.")
            st.rerun()


def history_section(active_id: str) -> None:
    st.subheader("Models")
    run_ids = registry().run_ids()[::-1]  # newest first; the bundled model last
    if st.session_state.get("retrain_history_select") not in run_ids:
        st.session_state["retrain_history_select"] = run_ids[0]
    run_id = st.selectbox("Model", run_ids, format_func=model_label, key="retrain_history_select")
    run_details(run_id, active_id)


def collected_section() -> None:
    """Users' corrections: browse by label, delete (admin), export in the MNIST layout."""
    store = CorrectionStore()
    total = store.count()
    st.subheader(f"Collected corrections ({total})")
    if not total:
        st.caption(
            'Corrections appear here when someone answers "Wrong? It is a ..." under a prediction.'
        )
        return
    labels = st.multiselect("Only these true digits", list(range(10)), key="collected_filter")
    corrections = store.list(labels)
    st.download_button(
        "Export all as .npz (MNIST layout)",
        store.export_npz(),
        file_name="corrections.npz",
        mime="application/octet-stream",
        key="collected_export",
    )
    columns = st.columns(8)
    for position, correction in enumerate(corrections[:48]):
        with columns[position % 8]:
            st.image(
                enlarged(correction.model_input, 2),
                clamp=True,
                caption=f"{correction.label} (read {correction.predicted})",
            )
            if is_admin() and st.button("Delete", key=f"collected_delete_{correction.id}"):
                store.delete(correction.id)
                st.rerun()
    if len(corrections) > 48:
        st.caption(f"Showing 48 of {len(corrections)}; filter by digit to see others.")


st.title("Retrain the model")
_, active_id, _ = active_classifier()
if admin_password() is not None and not is_admin():
    st.info("Training, promoting and rolling back are protected on this server.")
    admin_login_form("retrain_login")
watching = jobs().running() is not None
st.fragment(run_every=1.0 if watching else None)(watch_section)()
if not watching and is_admin():
    training_form()
history_section(active_id)
collected_section()
