"""The drawing canvas and its Clear button, shared by the draw page and the load benchmark's
bare page (benchmarks/floor_app.py): no page-level code, so importing it draws nothing."""

from __future__ import annotations

import hashlib
import io
import sys

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

CANVAS_HEIGHT = 280  # fits a 360 px phone screen beside Streamlit's margins
CANVAS_WIDTHS = {"digit": 280, "number": 560}  # the wide one scrolls on phones
# What st_canvas and its result raise on a value the canvas never sends (a hand-made client's:
# the drawing not a mapping, its "data" no data URL, broken base64, a broken backgroundFit).
NOT_THE_CANVAS_VALUE = (AttributeError, KeyError, TypeError, ValueError)


def _skip_the_dataframe_check_of_plain_values() -> None:
    """Spare the first canvas the import of pandas and pyarrow.

    Streamlit's components (v2, which st_canvas uses) ask of each argument whether it is a
    dataframe, and the check imports pandas and pyarrow (~0.3-0.6 s of CPU and 66 MB) even for
    the canvas' plain dict. A builtin list is never dataframe-like there, and a builtin dict
    only as a mapping of pandas Series, which cannot exist before pandas is imported: so for
    those, until then, the answer is False without the import. Any other value, or a
    Streamlit whose module moved, gets Streamlit's own check."""
    try:
        from streamlit.components.v2.bidi_component import serialization

        streamlits_check = serialization.is_dataframe_like
    except (ImportError, AttributeError):
        return
    if getattr(streamlits_check, "plain_values_skipped", False):
        return

    def is_dataframe_like(value) -> bool:
        if type(value) in (dict, list) and "pandas" not in sys.modules:
            return False
        return streamlits_check(value)

    is_dataframe_like.plain_values_skipped = True
    serialization.is_dataframe_like = is_dataframe_like


_skip_the_dataframe_check_of_plain_values()


def clear_canvas() -> None:
    # The canvas empties in place when its initial drawing changes, and stays mounted (a new
    # key would mount a new canvas after the run, losing strokes drawn before it listened).
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
    try:
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
        png = result.image_bytes
    except NOT_THE_CANVAS_VALUE:  # the canvas is drawn by then; its value is ignored
        png = None
    st.button("Clear the canvas", key="draw_clear", on_click=clear_canvas)
    image = canvas_pixels(png, width)
    sent = None if image is None else hashlib.sha1(image.tobytes()).hexdigest()
    st.session_state["draw_last_sent"] = sent
    if sent is not None:
        if sent == st.session_state.get("draw_stale"):
            return None  # cleared; the blank canvas has not reported yet
        # It has reported something else since (its blank state): from now on even the very
        # same drawing is a new one: kept stale, a digit redrawn pixel for pixel would go unread.
        st.session_state["draw_stale"] = None
    return image


def canvas_pixels(png: bytes | None, width: int) -> np.ndarray | None:
    """The pixels of the PNG a ``width`` canvas sent, (CANVAS_HEIGHT, width, 4) uint8, or None
    when there is none or it is not one this canvas sends (only a hand-made client's is not).

    The canvas sends exactly its own size (fabric's toDataURL, multiplier 1): the size is read
    from the PNG's header before a pixel is decoded, so 0.2 MB that would decode to 6,000 x
    6,000 pixels (144 MB, and seconds of preprocessing) or far more is refused at once."""
    if png is None:
        return None
    try:
        picture = Image.open(io.BytesIO(png), formats=["PNG"])
        if picture.size != (width, CANVAS_HEIGHT):
            return None
        return np.asarray(picture)
    except (OSError, ValueError):  # not a PNG (UnidentifiedImageError), or cut off
        return None
