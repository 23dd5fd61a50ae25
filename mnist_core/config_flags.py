"""TrainConfig's fields as command-line flags: one translation, used by the ``train`` command's
parser and by the app's job launcher, so a new setting needs no edit in either."""

from __future__ import annotations

import argparse
from dataclasses import fields

from .config import ARCHITECTURES, TRAIN_LIMITS, TrainConfig

# Flags whose help says more than the field's name and default do.
_HELP = {
    "learning_rate": "peak of the learning rate (a warm-up, then a cosine decay)",
    "weight_decay": "decoupled weight decay (AdamW); batch-norm scales and biases exempt",
    "arch": "compact (ours), deep (ours, a layer more) or tutorial (the starting tutorial's CNN)",
    "dropout": "dropout rate before the classifier (compact and deep; the tutorial has none)",
    "augment": "distort digits as real drawings are (shift, scale, rotation, pen, elastic)",
    "augment_anneal": "share of the last epochs over which the distortions shrink",
    "augment_final": "the distortions' size at the end, a share of their full size",
    "bfloat16": "compute in bfloat16 where the CPU has it natively (weights stay float32)",
    "subset": "train on this many of the 55,000 fitting digits (0 = all)",
    "not_digits": "drawings that are not a digit, taught as an 11th class (0 = 10 classes); "
    "per 55,000 digits: a subset gets its share",
    "styled_share": "share of 1s, 7s and 9s also shown as a flagged 1 / crossed 7 / hooked 9",
    "filled_share": "share of digits also shown stretched to fill a square box",
    "corrections": "users' corrections to train on too: a SQLite file, or 'database' for the "
    "app's ($MNIST_DATABASE_URL)",
    "corrections_oversample": "times each correction is shown per epoch",
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """One flag per TrainConfig field, its default and bounds in the help. An unused flag
    leaves no attribute (SUPPRESS), so only the flags given override a preset."""
    for field in fields(TrainConfig):
        default = getattr(defaults, field.name)
        bounds = TRAIN_LIMITS.get(field.name)
        help_text = _HELP.get(field.name, field.name.replace("_", " "))
        if bounds is not None:
            help_text += f"; {bounds[0]} to {bounds[1]}"
        help_text += f" (default: {default})"
        if isinstance(default, bool):
            action = argparse.BooleanOptionalAction
            parser.add_argument(
                flag(field.name), action=action, default=argparse.SUPPRESS, help=help_text
            )
        else:
            kind = type(default)
            choices = ARCHITECTURES if field.name == "arch" else None
            parser.add_argument(
                flag(field.name),
                type=kind,
                choices=choices,
                default=argparse.SUPPRESS,
                help=help_text,
            )


def given_settings(arguments: argparse.Namespace) -> dict:
    """The TrainConfig fields set on the command line."""
    return {
        field.name: getattr(arguments, field.name)
        for field in fields(TrainConfig)
        if hasattr(arguments, field.name)
    }


def command_line(config: TrainConfig) -> list[str]:
    """Flags that make the ``train`` command run exactly ``config``."""
    words = []
    for field in fields(TrainConfig):
        value = getattr(config, field.name)
        if isinstance(value, bool):
            words.append(flag(field.name) if value else "--no-" + field.name.replace("_", "-"))
        else:
            text = repr(float(value)) if isinstance(value, float) else str(value)
            words += [flag(field.name), text]
    return words
