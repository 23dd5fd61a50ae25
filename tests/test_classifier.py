"""DigitClassifier with the bundled model: accuracy on realistic inputs; the predict contract."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mnist_core import DigitClassifier, InvalidImageError, Prediction, renderings
from mnist_core.classifier import WIDENING, narrowed_look, underline_look, widened_look
from mnist_core.preprocess import cleaned_ink, to_mnist

DATA = Path(__file__).parent / "data"


def accuracy(classifier: DigitClassifier, images, labels) -> float:
    predictions = classifier.predict_batch(images)
    return float(
        np.mean(
            [
                prediction.digit == label
                for prediction, label in zip(predictions, labels, strict=True)
            ]
        )
    )


# --------------------------------------------------------------------------- accuracy


def test_reads_mnist_test_digits_as_png_paper_scans(classifier, mnist):
    digits, labels = mnist["x_test"][:500], mnist["y_test"][:500]
    scans = [renderings.as_paper_scan(digit) for digit in digits]  # PNG bytes, dark ink on white
    assert scans[0][:8] == b"\x89PNG\r\n\x1a\n"
    # The bundled model reads 496/500; the bar (10 misreads) leaves room for a retrained
    # model as good as the Quick preset (~99.3% on MNIST test) without tuning to this one.
    assert accuracy(classifier, scans, labels) >= 0.98


@pytest.mark.parametrize("background", ["transparent", "white", "black"])
def test_reads_canvas_drawings(classifier, mnist, background):
    rng = np.random.default_rng({"transparent": 1, "white": 2, "black": 3}[background])
    digits, labels = mnist["x_test"][500:600], mnist["y_test"][500:600]
    drawings = [renderings.canvas_drawing(digit, rng, background=background) for digit in digits]
    # The bundled model reads 99, 98 and 100 of these 100; the bar is 5 misreads in 100.
    assert accuracy(classifier, drawings, labels) >= 0.95


def test_reads_thick_stroke_canvas_drawings(classifier, mnist):
    rng = np.random.default_rng(4)
    digits, labels = mnist["x_test"][600:700], mnist["y_test"][600:700]
    drawings = [
        renderings.canvas_drawing(digit, rng, stroke_px=rng.uniform(25, 40)) for digit in digits
    ]
    # Pens 25-40 px on a 280 px canvas: strokes wider than MNIST's, pared down before the fit.
    # The bundled model reads 99 of these 100.
    assert accuracy(classifier, drawings, labels) >= 0.95


def test_digits_drawn_small_with_the_widest_pen_are_read(classifier, mnist):
    """A 5, a 9 and a 5 drawn with a 36 px pen, their loops nearly closed by it, were read as
    8s (0.90, 0.53 and 0.72 sure) before wide strokes were pared down to MNIST's width."""
    for index in (34, 759, 805):
        rng = np.random.default_rng(index)
        reading = classifier.predict(
            renderings.canvas_drawing(mnist["x_test"][index], rng, stroke_px=36)
        )
        assert reading.digit == mnist["y_test"][index]
        assert reading.confidence > 0.9  # measured 0.995 each


def test_reads_canvas_drawings_in_random_colours(classifier, mnist):
    rng = np.random.default_rng(5)
    digits, labels = mnist["x_test"][700:800], mnist["y_test"][700:800]
    drawings = [
        renderings.canvas_drawing(
            digit, rng, colour=rng.integers(0, 256, 3), background="transparent"
        )
        for digit in digits
    ]
    assert accuracy(classifier, drawings, labels) >= 0.95  # the bundled model: 100 of 100


def test_reads_phone_photos(classifier, mnist):
    rng = np.random.default_rng(6)
    digits, labels = mnist["x_test"][800:830], mnist["y_test"][800:830]
    photos = [renderings.paper_photo(digit, rng, size=(480, 360)) for digit in digits]
    assert accuracy(classifier, photos, labels) >= 0.9  # the bundled model: 30 of 30; 3 may fail


def reshaped(digit: np.ndarray, share: float) -> np.ndarray:
    """The digit drawn 196 px tall on a 280 px canvas and ``share`` as wide, cut at the
    canvas' sides when wider than it; dark on white."""
    ink = np.zeros((280, 280), np.float32)
    inner = cv2.resize(digit, (int(196 * share), 196)) / 255
    cut = max(0, (inner.shape[1] - 280) // 2)
    inner = inner[:, cut : cut + 280]
    left = (280 - inner.shape[1]) // 2
    ink[42:238, left : left + inner.shape[1]] = inner
    return (255 * (1 - np.clip(ink, 0, 1))).astype(np.uint8)


def read_with_a_look(classifier, pictures, labels, look) -> tuple[list, int, list[int]]:
    """``classifier``'s readings of ``pictures``, how many of them are their ``labels``, and
    which it read from ``look``'s second picture (the model's view the app shows)."""
    readings = classifier.predict_batch(pictures)
    right = int(np.sum([r.digit == label for r, label in zip(readings, labels, strict=True)]))
    looked = [
        index
        for index, reading in enumerate(readings)
        if reading.model_input is not None
        and np.array_equal(reading.model_input, look(pictures[index]))
    ]
    return readings, right, looked


def test_a_narrow_digit_read_unsure_is_read_again_widened(classifier, mnist):
    """Squeezed to 45% of their width, many digits look like an unsure 1 (MNIST's writers
    rarely wrote so narrow): read again 1.8 times wider, they are read right, and the model's
    view the app shows is the widened digit that was read."""
    digits, labels = mnist["x_test"][:500], mnist["y_test"][:500]
    pictures = [reshaped(digit, 0.45) for digit in digits]
    readings, right, widened = read_with_a_look(classifier, pictures, labels, widened_look)
    assert right >= 470  # the bundled model: 478 of 500; at first look alone 457
    changed = [
        index
        for index, reading in enumerate(readings)
        if not np.array_equal(reading.model_input, to_mnist(pictures[index]))
    ]
    assert len(changed) >= 15  # 21 of the 500
    assert set(changed) <= set(widened)  # every input not the first look's is the widened one


def test_a_narrow_flagged_one_stays_a_one(classifier):
    """Widened, a flagged 1's flag becomes a 7's bar. This one (``renderings.flagged_one_canvas``)
    is read a 1 at first look, 0.90 sure, and a 7 widened, 0.997 sure: it stays a 1."""
    picture = np.asarray(Image.open(DATA / "narrow_flagged_one.png"))
    assert classifier.predict(picture).digit == 1
    assert int(np.argmax(classifier.scores(widened_look(picture)[None])[0])) == 7


def test_a_wide_digit_refused_or_read_unsure_is_read_again_narrowed(classifier, mnist):
    """Drawn 1.9 times as wide and cut at the canvas' sides (robustness_sweep "wide"), a 0 or
    an 8 is refused as not a digit: read again 1.8 times narrower, it is read right, and the
    model's view the app shows is the narrowed digit that was read."""
    digits, labels = mnist["x_test"][:500], mnist["y_test"][:500]
    pictures = [reshaped(digit, 1.9) for digit in digits]
    readings, right, narrowed = read_with_a_look(classifier, pictures, labels, narrowed_look)
    assert right >= 487  # the bundled model: 490 of 500; without the narrowed look 480
    assert len(narrowed) >= 10
    assert all(readings[index].digit == labels[index] for index in narrowed)


def test_two_digits_side_by_side_stay_refused_when_narrowed(classifier):
    """Narrowed, the 6 of this "64" (``tests/data``) touches the picture's side and would be
    taken for a piece of a neighbour: the 4 left alone is read 4. The narrowed look keeps the
    strokes the first look read, or none, so the pair stays "not a digit"."""
    picture = np.asarray(Image.open(DATA / "six_and_four_side_by_side.png"))
    assert classifier.predict(picture).verdict == "not_a_digit"
    assert narrowed_look(picture) is None
    squeezed = cv2.resize(cleaned_ink(picture), None, fx=1 / WIDENING, fy=1.0)
    alone = classifier.predict_batch([255 - (255 * squeezed).astype(np.uint8)])[0]
    assert (alone.digit, alone.verdict) == (4, "digit")


def underlined_touching(digit: np.ndarray) -> np.ndarray:
    """The digit as :func:`reshaped` draws it at its own width, with a line 10 px thick drawn
    under it, touching its lowest stroke and reaching 15 px past it on both sides."""
    picture = reshaped(digit, 1.0)
    rows, columns = np.nonzero(picture < 128)
    row = int(rows.max()) + 3
    cv2.line(picture, (int(columns.min()) - 15, row), (int(columns.max()) + 15, row), 0, 10)
    return picture


def test_a_line_touching_a_digit_from_below_is_looked_past(classifier, mnist):
    """Underlined with a line that touches it, a digit is one stroke with its line, which
    the first look cannot take out: a 0 or a 7 is read as a 2, an 8 refused. A reading in
    doubt is read again without it."""
    digits, labels = mnist["x_test"][:300], mnist["y_test"][:300]
    pictures = [underlined_touching(digit) for digit in digits]
    _, right, looked = read_with_a_look(classifier, pictures, labels, underline_look)
    assert right >= 275  # the bundled model: 282 of 300; without the look 163 (49 refused)
    assert len(looked) >= 150  # 204 of the 300


# --------------------------------------------------------------------------- output contract


@pytest.fixture(scope="module")
def seven_prediction(classifier, mnist) -> Prediction:
    assert mnist["y_test"][0] == 7
    return classifier.predict(renderings.as_paper_scan(mnist["x_test"][0]))


def test_prediction_reads_the_digit(seven_prediction):
    assert seven_prediction.digit == 7
    assert isinstance(seven_prediction.digit, int)


def test_probabilities_are_float32_of_shape_10(seven_prediction):
    assert isinstance(seven_prediction.probabilities, np.ndarray)
    assert seven_prediction.probabilities.dtype == np.float32
    assert seven_prediction.probabilities.shape == (10,)


def test_probabilities_and_not_a_digit_sum_to_one(seven_prediction):
    probabilities = seven_prediction.probabilities
    assert np.all(probabilities >= 0) and 0 <= seven_prediction.not_digit < 0.5
    total = float(probabilities.sum(dtype=np.float64)) + seven_prediction.not_digit
    assert abs(total - 1) < 1e-5


def test_confidence_is_the_top_probability(seven_prediction):
    assert isinstance(seven_prediction.confidence, float)
    assert seven_prediction.confidence == float(seven_prediction.probabilities.max())


def test_digit_is_the_argmax(seven_prediction):
    assert seven_prediction.digit == int(np.argmax(seven_prediction.probabilities))


def test_model_input_is_the_preprocessed_digit(seven_prediction, mnist):
    model_input = seven_prediction.model_input
    assert model_input.shape == (28, 28) and model_input.dtype == np.float32
    assert model_input.min() >= 0 and model_input.max() <= 1
    np.testing.assert_array_equal(
        model_input, to_mnist(renderings.as_paper_scan(mnist["x_test"][0]))
    )


def test_ranked_lists_all_digits_most_probable_first(seven_prediction):
    ranked = seven_prediction.ranked
    assert [digit for digit, _ in ranked][0] == 7
    assert sorted(digit for digit, _ in ranked) == list(range(10))
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)


@pytest.fixture(scope="module")
def blank_prediction(classifier) -> Prediction:
    return classifier.predict(np.zeros((280, 280, 4), np.uint8))


def test_blank_canvas_gives_no_digit(blank_prediction):
    assert blank_prediction.digit is None


def test_blank_canvas_gives_zero_probabilities(blank_prediction):
    assert blank_prediction.probabilities.dtype == np.float32
    assert blank_prediction.probabilities.shape == (10,)
    assert np.all(blank_prediction.probabilities == 0)


def test_blank_canvas_gives_zero_confidence_and_no_model_input(blank_prediction):
    assert blank_prediction.confidence == 0.0
    assert blank_prediction.model_input is None
    assert blank_prediction.ranked == []


def test_blank_prediction_cannot_be_corrupted_by_a_caller(classifier):
    first = classifier.predict(np.zeros((50, 50), np.uint8))
    try:
        try:
            first.probabilities[3] = 0.5  # a careless caller writes into its result
        except ValueError:
            pass  # a read-only array is a correct fix
        second = classifier.predict(np.full((50, 50), 255, np.uint8))
        assert np.all(second.probabilities == 0)
    finally:
        if first.probabilities.flags.writeable:
            first.probabilities[:] = 0  # undo, so no other test sees the damage


def test_predict_accepts_every_input_kind(classifier, mnist):
    digit = 255 - mnist["x_test"][0]
    pil = Image.fromarray(digit)
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=95)
    inputs = [
        digit,
        np.repeat(digit[:, :, None], 3, 2),
        pil,
        buffer.getvalue(),
        bytearray(renderings.png_bytes(digit)),
    ]
    assert [classifier.predict(item).digit for item in inputs] == [7] * len(inputs)


def test_predict_raises_invalid_image_error_for_unreadable_input(classifier):
    with pytest.raises(InvalidImageError, match="not an image file"):
        classifier.predict(b"GIF89a but actually nothing")


# --------------------------------------------------------------------------- batch and reference


def test_predict_batch_equals_predict_one_by_one(classifier, mnist):
    rng = np.random.default_rng(7)
    images = [renderings.as_paper_scan(digit) for digit in mnist["x_test"][900:910]]
    images.insert(3, np.zeros((280, 280, 4), np.uint8))  # a blank among them
    images.append(renderings.canvas_drawing(mnist["x_test"][910], rng))
    batch = classifier.predict_batch(images)
    single = [classifier.predict(image) for image in images]
    assert len(batch) == len(images)
    assert batch[3].digit is None
    for together, alone in zip(batch, single, strict=True):
        assert together.digit == alone.digit
        np.testing.assert_allclose(together.probabilities, alone.probabilities, atol=1e-5)
        assert together.confidence == pytest.approx(alone.confidence, abs=1e-5)
        if alone.model_input is None:
            assert together.model_input is None
        else:
            np.testing.assert_array_equal(together.model_input, alone.model_input)


def test_predict_batch_of_nothing_is_empty(classifier):
    assert classifier.predict_batch([]) == []


def test_predict_batch_raises_on_an_unreadable_image(classifier, mnist):
    with pytest.raises(InvalidImageError):
        classifier.predict_batch([mnist["x_test"][0], b"", mnist["x_test"][1]])


def test_the_served_export_matches_keras(classifier, mnist):
    """Reference check: the ONNX export the app serves against the Keras model it was exported
    from, on the same 64 digits."""
    import keras

    digits = np.stack([to_mnist(digit) for digit in mnist["x_test"][:64]])
    fast = DigitClassifier(classifier.model).scores(digits)  # no temperature: the network's own
    trained = keras.models.load_model(classifier.path.with_suffix(".keras"), compile=False)
    reference = np.asarray(trained(digits, training=False))
    assert fast.shape == reference.shape == (64, classifier.classes)
    assert fast.dtype == np.float32
    np.testing.assert_allclose(fast, reference, atol=1e-4, rtol=0)
    assert np.array_equal(fast.argmax(axis=1), reference.argmax(axis=1))


def test_probabilities_of_an_empty_batch(classifier):
    assert classifier.probabilities(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)


def test_concurrent_predictions_equal_sequential_ones(classifier, mnist):
    rng = np.random.default_rng(8)
    images = [renderings.as_paper_scan(digit) for digit in mnist["x_test"][:16]]
    images += [renderings.canvas_drawing(digit, rng) for digit in mnist["x_test"][16:32]]
    sequential = [classifier.predict(image) for image in images]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(classifier.predict, images * 4))  # 128 calls over 8 threads
    for index, result in enumerate(concurrent):
        expected = sequential[index % len(images)]
        assert result.digit == expected.digit
        np.testing.assert_array_equal(result.probabilities, expected.probabilities)
        np.testing.assert_array_equal(result.model_input, expected.model_input)


def test_loading_a_missing_model_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        DigitClassifier.load(tmp_path / "absent.keras")


def test_a_keras_file_without_its_export_is_refused_with_the_command_that_exports_it(tmp_path):
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"a model trained before exports existed")
    with pytest.raises(FileNotFoundError, match="python -m mnist_core export"):
        DigitClassifier.load(keras_file)
    assert not keras_file.with_suffix(".onnx").exists()


def test_bundled_model_carries_its_training_record(classifier):
    assert classifier.path is not None and classifier.path.suffix == ".onnx"
    if classifier.path.with_suffix(".json").is_file():
        assert 0.9 < classifier.record["test_accuracy"] <= 1
