"""Splitting a table's rows into training, validation and test parts: seeded, stratified for
classes when asked, or the last rows for split ``ordered``. The preparation is fitted on the
training part only, so this is the one place the parts are decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def split_indices(
    labels: np.ndarray, split: Mapping[str, Any], stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the training, validation and test parts: the test part (if any) is held
    out first, then the validation part from the rest; both stratified for classes when asked,
    shuffled and seeded (or, for split ``ordered``, the last rows, unshuffled)."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - UI imports this

    rows = np.arange(len(labels))
    seed = int(split["seed"])
    ordered = split.get("order") == "ordered"
    test, validation = float(split.get("test") or 0.0), float(split["validation"])
    held_out = np.array([], dtype=np.int64)
    if test > 0:
        if ordered:
            cut = int(round(len(rows) * (1 - test)))
            rows, held_out = rows[:cut], rows[cut:]
        else:
            rows, held_out = train_test_split(
                rows, test_size=test, stratify=labels if stratify else None, random_state=seed
            )
    # The validation share is of the whole table, so 80/10/10 means what it says.
    share = validation / (1 - test)
    if ordered:
        cut = int(round(len(rows) * (1 - share)))
        return rows[:cut], rows[cut:], held_out
    train, valid = train_test_split(
        rows, test_size=share, stratify=labels[rows] if stratify else None, random_state=seed
    )
    return np.asarray(train), np.asarray(valid), np.asarray(held_out)
