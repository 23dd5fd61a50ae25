"""Draw page (the default): draw a digit or a number, or upload a photo, and see it read live."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from app_pages.canvas import CANVAS_WIDTHS, canvas_image
from app_pages.memory import forget_uploads_off_the_page
from app_pages.shared import (
    NOT_A_DIGIT,
    active_classifier,
    follow_the_active_model,
    pixel_figure,
    show_prediction,
)
from mnist_core import InvalidImageError
from mnist_core.decode import ALLOWED_EXTENSIONS, decode
from mnist_core.explain import outlined
from mnist_core.number_reading import NumberReading, read_photo

EMPTY_CANVAS = "Draw a digit on the canvas to see what the model reads."
WAITING_FOR_DIGIT = "Draw a digit: its reading appears here."
WAITING_FOR_NUMBER = "Write a number: its reading appears here."
# Streamlit stacks columns below this width: the answer then falls under the canvas, out of
# sight on a phone while drawing, and the reading line above the canvas stands in for it.
STACKED_BELOW_PX = 640
SOURCES = {  # what to read -> its label in the mode control
    "digit": ":material/draw: One digit",
    "number": ":material/pin: A number",
    "photo": ":material/photo_camera: A photo",
}
PHOTO_WIDTH_PX = 200
INSTRUCTIONS = {
    "digit": "Draw one digit, 0 to 9, as large as you like; it is read when you lift the pen.",
    "number": "Write a number of several digits, left to right; touching digits are fine.",
}
# What to do instead when a drawing or a photo is not read as one digit.
NOT_A_DIGIT_HINTS = {
    "digit": "Draw one digit, 0 to 9, large: filling most of the canvas. Several digits? "
    f"Choose **{SOURCES['number'].split(' ', 1)[1]}** above.",
    "photo": "Photograph one digit, 0 to 9, dark on plain paper and filling most of the "
    "picture. A photo of several digits is read as a number: a little space between them "
    "helps.",
}
# Where the answer is beside the canvas the line is out of sight but not out of the page: it
# is the live region a screen reader announces each reading from (display: none would hide it).
READING_LINE_CSS = (
    f"<style>@media (min-width: {STACKED_BELOW_PX}px) {{"
    ' [data-testid="stElementContainer"]:has(.draw-reading-line:not(.everywhere)) {'
    " position: absolute; width: 1px; min-width: 0; height: 1px; overflow: hidden;"
    " clip-path: inset(50%);"
    " white-space: nowrap; } }</style>"
)
KEYBOARD_PATH = (
    "No mouse, pen or touch screen? The canvas needs one: choose **"
    + SOURCES["photo"].split(" ", 1)[1]
    + "** above to upload a picture of your digit or number, which works from the keyboard."
)


# The canvas component's own scroll box (a canvas wider than a phone scrolls inside it) takes
# no keyboard focus, so it cannot be scrolled without a pointer (axe: scrollable-region-
# focusable); nor is its canvas named. It lives in the component's shadow root, out of reach
# of Python: this script gives both, again whenever the component draws itself anew.
CANVAS_ACCESSIBILITY_JS = """<script>
(() => {
  const name = (root) => {
    root.querySelectorAll('.dc-scroll:not([tabindex])').forEach((box) => {
      box.tabIndex = 0;
      box.setAttribute('aria-label', 'Drawing canvas: scroll sideways with the arrow keys');
    });
    root.querySelectorAll('canvas.upper-canvas:not([aria-label])').forEach((canvas) => {
      canvas.setAttribute('aria-label', 'Drawing canvas: draw with a mouse, pen or finger');
    });
  };
  const all = () => document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')
    .forEach((host) => host.shadowRoot && name(host.shadowRoot));
  if (window.drawCanvasNamer) return all();
  window.drawCanvasNamer = new MutationObserver(all);
  window.drawCanvasNamer.observe(document.body, {childList: true, subtree: true});
  all();
  [300, 1000, 3000].forEach((delay) => setTimeout(all, delay));  // its shadow root fills later
})();
</script>"""


def reading_line(
    place, waiting: str, read: str | None = None, confidence: float = 0.0, everywhere=False
) -> None:
    """The reading in one line above the canvas, shown on narrow screens only (on wider ones
    the answer is beside the canvas or just below it, in view), or on every screen when
    ``everywhere`` (a number's answer is under its wide canvas, below a laptop's fold);
    ``waiting`` until something is read. It keeps its height when empty: a canvas that moved
    down after the first stroke would misplace the second."""
    text = f"Read: <b>{read} ({confidence:.0%} sure)</b>" if read else waiting
    shown = "draw-reading-line everywhere" if everywhere else "draw-reading-line"
    place.html(
        f'{READING_LINE_CSS}<div class="{shown}" role="status" aria-live="polite"'
        f' style="line-height:1.6rem;height:1.6rem">{text}</div>'
    )


def show_number(reading, image: np.ndarray) -> None:
    """The number block: the text, its confidence, the image with each digit outlined."""
    st.metric("Prediction (number)", reading.text)
    st.caption(
        f"{len(reading.digits)} digits · confidence that all are right {reading.confidence:.1%}"
    )
    st.image(
        thumbnail(outlined(image, reading.digits), 560),
        width="stretch",
        alt=f"The number read as {reading.text}, a box around each digit",
    )
    columns = st.columns(max(len(reading.digits), 1))
    for column, digit in zip(columns, reading.digits, strict=False):
        column.html(pixel_figure(digit.model_input, 84, f"{digit.digit} ({digit.confidence:.0%})"))


@st.fragment
def draw_section(mode: str) -> None:
    """The canvas and its reading. A fragment: a stroke or Clear reruns this part alone, not
    the sidebar, the title and the mode control (a new mode reruns the whole page, which
    passes it in)."""
    # Looked up on every run of the fragment, which reruns without the page: a model promoted
    # meanwhile reads the next stroke.
    classifier, run_id, _ = active_classifier()
    follow_the_active_model(run_id)
    if mode == "number":
        line = st.empty()
        image = canvas_image(CANVAS_WIDTHS[mode])
        reading = classifier.read_number(image) if image is not None else None
        if reading is None or not reading.text:
            reading_line(line, WAITING_FOR_NUMBER, everywhere=True)
            st.info("Write a number on the canvas to see what the model reads.")
        else:
            reading_line(
                line, WAITING_FOR_NUMBER, reading.text, reading.confidence, everywhere=True
            )
            show_number(reading, decode(image))
        return
    # Side by side on a laptop, stacked on phones; halves, so the 280 px canvas fits whole
    # from a 1,060 px window with the sidebar open.
    drawing, answer = st.columns(2, gap="medium")
    with drawing:
        line = st.empty()
        image = canvas_image(CANVAS_WIDTHS[mode])
    with answer:
        prediction = classifier.predict(image) if image is not None else None
        if prediction is not None and prediction.verdict == NOT_A_DIGIT:
            reading_line(line, WAITING_FOR_DIGIT, "not a digit", prediction.not_digit)
        elif prediction is not None and prediction.digit is not None:
            reading_line(line, WAITING_FOR_DIGIT, str(prediction.digit), prediction.confidence)
        else:  # nothing drawn yet, or only specks
            reading_line(line, WAITING_FOR_DIGIT)
            st.info(EMPTY_CANVAS)
            return
        show_prediction(prediction, "draw", classifier, image, run_id, NOT_A_DIGIT_HINTS["digit"])


def thumbnail(image, longest: int = 480):
    """Shrink a decoded upload for display: a 24 MP photo need not travel to the browser."""
    scale = longest / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def upload_section(classifier, run_id: str) -> None:
    upload = st.file_uploader(
        "Upload a photo or scan of a handwritten digit or number",
        type=list(ALLOWED_EXTENSIONS),
        key="draw_upload",
    )
    if upload is None:
        st.caption("PNG, JPEG, BMP, GIF, WebP or TIFF: dark ink on paper or light on dark.")
        return
    data = upload.getvalue()
    try:
        # Decoded once (EXIF, palette, size checks): the reading and the preview take the array.
        preview = decode(data)
        prediction = read_photo(classifier, preview)
    except InvalidImageError as error:
        st.error(f"Cannot read {upload.name}: {error}")
        return
    if isinstance(prediction, NumberReading):
        show_number(prediction, preview)
        return
    picture, answer = st.columns([1, 2], gap="large")
    # Not stretched: stacked on a phone, a full-width photo pushed the answer below the
    # screen. On a laptop its column is about this wide anyway.
    picture.image(
        thumbnail(preview),
        caption=upload.name,
        width=PHOTO_WIDTH_PX,
        alt=f"The uploaded photo {upload.name}",
    )
    with answer:
        if prediction.digit is None and prediction.verdict != NOT_A_DIGIT:  # blank
            st.info(
                "No digit found in this image: is the digit large and dark enough against "
                "the paper?"
            )
        else:
            show_prediction(
                prediction, "upload", classifier, data, run_id, NOT_A_DIGIT_HINTS["photo"]
            )


classifier, active_run, _ = active_classifier()
st.title("Handwritten digit reader")
# One control for what to read, and only the chosen section drawn: a tab panel (react-aria)
# would keep every section in the page and walk its whole subtree, checking each element's
# visibility, on every change inside it, so on every stroke.
source = st.segmented_control(
    "Read",
    list(SOURCES),
    format_func=SOURCES.get,
    default="digit",
    required=True,
    key="draw_mode",
)
if source == "photo":
    upload_section(classifier, active_run)
else:
    forget_uploads_off_the_page()  # a photo uploaded before is never read again
    st.write(INSTRUCTIONS[source])
    st.caption(KEYBOARD_PATH)
    st.html(CANVAS_ACCESSIBILITY_JS, unsafe_allow_javascript=True)
    draw_section(source)
