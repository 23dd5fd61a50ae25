"""bench_capacity's simulated visitor: a Locust ``User`` holding one Streamlit session.

Between any two actions it thinks 1-3 s. Its activities, by weight: draw a digit (8) in 1-3
strokes, each a send of the canvas' value, then look at the reading and press Clear (the
canvas then sends its blank state); write a number (2) on the wide canvas, likewise; switch
to photo mode and upload a photo of paper (1), then switch back. Each drawing was read right
by the bundled model beforehand (capacity_drawings), so a wrong reading is the server's
fault: a reading that belongs to another drawing or another session.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from capacity_drawings import Drawing
from locust import User, between, task
from streamlit_client import SessionError, StreamlitSession

THINK_S = (1.0, 3.0)
PEN_LIFT_S = (0.2, 0.5)  # between two strokes of one digit
READING_LABELS = {"digit": "Prediction", "number": "Prediction (number)", "photo": "Prediction"}
MODES = {"digit": "One digit", "number": "A number", "photo": "A photo"}
CANVAS_KEYS = {"digit": "draw_canvas_280", "number": "draw_canvas_560"}


@dataclass
class Recorder:
    """Readings and errors of every session, kept only while ``measuring``."""

    measuring: bool = False
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds
    errors: dict[str, int] = field(default_factory=dict)  # kind of error -> count
    error_examples: list[str] = field(default_factory=list)
    errors_outside: int = 0  # while sessions connected or left: not in the figures
    sessions_started: int = 0

    def reading(self, kind: str, seconds: float) -> None:
        if self.measuring:
            self.latencies.setdefault(kind, []).append(seconds)

    def error(self, kind: str, detail: str) -> None:
        if self.measuring:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        else:
            self.errors_outside += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{kind}{'' if self.measuring else ' (outside)'}: {detail}")


class SessionUser(User):
    """A client with (at most) one Streamlit session, thinking between its actions."""

    abstract = True  # Locust runs only its subclasses
    wait_time = between(*THINK_S)
    timeout_s = 30.0

    def on_start(self) -> None:
        self.session: StreamlitSession | None = None

    def on_stop(self) -> None:
        if self.session is not None:
            self.session.close()


class CanvasUser(SessionUser):
    """One visitor's tab. ``drawings``, ``blank`` and ``recorder`` are set before a run."""

    drawings: dict[str, list[Drawing]] = {}
    blank: dict[int, str] = {}
    recorder = Recorder()

    @task(8)
    def draw_digit(self) -> None:
        self.act(lambda session: self.draw(session, "digit"))

    @task(2)
    def write_number(self) -> None:
        self.act(lambda session: self.draw(session, "number"))

    @task(1)
    def upload_photo(self) -> None:
        self.act(self.photo)

    # -- activities ------------------------------------------------------------------------
    def act(self, activity) -> None:
        """Run ``activity(session)``, connecting first; a closed socket ends the session."""
        try:
            if self.session is None:
                self.session = StreamlitSession(self.host, self.timeout_s)
                self.session.connect()
                self.recorder.sessions_started += 1
            activity(self.session)
        except Exception as error:  # noqa: BLE001  (any failure ends this session, counted)
            closed = isinstance(error, SessionError) and "closed" in str(error)
            kind = "disconnected" if closed else "no_reading"
            self.recorder.error(kind, f"{type(error).__name__}: {error}")
            if self.session is not None:
                self.session.close()
            self.session = None

    def draw(self, session: StreamlitSession, kind: str) -> None:
        self.choose_mode(session, kind)
        drawing = random.choice(self.drawings[kind])
        canvas = session.widget_id(CANVAS_KEYS[kind])
        for stroke, value in enumerate(drawing.values):
            if stroke:
                time.sleep(random.uniform(*PEN_LIFT_S))
            session.set_state(canvas, json_value=value)
            run = session.rerun(canvas)
        self.check(run, kind, drawing)
        self.think()
        run = session.rerun(session.widget_id("draw_clear"), trigger=True)
        canvas = session.widget_id(CANVAS_KEYS[kind])  # still mounted, emptied in place
        session.set_state(canvas, json_value=self.blank[280 if kind == "digit" else 560])
        session.rerun(canvas)

    def photo(self, session: StreamlitSession) -> None:
        self.choose_mode(session, "photo")
        drawing = random.choice(self.drawings["photo"])
        self.think()  # finding the file
        run = session.upload("digit.jpg", drawing.photo, "image/jpeg")
        self.check(run, "photo", drawing)
        self.think()
        self.choose_mode(session, "digit")

    def choose_mode(self, session: StreamlitSession, kind: str) -> None:
        choose_mode(session, kind, self.think)

    def check(self, run, kind: str, drawing: Drawing) -> None:
        shown = run.metrics.get(READING_LABELS[kind])
        if shown is None:
            self.recorder.error("no_reading", f"{kind} {drawing.expected}: no reading shown")
        elif shown[0] != drawing.expected:
            self.recorder.error("wrong_reading", f"{kind} {drawing.expected} read {shown[0]}")
        else:
            self.recorder.reading(kind, shown[1] - run.started)

    def think(self) -> None:
        time.sleep(random.uniform(*THINK_S))


def choose_mode(session: StreamlitSession, kind: str, think=lambda: None) -> None:
    """Click the mode control's ``kind`` option unless it is chosen (``think`` first): a full
    rerun."""
    control = session.widget_id("draw_mode")
    node = next(n for n in session.nodes.values() if n.widget_id == control)
    option = next(o for o in node.element.button_group.options if o.content == MODES[kind])
    label = f"{option.content_icon} {option.content}".strip()
    if list(session.states[control].string_array_value.data) == [label]:
        return
    think()
    state = session.states[control]
    del state.string_array_value.data[:]
    state.string_array_value.data.append(label)
    session.rerun(control, full=True)
