"""bench_capacity's bad traffic: a Locust ``User`` that misuses the app the ways issue 15 names,
so the well-behaved sessions' figures can be compared with and without it.

Its behaviours, one at a time, 1-3 s apart, equally likely:

- **disconnect mid-rerun**: a fresh session loads the page, sends a real drawing's canvas
  value and closes its socket before the reading comes (a tab closed, a network lost);
- **malformed component value**: the canvas' ``json_value`` is not what the component sends
  (not JSON, the wrong structure, a data URL that is no PNG, a PNG of the wrong size, a PNG
  that decodes to 6,000 x 6,000 RGBA pixels from 0.1 MB: ``MALFORMED``);
- **oversized upload**: a 21 MB file (over ``server.maxUploadSize``) or a 16 KB PNG that
  claims 20,000 x 20,000 pixels, sent to the photo uploader;
- **many sockets from one client**: ``SOCKETS_AT_ONCE`` sockets opened at once, each asking
  for the page as a tab does, held without reading for ``HOLD_S``, then closed.

What each brought back is counted per behaviour and outcome (``BadRecorder``): ``exception``
(the page showed a traceback), ``alert`` (an error or warning the app chose to show),
``refused`` (the upload was turned away before the app saw it), ``ignored`` (the page ran
and showed neither, as before any drawing), ``no_answer`` / ``closed``. These never count
as the well-behaved sessions' errors.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import struct
import time
import zlib
from dataclasses import dataclass, field

import requests
from capacity_drawings import Drawing
from capacity_user import CANVAS_KEYS, SessionUser, choose_mode
from locust import task
from streamlit_client import SessionError, StreamlitSession

SOCKETS_AT_ONCE = 10
HOLD_S = 3.0
OVERSIZED_UPLOAD_BYTES = 21 * 2**20  # server.maxUploadSize is 20 MB
CANVAS_BOMB_SIDE = 6000  # under DecodeConfig.max_pixels (40 MP): it would be read
UPLOAD_BOMB_SIDE = 20_000  # 400 MP: over it


@dataclass
class BadRecorder:
    """Outcomes of the bad traffic: behaviour -> outcome -> count, kept while ``measuring``."""

    measuring: bool = False
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # the first exceptions and alerts seen

    def outcome(self, behaviour: str, outcome: str, detail: str = "") -> None:
        if not self.measuring:
            return
        counts = self.outcomes.setdefault(behaviour, {})
        counts[outcome] = counts.get(outcome, 0) + 1
        if detail and len(self.examples) < 12:
            self.examples.append(f"{behaviour} -> {outcome}: {detail[:300]}")


def png(width: int, height: int, colour_type: int, rows) -> bytes:
    """A PNG file of 8-bit pixels from ``rows`` (each row's filter byte and pixels, bytes),
    compressed as it goes: a bomb of hundreds of megapixels never exists decoded here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    packed = b"".join(compressor.compress(row) for row in rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", packed) + chunk(b"IEND", b"")
    )


def blank_png(width: int, height: int, channels: int) -> bytes:
    """White, opaque (RGBA) or white (grey) pixels; ``channels`` 4 or 1."""
    row = b"\x00" + b"\xff" * (width * channels)
    return png(width, height, 6 if channels == 4 else 0, (row for _ in range(height)))


def canvas_value(url) -> str:
    return json.dumps({"drawing": {"raw": {"objects": []}, "data": url}}, separators=(",", ":"))


def data_url(picture: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(picture).decode("ascii")


@functools.cache
def malformed_values() -> dict[str, str]:
    """Canvas values no canvas sends, by name (built once: the bomb takes ~1 s)."""
    return {
        "not_json": "{not json",
        "a_list": "[1,2,3]",
        "drawing_not_a_mapping": '{"drawing":"x"}',
        "data_not_a_string": '{"drawing":{"raw":5,"data":5}}',
        "data_not_a_data_url": canvas_value("not a data url"),
        "bad_base64": canvas_value("data:image/png;base64,@@@@"),
        "not_a_png": canvas_value(data_url(b"hello, not a picture")),
        "png_wrong_size": canvas_value(data_url(blank_png(10, 10, 1))),
        "background_fit_broken": '{"backgroundFit":{"scaleX":1}}',
        "png_bomb": canvas_value(data_url(blank_png(CANVAS_BOMB_SIDE, CANVAS_BOMB_SIDE, 4))),
    }


@functools.cache
def oversized_uploads() -> dict[str, bytes]:
    return {
        "over_upload_limit": b"\x89PNG\r\n\x1a\n" + bytes(OVERSIZED_UPLOAD_BYTES),
        "pixel_bomb": blank_png(UPLOAD_BOMB_SIDE, UPLOAD_BOMB_SIDE, 1),
    }


def outcome_of(run) -> tuple[str, str]:
    """exception, alert (an error or a warning shown) or ignored (the page as before any
    drawing, or with its info note), and what the page said."""
    if run.exceptions:
        return "exception", run.exceptions[0]
    shown = [body for level, body in run.alerts if level in ("ERROR", "WARNING")]
    if shown:
        return "alert", shown[0]
    return "ignored", "; ".join(body for _, body in run.alerts)


class BadUser(SessionUser):
    """One misbehaving client. ``drawings`` and ``recorder`` are set before a run; its count
    is set through Locust's ``fixed_count``."""

    fixed_count = 0
    drawings: dict[str, list[Drawing]] = {}
    recorder = BadRecorder()

    def attempt(self, behaviour: str, action) -> None:
        """Run ``action()`` (returning outcome, detail) and count what it brought back."""
        try:
            result, detail = action()
        except SessionError as error:
            result, detail = ("closed" if "closed" in str(error) else "no_answer"), str(error)
            self.drop_session()
        except requests.RequestException as error:
            result, detail = "refused", f"{type(error).__name__}"
        self.recorder.outcome(behaviour, result, detail)

    def page(self) -> StreamlitSession:
        if self.session is None:
            self.session = StreamlitSession(self.host, self.timeout_s)
            self.session.connect()
        return self.session

    def drop_session(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None

    @task
    def disconnect_mid_rerun(self) -> None:
        drawing = random.choice(self.drawings["digit"])
        self.attempt("disconnect_mid_rerun", lambda: disconnect_mid_rerun(self.host, drawing))

    @task
    def malformed_value(self) -> None:
        name, value = random.choice(list(malformed_values().items()))
        self.attempt(f"malformed_value:{name}", lambda: send_malformed(self.page(), value))

    @task
    def oversized_upload(self) -> None:
        name, data = random.choice(list(oversized_uploads().items()))
        self.attempt(f"oversized_upload:{name}", lambda: upload_oversized(self.page(), data))

    @task
    def many_sockets(self) -> None:
        self.attempt("many_sockets", lambda: many_sockets(self.host))


# -- the behaviours: each returns (outcome, detail) ------------------------------------------
def disconnect_mid_rerun(host: str, drawing: Drawing) -> tuple[str, str]:
    session = StreamlitSession(host)
    session.connect()
    canvas = session.widget_id(CANVAS_KEYS["digit"])
    session.set_state(canvas, json_value=drawing.values[-1])
    session.send_rerun(canvas)
    time.sleep(random.uniform(0.0, 0.05))  # gone while the script reads it
    session.close()
    return "abandoned", ""


def send_malformed(session: StreamlitSession, value: str) -> tuple[str, str]:
    choose_mode(session, "digit")
    canvas = session.widget_id(CANVAS_KEYS["digit"])
    session.set_state(canvas, json_value=value)
    return outcome_of(session.rerun(canvas))


def upload_oversized(session: StreamlitSession, data: bytes) -> tuple[str, str]:
    choose_mode(session, "photo")
    try:
        run = session.upload("digit.png", data, "image/png")
    except SessionError as error:
        if "refused" not in str(error):
            raise
        return "refused", str(error)
    return outcome_of(run)


def many_sockets(host: str) -> tuple[str, str]:
    sockets = []
    try:
        for _ in range(SOCKETS_AT_ONCE):
            session = StreamlitSession(host)
            session.open()
            session.send_rerun(full=True)
            sockets.append(session)
        time.sleep(HOLD_S)
    finally:
        for session in sockets:
            session.close()
    return ("opened_all" if len(sockets) == SOCKETS_AT_ONCE else "some_refused"), ""


def probe(host: str, drawing: Drawing) -> dict:
    """Each behaviour once, each malformed value and upload on a fresh session; then a
    well-behaved session draws ``drawing``. Returns {behaviour: [outcome, detail]} and
    that session's reading under "then_a_drawing"."""
    results = {"disconnect_mid_rerun": disconnect_mid_rerun(host, drawing)}
    for name, value in malformed_values().items():
        session = StreamlitSession(host)
        session.connect()
        results[f"malformed_value:{name}"] = send_malformed(session, value)
        session.close()
    for name, data in oversized_uploads().items():
        session = StreamlitSession(host)
        session.connect()
        try:
            results[f"oversized_upload:{name}"] = upload_oversized(session, data)
        except requests.RequestException as error:
            results[f"oversized_upload:{name}"] = ("refused", type(error).__name__)
        session.close()
    results["many_sockets"] = many_sockets(host)
    session = StreamlitSession(host)
    session.connect()
    canvas = session.widget_id(CANVAS_KEYS["digit"])
    session.set_state(canvas, json_value=drawing.values[-1])
    run = session.rerun(canvas)
    session.close()
    shown = run.metrics.get("Prediction")
    results["then_a_drawing"] = [drawing.expected, shown[0] if shown else None]
    return {name: list(result) for name, result in results.items()}
