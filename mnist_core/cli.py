"""python -m mnist_core {train,train-numbers,evaluate,predict}: the core's command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import replace
from pathlib import Path

from .cli_training import ProgressBar, lower_priority
from .config import (
    BACKGROUND_TRAINING,
    NUMBER_TRAIN_LIMITS,
    TRAIN_PRESETS,
    NumberTrainConfig,
    TrainConfig,
    TrainResources,
)
from .config_flags import add_config_arguments, flag, given_settings

DEFAULTS = TrainConfig()
NUMBER_DEFAULTS = NumberTrainConfig()
DATA_HELP = "MNIST .npz (default: $MNIST_DATA, else Keras' download)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_train_numbers(commands)
    export = commands.add_parser(
        "export", help="write the ONNX export the app serves beside a .keras model"
    )
    export.add_argument("models", nargs="+", metavar="MODEL.keras")
    evaluate = commands.add_parser("evaluate", help="test accuracy and confusion matrix")
    evaluate.add_argument("--model", help="model file (default: the bundled model)")
    evaluate.add_argument("--data", help=DATA_HELP)
    _add_predict(commands)
    return parser


def _add_train(commands) -> None:
    """``train``: one flag per TrainConfig field, the Quick preset, and where things go."""
    train = commands.add_parser(
        "train",
        help="train a model on MNIST",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_arguments(train, DEFAULTS)
    quick = TRAIN_PRESETS["quick"]
    train.add_argument(
        "--quick",
        action="store_true",
        help=f"the {quick.label} preset ({quick.summary.replace('%', '%%')}): "
        + " ".join(f"{flag(name)} {value}" for name, value in quick.overrides().items()),
    )
    train.add_argument("--data", help=DATA_HELP)
    train.add_argument(
        "--output",
        default="models/mnist_cnn.keras",
        help="model path; its ONNX export (what the app serves) and JSON record go beside it",
    )
    train.add_argument(
        "--run",
        metavar="RUN_ID",
        help="the app's run: report progress to its database ($MNIST_DATABASE_URL) as RUN_ID, "
        "stop when a cancel is asked there, and store the model there when it completes",
    )
    train.add_argument(
        "--background",
        action="store_true",
        help="lowest CPU priority, one TensorFlow thread (the app's runs: drawing stays fluid)",
    )


def _add_train_numbers(commands) -> None:
    """``train-numbers``: the number reader's run."""
    numbers = commands.add_parser(
        "train-numbers",
        help="train the whole-number reader on numbers composed from MNIST",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    numbers.add_argument("--examples", type=int, default=NUMBER_DEFAULTS.examples)
    numbers.add_argument("--epochs", type=int, default=NUMBER_DEFAULTS.epochs)
    numbers.add_argument(
        "--test-numbers",
        type=int,
        default=NUMBER_DEFAULTS.test_numbers,
        help="test numbers per kind (scan, canvas, photo) measured for the record",
    )
    numbers.add_argument("--seed", type=int, default=NUMBER_DEFAULTS.seed)
    numbers.add_argument("--data", help=DATA_HELP)
    numbers.add_argument(
        "--output",
        default="models/number_reader.keras",
        help="reader path; its ONNX export and JSON record go beside it",
    )


def _add_predict(commands) -> None:
    """``predict``: read image files as the app reads an uploaded photo."""
    predict = commands.add_parser(
        "predict",
        help="read the digit, or the number when two or more digits are found, in image files",
    )
    predict.add_argument("--model", help="model file (default: the bundled model)")
    predict.add_argument(
        "--number",
        action="store_true",
        help="read every file as a number, left to right, even when it holds one digit",
    )
    predict.add_argument("files", nargs="+", metavar="FILE")


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return {
            "train": run_train,
            "train-numbers": run_train_numbers,
            "evaluate": run_evaluate,
            "predict": run_predict,
            "export": run_export,
        }[arguments.command](arguments)
    except (ValueError, FileNotFoundError) as error:  # DataError, bad flags, missing model
        print(f"error: {error}", file=sys.stderr)
        return 2


def run_train(arguments) -> int:
    resources = BACKGROUND_TRAINING if arguments.background else TrainResources()
    # Before importing TensorFlow: the threads it starts inherit the priority.
    lower_priority(resources.nice)
    preset = TRAIN_PRESETS["quick"].overrides() if arguments.quick else {}
    config = replace(DEFAULTS, **{**preset, **given_settings(arguments)})
    bar = ProgressBar()
    report = _run_report(arguments.run, config)
    # Entered before TensorFlow's import (seconds): the app's starter waits for our lock.
    with report if report is not None else contextlib.nullcontext():
        from .train import train

        def on_progress(progress):
            bar(progress)
            if report is not None:
                report(progress)

        try:
            result = train(
                config,
                arguments.output,
                arguments.data,
                on_progress=on_progress,
                should_stop=report.should_stop if report is not None else None,
                resources=resources,
            )
        except Exception as error:
            if report is not None:
                report.finish("failed", error=str(error))
            raise
        if report is not None:
            report.finish(result.status, result.record, model_path=result.model_path)
    print(file=sys.stderr)
    for epoch, logs in enumerate(result.record["history"], 1):
        print(f"epoch {epoch}: " + "  ".join(f"{key} {value:.4f}" for key, value in logs.items()))
    if result.status != "completed":
        print(f"training {result.status}; nothing was saved", file=sys.stderr)
        return 1
    print(
        f"test accuracy {result.record['test_accuracy']:.4%} in "
        f"{result.record['duration_s']:.0f} s -> {result.model_path}"
    )
    return 0


def _run_report(run_id: str | None, config):
    """The app's run ``run_id`` in the registry the environment names, or None."""
    if run_id is None:
        return None
    from .registry import ModelRegistry
    from .run_report import RunReport

    return RunReport(ModelRegistry(), run_id, config)


def run_train_numbers(arguments) -> int:
    from .data import load_mnist
    from .number_training import train_number_reader

    for name, (low, high) in NUMBER_TRAIN_LIMITS.items():
        if not low <= getattr(arguments, name) <= high:
            raise ValueError(f"--{name.replace('_', '-')} must be between {low:,} and {high:,}")
    config = replace(
        NUMBER_DEFAULTS,
        examples=arguments.examples,
        epochs=arguments.epochs,
        test_numbers=arguments.test_numbers,
        seed=arguments.seed,
    )
    record = train_number_reader(
        config, load_mnist(arguments.data), Path(arguments.output), report=print
    )
    exact = "  ".join(f"{kind} {rate:.1%}" for kind, rate in record["test_exact"].items())
    print(
        f"test numbers read exactly: {exact} in {record['duration_s']:.0f} s -> {arguments.output}"
    )
    return 0


def run_evaluate(arguments) -> int:
    import numpy as np

    from .classifier import DigitClassifier
    from .data import load_mnist
    from .metrics import test_metrics
    from .training_data import preprocess_images

    classifier = DigitClassifier.load(arguments.model)
    data = load_mnist(arguments.data)
    metrics = test_metrics(
        classifier.scores(preprocess_images(data.x_test, data.checksum)), data.y_test
    )
    print(f"model: {classifier.path}")
    print(f"test accuracy: {metrics['test_accuracy']:.4%} on {metrics['test_digits']:,} digits")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{digit:>6}" for digit in range(10)))
    for digit, row in enumerate(np.asarray(metrics["confusion_matrix"])):
        print(f"{digit:>6}" + "".join(f"{count:>6}" for count in row))
    return 0


def run_export(arguments) -> int:
    from .export import export_saved_model

    for model in arguments.models:
        print(f"{model} -> {export_saved_model(model)}")
    return 0


def run_predict(arguments) -> int:
    from .classifier import DigitClassifier
    from .errors import InvalidImageError
    from .number_reading import NumberReading, read_photo

    classifier = DigitClassifier.load(arguments.model)
    failures = 0
    for name in arguments.files:
        try:
            data = Path(name).read_bytes()
            # As the app reads an uploaded photo: a number when it holds two or more digits.
            reading = (
                classifier.read_number(data) if arguments.number else read_photo(classifier, data)
            )
        except (OSError, InvalidImageError) as error:
            print(f"{name}: error: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
            failures += 1
            continue
        said = _number_line(reading) if isinstance(reading, NumberReading) else _digit_line(reading)
        print(f"{name}: {said}")
    return 1 if failures else 0


def _number_line(reading) -> str:
    """What ``predict`` prints for a number."""
    if not reading.text:
        return "no digit found"
    return f"{reading.text} (confidence {reading.confidence:.1%})"


def _digit_line(prediction) -> str:
    """What ``predict`` prints for one digit."""
    if prediction.verdict == "not_a_digit":
        return f"not a digit ({prediction.not_digit:.1%} sure)"
    if prediction.digit is None:
        return "no digit found"
    return f"{prediction.digit} (confidence {prediction.confidence:.1%})"
