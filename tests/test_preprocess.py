"""mnist_core.preprocess: each step on constructed inputs, then to_mnist on whole pictures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mnist_core import InvalidImageError, marks, preprocess, renderings
from mnist_core import classifier as classifier_module
from mnist_core import ink as ink_module
from mnist_core.config import PreprocessConfig
from mnist_core.decode import decode
from mnist_core.ink import ink_map
from mnist_core.lighting import (
    evenly_lit,
    has_flat_background,
    is_photo_sized,
    may_show_a_desk,
    on_its_page,
)
from mnist_core.number_reading import read_photo
from mnist_core.prediction import Prediction
from mnist_core.preprocess import (
    digit_mask,
    fit_to_mnist_frame,
    ink_to_mnist,
    normalise_contrast,
    remove_background,
    stroke_width,
    to_mnist,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def seven(mnist) -> np.ndarray:
    """x_test[0]: a '7', white ink on black, uint8 28x28."""
    assert mnist["y_test"][0] == 7
    return mnist["x_test"][0]


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    total = digit.sum()
    rows = digit.sum(axis=1) @ np.arange(digit.shape[0]) / total
    cols = digit.sum(axis=0) @ np.arange(digit.shape[1]) / total
    return float(rows), float(cols)


def box_sides(digit: np.ndarray, threshold: float = 0.1) -> tuple[int, int]:
    rows = np.flatnonzero((digit > threshold).any(axis=1))
    cols = np.flatnonzero((digit > threshold).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def similarity(a: np.ndarray, b: np.ndarray, reach: int = 2) -> float:
    """Best correlation of two 28x28 digits over shifts of up to ``reach`` px: centring by mass
    rounds to whole pixels, so the same digit can legitimately come out one pixel apart."""
    best = -1.0
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            shifted = np.roll(np.roll(a, dy, axis=0), dx, axis=1)
            best = max(best, float(np.corrcoef(shifted.ravel(), b.ravel())[0, 1]))
    return best


def assert_mnist_like(digit) -> None:
    """The contract of to_mnist's output: (28, 28) float32 in [0, 1], centred, 20 px box."""
    assert digit is not None
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0 and digit.max() <= 1 and digit.max() > 0.9
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1, (row, col)
    assert max(box_sides(digit)) in (19, 20)


# --- ink_map


def test_ink_map_keeps_light_on_dark_polarity(seven):
    ink = ink_map(seven)
    assert ink.dtype == np.float32
    assert ink[0, 0] == pytest.approx(0.0)  # background low
    assert ink.max() > 0.99  # the stroke high


def test_ink_map_flips_dark_on_light(seven):
    np.testing.assert_allclose(ink_map(255 - seven), ink_map(seven), atol=1e-6)


def test_a_digit_cut_out_along_its_box_keeps_dark_ink_on_light_paper(classifier, monkeypatch):
    """Cut out along its printed box, a bold 7's picture has the box's dark sides for its
    frame and corners, which outvoted the light paper the median saw: the picture was read
    as light ink on dark, and the 7 as an 8. A frame of thin lines with paper inside them is
    the box's, not the background."""
    scan = (DATA / "seven_in_a_box_cut_along_it.png").read_bytes()
    ink = ink_map(decode(scan))
    height, width = ink.shape
    assert ink[height // 4 : -height // 4, width // 4 : -width // 4].mean() < 0.5  # paper: no ink
    assert classifier.predict(scan).digit == 7
    monkeypatch.setattr(ink_module, "_cut_along_a_box", lambda light: False)
    assert ink_map(decode(scan))[height // 4 : -height // 4, width // 4 : -width // 4].mean() > 0.5


def test_a_tightly_cropped_bold_digit_is_no_box(seven):
    """A dark margin round a light digit runs deeper than a box's line; a tight crop's
    strokes touch its sides in places. Neither is taken for a box's frame."""
    assert not ink_module._cut_along_a_box(seven > 127)
    left, top, width, height = cv2.boundingRect(seven)
    crop = seven[top : top + height, left : left + width]
    assert not ink_module._cut_along_a_box(crop > 127)
    assert not ink_module._cut_along_a_box(crop < 128)


def test_ink_map_uses_alpha_as_ink_on_transparent_canvas(seven):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = (255, 255, 255)  # white ink: would vanish if composited on white
    rgba[..., 3] = seven
    np.testing.assert_allclose(ink_map(rgba), ink_map(seven), atol=1e-6)


@pytest.mark.parametrize("side", [280, 900])
def test_a_transparent_canvas_ink_is_its_alpha_even_along_its_frame(side):
    # Strokes along all four sides and through the corners (a frame drawn round the digit, a
    # stroke off the edge): no vote on the background can turn the alpha over or even its light.
    rgba = np.zeros((side, side, 4), np.uint8)
    band = side // 30
    rgba[:band, :, 3] = rgba[-band:, :, 3] = rgba[:, :band, 3] = rgba[:, -band:, 3] = 255
    rgba[side // 3 : 2 * side // 3, side // 2 - band : side // 2 + band, 3] = 255
    ink = ink_map(rgba)
    alpha = rgba[..., 3].astype(np.float32) / 255
    expected = cv2.resize(alpha, ink.shape[::-1], interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(ink, expected, atol=1e-6)


def test_ink_map_composites_opaque_picture_with_transparent_margin_on_white():
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[5:95, 5:95] = (255, 255, 255, 255)  # opaque white paper
    rgba[30:70, 48:52, :3] = 0  # a black stroke on it
    ink = ink_map(rgba)
    assert ink[50, 50] > 0.9  # the stroke is ink
    assert ink[1, 1] < 0.1 and ink[20, 20] < 0.1  # transparent margin and paper are not


def test_ink_map_bounds_the_working_size():
    assert ink_map(np.zeros((3000, 4000), np.uint8)).shape == (480, 640)


def test_ink_map_upscales_tiny_images_by_a_whole_factor():
    assert ink_map(np.zeros((16, 16), np.uint8)).shape == (64, 64)  # x4 reaches 56 px
    assert ink_map(np.zeros((28, 28), np.uint8)).shape == (56, 56)


def test_ink_map_leaves_mid_sized_images_alone():
    assert ink_map(np.zeros((100, 300), np.uint8)).shape == (100, 300)


# --- remove_background


def test_remove_background_flattens_a_gradient_and_keeps_the_stroke():
    cols = np.mgrid[0:200, 0:200][1].astype(np.float32)
    ink = 0.2 + 0.5 * cols / 199  # lighting that varies across the page
    ink[50:150, 95:105] += 0.3  # a 10 px stroke
    flat = remove_background(ink)
    assert flat[:, :80].max() < 0.02
    assert flat[:, 130:].max() < 0.1
    assert flat[60:140, 97:103].min() > 0.25


def test_remove_background_never_goes_negative():
    ink = np.random.default_rng(0).uniform(0, 1, (120, 90)).astype(np.float32)
    flat = remove_background(ink)
    assert flat.min() >= 0
    assert np.all(flat <= ink + 1e-6)


# --- normalise_contrast


def test_normalise_contrast_none_below_min_contrast():
    assert normalise_contrast(np.full((100, 100), 0.05, np.float32)) is None
    assert normalise_contrast(np.zeros((10, 10), np.float32)) is None


def test_normalise_contrast_stretches_cores_to_one_and_grain_to_zero():
    ink = np.random.default_rng(0).uniform(0, 0.04, (100, 100)).astype(np.float32)  # paper grain
    ink[20:80, 45:55] = 0.6  # a faint stroke
    stretched = normalise_contrast(ink)
    assert stretched is not None
    assert stretched[22:78, 47:53].min() == pytest.approx(1.0)
    paper = stretched[:, :30]
    assert np.median(paper) < 0.01  # most grain is gone...
    assert paper.max() < 0.1  # ...and what is left is far below the 0.35 stroke threshold


# --- digit_mask / stroke_width


def test_stroke_width_of_a_bar_is_its_width():
    mask = np.zeros((100, 100), np.uint8)
    mask[10:90, 45:51] = 1  # 80 x 6 px bar
    assert stroke_width(mask) == pytest.approx(6, rel=0.1)


def test_digit_mask_drops_a_speck_beside_the_digit():
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1  # a '1'
    ink[20:24, 20:24] = 1  # a 4x4 speck
    mask = digit_mask(ink)
    assert mask is not None
    assert mask[100, 140] == 1
    assert mask[20:24, 20:24].sum() == 0
    assert mask.sum() == 200 * 20


def test_digit_mask_none_when_there_is_no_ink():
    assert digit_mask(np.zeros((50, 50), np.float32)) is None


def test_digit_mask_none_for_a_tiny_dot():
    ink = np.zeros((280, 280), np.float32)
    cv2.circle(ink, (100, 100), 3, 1.0, -1)
    assert digit_mask(ink) is None


# --- fit_to_mnist_frame


def test_fit_to_mnist_frame_centres_and_boxes_the_digit(seven):
    big = cv2.resize(seven, (200, 200), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    frame = np.zeros((400, 400), np.float32)
    frame[10:210, 180:380] = big  # far off-centre
    out = fit_to_mnist_frame(frame, (frame > 0.35).astype(np.uint8))
    assert_mnist_like(out)


def test_fit_to_mnist_frame_thickens_hairline_strokes():
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 140] = 1  # a 1 px line: 0.1 px once scaled to the 20 px box
    out = fit_to_mnist_frame(ink, (ink > 0.35).astype(np.uint8))
    assert out.shape == (28, 28)
    widths = (out > 0.5).sum(axis=1)
    assert np.all(widths[box_rows(out)] >= 2)
    assert max(box_sides(out)) == 20


def test_fit_to_mnist_frame_pares_marker_strokes_down_and_keeps_the_loop_open():
    """A 0 drawn with a pen a quarter of its height wide: its strokes 4.6 px wide once fitted
    (measured above half ink), where MNIST's are ~2.6 px, and its hole half closed. Pared
    down, the strokes measure 3.7 px and the hole is twice the size."""
    ink = np.zeros((280, 280), np.float32)
    cv2.ellipse(ink, (140, 140), (55, 80), 0, 0, 360, 1.0, thickness=52)
    mask = (ink > 0.35).astype(np.uint8)
    thinned = fit_to_mnist_frame(ink, mask)
    as_drawn = fit_to_mnist_frame(ink, mask, PreprocessConfig(max_stroke_px=float("inf")))
    assert max(box_sides(thinned)) == 20
    assert stroke_width((as_drawn > 0.5).astype(np.uint8)) > 4.5
    assert 2.4 < stroke_width((thinned > 0.5).astype(np.uint8)) < 3.9
    assert hole_area(thinned) >= 1.8 * hole_area(as_drawn)  # measured 68 against 34 px


def hole_area(digit: np.ndarray) -> int:
    """Pixels of the background no path along the paper reaches from the frame's edge."""
    paper = (digit < 0.1).astype(np.uint8)
    _, labels = cv2.connectedComponents(paper, connectivity=4)
    outside = labels[0, 0]
    return int(((labels != outside) & (paper == 1)).sum())


def test_mnist_width_strokes_are_not_thinned(mnist):
    """Only strokes wider than ``max_stroke_px`` are pared: of MNIST's own digits, the
    boldest change (18 of these 200, measured) and the rest come out byte for byte."""
    digits = mnist["x_test"][:200]
    as_drawn = PreprocessConfig(max_stroke_px=float("inf"))
    changed = [not np.array_equal(to_mnist(d), to_mnist(d, as_drawn)) for d in digits]
    assert 0 < sum(changed) <= 0.15 * len(digits)


def box_rows(out: np.ndarray) -> slice:
    rows = np.flatnonzero((out > 0.5).any(axis=1))
    return slice(rows[0] + 1, rows[-1])  # ignore the rounded ends


def test_ink_to_mnist_none_on_empty_ink():
    assert ink_to_mnist(np.zeros((60, 60), np.float32)) is None


# --- to_mnist on MNIST itself


def test_mnist_digit_comes_back_close_to_itself(seven):
    out = to_mnist(seven)
    assert_mnist_like(out)
    assert np.abs(out - seven / np.float32(255)).mean() < 0.05  # measured 0.0085


def test_mnist_digits_come_back_close_to_themselves_on_average(mnist):
    digits = mnist["x_test"][:100]
    differences = [np.abs(to_mnist(digit) - digit / np.float32(255)).mean() for digit in digits]
    # Measured: mean 0.0275, median 0.0211 (MNIST's own centring and anti-aliasing differ
    # slightly from ours); the bars are about 1.7 times those.
    assert np.mean(differences) < 0.05
    assert np.median(differences) < 0.035


@pytest.mark.parametrize("index", range(0, 100, 9))
def test_mnist_digit_is_centred_with_a_20px_box(mnist, index):
    assert_mnist_like(to_mnist(mnist["x_test"][index]))


def test_inverted_digit_gives_the_same_result(mnist):
    for digit in mnist["x_test"][:20]:
        assert np.abs(to_mnist(255 - digit) - to_mnist(digit)).mean() < 0.01  # measured 0.0


def test_rgb_digit_gives_the_same_result_as_grey(seven):
    rgb = np.repeat(seven[:, :, None], 3, axis=2)
    np.testing.assert_allclose(to_mnist(rgb), to_mnist(seven), atol=1e-6)


def test_float_input_gives_the_same_result_as_uint8(seven):
    np.testing.assert_allclose(to_mnist(seven / 255.0), to_mnist(seven), atol=1e-6)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (30, 200, 90)])
def test_ink_only_in_alpha_gives_the_digit(seven, colour):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = seven
    out = to_mnist(rgba)
    assert_mnist_like(out)
    assert np.abs(out - to_mnist(seven)).mean() < 0.01  # measured 0.0 for all three colours


@pytest.mark.parametrize("seed", range(4))
def test_transparent_canvas_drawing_matches_its_alpha(mnist, seed):
    rng = np.random.default_rng(seed)
    canvas = renderings.canvas_drawing(mnist["x_test"][seed], rng, background="transparent")
    assert canvas.shape == (280, 280, 4)
    out = to_mnist(canvas)
    assert_mnist_like(out)
    np.testing.assert_allclose(out, to_mnist(canvas[..., 3]), atol=1e-6)  # colour is irrelevant


# --- to_mnist on pictures


def test_off_centre_digit_in_big_frame_is_centred_and_scaled(seven):
    frame = np.zeros((600, 800), np.uint8)
    big = cv2.resize(seven, (160, 160), interpolation=cv2.INTER_CUBIC)
    frame[430:590, 20:180] = big  # bottom-left corner, ~20% of the frame's width
    out = to_mnist(frame)
    assert_mnist_like(out)
    assert similarity(out, to_mnist(seven)) > 0.9  # measured 0.987


def test_small_digit_in_big_frame_is_found(seven):
    frame = np.zeros((600, 800), np.uint8)
    frame[500:584, 20:104] = cv2.resize(seven, (84, 84), interpolation=cv2.INTER_CUBIC)
    out = to_mnist(frame)
    assert_mnist_like(out)
    assert similarity(out, to_mnist(seven)) > 0.9  # measured 0.984


def test_tiny_16px_input_works(seven):
    tiny = cv2.resize(seven, (16, 16), interpolation=cv2.INTER_AREA)
    out = to_mnist(tiny)
    assert_mnist_like(out)
    # Measured 0.925: a 16 px digit has lost detail that upscaling cannot bring back.
    assert similarity(out, to_mnist(seven)) > 0.85


def test_huge_phone_photo_works(seven):
    photo = renderings.paper_photo(seven, np.random.default_rng(0), size=(4000, 3000))
    out = to_mnist(photo)
    assert_mnist_like(out)
    assert similarity(out, to_mnist(seven)) > 0.8  # measured 0.962 (paper grain, blur, JPEG)


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280, 4), np.uint8),  # empty transparent canvas
        np.full((280, 280), 255, np.uint8),  # white paper
        np.full((280, 280, 3), 255, np.uint8),
        np.full((280, 280, 4), 255, np.uint8),  # opaque white canvas
        np.zeros((280, 280), np.uint8),  # black
        np.zeros((280, 280, 3), np.uint8),
        np.full((280, 280), 128, np.uint8),  # uniform grey
    ],
    ids=["transparent", "white", "white-rgb", "white-rgba", "black", "black-rgb", "grey"],
)
def test_blank_images_give_none(blank):
    assert to_mnist(blank) is None


def test_one_pixel_image_gives_none():
    assert to_mnist(np.full((1, 1), 255, np.uint8)) is None


def test_faint_paper_grain_gives_none():
    grain = np.random.default_rng(0).normal(235, 4, (300, 300)).clip(0, 255).astype(np.uint8)
    assert to_mnist(grain) is None


@pytest.mark.parametrize("radius", [3, 5])
def test_tiny_dot_gives_none(radius):
    canvas = np.zeros((280, 280, 4), np.uint8)
    cv2.circle(canvas, (100, 200), radius, (0, 0, 0, 255), -1)
    assert to_mnist(canvas) is None


def test_single_stray_speck_gives_none():
    canvas = np.zeros((280, 280, 4), np.uint8)
    cv2.circle(canvas, (140, 140), 10, (0, 0, 0, 255), -1)
    assert to_mnist(canvas) is None


def test_a_digit_written_small_on_a_photographed_page_is_read(classifier, mnist):
    """Written 5-8% of the page's height: 3-4% of the photo's longer side, no speck."""
    rng = np.random.default_rng(6)
    photos = []
    for digit in mnist["x_test"][:20]:
        height = int(rng.uniform(0.05, 0.08) * 720)
        shape = renderings._stroke_shape(digit, height, rng.uniform(0.06, 0.12) * height)
        ink = np.zeros((720, 960), np.float32)
        top, left = int(rng.integers(0, 600)), int(rng.integers(0, 850))
        ink[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
        photos.append(renderings.paper_photo_of_ink(ink, rng))
    read = [prediction.digit for prediction in classifier.predict_batch(photos)]
    assert np.sum(np.equal(read, mnist["y_test"][:20])) >= 19  # with min_extent 0.04: 15


@pytest.mark.parametrize("low, darkness", [(60, 0.9), (90, 0.75), (120, 0.6)])
def test_uneven_lighting_still_yields_the_digit(seven, low, darkness):
    cols = np.mgrid[0:300, 0:400][1].astype(np.float32)
    paper = low + (250 - low) * cols / 399  # from shadow to bright across the page
    ink = np.zeros((300, 400), np.float32)
    ink[40:260, 100:320] = cv2.resize(seven, (220, 220)) / np.float32(255)
    photo = np.clip(paper * (1 - darkness * ink), 0, 255).astype(np.uint8)
    out = to_mnist(photo)
    assert_mnist_like(out)
    assert similarity(out, to_mnist(seven)) > 0.9  # measured 0.994-0.996 for the three


def test_shadowed_paper_photo_yields_the_digit(seven):
    rows, cols = np.mgrid[0:480, 0:640].astype(np.float32)
    paper = 110 + 140 * np.exp(-((cols - 500) ** 2 + (rows - 80) ** 2) / (2 * 250.0**2))
    ink = np.zeros((480, 640), np.float32)
    ink[100:400, 150:450] = cv2.resize(seven, (300, 300)) / np.float32(255)
    photo = np.clip(paper * (1 - 0.8 * ink), 0, 255).astype(np.uint8)
    out = to_mnist(photo)
    assert_mnist_like(out)
    assert similarity(out, to_mnist(seven)) > 0.9  # measured 0.996


def test_pure_noise_gives_none_or_a_valid_digit():
    noise = np.random.default_rng(0).integers(0, 256, (280, 280), dtype=np.uint8)
    out = to_mnist(noise)
    if out is not None:
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("seed", range(5))
def test_noise_of_any_kind_never_raises(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 400)), int(rng.integers(1, 400)), 4)
    noise = rng.integers(0, 256, shape, dtype=np.uint8)
    for image in (noise, noise[..., 0], noise[..., :3]):
        out = to_mnist(image)
        assert out is None or (out.shape == (28, 28) and 0 <= out.min() and out.max() <= 1)


def test_unreadable_input_raises_invalid_image_error():
    with pytest.raises(InvalidImageError):
        to_mnist(b"not an image at all")


def test_config_box_side_is_respected(seven):
    out = to_mnist(seven, PreprocessConfig(box_side=14))
    assert out.shape == (28, 28)
    assert max(box_sides(out)) == 14


# --- the fast paths give the very bytes of the plain computations they replace


def reference_ink_map(image: np.ndarray) -> np.ndarray:
    """ink_map as plainly written: the tone as float32 in [0, 1], then the background vote
    on it (no resize: the images given here are within the working size)."""
    opaque = True
    if image.ndim == 3:
        opaque = np.count_nonzero(image[..., 3] > 127) >= image[..., 3].size / 2
        tone = cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY) if opaque else image[..., 3]
        assert not opaque or image[..., 3].min() == 255  # no transparent margins here
    else:
        tone = image
    grey = tone.astype(np.float32) * np.float32(1 / 255)
    histogram = np.bincount(tone.ravel(), minlength=256)
    frame = np.concatenate([tone[0], tone[-1], tone[:, 0], tone[:, -1]]).astype(np.float32)
    page = None
    if (
        opaque
        and is_photo_sized(tone.shape)
        and may_show_a_desk(histogram, float(np.median(frame)))
    ):
        page = on_its_page(grey)  # a page lying on a desk (the blob below)
    if page is not None:
        grey = evenly_lit(page)
    elif is_photo_sized(tone.shape) and not has_flat_background(histogram):
        grey = evenly_lit(grey)  # a photo-like page
    return 1.0 - grey if ink_module._light_background(grey) else grey


def reference_remove_background(ink: np.ndarray) -> np.ndarray:
    """remove_background without its shortcut for an opening that is zero everywhere."""
    height, width = ink.shape
    scale = 48 / max(height, width)
    small = ink
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    window = max(3, (max(small.shape) // 3) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    background = cv2.blur(cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel), (window, window))
    if small is not ink:
        background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(ink - np.minimum(background, ink), 0, None)


def reference_ink_crop(ink: np.ndarray, mask: np.ndarray):
    """ink_crop with its halo dilated over the whole image."""
    left, top, width, height = cv2.boundingRect(mask)
    halo = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
    box = (slice(top, top + height), slice(left, left + width))
    return (ink * halo)[box], mask[box]


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def varied_inputs(mnist) -> list[np.ndarray]:
    """Canvases as the app and st_canvas send them, scans light and dark, a photo-like page,
    a blob and a number: each within the working size, so ink_map does not resize."""
    rng = np.random.default_rng(11)
    digits = mnist["x_test"][:12]
    images = [renderings.canvas_drawing(d, rng) for d in digits[:4]]
    images += [
        renderings.canvas_drawing(d, rng, colour=(0, 0, 0), background="white") for d in digits[4:8]
    ]
    images += [cv2.resize(255 - d, (112, 112)) for d in digits[8:10]]
    images += [cv2.resize(d, (84, 84), interpolation=cv2.INTER_NEAREST) for d in digits[10:12]]
    page = np.clip(rng.normal(200, 12, (240, 320)), 0, 255).astype(np.uint8)
    page[60:180, 150:165] = 40  # a stroke on grainy, shaded paper
    page[:, :100] //= 2
    images.append(page)
    blob = np.zeros((200, 200), np.uint8)
    blob[20:190, 10:180] = 255  # one patch wider than the opening's window
    images.append(blob)
    numbers = renderings.composed_numbers(
        mnist["x_test"], mnist["y_test"], 2, renderings.number_canvas, 3
    )
    images += [image for _, image in numbers]
    return images


def test_ink_map_from_uint8_tones_is_the_float_computation(varied_inputs):
    for image in varied_inputs:
        assert same_bytes(ink_map(image), reference_ink_map(image))


def test_remove_background_shortcut_gives_the_full_computation(varied_inputs):
    for image in varied_inputs:
        ink = ink_map(image)
        for variant in (ink, cv2.resize(ink, (56, 56)), ink[: ink.shape[0] // 2]):
            assert same_bytes(remove_background(variant), reference_remove_background(variant))


def test_ink_crop_and_speck_test_on_the_box_equal_the_whole_image(varied_inputs):
    for image in varied_inputs:
        ink = preprocess.clean_ink(ink_map(image))
        if ink is None:
            continue
        labels, count, kept = preprocess.ink_components(ink)
        for chosen in [kept] + [[label] for label in kept]:
            mask = preprocess.components_mask(labels, count, chosen)
            digit, strokes = preprocess.ink_crop(ink, mask)
            expected_digit, expected_strokes = reference_ink_crop(ink, mask)
            assert same_bytes(digit, expected_digit) and same_bytes(strokes, expected_strokes)
            assert stroke_width(strokes) == stroke_width(mask)


def circled(digit: np.ndarray, axes=(125, 130)) -> np.ndarray:
    """The digit drawn in the middle of a 280 px canvas, a ring drawn round it; dark on white."""
    ink = np.zeros((280, 280), np.float32)
    ink[70:210, 70:210] = cv2.resize(digit, (140, 140)) / 255
    cv2.ellipse(ink, (140, 140), axes, 0, 0, 360, 1.0, 8)
    return (255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)


def test_a_circled_digit_is_read_without_its_ring(classifier, mnist):
    digits, labels = mnist["x_test"][:60], mnist["y_test"][:60]
    read = [p.digit for p in classifier.predict_batch([circled(d) for d in digits])]
    # The bundled model: 59 of 60; with the ring left in, 2 (read as a 0, or refused).
    assert np.sum(np.equal(read, labels)) >= 55
    seen = classifier.predict(circled(digits[0])).model_input
    assert np.allclose(seen, to_mnist(255 - digits[0]), atol=0.35)  # the digit alone


def test_a_wide_digit_in_a_roomy_ring_is_read_without_it(classifier, mnist):
    """A 5 or a 2 wider than tall is under a third of the ring's height but not of its width:
    the ring still comes out (robustness_sweep "circled": 96.2% read when only the height
    counted, most misreads such digits read as a 0)."""
    digits, labels = mnist["x_test"], mnist["y_test"]
    heights = np.array([np.ptp(np.nonzero(digit > 80)[0]) + 1 for digit in digits])
    widths = np.array([np.ptp(np.nonzero(digit > 80)[1]) + 1 for digit in digits])
    wide = np.flatnonzero((widths > heights) & (heights <= 16))
    read = [p.digit for p in classifier.predict_batch([circled(digits[i]) for i in wide])]
    assert np.mean(np.equal(read, labels[wide])) >= 0.9, (len(wide), read)


def test_a_ring_holding_no_digit_is_left_in():
    """A dot in a 0, a smiley's eyes and mouth: not a circled digit."""
    dotted = np.full((280, 280), 255, np.uint8)
    cv2.ellipse(dotted, (140, 140), (80, 120), 0, 0, 360, 0, 14)
    cv2.circle(dotted, (140, 140), 10, 0, -1)
    smiley = np.full((280, 280), 255, np.uint8)
    cv2.circle(smiley, (140, 140), 120, 0, 10)
    for eye in (100, 180):
        cv2.circle(smiley, (eye, 110), 12, 0, 6)
    cv2.ellipse(smiley, (140, 160), (60, 40), 0, 20, 160, 0, 10)
    for picture in (dotted, smiley):
        ink = preprocess.cleaned_ink(picture)
        labels, count, kept = preprocess.ink_components(ink)
        box = cv2.boundingRect(preprocess.components_mask(labels, count, kept))
        assert marks.circle_around(labels, kept, box) is None


def underlined(digit: np.ndarray, drop: int, tilt: int) -> np.ndarray:
    """The digit drawn in the middle of a 280 px canvas, a line drawn under it reaching past
    both its sides, ``drop`` px below it and rising ``tilt`` px; dark on white."""
    ink = np.zeros((280, 280), np.float32)
    ink[50:210, 60:220] = cv2.resize(digit, (160, 160)) / 255
    rows, columns = np.nonzero(ink > 0.5)
    row = int(rows.max()) + drop
    cv2.line(ink, (int(columns.min()) - 15, row), (int(columns.max()) + 15, row - tilt), 1.0, 10)
    return (255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)


def in_chalk(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """JPEG bytes of the digit drawn 196 px tall in chalk on a green-black board: a third of
    its strokes' pixels left out, as chalk skips on the board's grain."""
    ink = np.zeros((280, 280), np.float32)
    ink[42:238, 42:238] = cv2.resize(digit, (196, 196)) / 255
    ink = (ink * (rng.random(ink.shape) > 0.35))[..., None]
    board = np.array([40, 60, 45], np.float32) + rng.normal(0, 8, (280, 280, 3))
    return renderings.jpeg_bytes(
        np.clip(board * (1 - ink) + 230 * ink, 0, 255).astype(np.uint8), 80
    )


def test_pinholes_in_chalk_strokes_are_not_measured_as_edges(classifier, mnist, monkeypatch):
    """Chalk leaves hundreds of pinholes in a stroke. Measured as its edges, they made an 18 px
    ring 1.2 px wide, and chalk digits were thickened into blobs; counted as ink, it measures
    11 px. A digit's loops (at most MAX_LOOPS) are still edges."""
    ring = np.zeros((200, 200), np.uint8)
    cv2.circle(ring, (100, 100), 60, 1, 18)
    speckled = (ring * (np.random.default_rng(0).random(ring.shape) > 0.35)).astype(np.uint8)
    assert stroke_width(ring) == pytest.approx(18, abs=1)  # one loop: measured as before
    assert stroke_width(speckled) > 8
    rng = np.random.default_rng(0)
    digits, labels = mnist["x_test"][:300], mnist["y_test"][:300]
    pictures = [in_chalk(digit, rng) for digit in digits]
    read = [reading.digit for reading in classifier.predict_batch(pictures)]
    assert np.sum(np.equal(read, labels)) >= 293  # the bundled model: 295 of 300
    monkeypatch.setattr(preprocess, "MAX_LOOPS", 10**9)  # every hole an edge
    assert stroke_width(speckled) < 2
    read = [reading.digit for reading in classifier.predict_batch(pictures)]
    assert np.sum(np.equal(read, labels)) <= 290  # 288


def test_an_underlined_digit_is_read_without_its_line(classifier, mnist, monkeypatch):
    rng = np.random.default_rng(8)
    digits, labels = mnist["x_test"][:60], mnist["y_test"][:60]
    pictures = [underlined(d, int(rng.integers(12, 24)), int(rng.integers(-8, 8))) for d in digits]
    read = [p.digit for p in classifier.predict_batch(pictures)]
    # The bundled model: 60 of 60; with the line left in, 35 (a 0 or a 7 read as a 2, a 4 as a 1).
    assert np.sum(np.equal(read, labels)) >= 56
    seen = classifier.predict(pictures[0]).model_input
    assert np.allclose(seen, to_mnist(255 - digits[0]), atol=0.35)  # the digit alone
    monkeypatch.setattr(marks, "line_under", lambda labels, kept, box: None)
    # ...and without the second look for a line touching the digit, which finds these too.
    monkeypatch.setattr(classifier_module, "without_touching_underline", lambda ink: None)
    read = [p.digit for p in classifier.predict_batch(pictures)]
    assert np.sum(np.equal(read, labels)) <= 45


def test_a_2_with_its_base_drawn_apart_keeps_its_base():
    """Below its curve and straight, as an underline is, but under the curve's end alone: a 2
    drawn in two strokes (bench_core's transparent canvas #842), read as a 7 without its base.
    The base stays in the digit the model is given, a part of its own below the curve.
    (Its short hook still reads 7 to the bundled model, 74/22 over 2: a misread of that model,
    not of this rule; the one before it read 2.)"""
    picture = cv2.imread(str(DATA / "two_with_its_base_apart.png"), 0)
    ink = preprocess.cleaned_ink(picture)
    labels, count, kept = preprocess.ink_components(ink)
    assert len(kept) == 2
    box = cv2.boundingRect(preprocess.components_mask(labels, count, kept))
    assert marks.line_under(labels, kept, box) is None
    digit = (preprocess.to_mnist(picture) > 0.3).astype(np.uint8)
    parts, _, stats, _ = cv2.connectedComponentsWithStats(digit)
    assert parts - 1 == 2  # the curve and its base, apart
    curve_top, base_top = sorted(stats[1:, cv2.CC_STAT_TOP])
    assert base_top > curve_top + 10  # the base, below the curve


def test_lines_that_are_not_under_a_digit_are_left_in():
    """A line beside a stroke, a line above a ring, a slanting stroke under a digit: not
    underlines."""
    slanting = np.full((280, 280), 255, np.uint8)
    cv2.circle(slanting, (140, 110), 60, 0, 12)
    cv2.line(slanting, (60, 200), (220, 250), 0, 12)
    beside = np.full((280, 280), 255, np.uint8)
    cv2.line(beside, (60, 60), (60, 220), 0, 12)
    cv2.line(beside, (100, 220), (220, 220), 0, 12)
    above = np.full((280, 280), 255, np.uint8)
    cv2.line(above, (60, 40), (220, 40), 0, 12)
    cv2.circle(above, (140, 160), 60, 0, 12)
    for picture in (slanting, beside, above):
        ink = preprocess.cleaned_ink(picture)
        labels, count, kept = preprocess.ink_components(ink)
        assert len(kept) == 2
        box = cv2.boundingRect(preprocess.components_mask(labels, count, kept))
        assert marks.line_under(labels, kept, box) is None


def test_a_2_with_a_straight_base_drawn_apart_is_read_as_2(classifier):
    """Its base is under all of it, straight and apart, as an underline is: taken out, the
    rest reads as a 7 (0.99 sure), so the classifier reads the picture both ways and keeps the
    surer reading (a 2, 1.0 sure)."""
    two = np.full((280, 280), 255, np.uint8)
    curve = np.array([[80, 90], [100, 60], [140, 50], [180, 60], [195, 95], [180, 130], [70, 210]])
    cv2.polylines(two, [curve.astype(np.int32)], False, 0, 14)
    cv2.line(two, (70, 232), (210, 232), 0, 14)
    digit, underlined = preprocess.fitted_digits(preprocess.cleaned_ink(two))
    assert digit is not None and underlined is not None  # the base was taken for an underline
    assert classifier.predict(two).digit == 2
    assert [p.digit for p in classifier.predict_batch([two, two])] == [2, 2]
    assert np.array_equal(classifier.predict(two).model_input, underlined)


def test_a_digit_cut_from_a_row_is_read_without_its_neighbours_pieces(
    classifier, mnist, monkeypatch
):
    """A digit cut out of a written number or a form's row keeps slivers of the digits beside
    it at its sides; read as strokes, they made half such pictures "not a digit"."""
    rng = np.random.default_rng(12)
    picks = rng.choice(len(mnist["x_test"]), (100, 3))
    x = mnist["x_test"]
    cuts = [renderings.cut_from_a_row(x[i], (x[j], x[k]), rng) for i, j, k in picks]
    labels = mnist["y_test"][picks[:, 0]]
    # The bundled model: 98 of 100, by predict and by predict_batch; uploaded, 96 (the number
    # path leaves out slivers at both sides too, else it read 58 of these as numbers).
    assert np.sum(np.equal([p.digit for p in classifier.predict_batch(cuts)], labels)) >= 94
    assert np.sum(np.equal([classifier.predict(cut).digit for cut in cuts], labels)) >= 94
    uploaded = [read_photo(classifier, cut) for cut in cuts]
    read = [reading.digit if isinstance(reading, Prediction) else None for reading in uploaded]
    assert np.sum(np.equal(read, labels)) >= 92
    monkeypatch.setattr(marks, "neighbours_pieces", lambda labels, kept, shape: [])
    assert np.sum(np.equal([p.digit for p in classifier.predict_batch(cuts)], labels)) <= 60


def test_a_1_cut_from_a_row_is_read_though_its_neighbours_slivers_are_wider(
    classifier, mnist, monkeypatch
):
    """A 1 is narrower than the slivers a cut takes of a 0 or an 8 beside it: a sliver is
    measured against the digit's height too, else such a 1 is refused as not a digit."""
    x, y = mnist["x_test"], mnist["y_test"]
    rng = np.random.default_rng(5)
    ones, wide = np.flatnonzero(y == 1)[:10], np.flatnonzero((y == 0) | (y == 8))
    cuts = [renderings.cut_from_a_row(x[one], tuple(x[rng.choice(wide, 2)]), rng) for one in ones]
    assert [p.digit for p in classifier.predict_batch(cuts)].count(1) >= 9
    monkeypatch.setattr(marks, "NEIGHBOUR_PIECE_SHARE", 0.0)  # no sliver taken out
    assert [p.digit for p in classifier.predict_batch(cuts)].count(1) <= 6


def test_a_4_whose_stem_is_drawn_apart_keeps_it(classifier):
    """A 4 whose stem stands apart at the picture's side: cut to its ink, the 4 reaches the
    other side, so the stem is no neighbour's piece; with a margin on that side, it may be,
    and the classifier reads the picture with it too and keeps the surer reading."""
    four = np.full((200, 160), 255, np.uint8)
    cv2.polylines(four, [np.array([[60, 0], [0, 130], [110, 130]], np.int32)], False, 0, 12)
    cv2.line(four, (154, 40), (154, 199), 0, 12)
    digit, with_stem = preprocess.fitted_digits(preprocess.cleaned_ink(four))
    assert with_stem is None
    assert classifier.predict(four).digit == 4
    margin = cv2.copyMakeBorder(four, 0, 0, 30, 0, cv2.BORDER_CONSTANT, value=255)
    digit, with_stem = preprocess.fitted_digits(preprocess.cleaned_ink(margin))
    assert with_stem is not None  # taken for a neighbour's piece
    assert classifier.predict(margin).digit == 4
    assert classifier.predict_batch([margin])[0].digit == 4


def test_a_number_ending_in_a_1_at_the_pictures_side_keeps_it(classifier, mnist):
    """Slivers of neighbours stand at both sides of a cut-out; a number cut tight on one side
    only may end in a 1 as narrow as a sliver, touching that side: still read whole."""
    x, y = mnist["x_test"], mnist["y_test"]

    def inked(digit):
        columns = np.flatnonzero(digit.max(axis=0) > 30)
        return digit[:, columns[0] : columns[-1] + 1]

    for index in range(5):
        seven, one = x[np.flatnonzero(y == 7)[index]], x[np.flatnonzero(y == 1)[index]]
        space = np.zeros((28, 4), np.uint8)
        row = np.concatenate([np.zeros((28, 6), np.uint8), inked(seven), space, inked(one)], 1)
        picture = 255 - cv2.resize(row, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
        reading = read_photo(classifier, picture)
        assert not isinstance(reading, Prediction) and reading.text == "71"
