"""What several test modules share: the committed MNIST sample and hand-made image files.

Imported by name (``from helpers import SAMPLE``): conftest.py puts this folder on sys.path.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from pathlib import Path

from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# 2,000 training and 1,000 test digits of MNIST (x_train, y_train, x_test, y_test), committed
# so that the tests run without the full data set.
SAMPLE = PROJECT_ROOT / "tests" / "data" / "mnist_sample.npz"


def png_declaring_size(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose header claims width x height pixels (its CRC fixed up so that it
    parses): a decompression bomb's announcement, without the bomb."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1), 0).save(buffer, "PNG")
    png = buffer.getvalue()
    assert png[12:16] == b"IHDR"
    ihdr = bytearray(
        png[16:29]
    )  # width, height, depth, colour type, compression, filter, interlace
    ihdr[0:8] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return png[:16] + bytes(ihdr) + crc + png[33:]


def wait_for(predicate, timeout_s: float, what: str, poll_s: float = 0.2):
    """Poll ``predicate`` until it returns something true, which is returned."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def start_at_once(job_managers: list, config) -> list[tuple[str, str]]:
    """Press Start on every job manager at the same instant (a thread each): one
    ("started", run id), ("busy", run id it was told) or ("error", repr) per manager."""
    from mnist_core.jobs import TrainingBusy

    barrier = threading.Barrier(len(job_managers))
    outcomes: list = [None] * len(job_managers)

    def start(slot: int) -> None:
        barrier.wait()
        try:
            outcomes[slot] = ("started", job_managers[slot].start(config))
        except TrainingBusy as busy:
            outcomes[slot] = ("busy", busy.run_id)
        except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
            outcomes[slot] = ("error", repr(error))

    threads = [threading.Thread(target=start, args=(slot,)) for slot in range(len(job_managers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return outcomes


def point_at(registry, run_id) -> None:
    """Make ``run_id`` active the way no promotion would: straight in ``registry``'s database
    (a model that broke after its promotion, or a pointer damaged by hand)."""
    from mnist_core import database

    with registry.engine.begin() as connection:
        connection.execute(database.active_model.update().values(run_id=run_id))
