"""Streamlit entry point: declares the pages and the sidebar; pages live in app_pages/."""

import streamlit as st

from app_pages.memory import start_memory_releaser
from app_pages.shared import (
    active_classifier,
    hide_new_libraries_from_garbage_collector,
    model_label,
)

st.set_page_config(page_title="Digit reader", page_icon=":material/draw:", layout="wide")

draw_page = st.Page(
    "app_pages/draw.py", title="Draw & upload", icon=":material/draw:", default=True
)
retrain_page = st.Page(
    "app_pages/retrain.py", title="Retrain & curves", icon=":material/monitoring:"
)
navigation = st.navigation([draw_page, retrain_page])

classifier, run_id, warning = active_classifier()
st.session_state["sidebar_model"] = run_id  # fragments compare: see shared.follow_the_active_model
with st.sidebar:
    st.subheader("Active model")
    record = classifier.record
    st.write(
        f"**{model_label(run_id)}** ({record.get('config', {}).get('arch', 'unknown')} network)"
    )
    if "test_accuracy" in record:
        st.write(f"MNIST test accuracy: **{record['test_accuracy']:.2%}**")
    if "trained_at" in record:
        st.caption(f"Trained {record['trained_at'].replace('T', ' ')[:16]} UTC")
    if warning:
        st.warning(warning)
    if navigation is not retrain_page:  # there the navigation marks it already
        st.page_link(retrain_page, label="Retrain the model", icon=":material/monitoring:")

navigation.run()
hide_new_libraries_from_garbage_collector()
start_memory_releaser()  # once per process: memory freed by ended sessions goes back to the OS
