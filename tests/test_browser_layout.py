"""Every page state at a phone's, a laptop's and a wide screen's size: nothing overlaps, nothing
is wider than the window, the reading is in view on a laptop, and axe-core finds no serious
barrier. Each state is reached once, in one page kept open, then measured at the three sizes;
its screenshots land in test-artifacts/layout_<state>_<width>x<height>.png."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import SAMPLE
from layout import CONTENT_HEIGHT_JS, FITS_WINDOW_JS, accessibility_defects, layout_defects
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from browser import ARTIFACTS, DIGIT_STROKES, NOT_DIGIT_STROKES, settle, stroke, unlock
from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.renderings import as_paper_scan

SIZES = {"phone": (390, 844), "laptop": (1280, 800), "wide": (1920, 1080)}
LAPTOP = {"width": 1280, "height": 800}
# Drawings the bundled model is torn over: 1s whose flag ends near where its reading turns from
# 1 to 7 (drawn with OpenCV at the default pen, the first three read 53-61% sure; found by
# moving the flag's end over a grid). The last five are where a retrain with other styles
# turned (50-53%), kept so that a model moved a little either way still has one; the first
# it is unsure of in the browser stands for "unsure".
AMBIGUOUS_STROKES = [
    [[(100, 75), (160, 50), (150, 140), (140, 235)]],
    [[(80, 90), (160, 50), (150, 140), (140, 235)]],
    [[(100, 80), (160, 55), (150, 140), (140, 235)]],
    [[(80, 90), (160, 55), (150, 140), (140, 235)]],
    [[(65, 95), (160, 45), (150, 140), (140, 235)]],
    [[(70, 100), (160, 55), (150, 140), (140, 235)]],
    [[(60, 105), (160, 45), (150, 140), (140, 235)]],
    [[(85, 85), (160, 50), (150, 140), (140, 235)]],
]
README_SCREENSHOT = ARTIFACTS.parent / "docs" / "screenshot.png"
# Run ids sort by time, newest first on the retrain page: these are newer than any real run.
LIVE_RUN, FAILED_RUN = "20991231-235900-a110", "20991231-235959-fa11"


def follow_the_window(page) -> None:
    """Let the page follow a resize. It reruns nothing: Streamlit collapses the sidebar on a
    phone, and the columns and charts take the new width, in their own time (over 600 ms on
    a loaded machine: a CI run beside a training run once measured a phone's page at the
    laptop's width). Wait until nothing is wider than the window, or 10 s (then
    layout_defects names what still is), then for the charts to redraw."""
    try:
        page.wait_for_function(FITS_WINDOW_JS, timeout=10_000)
    except PlaywrightTimeoutError:
        pass
    page.wait_for_timeout(600)


def check_every_size(page, state: str, reading=None) -> None:
    """Measure the page as it is at each size; fail listing every defect of every size.

    ``reading``: a locator that must be in view without scrolling on the laptop."""
    defects = []
    for width, height in SIZES.values():
        page.set_viewport_size({"width": width, "height": height})
        follow_the_window(page)
        where = f"{state} at {width}x{height}"
        defects += [f"{where}: {defect}" for defect in layout_defects(page)]
        if reading is not None and (width, height) == SIZES["laptop"]:
            box = reading.first.bounding_box()
            if box is None or box["y"] < 0 or box["y"] + box["height"] > height:
                defects.append(f"{where}: the reading is out of view ({box})")
        # The whole page, as tall as it is (Streamlit scrolls its main area, not the window):
        # the screenshot shows everything and axe sees every element in view.
        full = page.evaluate(CONTENT_HEIGHT_JS)
        page.set_viewport_size({"width": width, "height": max(height, full)})
        page.wait_for_timeout(300)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"layout_{state}_{width}x{height}.png")
        defects += [f"{where}: {defect}" for defect in accessibility_defects(page)]
    page.set_viewport_size(LAPTOP)
    follow_the_window(page)
    assert not defects, "\n".join(defects)


def prediction(page):
    return page.locator('[data-testid="stMetric"]:visible', has_text="Prediction").locator(
        '[data-testid="stMetricValue"]'
    )


def draw(page, strokes) -> None:
    """Draw on a blank canvas in "One digit" mode and wait for the answer to settle."""
    canvas = page.locator("canvas.upper-canvas").first
    for points in strokes:
        stroke(page, canvas, points)
    page.get_by_text("Confidence").or_(page.get_by_text("not one digit")).first.wait_for(
        timeout=30_000
    )
    settle(page, 800)


def start_over(page, mode: str = "One digit") -> None:
    """Back to ``mode`` with nothing drawn or uploaded."""
    page.get_by_text(mode, exact=True).first.click()
    if mode != "A photo":
        page.get_by_role("button", name="Clear the canvas").click()
        page.get_by_text("on the canvas to see what the model reads").first.wait_for(timeout=30_000)
    settle(page, 500)


def upload(page, tmp_path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.locator('input[type="file"]').set_input_files(str(path))


@pytest.fixture(scope="module")
def draw_page(browser, app_url):
    context = browser.new_context(viewport=LAPTOP)
    try:
        opened = context.new_page()
        opened.goto(app_url)
        opened.locator("canvas.upper-canvas").first.wait_for(timeout=90_000)
        settle(opened)
        yield opened
    finally:
        context.close()


def test_layout_empty_canvas(draw_page):
    assert draw_page.get_by_text("Draw a digit on the canvas").first.is_visible()
    # The component's canvas has no name of its own; the page gives it one.
    canvas = draw_page.locator("canvas.upper-canvas").first
    assert canvas.get_attribute("aria-label").startswith("Drawing canvas")
    check_every_size(draw_page, "empty_canvas")


def test_layout_a_digit_read_surely(draw_page):
    start_over(draw_page)
    draw(draw_page, DIGIT_STROKES[7])
    assert prediction(draw_page).first.inner_text() == "7"
    assert not draw_page.get_by_text("The model is unsure").is_visible()
    check_every_size(draw_page, "digit_sure", prediction(draw_page))
    # The README's picture of the app: the draw page with a reading, on a laptop.
    shutil.copyfile(ARTIFACTS / "layout_digit_sure_1280x800.png", README_SCREENSHOT)


def draw_an_ambiguous_digit(page) -> None:
    for strokes in AMBIGUOUS_STROKES:
        start_over(page)
        draw(page, strokes)
        if page.get_by_text("The model is unsure").is_visible():
            return
    pytest.fail("none of the ambiguous drawings left the model unsure")


def test_layout_an_unsure_digit_shows_the_top_two(draw_page):
    draw_an_ambiguous_digit(draw_page)
    check_every_size(draw_page, "digit_unsure", prediction(draw_page))


def test_layout_not_a_digit(draw_page):
    start_over(draw_page)
    draw(draw_page, NOT_DIGIT_STROKES["A"])
    assert draw_page.get_by_text("That does not look like a digit").first.is_visible()
    check_every_size(draw_page, "not_a_digit", prediction(draw_page))


def test_layout_why_this_digit(draw_page):
    start_over(draw_page)
    draw(draw_page, DIGIT_STROKES[7])
    draw_page.get_by_text("Why this digit?").click()
    draw_page.get_by_text("Hiding the red strokes").wait_for(timeout=30_000)
    settle(draw_page, 800)
    try:
        check_every_size(draw_page, "why_this_digit", prediction(draw_page))
    finally:
        draw_page.get_by_text("Why this digit?").click()
        settle(draw_page, 500)


def test_layout_a_correction_stored(draw_page):
    draw_an_ambiguous_digit(draw_page)
    # The ten answers are radio buttons of a group named by the question.
    answers = draw_page.get_by_role("radiogroup", name="Wrong? It is a ...")
    answers.get_by_role("radio", name="7", exact=True).click()
    draw_page.get_by_text("Thanks: saved as a 7").wait_for(timeout=30_000)
    settle(draw_page, 500)
    check_every_size(draw_page, "correction_stored", prediction(draw_page))


def test_layout_a_number_with_its_boxes(draw_page):
    start_over(draw_page, "A number")
    canvas = draw_page.locator("canvas.upper-canvas").first
    for _ in range(60):  # the wide canvas replaces the square one
        box = canvas.bounding_box()
        if box and box["width"] > 500:
            break
        draw_page.wait_for_timeout(250)
    for digit, shift in ((1, 0), (7, 250)):
        for points in DIGIT_STROKES[digit]:
            stroke(draw_page, canvas, [(x + shift, y) for x, y in points])
            draw_page.wait_for_timeout(300)
    number = draw_page.locator('[data-testid="stMetric"]:visible', has_text="(number)")
    number.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
    settle(draw_page, 800)
    assert number.locator('[data-testid="stMetricValue"]').first.inner_text() == "17"
    # Under the wide canvas the answer is below a laptop's fold: the line above says it.
    line = draw_page.locator(".draw-reading-line")
    assert line.inner_text().startswith("Read: 17 (")
    check_every_size(draw_page, "number", line)


def test_layout_a_photo_read(draw_page, tmp_path):
    start_over(draw_page, "A photo")
    with np.load(SAMPLE) as sample:
        three = sample["x_test"][int(np.flatnonzero(sample["y_test"] == 3)[0])]
    upload(draw_page, tmp_path, "three.png", as_paper_scan(three))
    prediction(draw_page).first.wait_for(timeout=30_000)
    settle(draw_page, 800)
    assert prediction(draw_page).first.inner_text() == "3"
    check_every_size(draw_page, "photo_read", prediction(draw_page))


def test_layout_a_photo_with_no_digit(draw_page, tmp_path):
    start_over(draw_page, "A photo")
    blank = io.BytesIO()
    Image.new("L", (300, 300), 245).save(blank, format="PNG")
    upload(draw_page, tmp_path, "blank_paper.png", blank.getvalue())
    draw_page.get_by_text("No digit found in this image").wait_for(timeout=30_000)
    settle(draw_page, 800)
    check_every_size(draw_page, "photo_no_digit")


def test_layout_a_bad_file(draw_page, tmp_path):
    start_over(draw_page, "A photo")
    upload(draw_page, tmp_path, "notes.png", b"this is not a picture")
    draw_page.locator('[data-testid="stAlertContentError"]').wait_for(timeout=30_000)
    settle(draw_page, 800)
    check_every_size(draw_page, "photo_bad_file")


@pytest.fixture(scope="module")
def retrain_page(browser, app_url):
    """The retrain page in a session of its own: locked until a test unlocks it."""
    context = browser.new_context(viewport=LAPTOP)
    try:
        opened = context.new_page()
        opened.goto(f"{app_url}/retrain")
        opened.get_by_role("heading", name="Retrain the model").wait_for(timeout=90_000)
        settle(opened)
        yield opened
    finally:
        context.close()


def reopen(page) -> None:
    """Load the page afresh (a new session: runs written to disk meanwhile are listed) and
    unlock it."""
    page.reload()
    page.get_by_role("heading", name="Retrain the model").wait_for(timeout=90_000)
    unlock(page)
    settle(page)


def test_layout_retrain_locked_behind_the_admin_password(retrain_page):
    assert retrain_page.get_by_label("Admin password").is_visible()
    assert not retrain_page.get_by_role("button", name="Start training").is_visible()
    check_every_size(retrain_page, "retrain_locked")


def test_layout_retrain_idle(retrain_page):
    if retrain_page.get_by_label("Admin password").is_visible():
        unlock(retrain_page)
    settle(retrain_page)
    check_every_size(retrain_page, "retrain_idle")


def server_registry(server_home):
    """The app server's registry (its database in its app home)."""
    from mnist_core.registry import ModelRegistry, RegistryConfig

    return ModelRegistry(RegistryConfig(home=server_home))


EPOCHS = [
    {"loss": 0.62, "accuracy": 0.81, "val_loss": 0.21, "val_accuracy": 0.94},
    {"loss": 0.18, "accuracy": 0.95, "val_loss": 0.09, "val_accuracy": 0.972},
    {"loss": 0.11, "accuracy": 0.968, "val_loss": 0.06, "val_accuracy": 0.981},
]


# Two points an epoch, as a 6-epoch run reports them (train.points_per_epoch), into epoch 4.
LIVE_POINTS = [
    {"epoch": (index + 1) / 2, **figures}
    for index, figures in enumerate(
        [point for epoch in EPOCHS for point in (epoch, epoch)] + [EPOCHS[-1]]
    )
]


@pytest.fixture(scope="module")
def live_run(server_home):
    """A run in progress as the training process reports one: its progress in the database
    and, as the latest run's process, a live one (a sleeper standing in for the child)."""
    import socket

    from mnist_core.database import training

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    registry = server_registry(server_home)
    registry.create_run(
        LIVE_RUN,
        {
            "status": "running",
            "phase": "training",
            "epoch": 4,
            "epochs": 6,
            "batch": 120,
            "batches": 215,
            "fraction": 0.6,
            "elapsed_s": 95.0,
            "remaining_s": 63.0,
            "history": EPOCHS,
            "points": LIVE_POINTS,
        },
    )
    with registry.engine.begin() as connection:
        connection.execute(training.delete())
        connection.execute(
            training.insert().values(
                slot=1, run_id=LIVE_RUN, host=socket.gethostname(), pid=sleeper.pid
            )
        )
    yield sleeper
    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()


def test_layout_retrain_running(retrain_page, live_run):
    reopen(retrain_page)
    retrain_page.get_by_text("Epoch 4/6").wait_for(timeout=30_000)
    retrain_page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
    check_every_size(retrain_page, "retrain_running")


def test_layout_retrain_finished(retrain_page, live_run, server_home):
    """The run ends: its record and model land, the process exits; the page shows the results."""
    with np.load(SAMPLE) as sample:
        labels = sample["y_test"][:9]
    confusion = np.diag([98, 113, 102, 100, 97, 88, 95, 101, 96, 99])
    for label in labels:
        confusion[label, (label + 1) % 10] += 1
    record = {
        "status": "completed",
        "config": {
            "arch": "compact",
            "epochs": 6,
            "batch_size": 128,
            "learning_rate": 0.003,
            "augment": True,
        },
        "history": EPOCHS,
        "train_digits": 2000,
        "trained_at": "2099-12-31T23:59:00+00:00",
        "duration_s": 158.0,
        "test_accuracy": 0.991,
        "confusion_matrix": confusion.tolist(),
        "misclassified": [[index, int(label + 1) % 10] for index, label in enumerate(labels)],
        "data_source": str(SAMPLE),
    }
    server_registry(server_home).finish_run(
        LIVE_RUN,
        {"status": "completed", "history": EPOCHS},
        record,
        {"onnx": BUNDLED_MODEL.read_bytes()},
    )
    live_run.send_signal(signal.SIGKILL)
    live_run.wait()
    retrain_page.get_by_role("button", name="Make run").wait_for(timeout=30_000)
    retrain_page.get_by_text("Confusion matrix").click()
    retrain_page.get_by_text("Misclassified test digits").wait_for(timeout=30_000)
    settle(retrain_page)
    assert retrain_page.get_by_text("99.10%").first.is_visible()
    check_every_size(retrain_page, "retrain_finished")


def test_layout_retrain_failed(retrain_page, server_home):
    """A run that could not get MNIST (offline, no local copy): the error as the process
    wrote it."""
    server_registry(server_home).finish_run(
        FAILED_RUN,
        {
            "status": "failed",
            "error": "could not download MNIST (URLError: <urlopen error [Errno -3] Temporary "
            "failure in name resolution>). Without internet, point to a local copy: --data "
            "PATH/mnist.npz or export MNIST_DATA=PATH/mnist.npz",
        },
    )
    reopen(retrain_page)  # the newest run is shown first
    retrain_page.get_by_text("This run failed: could not download MNIST").wait_for(timeout=30_000)
    settle(retrain_page)
    check_every_size(retrain_page, "retrain_failed")


def test_layout_corrections_gallery(retrain_page, server_home):
    from mnist_core.corrections import CorrectionStore
    from mnist_core.database import DEFAULT_FILE

    store = CorrectionStore(server_home / DEFAULT_FILE)  # the server's database
    with np.load(SAMPLE) as sample:
        for index in range(11):
            digit = sample["x_test"][index] / np.float32(255)
            store.add(digit, int(sample["y_test"][index]), (index + 3) % 10, "layout test")
    reopen(retrain_page)
    heading = retrain_page.get_by_role("heading", name=f"Collected corrections ({store.count()})")
    heading.wait_for(timeout=30_000)
    check_every_size(retrain_page, "corrections_gallery")
