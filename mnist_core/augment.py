"""Random distortions of 28x28 digits: the ways real drawings differ from MNIST's scans.

A whole batch is distorted at once: every digit's sampling map is computed with numpy, the
digits are laid in one tall mosaic, and a single ``cv2.remap`` warps them all. One remap per
digit cost ~60 us of Python per digit, a sixth of a training step on two cores.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import AugmentConfig

_SIDE = 28
_PAD = 2  # zero border around each digit in the mosaic: samples outside a digit read ink 0
_TILE = _SIDE + 2 * _PAD
_MOSAIC_DIGITS = 1_000  # remap takes images under 32,767 rows: 1,000 tiles of 32
_GRID_ROWS, _GRID_COLS = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float32)
_CENTRE = np.float32((_SIDE - 1) / 2)
# Bicubic upsampling of a 4-point field to 28 points, as a matrix (OpenCV's cubic resize is
# separable, so a 4x4 field upsamples as U @ field @ U.T).
_UPSAMPLE = cv2.resize(np.eye(4, dtype=np.float32), (4, _SIDE), interpolation=cv2.INTER_CUBIC)


def augment_batch(
    digits: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """Return a distorted copy of ``digits`` ((N, 28, 28) float32 in [0, 1]): each through a
    random affine map (rotation, scale, aspect, shear, shift), some through an elastic warp
    (wobbly pen strokes), some with a pen 1 px thicker or thinner, some with gaps in their
    strokes."""
    count = len(digits)
    if not count:
        return np.zeros((0, _SIDE, _SIDE), np.float32)
    map_cols, map_rows = _affine_maps(count, rng, config)
    wobbly = rng.random(count) < config.elastic_probability
    coarse = rng.normal(0, config.elastic_alpha, size=(count, 2, 4, 4)).astype(np.float32)
    coarse *= wobbly[:, None, None, None]
    field = _UPSAMPLE @ coarse @ _UPSAMPLE.T  # (N, 2, 28, 28)
    map_cols, map_rows = map_cols + field[:, 0], map_rows + field[:, 1]
    digits = np.asarray(digits, np.float32)
    warped = np.concatenate(
        [
            _remap_all(digits[part], map_cols[part], map_rows[part])
            for part in (
                slice(start, start + _MOSAIC_DIGITS) for start in range(0, count, _MOSAIC_DIGITS)
            )
        ]
    )
    thickness_changed = _change_thickness(warped, rng, config.thickness_probability)
    return _with_gaps(thickness_changed, rng, config.gap_probability, config.gap_radius)


def _affine_maps(count: int, rng: np.random.Generator, config: AugmentConfig):
    """(N, 28, 28) source coordinates (columns, rows) of each output pixel."""
    angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg, count))
    scale = rng.uniform(*config.scale_range, count)
    aspect = rng.uniform(*config.aspect_range, count)
    shear = rng.uniform(-config.shear, config.shear, count)
    shift = rng.uniform(-config.shift_px, config.shift_px, size=(count, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    skew = np.zeros((count, 2, 2))
    skew[:, 0, 0] = skew[:, 1, 1] = 1
    skew[:, 0, 1] = shear
    stretch = np.zeros((count, 2, 2))
    stretch[:, 0, 0], stretch[:, 1, 1] = scale * aspect, scale / aspect
    # Forward map = rotate @ shear @ scale; remap needs the inverse (output -> source).
    inverse = np.linalg.inv(rotate @ skew @ stretch).astype(np.float32)[..., None, None]
    cols = _GRID_COLS - _CENTRE - shift[:, 0, None, None].astype(np.float32)
    rows = _GRID_ROWS - _CENTRE - shift[:, 1, None, None].astype(np.float32)
    map_cols = inverse[:, 0, 0] * cols + inverse[:, 0, 1] * rows + _CENTRE
    map_rows = inverse[:, 1, 0] * cols + inverse[:, 1, 1] * rows + _CENTRE
    return map_cols, map_rows


def _remap_all(digits: np.ndarray, map_cols: np.ndarray, map_rows: np.ndarray) -> np.ndarray:
    """Warp each digit by its own map with one remap over a mosaic of zero-bordered tiles.
    Coordinates are clipped to their own tile's border, so no digit samples its neighbour."""
    count = len(digits)
    mosaic = np.zeros((count, _TILE, _TILE), np.float32)
    mosaic[:, _PAD:-_PAD, _PAD:-_PAD] = digits
    limit = np.float32(_TILE - 1)
    tile_cols = np.clip(map_cols + _PAD, 0, limit)
    tile_rows = np.clip(map_rows + _PAD, 0, limit)
    tile_rows += (np.arange(count, dtype=np.float32) * _TILE)[:, None, None]
    warped = cv2.remap(
        mosaic.reshape(count * _TILE, _TILE),
        tile_cols.reshape(count * _SIDE, _SIDE),
        tile_rows.reshape(count * _SIDE, _SIDE),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return warped.reshape(count, _SIDE, _SIDE)


def _change_thickness(digits: np.ndarray, rng: np.random.Generator, probability: float):
    """A 2x2 dilation (a thicker pen) or half-strength erosion (thinner; a full one erases
    MNIST's thinnest strokes) of a random share of the digits."""
    count = len(digits)
    changed = rng.random(count) < probability
    thicker = rng.random(count) < 0.5
    padded = np.pad(digits, ((0, 0), (1, 0), (1, 0)))
    shifted = (padded[:, 1:, 1:], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, :-1, :-1])
    dilated = np.maximum.reduce(shifted)
    eroded = 0.5 * (digits + np.minimum.reduce(shifted))
    choice = np.where(thicker[:, None, None], dilated, eroded)
    return np.where(changed[:, None, None], choice, digits)


def _with_gaps(digits: np.ndarray, rng: np.random.Generator, probability: float, radius):
    """A random share of the digits with one or two gaps in their strokes: a soft-edged disc
    of ``radius`` px (low, high) rubbed out about a random inked pixel. A mouse or a pen skips,
    and a binarised scan breaks thin strokes; MNIST's digits are whole."""
    gapped = np.flatnonzero(rng.random(len(digits)) < probability)
    if not gapped.size:
        return digits
    result = digits.copy()
    second = rng.random(gapped.size) < 0.5
    for chosen in (gapped, gapped[second]):
        if not chosen.size:
            continue
        inked = (result[chosen] > 0.5).reshape(len(chosen), -1)
        # A random inked pixel each: the largest of random keys where there is ink.
        centre = np.argmax(rng.random(inked.shape, np.float32) * inked, axis=1)
        rows, cols = np.divmod(centre, _SIDE)
        reach = rng.uniform(*radius, len(chosen)).astype(np.float32)
        distance = np.hypot(
            _GRID_ROWS - rows[:, None, None].astype(np.float32),
            _GRID_COLS - cols[:, None, None].astype(np.float32),
        )
        result[chosen] *= np.clip(distance - reach[:, None, None], 0, 1)
    return result
