"""Serving without TensorFlow: the app and the CLI's reading commands run on the ONNX export
alone, and every export computes what its Keras model does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import PROJECT_ROOT as ROOT
from helpers import SAMPLE

from mnist_core import DigitClassifier
from mnist_core.export import ExportError, check_export
from mnist_core.renderings import as_paper_scan
from mnist_core.runtime import ModelFileError, OnnxNetwork

# Run in a fresh interpreter: this test session has imported TensorFlow long ago.
APP_PROBE = r"""
import io, json, sys, types
from unittest import mock

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from mnist_core.renderings import as_paper_scan, canvas_drawing, number_canvas

sample = np.load(sys.argv[1])
first = lambda digit: int(np.flatnonzero(sample["y_test"] == digit)[0])
drawn = {"image": canvas_drawing(sample["x_test"][first(7)], np.random.default_rng(7))}
module = types.ModuleType("streamlit_drawable_canvas")
def png(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()
module.st_canvas = lambda **kwargs: mock.Mock(image_bytes=png(drawn["image"]), json_data={})
seen = {}
with mock.patch.dict(sys.modules, {"streamlit_drawable_canvas": module}):
    app = AppTest.from_file(sys.argv[2], default_timeout=90).run()
    seen["digit"] = [m.value for m in app.metric if m.label.startswith("Prediction")]
    drawn["image"] = number_canvas(
        [sample["x_test"][first(4)], sample["x_test"][first(2)]], np.random.default_rng(4)
    )
    app.segmented_control(key="draw_mode").set_value("number").run()
    seen["number"] = [m.value for m in app.metric if m.label == "Prediction (number)"]
    seen["charts_before_retrain"] = "altair" in sys.modules
    app.switch_page("app_pages/retrain.py").run()
    seen["retrain_page"] = [header.value for header in app.subheader]
    seen["exception"] = [str(error.value) for error in app.exception]
seen["loaded"] = sorted(
    name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "tf_keras")
)
print(json.dumps(seen))
"""


def test_the_app_reads_a_digit_and_a_number_without_importing_tensorflow(tmp_path):
    seen = probe(
        APP_PROBE, str(SAMPLE), str(ROOT / "app.py"), MNIST_APP_HOME=str(tmp_path / "home")
    )
    assert seen["exception"] == []
    assert seen["digit"] == ["7"] and seen["number"] == ["42"]
    assert seen["retrain_page"], "the retrain page rendered"
    assert seen["loaded"] == []
    # Altair is the retrain page's: ~0.2 s of CPU and 26 MB the draw page does not wait for.
    assert not seen["charts_before_retrain"]


# The real canvas component, in a fresh interpreter: what its serialisation imported; then,
# with pandas imported, what Streamlit's dataframe check (with the app's shortcut) answers.
CANVAS_PROBE = r"""
import json, sys
import numpy as np
from streamlit.testing.v1 import AppTest

app = AppTest.from_string("import app_pages.canvas\napp_pages.canvas.canvas_image(280)").run()
(canvas,) = [e for e in app.main if "drawable" in getattr(e.proto, "component_name", "")]
seen = {"data": json.loads(canvas.proto.json), "imported": "pandas" in sys.modules
        or "pyarrow" in sys.modules}
import pandas as pd
from streamlit.components.v2.bidi_component.serialization import is_dataframe_like as check
values = {"frame": pd.DataFrame({"a": [1]}), "series": {"a": pd.Series([1])},
          "array": np.zeros((2, 2)), "plain": {"objects": [], "cleared": 3}}
seen["dataframe_like"] = {name: check(value) for name, value in values.items()}
seen["shortcut"] = getattr(check, "plain_values_skipped", False)
print(json.dumps(seen))
"""


def test_the_canvas_is_sent_without_importing_pandas():
    """Streamlit's component serialisation would import pandas and pyarrow (~66 MB, 0.3-0.6 s
    of a cold start) to ask whether the canvas' settings are a dataframe; what is one is
    still found to be one."""
    seen = probe(CANVAS_PROBE)
    assert seen["data"]["initialDrawing"] == {"objects": [], "cleared": 0, "background": "#FFFFFF"}
    assert seen["data"]["canvasWidth"] == 280
    assert not seen["imported"]
    assert seen["shortcut"]
    assert seen["dataframe_like"] == {"frame": True, "series": True, "array": True, "plain": False}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_the_cli_reads_without_importing_tensorflow(tmp_path, command):
    image = tmp_path / "seven.png"
    sample = np.load(SAMPLE)
    image.write_bytes(as_paper_scan(sample["x_test"][np.flatnonzero(sample["y_test"] == 7)[0]]))
    arguments = [str(image)] if command == "predict" else ["--data", str(SAMPLE)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mnist_core", command, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_environment(), "MNIST_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = r"seven\.png: 7 \(confidence" if command == "predict" else r"test accuracy: 9\d\."
    assert re.search(expected, result.stdout), result.stdout
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines()]
    assert not [name for name in imported if name.split(".")[0] in ("tensorflow", "keras")]


def test_export_command_writes_a_served_file_that_reads_as_the_bundled_one(tmp_path, mnist):
    from mnist_core.cli import main

    keras_file = tmp_path / "model.keras"
    shutil.copyfile(ROOT / "models" / "mnist_cnn.keras", keras_file)
    assert main(["export", str(keras_file)]) == 0
    exported = DigitClassifier.load(keras_file)
    assert exported.path == keras_file.with_suffix(".onnx")
    bundled = DigitClassifier.load()
    digits = mnist["x_test"][:200]
    np.testing.assert_allclose(
        exported.model(digits / 255.0), bundled.model(digits / 255.0), atol=1e-6
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.keras", "model.onnx"]


def test_an_export_that_computes_something_else_is_refused():
    import keras

    model = keras.models.load_model(ROOT / "models" / "mnist_cnn.keras", compile=False)
    served = OnnxNetwork(ROOT / "models" / "mnist_cnn.onnx")
    assert check_export(model, served) < 1e-4

    def drifted(batch):
        return served(batch) + 1e-3

    with pytest.raises(ExportError, match="differs from the Keras model"):
        check_export(model, drifted)


@pytest.mark.parametrize("content", [b"", b"not a model at all\n" * 20])
def test_a_file_that_is_not_an_onnx_model_is_refused_clearly(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="is not a readable ONNX model"):
        OnnxNetwork(path)
    assert path.read_bytes() == content


def test_the_served_network_may_be_called_from_many_threads(classifier, mnist):
    from concurrent.futures import ThreadPoolExecutor

    digits = mnist["x_test"][:64] / 255.0
    alone = [classifier.model(digits[index : index + 8]) for index in range(0, 64, 8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(
            pool.map(lambda start: classifier.model(digits[start : start + 8]), range(0, 64, 8))
        )
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(one, other)


def probe(code: str, *arguments: str, **environment: str) -> dict:
    """Run ``code`` in a fresh interpreter; what it printed last, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_environment(), **environment},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_DATA": str(SAMPLE)}
