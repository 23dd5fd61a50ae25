"""Users' corrections ("Wrong? It is a 7"), kept in the app's database to teach the next model.

One row per correction: the 28x28 input the model saw, the original image (PNG, at most
512 px), the predicted and the true label, the model version and the time. Nothing else is
collected. Each write is one transaction (database.py): concurrent sessions, processes and
replicas all keep theirs, and a killed process loses at most the write it was making.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import sqlalchemy as sa

from . import database
from .config import APP_DATABASE
from .database import corrections as table
from .decode import decode

ORIGINAL_SIDE = 512  # originals are stored at most this large: enough to see, cheap to keep


@dataclass(frozen=True)
class Correction:
    id: int
    created_at: str
    model_version: str
    predicted: int | None  # None when the model read no digit ("not a digit")
    label: int
    model_input: np.ndarray  # (28, 28) float32 in [0, 1]
    original: bytes | None  # PNG


class CorrectionStore:
    """Thread-, process- and replica-safe store of corrections.

    ``location``: None (or ``config.APP_DATABASE``) for the app's database, a SQLite file, or a
    database URL."""

    def __init__(self, location: str | Path | None = None):
        self.location = APP_DATABASE if location in (None, APP_DATABASE) else str(location)

    @property
    def engine(self) -> sa.Engine:
        # Resolved at use, not at creation: the app makes a store per script run.
        return database.engine(None if self.location == APP_DATABASE else self.location)

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
        row = dict(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model_version=model_version,
            predicted=None if predicted is None else int(predicted),
            label=int(label),
            model_input=np.round(np.clip(digit, 0, 1) * 255).astype(np.uint8).tobytes(),
            original=_original_png(original),
        )
        with self.engine.begin() as connection:
            return int(connection.execute(table.insert().values(**row)).inserted_primary_key[0])

    def list(self, labels=None) -> list[Correction]:
        """All corrections, newest first; only those whose true label is in ``labels`` if given."""
        query = sa.select(table).order_by(table.c.id.desc())
        if labels:
            query = query.where(table.c.label.in_([int(label) for label in labels]))
        with database.reading(self.engine) as connection:
            rows = connection.execute(query).all()
        return [
            Correction(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                np.frombuffer(bytes(row[5]), np.uint8).reshape(28, 28) / np.float32(255),
                None if row[6] is None else bytes(row[6]),
            )
            for row in rows
        ]

    def count(self) -> int:
        with database.reading(self.engine) as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar())

    def delete(self, correction_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.id == int(correction_id)))

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
