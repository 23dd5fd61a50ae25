"""Retrain page: start a training run in the background, watch it live, compare, promote."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app_pages.run_view import ARCH_NAMES, UNREACHABLE, live_run, run_details
from app_pages.shared import (
    active_classifier,
    admin_login_form,
    admin_password,
    is_admin,
    jobs,
    model_label,
    pixel_figure,
    registry,
)
from mnist_core.config import TRAIN_LIMITS, TRAIN_PRESETS, TrainConfig
from mnist_core.corrections import CorrectionStore
from mnist_core.database import UNAVAILABLE
from mnist_core.jobs import TrainingBusy

DEFAULTS = TrainConfig()
CUSTOM = "custom"  # the preset chooser's last choice: every setting by hand
KEPT = {"persist_state": "page"}  # a Custom setting outlives a look at a preset
MNIST_TRAINING_DIGITS = 60_000  # MNIST's training set; the last share of it is held out
HELD_OUT_DIGITS = round(MNIST_TRAINING_DIGITS * DEFAULTS.validation_split)
FITTING_DIGITS = MNIST_TRAINING_DIGITS - HELD_OUT_DIGITS
TRAINING_SIZES = {
    0: f"All {FITTING_DIGITS:,} training digits",
    15_000: "15,000 of them (faster)",
    3_000: "3,000 of them (a test run)",
}
BATCH_SIZES = tuple(
    2**power
    for power in range(4, 11)
    if TRAIN_LIMITS["batch_size"][0] <= 2**power <= TRAIN_LIMITS["batch_size"][1]
)
GALLERY_CORRECTIONS = 48  # collected corrections shown at once: six rows of eight


def running_run() -> str | None:
    """The run in progress on any replica, or None (also when the database cannot say)."""
    try:
        return jobs().running()
    except UNAVAILABLE:
        return None


def watch_section() -> None:
    running = running_run()
    watching = st.session_state.get("retrain_watching")
    if running is None:
        if watching is not None:  # it just ended: refresh the whole page once (history, sidebar)
            st.session_state["retrain_watching"] = None
            st.session_state["retrain_history_select"] = watching  # show its results
            st.rerun(scope="app")
        return
    st.session_state["retrain_watching"] = running
    live_run(running)


def described(config: TrainConfig) -> str:
    """A run's settings in plain words, e.g. "2 passes over all 55,000 training digits and
    6,000 drawings that are not digits"."""
    digits = f"{config.subset:,}" if config.subset else f"all {FITTING_DIGITS:,}"
    passes = "1 pass" if config.epochs == 1 else f"{config.epochs} passes"
    text = f"{passes} over {digits} training digits"
    if config.not_digits:
        text += f" and {config.not_digits:,} drawings that are not digits"
    return text


def preset_label(name: str) -> str:
    if name == CUSTOM:
        return "Custom"
    return f"{TRAIN_PRESETS[name].label} — {TRAIN_PRESETS[name].summary}"


def preset_caption(name: str) -> str:
    if name == CUSTOM:
        return "Choose every setting yourself."
    text = described(TRAIN_PRESETS[name].config)
    return text[:1].upper() + text[1:] + "."


def custom_settings() -> dict:
    """The raw settings (inside the form, shown for Custom only): TrainConfig's fields,
    bounded by TRAIN_LIMITS, starting at its defaults. Kept while another choice is shown."""
    return {**network_settings(), **data_settings()}


def network_settings() -> dict:
    """How the network learns: epochs, batch, learning rate, architecture, augmentation."""
    return {
        "epochs": st.number_input(
            "Epochs (passes over the training digits)",
            *TRAIN_LIMITS["epochs"],
            value=DEFAULTS.epochs,
            step=1,
            key="retrain_epochs",
            **KEPT,
        ),
        "batch_size": st.select_slider(
            "Batch size", BATCH_SIZES, value=DEFAULTS.batch_size, key="retrain_batch_size", **KEPT
        ),
        "learning_rate": st.number_input(
            "Peak learning rate",
            *TRAIN_LIMITS["learning_rate"],
            value=DEFAULTS.learning_rate,
            step=5e-4,
            format="%.4f",
            key="retrain_learning_rate",
            **KEPT,
        ),
        "arch": st.radio(
            "Architecture",
            list(ARCH_NAMES),
            index=list(ARCH_NAMES).index(DEFAULTS.arch),
            format_func=ARCH_NAMES.get,
            key="retrain_arch",
            **KEPT,
        ),
        "augment": st.checkbox(
            "Augment: shift, scale, rotation, stroke width, elastic",
            value=DEFAULTS.augment,
            key="retrain_augment",
            **KEPT,
        ),
    }


def data_settings() -> dict:
    """What it learns from besides MNIST's digits, and how many of those."""
    styled_low, styled_high = TRAIN_LIMITS["styled_share"]
    return {
        "subset": st.selectbox(
            "Training set",
            list(TRAINING_SIZES),
            format_func=TRAINING_SIZES.get,
            key="retrain_subset",
            help=f"The last {HELD_OUT_DIGITS:,} of MNIST's {MNIST_TRAINING_DIGITS:,} training "
            "digits are always kept out, to draw the validation curves.",
            **KEPT,
        ),
        "not_digits": st.number_input(
            "Drawings that are not a digit (letters, scribbles, shapes; 0 = none)",
            *TRAIN_LIMITS["not_digits"],
            value=DEFAULTS.not_digits,
            step=1000,
            key="retrain_not_digits",
            help='Taught as an 11th answer, so the model can say "that does not look like a '
            'digit". With 0 it always names a digit.',
            **KEPT,
        ),
        "styled_share": st.slider(
            "Share of 1s, 7s and 9s also shown as a flagged 1, a crossed 7 or a hooked 9 (%)",
            round(styled_low * 100),
            round(styled_high * 100),
            round(DEFAULTS.styled_share * 100),
            step=5,
            key="retrain_styled_percent",
            help="Styles common in Europe that MNIST's American writers rarely used.",
            **KEPT,
        ),
        "corrections_oversample": st.number_input(
            "Show each correction this many times per epoch (when included)",
            *TRAIN_LIMITS["corrections_oversample"],
            value=DEFAULTS.corrections_oversample,
            step=1,
            key="retrain_oversample",
            **KEPT,
        ),
    }


def corrections_checkbox() -> bool:
    """Whether to teach the run the collected corrections too (off, and greyed out when there
    are none or the database cannot count them)."""
    collected = collected_count()
    return st.checkbox(
        f"Include the {collected} collected corrections "
        f"({DEFAULTS.corrections_holdout:.0%} held out to measure on)"
        if collected is not None
        else f"Include the collected corrections (unavailable: {UNREACHABLE})",
        value=False,
        disabled=not collected,
        key="retrain_use_corrections",
    )


def training_form() -> None:
    """What to train: a preset by name (what it costs and gives beside it) or Custom. The
    chooser sits outside the form, since a form's widgets change nothing until it is sent."""
    st.subheader("Train a new model")
    choices = [*TRAIN_PRESETS, CUSTOM]
    preset = st.radio(
        "What to train",
        choices,
        format_func=preset_label,
        captions=[preset_caption(name) for name in choices],
        key="retrain_preset",
    )
    first = TRAIN_PRESETS[choices[0]]
    st.caption(
        f"New to training? Start with {first.label}: it shows the whole process in "
        f"{first.duration_here}, live curves included, and its model is used only once you "
        "make it active."
    )
    with st.form("retrain_form"):
        settings = custom_settings() if preset == CUSTOM else None
        use_corrections = corrections_checkbox()
        if preset == CUSTOM:
            st.caption(
                "For comparison: "
                + "; ".join(
                    f"{choice.label}, {described(choice.config)}: {choice.summary}"
                    for choice in TRAIN_PRESETS.values()
                )
                + "."
            )
        if not st.form_submit_button("Start training", type="primary"):
            return
    start_training(chosen_config(preset, settings, use_corrections))


def chosen_config(preset: str, settings: dict | None, use_corrections: bool) -> TrainConfig:
    """The run the form asks for: a preset's config, or the Custom ``settings``; with the
    collected corrections when asked."""
    corrections = CorrectionStore().location if use_corrections else ""
    if settings is None:
        return replace(TRAIN_PRESETS[preset].config, corrections=corrections)
    return TrainConfig(
        epochs=int(settings["epochs"]),
        batch_size=int(settings["batch_size"]),
        learning_rate=float(settings["learning_rate"]),
        arch=settings["arch"],
        augment=bool(settings["augment"]),
        subset=int(settings["subset"]),
        not_digits=int(settings["not_digits"]),
        styled_share=int(settings["styled_share"]) / 100,
        corrections=corrections,
        corrections_oversample=int(settings["corrections_oversample"]),
    )


def start_training(config: TrainConfig) -> None:
    """Start ``config`` in the background and watch it, or say why it did not start."""
    try:
        run_id = jobs().start(config)
    except TrainingBusy as busy:
        # Someone (any replica) started first: this page was drawn with nothing to watch, so
        # run it again to show their run now; live_run says why ours did not start for as
        # long as that run is shown (a toast would not outlive the rerun).
        st.session_state["retrain_refused"] = (busy.run_id, str(busy))
        st.session_state["retrain_watching"] = busy.run_id
        st.rerun()
    except ValueError as error:
        st.error(f"Invalid settings: {error}")
    except OSError as error:
        st.error(
            f"Cannot write to the run folder {registry().home}: {error.strerror or error}. "
            "Drawing and uploads still work."
        )
    except UNAVAILABLE:  # its text may name the database's host: not shown
        st.error(f"Training is unavailable: {UNREACHABLE}. Drawing and uploads still work.")
    else:
        st.session_state["retrain_watching"] = run_id
        st.session_state["retrain_history_select"] = run_id
        st.rerun()


def history_section(active_id: str) -> None:
    st.subheader("Models")
    try:
        run_ids = registry().run_ids()[::-1]  # newest first; the bundled model last
    except UNAVAILABLE:
        st.warning(f"Past runs cannot be listed now: {UNREACHABLE}.")
        return
    if st.session_state.get("retrain_history_select") not in run_ids:
        st.session_state["retrain_history_select"] = run_ids[0]
    run_id = st.selectbox("Model", run_ids, format_func=model_label, key="retrain_history_select")
    run_details(run_id, active_id)


def collected_count() -> int | None:
    """How many corrections are stored; None when the database cannot be used now."""
    try:
        return CorrectionStore().count()
    except UNAVAILABLE:
        return None


def collected_section() -> None:
    """Users' corrections: browse by label, delete (admin), export in the MNIST layout."""
    store = CorrectionStore()
    total = collected_count()
    if total is None:
        st.subheader("Collected corrections")
        st.warning(f"The corrections cannot be read now: {UNREACHABLE}.")
        return
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
    for position, correction in enumerate(corrections[:GALLERY_CORRECTIONS]):
        with columns[position % 8]:
            read = "not a digit" if correction.predicted is None else str(correction.predicted)
            st.html(
                pixel_figure(
                    correction.model_input,
                    56,
                    f"{correction.label} (read {read})",
                    f"A {correction.label} the model read as {read}",
                )
            )
            if is_admin() and st.button("Delete", key=f"collected_delete_{correction.id}"):
                store.delete(correction.id)
                st.rerun()
    if len(corrections) > GALLERY_CORRECTIONS:
        st.caption(
            f"Showing {GALLERY_CORRECTIONS} of {len(corrections)}; filter by digit to see others."
        )


st.title("Retrain the model")
_, active_id, _ = active_classifier()
if admin_password() is not None and not is_admin():
    st.info("Training, promoting and rolling back are protected on this server.")
    admin_login_form("retrain_login")
watching = running_run() is not None
st.fragment(run_every=1.0 if watching else None)(watch_section)()
if not watching and is_admin():
    training_form()
history_section(active_id)
collected_section()
