"""What several test modules share: the committed MNIST sample and hand-made image files.

Imported by name (``from helpers import SAMPLE``): conftest.py puts this folder on sys.path.
"""

from __future__ import annotations

import io
import struct
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
