"""One Streamlit browser session, spoken over the app's own WebSocket with no browser.

What a browser does, and so this client (read off Chromium through CDP: the handshake in
``Network.webSocketWillSendHandshakeRequest``, every frame in Playwright's ``framesent`` /
``framereceived``, each parsed with ``streamlit.proto``; see bench_capacity's docstring):

- ``GET /``, then ``/_stcore/health`` (which sets the ``_streamlit_xsrf`` cookie) and
  ``/_stcore/host-config`` (its static files a returning visitor has cached); the WebSocket
  ``/_stcore/stream`` is opened with that cookie, ``Origin`` and the subprotocols
  ``streamlit, <cookie value>``.
- Every action is one ``BackMsg.rerun_script`` holding the state of every widget on the page
  (widgets register their defaults when first drawn and are dropped once gone), the page's
  script hash, the fragment id when the widget lives in a fragment, and ``context_info``.
  A button press adds ``trigger_value`` for that message only.
- The server answers with ``ForwardMsg``s: ``new_session`` starts a run, ``delta``s place
  elements at ``metadata.delta_path``, ``script_finished`` ends it; elements a run did not
  touch (within the fragment, for a fragment run) are dropped, as the frontend drops them.
- An upload asks for URLs (``BackMsg.file_urls_request``), PUTs the file as multipart form
  data with the cookie and an ``X-Xsrftoken`` header, then reruns with the uploader's
  ``file_uploader_state_value``.

The client is synchronous (websocket-client, requests): under Locust, gevent makes it
cooperative.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import requests
import websocket
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

XSRF_COOKIE = "_streamlit_xsrf"
FINISHED = ForwardMsg.ScriptFinishedStatus
EARLY_FOR_RERUN = FINISHED.Value("FINISHED_EARLY_FOR_RERUN")
FRAGMENT_RUN = FINISHED.Value("FINISHED_FRAGMENT_RUN_SUCCESSFULLY")


class SessionError(RuntimeError):
    """The server did not answer as a browser expects (timeout, closed socket, refusal)."""


@dataclass
class Node:
    """One element or block of the page, as the frontend keeps it."""

    kind: str  # element type ("metric", "bidi_component", ...) or "block"
    widget_id: str  # "" unless a widget
    run_id: str  # the run that last placed it
    fragment_id: str
    element: object = None


@dataclass
class Run:
    """What one script run sent: its metrics (label -> value, arrival time), the exceptions
    and alerts (st.error, st.warning...) it showed, and its end."""

    started: float = 0.0
    metrics: dict[str, tuple[str, float]] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)  # exception elements' messages
    alerts: list[tuple[str, str]] = field(default_factory=list)  # ("ERROR", body)...
    status: int | None = None


class StreamlitSession:
    """A browser tab's session: connect, then :meth:`rerun` / :meth:`upload` and read the page."""

    def __init__(self, base_url: str, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.http = requests.Session()
        self.socket: websocket.WebSocket | None = None
        self.session_id = ""
        self.page_script_hash = ""
        self.nodes: dict[tuple[int, ...], Node] = {}
        self.states: dict[str, WidgetState] = {}  # widget id -> its state, in first-seen order
        self.run_id = ""
        self.fragments_this_run: list[str] = []

    # -- connection ------------------------------------------------------------------------
    def connect(self) -> Run:
        """Load the page: the cookie, the socket, the first run; return that run."""
        self.open()
        return self.rerun(full=True)

    def open(self) -> None:
        """The cookie and the socket, no run yet."""
        for path in ("/", "/_stcore/health", "/_stcore/host-config"):
            self.http.get(self.base_url + path, timeout=self.timeout_s).raise_for_status()
        token = self.http.cookies.get(XSRF_COOKIE, "")
        self.socket = websocket.create_connection(
            self.base_url.replace("http", "ws", 1) + "/_stcore/stream",
            timeout=self.timeout_s,
            subprotocols=["streamlit", token],
            cookie=f"{XSRF_COOKIE}={token}",
            origin=self.base_url,
        )

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    # -- widget state ----------------------------------------------------------------------
    def widget_id(self, key: str) -> str:
        """The id of the widget with user key ``key`` on the page now (ids end with the key)."""
        for node in self.nodes.values():
            if node.widget_id.endswith(f"-{key}"):
                return node.widget_id
        raise SessionError(f"no widget {key!r} on the page")

    def fragment_of(self, widget_id: str) -> str:
        return next((n.fragment_id for n in self.nodes.values() if n.widget_id == widget_id), "")

    def set_state(self, widget_id: str, **value) -> None:
        """``set_state(id, json_value=...)`` etc.: the widget's value as the frontend holds it."""
        state = WidgetState(id=widget_id, **value)
        self.states[widget_id] = state

    # -- running ---------------------------------------------------------------------------
    def rerun(self, widget_id: str = "", trigger: bool = False, full: bool = False) -> Run:
        """Send the page's widget states (pressing ``widget_id`` when ``trigger``), in the
        fragment of ``widget_id`` unless ``full``; wait for the run to finish."""
        return self.send_and_wait(self.rerun_message(widget_id, trigger, full))

    def send_rerun(self, widget_id: str = "", full: bool = False) -> None:
        """Send the rerun :meth:`rerun` would, and read nothing back."""
        self._send(self.rerun_message(widget_id, full=full))

    def rerun_message(self, widget_id: str = "", trigger: bool = False, full: bool = False):
        """The ``BackMsg`` :meth:`rerun` sends."""
        message = BackMsg()
        rerun = message.rerun_script
        rerun.widget_states.widgets.extend(self.states.values())
        if trigger:
            rerun.widget_states.widgets.append(WidgetState(id=widget_id, trigger_value=True))
        if self.page_script_hash:
            rerun.page_script_hash = self.page_script_hash
        fragment = "" if full or not widget_id else self.fragment_of(widget_id)
        if fragment:
            rerun.fragment_id = fragment
        context = rerun.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url, context.is_embedded, context.color_scheme = f"{self.base_url}/", False, "light"
        return message

    def send_and_wait(self, message: BackMsg) -> Run:
        run = Run(started=time.perf_counter())
        self._send(message)
        deadline = run.started + self.timeout_s
        while True:
            forward = self._receive(deadline)
            self._apply(forward, run)
            if forward.WhichOneof("type") == "script_finished":
                if forward.script_finished != EARLY_FOR_RERUN:
                    run.status = forward.script_finished
                    return run

    def upload(self, name: str, data: bytes, content_type: str) -> Run:
        """Choose ``data`` as the file of the page's uploader: URLs, PUT, then the rerun."""
        request = BackMsg()
        request.file_urls_request.request_id = str(uuid.uuid4())
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = self.session_id
        started = time.perf_counter()
        self._send(request)
        while True:
            forward = self._receive(started + self.timeout_s)
            if forward.WhichOneof("type") == "file_urls_response":
                break
            self._apply(forward, Run())
        urls = forward.file_urls_response.file_urls[0]
        token = self.http.cookies.get(XSRF_COOKIE, "")
        response = self.http.put(
            self.base_url + urls.upload_url,
            files={"file": (name, data, content_type)},
            headers={"X-Xsrftoken": token, "Origin": self.base_url},
            timeout=self.timeout_s,
        )
        if response.status_code != 204 and response.status_code != 200:
            raise SessionError(f"upload refused: HTTP {response.status_code}")
        uploader = self.widget_id("draw_upload")
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id)
        info.file_urls.CopyFrom(FileURLs(**{f: getattr(urls, f) for f in _URL_FIELDS}))
        state = WidgetState(id=uploader)
        state.file_uploader_state_value.uploaded_file_info.append(info)
        self.states[uploader] = state
        run = self.rerun(full=True)
        run.started = started
        return run

    def _send(self, message: BackMsg) -> None:
        if self.socket is None:
            raise SessionError("not connected")
        try:
            self.socket.send_binary(message.SerializeToString())
        except (OSError, websocket.WebSocketException) as error:
            raise SessionError(f"socket closed: {error}") from error

    def _receive(self, deadline: float) -> ForwardMsg:
        self.socket.settimeout(max(0.01, deadline - time.perf_counter()))
        try:
            payload = self.socket.recv()
        except websocket.WebSocketTimeoutException as error:
            raise SessionError(f"no answer within {self.timeout_s:.0f} s") from error
        except (OSError, websocket.WebSocketException) as error:
            raise SessionError(f"socket closed: {error}") from error
        if not payload:
            raise SessionError("socket closed by the server")
        forward = ForwardMsg()
        forward.ParseFromString(payload)
        return forward

    # -- the page, as the frontend keeps it ------------------------------------------------
    def _apply(self, forward: ForwardMsg, run: Run) -> None:
        kind = forward.WhichOneof("type")
        if kind == "new_session":
            self.session_id = forward.new_session.initialize.session_id or self.session_id
            self.page_script_hash = forward.new_session.page_script_hash
            self.run_id = forward.metadata.run.script_run_id
            self.fragments_this_run = list(forward.metadata.run.fragment_ids)
        elif kind == "delta":
            node = self._place(forward)
            if node is not None and node.kind == "metric":
                metric = node.element.metric
                run.metrics[metric.label] = (metric.body, time.perf_counter())
            elif node is not None and node.kind == "exception":
                run.exceptions.append(node.element.exception.message)
            elif node is not None and node.kind == "alert":
                alert = node.element.alert
                run.alerts.append((Alert.Format.Name(alert.format), alert.body))
        elif kind == "script_finished" and forward.script_finished != EARLY_FOR_RERUN:
            self._drop_stale(forward.script_finished == FRAGMENT_RUN)

    def _place(self, forward: ForwardMsg) -> Node | None:
        """Put the delta's element or block on the page (transient ones, spinners, aside)."""
        delta, path = forward.delta, tuple(forward.metadata.delta_path)
        if delta.WhichOneof("type") == "new_element":
            kind = delta.new_element.WhichOneof("type")
            element = getattr(delta.new_element, kind)
            widget_id = getattr(element, "id", "") if kind in _WIDGETS else ""
            self.nodes[path] = Node(
                kind, widget_id, self.run_id, delta.fragment_id, delta.new_element
            )
            if widget_id and widget_id not in self.states:
                self._register_default(widget_id, kind, element)
        elif delta.WhichOneof("type") == "add_block":
            self.nodes[path] = Node("block", "", self.run_id, delta.fragment_id)
        return self.nodes.get(path)

    def _register_default(self, widget_id: str, kind: str, element) -> None:
        """A widget drawn for the first time reports its default value, as the frontend's."""
        if kind == "checkbox":
            self.set_state(widget_id, bool_value=element.default)
        elif kind == "slider":
            state = WidgetState(id=widget_id)
            state.double_array_value.data.extend(element.default)
            self.states[widget_id] = state
        elif kind == "button_group":
            state = WidgetState(id=widget_id)
            state.string_array_value.SetInParent()
            state.string_array_value.data.extend(
                f"{option.content_icon} {option.content}".strip()
                for option in (element.options[index] for index in element.default)
            )
            self.states[widget_id] = state

    def _drop_stale(self, fragment_run: bool) -> None:
        def stale(node: Node) -> bool:
            if node.run_id == self.run_id:
                return False
            return not fragment_run or node.fragment_id in self.fragments_this_run

        self.nodes = {path: node for path, node in self.nodes.items() if not stale(node)}
        # A path whose parent is gone is gone too (a block replaced by an element).
        self.nodes = {
            path: node
            for path, node in self.nodes.items()
            if all(path[:depth] in self.nodes for depth in range(2, len(path)))
        }
        alive = {node.widget_id for node in self.nodes.values() if node.widget_id}
        self.states = {wid: state for wid, state in self.states.items() if wid in alive}


_WIDGETS = {"button_group", "checkbox", "slider", "button", "file_uploader", "bidi_component"}
_URL_FIELDS = ("file_id", "upload_url", "delete_url")
