"""Giving memory back: what the C allocator keeps, and what sessions leave behind.

Measured in the server over a 50-session soak (benchmarks/bench_capacity.py, docs/capacity.md,
"Soak"): RSS went from 207 MB to ~390 MB and stayed there after every session had left, while
glibc's ``mallinfo2`` counted ~60 MB in use in its arenas and ~150 MB *free* inside them. The
arrays of each script run (decoded canvases and photos, pictures) are freed, but glibc keeps
the pages: one arena per script thread (up to 16 on two cores), each keeping its free top
below a trim threshold that glibc raises as large blocks are freed. The sessions themselves
hold little once gone (50 closed sessions' objects, counted through weak references, were
freed at once when Streamlit dropped them, ~1.6 MB); but each kept every photo it had
uploaded until its ``shutdown()``, which a closed tab's session, expired from Streamlit's
session storage after ``server.disconnectedSessionTTL``, never gets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import time

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

# How often the releaser runs. A trim walks the arenas' free chunks (a few ms for ~200 MB)
# in ctypes, without the GIL; the pages it returns are faulted in again when next used, a
# cost paid once per period, not per stroke.
RELEASE_EVERY_S = 30.0


# glibc's mallopt parameters (malloc.h), and the value both are fixed at. 128 KB (glibc's
# default) gave back a little more but cost ~10 ms more server CPU a reading (68.6 against
# 56.8 ms in a 4-minute soak): every canvas-sized array was mapped and faulted in afresh;
# 1 MB cost ~7 ms (63.8), near the runs' noise (59.9 with the periodic trim alone).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
FIXED_THRESHOLD_BYTES = 1024 * 1024


def _glibc(name: str):
    """A glibc malloc function, or None elsewhere (musl, macOS, Windows have neither)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


MALLOC_TRIM = _glibc("malloc_trim")
MALLOPT = _glibc("mallopt")


def stop_the_allocator_hoarding() -> bool:
    """Fix glibc's mmap and trim thresholds at 1 MB. glibc starts them at 128 KB and raises
    them for good as large blocks are freed (up to 32 MB for mmap, twice that for trim):
    raised, every array under the threshold (a decoded photo, 2 MB) comes from an arena, and
    each thread arena keeps up to the trim threshold free at its top, where ``malloc_trim``
    does not reach (it frees the free chunks of every arena, the top of the main heap only).
    Fixed, larger arrays are mapped and unmapped, and an arena's top is given back once it
    passes 1 MB. True if set."""
    if MALLOPT is None:
        return False
    MALLOPT.argtypes, MALLOPT.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(
        MALLOPT(M_MMAP_THRESHOLD, FIXED_THRESHOLD_BYTES)
        and MALLOPT(M_TRIM_THRESHOLD, FIXED_THRESHOLD_BYTES)
    )


def return_free_memory_to_the_system() -> bool:
    """``malloc_trim(0)``: give back the free pages inside every arena (``free`` by itself
    gives back only an arena's top, and only past the trim threshold). Chosen over
    ``MALLOC_ARENA_MAX`` in the environment: that must be set before the process starts, so
    it would hold only where the server is started by our files (Dockerfile), not for
    ``streamlit run app.py``, and it bounds the number of arenas, not the free pages kept
    inside each. True if it ran."""
    if MALLOC_TRIM is None:
        return False
    MALLOC_TRIM.argtypes, MALLOC_TRIM.restype = [ctypes.c_size_t], ctypes.c_int
    MALLOC_TRIM(0)
    return True


def forget_uploads_off_the_page() -> None:
    """Drop this session's uploaded files: call it from a run that shows no uploader.

    Streamlit keeps an upload for its session's life, even once its uploader has left the
    page (the draw page's mode switched back to drawing): a browser shows that uploader
    empty on its return, so the file is never read again, and each visit to the photo mode
    left one more behind (~20-60 KB each)."""
    context = get_script_run_ctx()
    if context is not None:
        context.uploaded_file_mgr.remove_session_files(context.session_id)


def drop_uploads_of_ended_sessions(uploads, live_session_ids: set[str]) -> int:
    """Remove the uploaded files of sessions not in ``live_session_ids`` (connected, or kept
    for their tab's return); the number of sessions whose files went. ``uploads``: Streamlit's
    ``MemoryUploadedFileManager``, whose ``file_storage`` maps a session id to its files."""
    ended = [sid for sid in list(uploads.file_storage) if sid not in live_session_ids]
    for session_id in ended:
        uploads.remove_session_files(session_id)
    return len(ended)


def _live_session_ids(runtime) -> set[str]:
    """Connected sessions and those stored for a reconnect within the TTL (Streamlit's
    ``list_sessions`` leaves out stored sessions whose TTL has passed)."""
    return {info.session.id for info in runtime._session_mgr.list_sessions()}


def release_once() -> None:
    """One pass: uploads of sessions that ended, then the allocator's free pages."""
    from streamlit import runtime

    if runtime.exists():
        instance = runtime.get_instance()
        try:  # Streamlit internals (1.50-1.67): without them the pass only trims
            drop_uploads_of_ended_sessions(instance.uploaded_file_mgr, _live_session_ids(instance))
        except AttributeError:
            pass
    return_free_memory_to_the_system()


def _release_forever() -> None:
    while True:
        time.sleep(RELEASE_EVERY_S)
        try:
            release_once()
        except Exception:  # noqa: BLE001  (a failed pass must not end the thread)
            pass


@st.cache_resource(show_spinner=False)
def start_memory_releaser() -> threading.Thread:
    """Start, once per server process, the thread that runs :func:`release_once` every
    ``RELEASE_EVERY_S``: periodic, not at a session's end, because Streamlit tells an app
    nothing when a session ends, and because memory is freed while sessions are connected
    too (each stroke's arrays)."""
    stop_the_allocator_hoarding()
    thread = threading.Thread(target=_release_forever, name="memory-releaser", daemon=True)
    thread.start()
    return thread
