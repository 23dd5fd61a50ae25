"""Configuration, one dataclass per concern. Every default says why it is what it is."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .precision import native_bfloat16

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class EnvironmentSetting:
    """One environment variable the project reads, its default, and why it exists."""

    name: str
    default: str | None  # None: unset means "not given" (what then happens is in ``why``)
    why: str

    def value(self) -> str | None:
        """The variable's value (or the default when it is unset or empty), read at each call:
        set in a running process (a test's ``monkeypatch.setenv``), it takes effect."""
        return os.environ.get(self.name) or self.default


# Every environment variable the app and the core read. Besides these the test suite reads
# REQUIRE_BROWSER and REQUIRE_POSTGRES (tests/conftest.py: in CI, a missing browser or
# PostgreSQL server fails the tests that need it instead of skipping them).
APP_HOME = EnvironmentSetting(
    "MNIST_APP_HOME",
    str(PROJECT_ROOT / "app_data"),
    "This machine's own files: the default database (app.sqlite), training runs' working "
    "folders and logs, and the models fetched from the database (registry.py). A single server "
    "puts it on a persistent disk, each test in its own temporary folder.",
)
MIN_PROMOTE_ACCURACY = EnvironmentSetting(
    "MNIST_MIN_PROMOTE_ACCURACY",
    "0.97",
    "The MNIST test accuracy a run needs to be made active, so that a broken run never goes "
    "live; a few-batch test run sets 0.",
)
DATABASE_URL = EnvironmentSetting(
    "MNIST_DATABASE_URL",
    None,
    "The SQLAlchemy URL of the database of all shared state (database.py): corrections, the "
    "model registry with the models themselves, the active model, training runs' progress and "
    "the fleet's training lock. Unset: the SQLite file app.sqlite in the app home, so one "
    "machine needs nothing installed or running; postgresql+psycopg://user:password@host/name "
    "lets every replica of the app share it.",
)
DATA = EnvironmentSetting(
    "MNIST_DATA",
    None,
    "A local MNIST .npz (Keras' layout) for training and evaluation when no --data is given "
    "(data.py); unset: Keras downloads MNIST once, which a machine offline cannot.",
)
CACHE = EnvironmentSetting(
    "MNIST_CACHE",
    str(Path.home() / ".cache" / "mnist_core"),
    "Where preprocessed training digits are cached (training_data.py), keyed by the code and "
    "settings they depend on: preprocessing MNIST takes minutes, reusing it a second.",
)
ADMIN_PASSWORD = EnvironmentSetting(
    "MNIST_ADMIN_PASSWORD",
    None,
    "The password that unlocks training and promotion on a shared app (app_pages/shared.py), "
    'when st.secrets has no "admin_password"; unset with neither: everyone may train.',
)
ENVIRONMENT = (APP_HOME, MIN_PROMOTE_ACCURACY, DATABASE_URL, DATA, CACHE, ADMIN_PASSWORD)
# TrainConfig.corrections naming the app's database rather than a file.
APP_DATABASE = "database"


@dataclass(frozen=True)
class DecodeConfig:
    """Limits on what we agree to decode: a shared link is open to anyone."""

    # 40 megapixels covers any phone photo (a 12 MP phone is 4032x3024) with room to spare,
    # while refusing decompression bombs before a single pixel is decoded.
    max_pixels: int = 40_000_000
    # Largest file we read at all; matches server.maxUploadSize in .streamlit/config.toml.
    max_bytes: int = 20 * 1024 * 1024
    # Work on at most this many pixels on the long side: more detail never helps a 20 px digit,
    # and it bounds the time of every later step.
    work_side: int = 640
    # Below this we upscale first, so tiny scans (16x16 USPS) get smooth, MNIST-like strokes.
    min_work_side: int = 56


@dataclass(frozen=True)
class PreprocessConfig:
    """MNIST's own recipe: digit fitted in a 20x20 box, centred by mass in 28x28."""

    out_side: int = 28  # MNIST's frame
    box_side: int = 20  # MNIST fits the digit's longer side to 20 px
    # Ink contrast (0..1) below which the image is blank: the paper grain of a phone photo is
    # ~0.05, a faint pencil stroke is ~0.25.
    min_contrast: float = 0.12
    # A component smaller than this share of the largest one is a speck, not a stroke.
    speck_ratio: float = 0.08
    # The digit must span at least this share of the image's longer side: 7 px of a 280 px
    # canvas (a tap's dot is told by its shape, min_extent_strokes below); a digit written
    # small on a page photographed whole spans 3-4% of the photo and is still read.
    min_extent: float = 0.025
    # A blob whose extent is under this many stroke widths is a dot, not a digit (a dot
    # measures 2; MNIST's stubbiest "1" measures over 3.5).
    min_extent_strokes: float = 2.6
    # Strokes thinner than this after scaling to the 20 px box are thickened to it: MNIST
    # strokes are 2-4 px; a 3 px pen on a 280 px canvas would otherwise shrink to 0.3 px.
    min_stroke_px: float = 2.2
    # Strokes wider than this after scaling are pared down to ``thinned_stroke_px``: a wide
    # pen on a small digit comes out 4-7 px wide, its loops nearly closed, where MNIST's
    # strokes are 2.6 px (median; 8% of its test digits are wider than 3.5). Canvases drawn
    # so were misread 4.6 times as often as others (docs/model.md, "Thick strokes").
    max_stroke_px: float = 3.5
    thinned_stroke_px: float = 3.0


@dataclass(frozen=True)
class SegmentationConfig:
    """How a written number's strokes are grouped into digits (numbers.py)."""

    # Strokes whose column ranges overlap by this share of the narrower one belong to one
    # digit (the bar and body of a 5, the two strokes of a 4).
    same_digit_overlap: float = 0.5
    # Only a group wider than this share of the digit height may hold touching digits (a
    # wide 0 is ~0.9; a 1 touching a 3 ~1.0).
    min_split_width: float = 0.85
    # Specks by area, against a much lower bar than for one digit (PreprocessConfig's 0.08):
    # digits of one number differ in ink (a fat 8 beside a thin 1).
    speck_ratio: float = 0.02
    # A group less tall than this share of the number's digit height is a fragment of a digit.
    fragment_height: float = 0.45
    # Told how many digits a number holds, a digit may be made of this many neighbouring
    # groups of strokes (a photographed 5 whose bar and body do not meet).
    max_joined: int = 2
    # A 1: one stroke (its largest piece holds `one_stroke_share` of its ink) at least
    # `digit_stroke_height` of the digits' height tall (the number's, or the taller of two
    # neighbours', whichever is more), and straight (its ink's spread across
    # its main axis at most `straight_spread` of its spread along it: MNIST's test 1s,
    # binarised, 0.15 at the median, 0.25 at the 95th percentile; its other digits 0.34
    # and more at the 5th). The number reader, at half resolution, often misses a 1 close
    # beside another digit and would have the two joined; the even cuts miss a 1 touching
    # a wider digit.
    one_stroke_share: float = 0.9
    digit_stroke_height: float = 0.8
    straight_spread: float = 0.25
    # Where a 1 touching its neighbour is looked for: the least-ink cut within this share
    # of the group's width from either side.
    side_cut: tuple[float, float] = (0.15, 0.35)


@dataclass(frozen=True)
class StripConfig:
    """A whole number's ink scaled into one strip, the number reader's input."""

    # Half MNIST's resolution: the reader only has to find where each digit is and roughly
    # what it is (the digit CNN reads each cut digit at full size), and training costs ~4x
    # less per halving of the side.
    height: int = 16  # rows of the strip
    # The number's ink is scaled to this many rows: MNIST's digits are 20 px tall in 28 and a
    # written number wobbles up and down by a few more.
    ink_height: int = 12
    # Columns: 6 digits at that height with wide gaps take ~85; a longer number is scaled
    # down to fit.
    width: int = 128
    margin: int = 2  # empty columns left of the ink
    frame_px: int = 2  # strip columns per output frame of the reader (one 2x pooling)


@dataclass(frozen=True)
class VerdictConfig:
    """When a reading is "not a digit" rather than the most probable digit, and when unsure."""

    # The calibrated probability of "not a digit" must reach this. A real digit refused is
    # worse than a doodle read as an unsure digit, so the bar is high: on our held-out
    # not-digit drawings 0.9 still refuses 96% (argmax: 98.6%) while held-out training
    # digits drawn hard on a canvas are refused 0.4% of the time (argmax: 1.0%).
    not_digit_threshold: float = 0.9
    # Under this calibrated probability a digit's reading is unsure: the app shows the two
    # best guesses, and the reader takes a second look without thin straight lines.
    unsure_below: float = 0.6


@dataclass(frozen=True)
class NumberReadingConfig:
    """How a number's two readings, the reader's and the digit model's, are weighed."""

    # A candidate text scores log P_reader(text) + this x log P_model(each cut digit). The
    # digit model reads each digit at full size and errs ~0.5% on MNIST; the reader sees the
    # whole number at half resolution. Weighed equally, the reader's confident misreadings
    # won; tuned on numbers composed from the 5,000 training digits both networks hold out
    # (800 of each): photos exact 97.0% at 1, 97.9% at 5 to 7, 97.6% at 10; canvases 95.4%
    # at 1, 96.3% at 5 to 7, 96.1% at 10.
    digit_model_weight: float = 5.0


@dataclass(frozen=True)
class NumberTrainConfig:
    """The number reader's training run (defaults: the bundled reader's)."""

    # Numbers composed from MNIST training digits: ~9 min to compose on 2 cores, then ~3 min
    # an epoch. The bundled reader alone reads 90% of validation numbers (1-7 digits) exactly;
    # the app's read_number adds the digit model and reads more (README, "Measured").
    examples: int = 60_000
    validation: int = 2_000  # composed from the 5,000 training digits kept out of the rest
    test_numbers: int = 1_000  # per kind, composed from MNIST's test digits, for the record
    digits: tuple[int, int] = (1, 7)  # shortest and longest number composed
    # How they are rendered: the composed strip itself (a clean scan), drawn on a browser
    # canvas, photographed on paper. Photos cost ~20x a canvas to render.
    kinds: tuple[float, float, float] = (0.25, 0.45, 0.30)
    epochs: int = 10  # validation still rose at 6 (90.05%); ~3.5 min each on 2 cores
    batch_size: int = 64
    learning_rate: float = 2e-3  # peak of a warm-up then cosine schedule
    workers: int = 2  # processes composing numbers
    seed: int = 1


ARCHITECTURES = ("compact", "deep", "tutorial")  # architectures.py builds them (it needs Keras)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults: the "Full" preset; the bundled model's
    own run is recorded in ``models/mnist_cnn.json``)."""

    epochs: int = 18  # the Full preset: inside 10 minutes on a 2-core CPU (README, "Results")
    # 128 against 256 (Full preset, seeds 1-3, idle): 99.55/99.56/99.51% against
    # 99.56/99.52/99.47%, 435-496 s, and ~70 MB less of the training process' memory (a
    # batch's activations), which lets a run fit in 600 MB (docs/performance.md).
    batch_size: int = 128
    learning_rate: float = 3e-3  # peak of a warm-up then cosine schedule
    # Decoupled weight decay (AdamW; batch-norm scales and shifts and biases exempt). Full
    # preset, seeds 1-5: mean 99.63% on MNIST test at 0.1 (99.61-99.64%), against 99.53% without
    # (Adam) and 99.51% (seed 1) at 0.02; more held-out letters and shapes refused too.
    weight_decay: float = 0.1
    arch: str = "compact"  # "compact" (ours) or "tutorial"
    # Before the classifier (compact only): the distortions already regularise, and a short
    # run fits better with little dropout (tuomaso/train_mnist_fast uses none).
    dropout: float = 0.1
    augment: bool = True  # distortions real drawings have; off only to compare
    # The distortions shrink linearly over the last ``augment_anneal`` share of the epochs to
    # ``augment_final`` of their size: the network ends on digits as they are drawn (Full
    # preset, seed 1: 99.45% -> 99.56% on MNIST test, USPS and our form scans up too).
    augment_anneal: float = 0.3
    augment_final: float = 0.25
    # Compute in bfloat16 where the CPU does it natively (AVX512-BF16 or AMX), the weights
    # kept in float32: 26% more digits a second on this project's 2-core EPYC (measured,
    # docs/model.md); the saved model and its export are float32 either way.
    bfloat16: bool = True
    subset: int = 0  # 0 = all 55,000 fitting digits; else this many (quick runs)
    # The last 5,000 of MNIST's 60,000 training digits, held out for the curves and the
    # temperature: the number reader holds out the same ones.
    validation_split: float = 1 / 12
    seed: int = 1
    # Hard targets: confidence is calibrated after training by a temperature fitted on the
    # held-out digits, which smoothing would only distort (a clear digit capped at ~0.98).
    label_smoothing: float = 0.0
    # Drawings that are not one digit (letters, scribbles, shapes, two digits), taught as an
    # 11th class so the app can say "that does not look like a digit"; 0 = a 10-class model.
    # Per 55,000 fitting digits: a subset run draws its share.
    not_digits: int = 6_000
    # Share of the 1s, 7s and 9s also taught in styles MNIST's American writers rarely use (the
    # flagged European 1, the crossed 7, the 9 whose tail curls back left).
    styled_share: float = 0.35
    # Share of all fitting digits (the styled ones too) also shown stretched to fill a square
    # box, as form readers store digits (half of them coarsely scanned too): a narrow digit
    # made wide keeps its name.
    filled_share: float = 0.2
    # Users' corrections to train on too: "" none, APP_DATABASE the app's database (a training
    # child inherits $MNIST_DATABASE_URL, so no password is on its command line), or a SQLite file.
    corrections: str = ""
    # Each collected digit is shown this many times per epoch: a few hundred corrections among
    # 55,000 digits would otherwise barely move the model.
    corrections_oversample: int = 20
    corrections_holdout: float = 0.2  # share of corrections kept out, to measure on them


@dataclass(frozen=True)
class TrainResources:
    """How much of the machine one training run may take (defaults: a foreground run, all of it)."""

    # CPU priority (0..19, higher yields more). Where Linux groups processes by session
    # (autogroup), a run in its own session also lowers its session's group: otherwise the
    # group competes with the server's as an equal, whatever the process' own nice (measured:
    # a nice-10 run in its own session still took half of the two cores).
    nice: int = 0
    # TensorFlow threads inside one op and ops run at once; 0 = TensorFlow's choice (one per
    # core each), the fastest when nothing else needs the CPU.
    intra_op_threads: int = 0
    inter_op_threads: int = 0


@dataclass(frozen=True)
class TrainPreset:
    """A training run offered by name, with what it measured on this project's 2-core CPUs."""

    label: str  # the retrain page's button
    accuracy: str  # how good: from the runs recorded in docs/model.md
    config: TrainConfig
    # How long on 2 cores where the CPU computes in bfloat16 (AVX512-BF16: the bundled model's
    # host), and where training falls back to float32 (AVX2 only): three to five times longer.
    duration: str
    duration_float32: str

    @property
    def duration_here(self) -> str:
        """How long it takes on this machine."""
        fast = self.config.bfloat16 and native_bfloat16()
        return self.duration if fast else self.duration_float32

    @property
    def summary(self) -> str:
        """How long on this machine, and how good."""
        return f"{self.duration_here}, {self.accuracy}"

    def overrides(self) -> dict:
        """The settings in which this preset differs from the defaults."""
        defaults = TrainConfig()
        return {
            name: getattr(self.config, name)
            for name in TrainConfig.__dataclass_fields__
            if getattr(self.config, name) != getattr(defaults, name)
        }


TRAIN_PRESETS = {
    # One pass over everything, with twice the not-digits: a first model in a minute or three that
    # already reads digits and refuses letters well (with weight decay, seed 1: 99.32% on MNIST
    # test, 93.5% of held-out not-digits refused; without, seeds 1 and 2: 99.23/99.21%).
    # Durations: docs/model.md (2 cores idle, a fresh cache; Full in float32 with benchmarks
    # beside it).
    "quick": TrainPreset(
        "Quick",
        "~99.3% on MNIST test",
        TrainConfig(epochs=1, not_digits=12_000),
        "about 1 min",
        "about 4 min",
    ),
    "full": TrainPreset("Full", "~99.6% on MNIST test", TrainConfig(), "about 10 min", "30-45 min"),
}


# The app's runs (`train --background`): one core's worth of TensorFlow threads at the lowest
# priority, so a drawing is read at once while a run goes on; the run takes what is left.
BACKGROUND_TRAINING = TrainResources(nice=19, intra_op_threads=1, inter_op_threads=1)


# Server-side bounds for anything a user can ask of a training run.
TRAIN_LIMITS = {
    "epochs": (1, 50),
    "batch_size": (16, 1024),
    "learning_rate": (1e-5, 1e-1),
    "weight_decay": (0.0, 1.0),
    "subset": (0, 60_000),
    "not_digits": (0, 60_000),
    "styled_share": (0.0, 1.0),
    "filled_share": (0.0, 1.0),
    "augment_anneal": (0.0, 1.0),
    "augment_final": (0.0, 1.0),
    "dropout": (0.0, 0.9),
    "validation_split": (0.02, 0.5),
    "label_smoothing": (0.0, 0.3),
    "corrections_holdout": (0.0, 0.9),
    "corrections_oversample": (1, 100),
}
# The same for the number reader's training command.
NUMBER_TRAIN_LIMITS = {"examples": (100, 500_000), "epochs": (1, 50), "test_numbers": (10, 100_000)}


@dataclass(frozen=True)
class AugmentConfig:
    """The distortions real drawings have, in MNIST's 28x28 frame."""

    rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.85, 1.12)
    aspect_range: tuple[float, float] = (0.87, 1.15)  # some writers draw narrow, some wide
    shear: float = 0.15
    shift_px: float = 2.0
    elastic_alpha: float = 1.0  # px of elastic displacement
    elastic_probability: float = 0.5
    thickness_probability: float = 0.3  # share of digits thinned or thickened by 1 px
    # Share of digits with one or two gaps in their strokes (a pen or mouse skipping, a
    # scan's broken stroke), each this many px in radius.
    gap_probability: float = 0.2
    gap_radius: tuple[float, float] = (0.6, 1.6)

    def scaled(self, strength: float) -> AugmentConfig:
        """The same distortions, each ``strength`` times as large (0: none, 1: these)."""
        if strength == 1:
            return self
        low, high = self.scale_range
        squeeze, stretch = self.aspect_range
        return AugmentConfig(
            rotation_deg=self.rotation_deg * strength,
            scale_range=(1 - (1 - low) * strength, 1 + (high - 1) * strength),
            aspect_range=(1 - (1 - squeeze) * strength, 1 + (stretch - 1) * strength),
            shear=self.shear * strength,
            shift_px=self.shift_px * strength,
            elastic_alpha=self.elastic_alpha * strength,
            elastic_probability=self.elastic_probability,
            thickness_probability=self.thickness_probability * strength,
            gap_probability=self.gap_probability * strength,
            gap_radius=self.gap_radius,
        )


def validate_config(config: TrainConfig) -> TrainConfig:
    """Refuse out-of-range settings (the server-side guard; forms only help)."""
    for name, (low, high) in TRAIN_LIMITS.items():
        value = getattr(config, name)
        if isinstance(high, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        if (
            not isinstance(value, (int, float))
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
    if config.arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {config.arch!r}")
    if config.corrections not in ("", APP_DATABASE) and not Path(config.corrections).is_file():
        raise ValueError(f"no corrections database at {config.corrections}")
    if config.subset and config.subset < 1000:
        raise ValueError("subset must be 0 (all digits) or at least 1000 digits")
    return config
