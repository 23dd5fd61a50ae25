"""Draw page (the default): draw a digit or upload a photo of one, and see it read live."""

from __future__ import annotations

import cv2
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.shared import active_classifier, show_prediction
from mnist_core import InvalidImageError
from mnist_core.decode import ALLOWED_EXTENSIONS, decode

CANVAS_SIDE = 280  # fits a 360 px phone screen beside Streamlit's margins


def canvas_image():
    """The canvas' RGBA pixels (H, W, 4) uint8, or None before anything is drawn."""
    generation = st.session_state.setdefault("draw_canvas_generation", 0)
    stroke_width = st.slider("Pen width", 6, 40, 20, key="draw_stroke_width")
    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#000000",
        background_color="#FFFFFF",
        height=CANVAS_SIDE,
        width=CANVAS_SIDE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"draw_canvas_{generation}",
    )
    if st.button("Clear the canvas", key="draw_clear"):
        st.session_state["draw_canvas_generation"] = generation + 1  # a new key: a blank canvas
        st.rerun()
    return result.image_data


def draw_section(classifier) -> None:
    st.write("Draw one digit, 0 to 9, as large as you like. It is read when you lift the pen.")
    drawing, answer = st.columns([1, 1], gap="large")
    with drawing:
        image = canvas_image()
    with answer:
        prediction = classifier.predict(image) if image is not None else None
        if prediction is None or prediction.digit is None:
            st.info("Draw a digit on the canvas to see what the model reads.")
        else:
            show_prediction(prediction, "")


def thumbnail(image, longest: int = 480):
    """Shrink a decoded upload for display: a 24 MP photo need not travel to the browser."""
    scale = longest / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def upload_section(classifier) -> None:
    upload = st.file_uploader(
        "Upload a photo or scan of one handwritten digit",
        type=list(ALLOWED_EXTENSIONS),
        key="draw_upload",
    )
    if upload is None:
        st.caption("PNG, JPEG, BMP, GIF, WebP or TIFF: dark ink on paper or light on dark.")
        return
    data = upload.getvalue()
    try:
        prediction = classifier.predict(data)
        preview = decode(data)
    except InvalidImageError as error:
        st.error(f"Cannot read {upload.name}: {error}")
        return
    picture, answer = st.columns([1, 2], gap="large")
    picture.image(thumbnail(preview), caption=upload.name, width="stretch")
    with answer:
        show_prediction(
            prediction,
            "No digit found in this image: is the digit large and dark enough against the paper?",
        )


classifier, _, _ = active_classifier()
st.title("Handwritten digit reader")
draw_tab, upload_tab = st.tabs([":material/draw: Draw", ":material/photo_camera: Upload a photo"])
with draw_tab:
    draw_section(classifier)
with upload_tab:
    upload_section(classifier)
