"""Random distortions of 28x28 digits: the ways real drawings differ from MNIST's scans."""

from __future__ import annotations

import cv2
import numpy as np

from .config import AugmentConfig

_SIDE = 28
_GRID_ROWS, _GRID_COLS = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float32)
_THIN_KERNEL = np.ones((2, 2), np.uint8)


def augment_batch(
    digits: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """Return a distorted copy of ``digits`` ((N, 28, 28) float32 in [0, 1])."""
    return np.stack([augment_one(digit, rng, config) for digit in digits])


def augment_one(
    digit: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """One digit through a random affine map (rotation, scale, aspect, shear, shift), an
    optional elastic warp (wobbly pen strokes) and an optional change of stroke width."""
    map_cols, map_rows = _affine_maps(rng, config)
    if rng.random() < config.elastic_probability:
        map_cols, map_rows = _add_elastic(map_cols, map_rows, rng, config.elastic_alpha)
    warped = cv2.remap(digit, map_cols, map_rows, cv2.INTER_LINEAR, borderValue=0.0)
    if rng.random() < config.thickness_probability:
        if rng.random() < 0.5:
            warped = cv2.dilate(warped, _THIN_KERNEL)
        else:  # half-strength erosion: a full one erases MNIST's thinnest strokes
            warped = 0.5 * (warped + cv2.erode(warped, _THIN_KERNEL))
    return warped


def _affine_maps(rng: np.random.Generator, config: AugmentConfig):
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
    scale = rng.uniform(*config.scale_range)
    aspect = rng.uniform(*config.aspect_range)
    shear = rng.uniform(-config.shear, config.shear)
    shift = rng.uniform(-config.shift_px, config.shift_px, size=2).astype(np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    # Forward map = rotate @ shear @ scale; remap needs the inverse (output -> source).
    forward = (
        np.array([[cos, -sin], [sin, cos]])
        @ np.array([[1, shear], [0, 1]])
        @ np.diag([scale * aspect, scale / aspect])
    )
    inverse = np.linalg.inv(forward).astype(np.float32)
    centre = np.float32((_SIDE - 1) / 2)
    cols = _GRID_COLS - centre - shift[0]
    rows = _GRID_ROWS - centre - shift[1]
    map_cols = inverse[0, 0] * cols + inverse[0, 1] * rows + centre
    map_rows = inverse[1, 0] * cols + inverse[1, 1] * rows + centre
    return map_cols, map_rows


def _add_elastic(map_cols, map_rows, rng: np.random.Generator, alpha: float):
    # Smooth random displacement: a 4x4 grid of offsets, upsampled bicubically to 28x28.
    coarse = rng.normal(0, alpha, size=(2, 4, 4)).astype(np.float32)
    field_cols = cv2.resize(coarse[0], (_SIDE, _SIDE), interpolation=cv2.INTER_CUBIC)
    field_rows = cv2.resize(coarse[1], (_SIDE, _SIDE), interpolation=cv2.INTER_CUBIC)
    return map_cols + field_cols, map_rows + field_rows
