"""The floor under bench_app's load figures: the app's own canvas and one metric with its
reading, and nothing else (no sidebar, mode control, prediction block or upload). What the browsers
and the server spend on this page, any Streamlit page with streamlit-drawable-canvas costs
them; what the app spends above it is the app's own.

    python benchmarks/bench_app.py --floor [--sessions 1 4 8] [--with-training]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by streamlit

import streamlit as st  # noqa: E402

from app_pages.canvas import CANVAS_WIDTHS, canvas_image  # noqa: E402
from app_pages.shared import active_classifier  # noqa: E402


@st.fragment
def canvas_and_reading() -> None:
    classifier, _, _ = active_classifier()
    image = canvas_image(CANVAS_WIDTHS["digit"])
    prediction = classifier.predict(image) if image is not None else None
    if prediction is not None and prediction.digit is not None:
        st.metric("Prediction", str(prediction.digit))


canvas_and_reading()
