"""Users' corrections ("Wrong? It is a 7"), kept in SQLite to teach the next model.

One row per correction: the 28x28 input the model saw, the original image (PNG, at most
512 px), the predicted and the true label, the model version and the time. Nothing else is
collected. Each write is one transaction; WAL mode lets sessions write concurrently, and a
killed process loses at most the write it was making, never earlier ones.
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from .config import CORRECTIONS_DB
from .decode import decode
from .registry import RegistryConfig

ORIGINAL_SIDE = 512  # originals are stored at most this large: enough to see, cheap to keep
BUSY_TIMEOUT_S = 30  # how long a write waits for another session's before it gives up
_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    model_version TEXT NOT NULL,
    predicted INTEGER,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    model_input BLOB NOT NULL,
    original BLOB
)"""


@dataclass(frozen=True)
class Correction:
    id: int
    created_at: str
    model_version: str
    predicted: int | None
    label: int
    model_input: np.ndarray  # (28, 28) float32 in [0, 1]
    original: bytes | None  # PNG


def default_path() -> Path:
    """$MNIST_CORRECTIONS_DB, else corrections.sqlite in the app home."""
    return Path(CORRECTIONS_DB.value() or RegistryConfig().home / "corrections.sqlite")


def _use_write_ahead_log(connection: sqlite3.Connection) -> None:
    """Put the database in WAL mode, which the file then keeps.

    Switching needs the file to itself, and SQLite fails at once rather than wait (the busy
    timeout does not cover it): sessions opening a new store together would lose writes to
    "database is locked". So switch only when not yet in WAL, and retry while others hold it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return  # switched; or a file system without WAL keeps the (safe) rollback journal
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class CorrectionStore:
    """Thread- and process-safe store; every call opens its own connection."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        _use_write_ahead_log(connection)
        connection.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL-safe
        connection.execute(_SCHEMA)
        return connection

    def add(
        self,
        model_input: np.ndarray,
        label: int,
        predicted: int | None,
        model_version: str,
        original=None,
    ) -> int:
        """Store one correction; returns its id."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"label must be 0-9, got {label}")
        digit = np.asarray(model_input, np.float32)
        if digit.shape != (28, 28):
            raise ValueError(f"model_input must be (28, 28), got {digit.shape}")
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            model_version,
            None if predicted is None else int(predicted),
            int(label),
            np.round(np.clip(digit, 0, 1) * 255).astype(np.uint8).tobytes(),
            _original_png(original),
        )
        with closing(self._connect()) as connection, connection:
            cursor = connection.execute(
                "INSERT INTO corrections (created_at, model_version, predicted, label, "
                "model_input, original) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid)

    def list(self, labels=None) -> list[Correction]:
        """All corrections, newest first; only those whose true label is in ``labels`` if given."""
        query, parameters = "SELECT * FROM corrections", ()
        if labels:
            labels = [int(label) for label in labels]
            query += f" WHERE label IN ({','.join('?' * len(labels))})"
            parameters = tuple(labels)
        with closing(self._connect()) as connection:
            rows = connection.execute(query + " ORDER BY id DESC", parameters).fetchall()
        return [
            Correction(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                np.frombuffer(row[5], np.uint8).reshape(28, 28) / np.float32(255),
                row[6],
            )
            for row in rows
        ]

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with closing(self._connect()) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM corrections").fetchone()[0])

    def delete(self, correction_id: int) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute("DELETE FROM corrections WHERE id = ?", (int(correction_id),))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, 28, 28) uint8 white-on-black inputs and (N,) uint8 labels, oldest first."""
        corrections = self.list()[::-1]
        images = np.array([np.round(c.model_input * 255) for c in corrections], np.uint8)
        labels = np.array([c.label for c in corrections], np.uint8)
        return images.reshape(-1, 28, 28), labels

    def export_npz(self) -> bytes:
        """The corrections as an .npz in the MNIST layout (x_train/y_train; empty test split)."""
        images, labels = self.arrays()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            x_train=images,
            y_train=labels,
            x_test=np.zeros((0, 28, 28), np.uint8),
            y_test=np.zeros(0, np.uint8),
        )
        return buffer.getvalue()


def _original_png(original) -> bytes | None:
    if original is None:
        return None
    image = decode(original)
    scale = ORIGINAL_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, encoded = cv2.imencode(".png", image)
    return encoded.tobytes() if ok else None
