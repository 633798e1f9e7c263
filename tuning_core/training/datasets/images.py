"""Raw arrays as what a Keras image model trains on: images as (n, height, width) float32
(8-bit pixels scaled to [0, 1], others used as stored) and labels as int64 class indices;
anything else, a 2-D table included, refused in one sentence.
"""

from __future__ import annotations

import numpy as np

from tuning_core.engine.errors import DatasetError, brief

# More classes than this is not an image-classification dataset Tuning Lab can train.
MAX_CLASSES = 1000


def _as_labels(y: np.ndarray) -> np.ndarray:
    """Labels as int64 class indices 0..classes-1; anything else is refused in one sentence."""
    y = np.asarray(y).reshape(-1)
    if y.size == 0:
        raise DatasetError("objective.dataset: the labels are empty.")
    if y.dtype.kind not in "iuf" or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise DatasetError("objective.dataset: labels must be whole numbers (class indices).")
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        raise DatasetError(
            f"objective.dataset: labels must be class indices from 0 to {MAX_CLASSES - 1}, "
            f"found {brief(int(y.min()) if y.min() < 0 else int(y.max()))}."
        )
    return y.astype(np.int64)


def _as_images(x: np.ndarray) -> np.ndarray:
    """(n, h, w) float32: uint8 pixels scaled by 1/255, any other numbers used as stored.

    Nothing else is changed without a word: 2-D arrays are tables of features (see
    training/tables/), never reshaped into images.
    """
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        raise DatasetError(
            f"objective.dataset: x is 2-D ({x.shape[1]} features a row), a table rather than "
            "images; train the mlp model on it, which takes it as features."
        )
    if x.ndim != 3:
        raise DatasetError(
            f"objective.dataset: images must be (n, height, width), not shape {x.shape}."
        )
    if x.dtype.kind not in "iuf":
        raise DatasetError(f"objective.dataset: images must hold numbers, not {x.dtype}.")
    # Only 8-bit pixels are scaled (0-255 -> 0-1); other images are used as stored, and the
    # study says so (image_preparation), where they used to be divided by 255 whenever over 1.
    eight_bit = x.dtype.kind == "u" and x.dtype.itemsize == 1
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DatasetError("objective.dataset: images hold NaN or infinite pixels.")
    if eight_bit:
        x /= 255.0
    return x
