"""The drawing canvas and its Clear button, shared by the draw page and the load benchmark's
bare page (benchmarks/floor_app.py): no page-level code, so importing it draws nothing."""

from __future__ import annotations

import hashlib

import streamlit as st
from streamlit_drawable_canvas import st_canvas

CANVAS_HEIGHT = 280  # fits a 360 px phone screen beside Streamlit's margins
CANVAS_WIDTHS = {"digit": 280, "number": 560}  # the wide one scrolls on phones


def clear_canvas() -> None:
    # The canvas empties in place when its initial drawing changes, and stays mounted: a new
    # key mounted a new canvas after the run, and strokes drawn before it listened were lost.
    # Until it sends its blank state, what it sent last is stale. As a callback this runs
    # before the script: the click costs one run, not a run and a rerun.
    st.session_state["draw_canvas_generation"] += 1
    st.session_state["draw_stale"] = st.session_state.get("draw_last_sent")


def canvas_image(width: int):
    """The canvas' RGBA pixels (H, W, 4) uint8, or None before anything is drawn."""
    generation = st.session_state.setdefault("draw_canvas_generation", 0)
    # Kept while the canvas is not drawn (a photo looked at, the retrain page): a pen width
    # chosen once is the user's, not reset at each return.
    stroke_width = st.slider(
        "Pen width", 6, 40, 20, key="draw_stroke_width", persist_state="session"
    )
    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#000000",
        background_color="#FFFFFF",
        height=CANVAS_HEIGHT,
        width=width,
        drawing_mode="freedraw",
        initial_drawing={"objects": [], "cleared": generation},
        return_image_data=True,
        key=f"draw_canvas_{width}",
    )
    st.button("Clear the canvas", key="draw_clear", on_click=clear_canvas)
    image = result.image_data
    sent = None if image is None else hashlib.sha1(image.tobytes()).hexdigest()
    st.session_state["draw_last_sent"] = sent
    if sent is not None:
        if sent == st.session_state.get("draw_stale"):
            return None  # cleared; the blank canvas has not reported yet
        # It has reported something else since (its blank state): from now on even the very
        # same drawing is a new one. Kept stale, a digit redrawn pixel for pixel went unread.
        st.session_state["draw_stale"] = None
    return image
