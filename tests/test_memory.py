"""What the server gives back (app_pages/memory.py): the allocator's free pages, and the
uploads of sessions that ended (docs/capacity.md, "Soak")."""

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from app_pages.memory import MALLOC_TRIM, drop_uploads_of_ended_sessions

ROOT = Path(__file__).resolve().parent.parent

# In a fresh process: 160 MB in 64 KB blocks (under glibc's mmap threshold, so from the heap,
# as a script run's arrays are), all freed but the last, which pins the heap's top so free()
# alone cannot shrink it; RSS before and after the trim, in MB.
FRAGMENTED_HEAP = """
import psutil
from app_pages.memory import return_free_memory_to_the_system
rss = lambda: psutil.Process().memory_info().rss / 2**20
blocks = [bytearray(64 * 1024) for _ in range(2560)]
last = blocks[-1]
del blocks
before = rss()
assert return_free_memory_to_the_system()
print(before, rss())
"""


@pytest.mark.skipif(MALLOC_TRIM is None, reason="malloc_trim is glibc's")
def test_freed_memory_goes_back_to_the_system():
    completed = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    before, after = map(float, completed.stdout.split())
    assert before - after > 120, (before, after)  # of the 160 MB freed, kept by free() alone


def test_uploads_of_ended_sessions_are_dropped():
    """Streamlit's own upload store: the files of a session that is neither connected nor
    kept for its tab's return go; a live session's stay."""
    uploads = MemoryUploadedFileManager("/_stcore/upload_file")
    for session_id in ("connected", "ended"):
        for number in range(3):
            uploads.add_file(
                session_id, UploadedFileRec(f"{session_id}{number}", "a.jpg", "image/jpeg", b"x")
            )
    assert drop_uploads_of_ended_sessions(uploads, {"connected", "kept for return"}) == 1
    assert set(uploads.file_storage) == {"connected"}
    assert len(uploads.get_files("connected", ["connected0", "connected1", "connected2"])) == 3
    assert uploads.get_files("ended", ["ended0"]) == []
    assert drop_uploads_of_ended_sessions(uploads, {"connected"}) == 0
