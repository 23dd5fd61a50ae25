"""Reliability and security promises of the core: the run registry, training jobs, model loading
and hostile inputs. Each test fails when its promise breaks.

Training here uses the committed 3,000-digit sample only (one short epoch, or a run cancelled or
killed early): the machine it runs on may be busy training for real.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import types
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from helpers import (
    PROJECT_ROOT,
    SAMPLE,
    png_declaring_size,
    point_at,
    start_at_once,
    wait_for,
)
from PIL import Image

import mnist_core.jobs as jobs_module
from mnist_core import DigitClassifier, InvalidImageError, database, serving
from mnist_core.classifier import BUNDLED_MODEL
from mnist_core.config import TrainConfig, VerdictConfig
from mnist_core.jobs import TrainingJobs
from mnist_core.registry import (
    BUNDLED_ID,
    SERVED,
    ModelRegistry,
    PromotionError,
    RegistryConfig,
)
from mnist_core.renderings import canvas_drawing, paper_photo, png_bytes

# A run that is still going when we look at it: 50 epochs on the sample take minutes.
LONG_RUN = TrainConfig(epochs=50, subset=0)
SHORT_RUN = TrainConfig(epochs=1, subset=0)


# --------------------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def new_run_id() -> str:
    """An id in the registry's format (YYYYMMDD-HHMMSS-xxxx)."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def fake_run(
    registry: ModelRegistry,
    record: dict | None,
    progress: dict | None = None,
    model_bytes: bytes | None = None,
) -> str:
    """A run made by hand: a model (default: a copy of the bundled one), its record and
    progress, stored as a finishing training process stores them."""
    run_id = new_run_id()
    model = BUNDLED_MODEL.read_bytes() if model_bytes is None else model_bytes
    registry.finish_run(run_id, progress or {}, record, {SERVED: model})
    return run_id


def stored_state(registry: ModelRegistry) -> dict:
    """Everything the registry keeps in the database: any write shows up as a difference."""
    with database.reading(registry.engine) as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(sa.select(table)).all()))
            for table in (database.runs, database.model_files, database.active_model)
        }


def training_processes(home: Path) -> list[int]:
    """Pids of live (non-zombie) ``python -m mnist_core train`` processes writing below
    ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if b"mnist_core" in command and b"train" in command:
            if any(str(home).encode() in part for part in command):
                found.append(int(entry.name))
    return found


def sample_digit(position: int) -> tuple[np.ndarray, int]:
    with np.load(SAMPLE) as data:
        return data["x_test"][position], int(data["y_test"][position])


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private app home; the training child reads the committed sample. At the end, any
    training process this test started and left running is killed (by its own pid)."""
    monkeypatch.setenv("MNIST_DATA", str(SAMPLE))
    monkeypatch.delenv("MNIST_APP_HOME", raising=False)
    home = tmp_path / "app_home"
    yield home
    for child in list(jobs_module._children.values()):
        if child.poll() is None and any(str(home) in str(part) for part in child.args):
            child.kill()
            child.wait(timeout=30)


@pytest.fixture(scope="module")
def bundled() -> DigitClassifier:
    return DigitClassifier.load()


# --------------------------------------------------------------------------- one run at a time


def test_two_simultaneous_starts_give_one_run_and_one_busy(home):
    sessions = [TrainingJobs(ModelRegistry(RegistryConfig(home=home))) for _ in range(2)]
    outcomes = start_at_once(sessions, SHORT_RUN)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["busy", "started"], outcomes
    run_id = next(value for kind, value in outcomes if kind == "started")
    busy_with = next(value for kind, value in outcomes if kind == "busy")
    assert busy_with == run_id  # the refused caller is told which run is going

    registry = ModelRegistry(RegistryConfig(home=home))
    jobs = TrainingJobs(registry)
    assert registry.run_ids() == [BUNDLED_ID, run_id]  # one run
    assert training_processes(home) == [jobs.current()["pid"]]  # one child process
    assert jobs.running() == run_id

    jobs.cancel(run_id)
    # Cancelled on return, not after the child's next batch: the child is gone already.
    assert registry.progress(run_id)["status"] == "cancelled"
    assert jobs.running() is None
    assert training_processes(home) == []
    assert not (registry.run_dir(run_id) / "model.keras").exists()
    assert not (registry.run_dir(run_id) / "model.onnx").exists()
    assert registry.model_file(run_id, SERVED) is None


# --------------------------------------------------------------------------- killed mid-run


def test_sigkill_mid_training_is_marked_failed_and_changes_nothing_else(home):
    registry = ModelRegistry(RegistryConfig(home=home))
    jobs = TrainingJobs(registry)
    registry.promote(BUNDLED_ID)  # an explicit pointer, to check it is left alone
    pointer_before = registry.active_id()
    bundled_hash = sha256(BUNDLED_MODEL)

    run_id = jobs.start(LONG_RUN)
    run_dir = registry.run_dir(run_id)
    wait_for(
        lambda: (
            registry.progress(run_id).get("status") == "running"
            and registry.progress(run_id).get("phase") == "training"
        ),
        timeout_s=240,
        what="the run to reach its training phase",
    )
    pid = jobs.current()["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    # The server's reaper thread collects the dead child within milliseconds; until it has,
    # the process still counts as alive, so allow a moment (a session polls once a second).
    wait_for(lambda: jobs.running() is None, 5, "the dead run to be noticed", poll_s=0.05)
    assert time.monotonic() - killed < 5
    assert pid not in training_processes(home)
    progress = registry.progress(run_id)
    assert progress["status"] == "failed", progress
    assert progress.get("error"), progress
    # Nothing a half-finished run could leave behind is taken for a model.
    leftovers = sorted(path.name for path in run_dir.iterdir())
    assert not [name for name in leftovers if "keras" in name or name.startswith("model")], (
        leftovers
    )
    assert set(leftovers) <= {"log.txt"}, leftovers
    assert registry.model_file(run_id, SERVED) is None
    with pytest.raises(PromotionError):
        registry.promote(run_id)
    # The live model and the bundled file are untouched, and still load.
    assert registry.active_id() == pointer_before
    assert sha256(BUNDLED_MODEL) == bundled_hash
    active = registry.active()
    assert (active.run_id, active.warning) == (BUNDLED_ID, None)
    classifier = DigitClassifier.load(active.path)
    digit, label = sample_digit(3)
    assert classifier.predict(png_bytes(255 - digit)).digit == label

    # The server is free again: a new run starts (and is cancelled).
    second = jobs.start(SHORT_RUN)
    assert second != run_id
    assert jobs.running() == second
    jobs.cancel(second)
    assert jobs.wait(second, timeout_s=240)["status"] == "cancelled"
    assert not (registry.run_dir(second) / "model.keras").exists()
    assert registry.progress(run_id)["status"] == "failed"  # the killed run stays failed


# --------------------------------------------------------------------------- divergence, gate


def drive_bridge(losses, should_stop=None):
    from mnist_core.train import _ProgressBridge

    reports = []
    bridge = _ProgressBridge(
        TrainConfig(epochs=2), len(losses), time.monotonic(), reports.append, should_stop
    )
    model = types.SimpleNamespace(stop_training=False)
    bridge.set_model(model)
    bridge.on_train_begin()
    bridge.on_epoch_begin(0)
    for batch, loss in enumerate(losses):
        bridge.on_train_batch_end(batch, {"loss": loss})
        if model.stop_training:
            break
    bridge.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    return bridge, model, reports


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("nan")])
def test_progress_bridge_stops_on_a_non_finite_loss(bad):
    bridge, model, reports = drive_bridge([2.3, 2.1, bad, 1.9])
    assert bridge.status == "diverged"
    assert model.stop_training is True
    assert bridge.history == []  # the broken epoch is not recorded as a finished one
    assert [report.batch for report in reports] == [1, 2, 3]


def test_progress_bridge_cancels_when_asked():
    calls = iter([False, True])
    bridge, model, _ = drive_bridge([2.3, 2.1, 2.0], should_stop=lambda: next(calls))
    assert (bridge.status, model.stop_training) == ("cancelled", True)


def test_training_with_a_nan_loss_ends_diverged_and_writes_no_model(tmp_path, monkeypatch):
    import keras

    import mnist_core.train as train_module

    original = train_module._compiled_model

    def nan_loss_model(config, classes, total_steps):
        model = original(config, classes, total_steps)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=lambda truth, guess: keras.ops.mean(guess) * float("nan"),
            metrics=["accuracy"],
        )
        return model

    monkeypatch.setattr(train_module, "_compiled_model", nan_loss_model)
    output = tmp_path / "runs" / "model.keras"
    result = train_module.train(SHORT_RUN, output, SAMPLE)
    assert result.status == "diverged"
    assert result.record["status"] == "diverged"
    assert result.model_path is None
    assert not output.exists() and not output.with_suffix(".json").exists()
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


@pytest.fixture
def gate(tmp_path):
    """A registry that needs 90% to promote, with an explicit (bundled) active pointer."""
    registry = ModelRegistry(RegistryConfig(home=tmp_path / "home", min_promote_accuracy=0.9))
    registry.promote(BUNDLED_ID)
    return registry


def completed(accuracy) -> dict:
    return {"status": "completed", "test_accuracy": accuracy, "config": {"arch": "compact"}}


@pytest.mark.parametrize(
    "record, reason",
    [
        (completed(0.5), "below"),
        (completed(0.8999), "below"),
        ({"status": "cancelled", "test_accuracy": 0.99}, "did not complete"),
        ({"status": "diverged", "test_accuracy": 0.99}, "did not complete"),
        ({"status": "failed"}, "did not complete"),
        ({"test_accuracy": 0.99}, "did not complete"),
        (None, "did not complete"),  # no record at all
        ({"status": "completed"}, "below"),  # no accuracy recorded
    ],
)
def test_promotion_refuses_weak_or_unfinished_runs(gate, record, reason):
    pointer = gate.active_id()
    run_id = fake_run(gate, record, {"status": (record or {}).get("status", "failed")})
    with pytest.raises(PromotionError, match=reason):
        gate.promote(run_id)
    assert gate.active_id() == pointer
    assert gate.active().run_id == BUNDLED_ID


@pytest.mark.parametrize("accuracy", [float("nan"), None, "high", [0.99]])
def test_promotion_refuses_a_record_whose_accuracy_is_not_a_number(gate, accuracy):
    """A tampered or damaged record must not slip through the accuracy gate (NaN compares
    False with everything, so ``nan < 0.9`` alone would let it pass)."""
    pointer = gate.active_id()
    run_id = fake_run(gate, completed(accuracy))
    with pytest.raises(PromotionError):
        gate.promote(run_id)
    assert gate.active_id() == pointer


def test_promotion_refuses_a_run_whose_model_does_not_load(gate):
    pointer = gate.active_id()
    run_id = fake_run(gate, completed(0.99), model_bytes=BUNDLED_MODEL.read_bytes()[:5000])
    with pytest.raises(PromotionError, match="does not load"):
        gate.promote(run_id)
    assert gate.active_id() == pointer


def test_promotion_accepts_a_good_run_and_rolls_back(gate):
    """The control for the refusals above: the same gate lets a good run through."""
    run_id = fake_run(gate, completed(0.95))
    gate.promote(run_id)
    assert gate.active().run_id == run_id
    gate.promote(BUNDLED_ID)
    assert gate.active().run_id == BUNDLED_ID


# --------------------------------------------------------------------------- hot swap


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A real (one epoch, 1,833 digits) model trained into a registry run folder.

    One epoch on the sample reaches only 20-45% test accuracy (and varies run to run: the
    augmentation workers are threads), so the gate is lowered to 0: this test is about swapping
    models, not about their quality."""
    from mnist_core.run_report import RunReport
    from mnist_core.train import train

    registry = ModelRegistry(
        RegistryConfig(home=tmp_path_factory.mktemp("swap"), min_promote_accuracy=0.0)
    )
    run_id = new_run_id()
    run_dir = registry.run_dir(run_id)
    run_dir.mkdir(parents=True)
    result = train(SHORT_RUN, run_dir / "model.keras", SAMPLE)
    assert result.status == "completed"
    # Stored as the app's training process stores a completed run.
    report = RunReport(registry, run_id, SHORT_RUN)
    report.finish(result.status, result.record, model_path=result.model_path)
    return registry, run_id


def test_predictions_stay_whole_while_the_active_model_flips(trained_run, bundled):
    registry, run_id = trained_run
    registry.promote(run_id)
    assert registry.active().run_id == run_id
    digit, _ = sample_digit(17)
    image = canvas_drawing(digit, np.random.default_rng(17))
    reference = {
        BUNDLED_ID: bundled.predict(image).probabilities,
        run_id: DigitClassifier.load(registry.model_path(run_id)).predict(image).probabilities,
    }
    # "Exactly one of the two" is only a real check if the two models disagree.
    assert not np.allclose(reference[BUNDLED_ID], reference[run_id], atol=1e-4)

    cache: dict[str, DigitClassifier] = {}
    cache_lock = threading.Lock()
    done = threading.Event()
    errors: list[BaseException] = []
    results: list[tuple[str, np.ndarray]] = []
    warnings: list[str] = []

    def classifier_for(path: Path) -> DigitClassifier:
        with cache_lock:  # what st.cache_resource does: one load per key
            if str(path) not in cache:
                cache[str(path)] = DigitClassifier.load(path)
            return cache[str(path)]

    def reader() -> None:
        try:
            while not done.is_set():
                active = registry.active()
                if active.warning:
                    warnings.append(active.warning)
                prediction = classifier_for(active.path).predict(image)
                results.append((active.run_id, prediction.probabilities))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    def flipper() -> None:
        try:
            for flip in range(50):
                registry.promote(BUNDLED_ID if flip % 2 == 0 else run_id)
                time.sleep(0.01)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            done.set()

    readers = [threading.Thread(target=reader) for _ in range(6)]
    flipping = threading.Thread(target=flipper)
    for thread in [*readers, flipping]:
        thread.start()
    flipping.join(timeout=300)
    done.set()
    for thread in readers:
        thread.join(timeout=60)

    assert not errors, errors
    assert not warnings, warnings[:3]  # the pointer was never seen half-written
    assert len(results) >= 50
    seen = {model for model, _ in results}
    assert seen == {BUNDLED_ID, run_id}, seen
    for model, probabilities in results:
        matches = [
            name for name, expected in reference.items() if np.allclose(probabilities, expected)
        ]
        assert matches == [model], (model, matches)
    assert registry.active().run_id == run_id  # the 50th flip (odd) promoted the run


def test_concurrent_promotions_leave_one_valid_pointer(trained_run):
    """Two sessions of one server (threads of one process) promoting at once: both calls
    succeed or fail cleanly, and the pointer names one of the two."""
    registry, run_id = trained_run
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def promote(target: str) -> None:
        barrier.wait()
        for _ in range(20):
            try:
                ModelRegistry(registry.config).promote(target)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [
        threading.Thread(target=promote, args=(target,))
        for target in (run_id, BUNDLED_ID, run_id, BUNDLED_ID)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    assert registry.active().run_id in (run_id, BUNDLED_ID)
    assert registry.active().warning is None
    assert not [path.name for path in registry.home.iterdir() if path.name.endswith(".tmp")]


# --------------------------------------------------------------------------- corrupt model


CORRUPT_MODELS = {
    "truncated": lambda: BUNDLED_MODEL.read_bytes()[: BUNDLED_MODEL.stat().st_size // 2],
    "zero-byte": lambda: b"",
    "text": lambda: b"this is not a model, just a text file named model.keras\n" * 10,
}


@pytest.mark.parametrize("kind", list(CORRUPT_MODELS))
def test_a_corrupt_active_model_falls_back_to_the_bundled_one(tmp_path, monkeypatch, kind):
    from app_pages.shared import active_classifier

    home = tmp_path / "home"
    monkeypatch.setenv("MNIST_APP_HOME", str(home))
    registry = ModelRegistry()
    run_id = fake_run(registry, completed(0.99), {"status": "completed"}, CORRUPT_MODELS[kind]())
    point_at(registry, run_id)  # promoted, then broken (a promotion would have refused it)
    before = stored_state(registry)
    bundled_hash = sha256(BUNDLED_MODEL)

    # Core level: the pointer resolves, the model refuses to load with an ordinary exception.
    assert registry.active().run_id == run_id
    with pytest.raises(Exception) as raised:
        DigitClassifier.load(registry.model_path(run_id))
    assert not isinstance(raised.value, (SystemExit, KeyboardInterrupt))

    # The core serves the bundled model, with a warning that says so; so does the app, from
    # its cache.
    for classifier, shown_id, warning in (
        serving.active_classifier(registry),
        active_classifier(),
    ):
        assert classifier.path == BUNDLED_MODEL
        assert shown_id == BUNDLED_ID
        assert warning and "bundled" in warning and run_id in warning
        digit, label = sample_digit(3)
        assert classifier.predict(png_bytes(255 - digit)).digit == label

    assert stored_state(registry) == before  # nothing repaired, deleted or rewritten
    assert sha256(BUNDLED_MODEL) == bundled_hash


@pytest.mark.parametrize(
    "pointer",
    [
        "\x01\xff\xfe\x9c garbage {{{",
        "",
        '{"run_id": "20250101-000000-dead"}',
        "../../etc/passwd",
        "20250101-000000-dead",  # a well-formed id with no such run
        "12345",
        "20250101-000000-dead' OR '1'='1",
    ],
)
def test_an_unreadable_active_pointer_gives_the_bundled_model_with_a_warning(
    tmp_path, monkeypatch, pointer
):
    from app_pages.shared import active_classifier

    home = tmp_path / "home"
    monkeypatch.setenv("MNIST_APP_HOME", str(home))
    point_at(ModelRegistry(), pointer)
    before = stored_state(ModelRegistry())

    active = ModelRegistry().active()
    assert (active.run_id, active.path) == (BUNDLED_ID, BUNDLED_MODEL)
    assert active.warning and "bundled" in active.warning
    classifier, shown_id, warning = active_classifier()
    assert (classifier.path, shown_id) == (BUNDLED_MODEL, BUNDLED_ID)
    assert warning and "bundled" in warning
    assert stored_state(ModelRegistry()) == before


# --------------------------------------------------------------------------- bounds


OUT_OF_BOUNDS = [
    {"epochs": 0},
    {"epochs": 51},
    {"epochs": 10_000},
    {"batch_size": 8},
    {"learning_rate": 0},
    {"learning_rate": 1.0},
    {"learning_rate": float("nan")},
    {"learning_rate": float("inf")},
    {"subset": 500},
    {"subset": -1},
    {"arch": "resnet"},
]


@pytest.mark.parametrize("overrides", OUT_OF_BOUNDS, ids=lambda o: "-".join(map(str, o.items())))
def test_out_of_bounds_settings_are_refused_before_any_run_exists(home, overrides):
    from mnist_core.config import validate_config

    config = replace(TrainConfig(), **overrides)
    with pytest.raises(ValueError):
        validate_config(config)
    jobs = TrainingJobs(ModelRegistry(RegistryConfig(home=home)))
    with pytest.raises(ValueError):
        jobs.start(config)
    runs = home / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    assert jobs.current() is None
    assert training_processes(home) == []


def test_the_defaults_and_the_limits_themselves_are_accepted():
    from mnist_core.config import validate_config

    for config in (
        TrainConfig(),
        TrainConfig(epochs=1, batch_size=16, learning_rate=1e-5, subset=1000),
        TrainConfig(epochs=50, batch_size=1024, learning_rate=0.1, subset=60_000),
    ):
        assert validate_config(config) is config


# --------------------------------------------------------------------------- safe_mode


def test_a_model_with_a_lambda_layer_is_refused_without_running_its_code(tmp_path, monkeypatch):
    """The app serves ONNX files, which hold no code; a .keras file is only ever loaded to be
    exported (``python -m mnist_core export``), and that load must not run a Lambda either."""
    import keras

    from mnist_core.export import export_saved_model

    marker = tmp_path / "lambda-ran"
    # The payload: any Python in a Lambda layer runs when the model is rebuilt on load.
    payload = eval(f"lambda x: (open({str(marker)!r}, 'a').close(), x)[1]")  # noqa: S307
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Lambda(payload),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "hostile.keras"
    model.save(path)
    marker.unlink(missing_ok=True)  # building and saving called it once

    calls = []
    real_load_model = keras.models.load_model

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load_model(*args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", spy)
    with pytest.raises(Exception, match="(?i)lambda|safe"):
        export_saved_model(path)
    assert not marker.exists(), "the Lambda layer's code ran while loading"
    assert not path.with_suffix(".onnx").exists()
    assert calls and calls[-1].get("safe_mode") is True

    # Control: the file is a loadable digit model, and unsafe loading would run the payload.
    monkeypatch.setattr(keras.models, "load_model", real_load_model)
    unsafe = real_load_model(path, compile=False, safe_mode=False)
    assert tuple(unsafe.output_shape[1:]) == (10,)
    assert marker.exists()


# --------------------------------------------------------------------------- hostile input


BOMB_PROBE = r"""
import json, resource, sys, time
from mnist_core import DigitClassifier, InvalidImageError
classifier = DigitClassifier.load()
classifier.predict(open(sys.argv[2], "rb").read())  # warm up on a legitimate image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
bomb = open(sys.argv[1], "rb").read()
started = time.monotonic()
try:
    classifier.predict(bomb)
    outcome = "accepted"
except InvalidImageError as error:
    outcome = "refused: " + str(error)
elapsed = time.monotonic() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "elapsed_s": elapsed, "growth_kb": after - before}))
"""


def test_a_decompression_bomb_is_refused_fast_and_without_memory_growth(tmp_path, bundled):
    bomb = png_declaring_size(50_000, 50_000)
    assert len(bomb) < 200
    started = time.monotonic()
    with pytest.raises(InvalidImageError, match="too large"):
        bundled.predict(bomb)
    assert time.monotonic() - started < 2

    # Peak memory is per process: measure in a fresh one so earlier tests do not mask growth.
    (tmp_path / "bomb.png").write_bytes(bomb)
    digit, _ = sample_digit(3)
    (tmp_path / "digit.png").write_bytes(png_bytes(255 - digit))
    probe = subprocess.run(
        [sys.executable, "-c", BOMB_PROBE, str(tmp_path / "bomb.png"), str(tmp_path / "digit.png")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["outcome"].startswith("refused: ") and "too large" in report["outcome"], report
    assert report["elapsed_s"] < 2, report
    assert report["growth_kb"] < 500 * 1024, report


@pytest.fixture(scope="module")
def big_photo():
    digit, label = sample_digit(42)
    return paper_photo(digit, np.random.default_rng(42), size=(6000, 4000)), label


def test_a_24_megapixel_phone_photo_is_read_within_5_s(bundled, big_photo):
    photo, label = big_photo
    with Image.open(io.BytesIO(photo)) as opened:
        assert opened.size == (6000, 4000) and opened.format == "JPEG"
    started = time.monotonic()
    prediction = bundled.predict(photo)
    elapsed = time.monotonic() - started
    assert prediction.digit == label
    assert elapsed < 5, f"{elapsed:.1f} s"


def is_valid(prediction) -> bool:
    """Blank: nothing at all. Otherwise ten finite probabilities that sum to 1 with the
    not-a-digit one, and the most probable digit, or no digit when "not a digit" is the most
    probable class and sure enough (VerdictConfig)."""
    probabilities = prediction.probabilities
    if prediction.verdict == "blank":
        return (
            prediction.digit is None
            and prediction.confidence == 0.0
            and not probabilities.any()
            and prediction.not_digit == 0.0
        )
    whole = (
        probabilities.shape == (10,)
        and bool(np.all(np.isfinite(probabilities)))
        and math.isclose(float(probabilities.sum()) + prediction.not_digit, 1.0, abs_tol=1e-4)
    )
    if prediction.verdict == "not_a_digit":
        return (
            whole
            and prediction.digit is None
            and prediction.confidence == 0.0
            and prediction.not_digit > probabilities.max()
            and prediction.not_digit >= VerdictConfig().not_digit_threshold
        )
    threshold = VerdictConfig().not_digit_threshold
    return (
        whole
        and prediction.verdict == "digit"
        and 0 <= prediction.digit <= 9
        and prediction.digit == int(np.argmax(probabilities))
        and (
            prediction.not_digit < threshold
            or probabilities[prediction.digit] >= prediction.not_digit
        )
    )


RNG = np.random.default_rng(8)
FEATURELESS = {
    "noise-grey": RNG.integers(0, 256, (480, 640), dtype=np.uint8),
    "noise-rgba": RNG.integers(0, 256, (280, 280, 4), dtype=np.uint8),
    "all-white": np.full((480, 640), 255, np.uint8),
    "all-black": np.zeros((480, 640), np.uint8),
    "transparent": np.zeros((280, 280, 4), np.uint8),
    "opaque-white-canvas": np.full((280, 280, 4), 255, np.uint8),
    "one-pixel": np.zeros((1, 1), np.uint8),
}


@pytest.mark.parametrize("name", list(FEATURELESS))
@pytest.mark.parametrize("as_file", [False, True], ids=["array", "png"])
def test_featureless_images_give_no_digit_or_a_valid_reading(bundled, name, as_file):
    image = FEATURELESS[name]
    started = time.monotonic()
    prediction = bundled.predict(png_bytes(image) if as_file else image)
    assert time.monotonic() - started < 2
    assert is_valid(prediction), prediction
    if name in ("all-white", "all-black", "transparent", "opaque-white-canvas"):
        assert prediction.digit is None
