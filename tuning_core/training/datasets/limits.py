"""The memory an array may take when it loads: refused from its declared shape, before any
data is read or decompressed.
"""

from __future__ import annotations

import numpy as np
import psutil

from tuning_core.engine.errors import DatasetError

# A dataset may take at most this share of the memory that is free when it loads.
DATASET_MEMORY_SHARE = 0.5


def check_fits_in_memory(name: str, shape: tuple[int, ...], itemsize: int) -> None:
    """Refuse an array whose declared shape (raw, plus its float32 copy) would not fit."""
    count = int(np.prod(shape, dtype=object))
    needed = count * (itemsize + 4)
    available = int(psutil.virtual_memory().available * DATASET_MEMORY_SHARE)
    if needed > available:
        raise DatasetError(
            f"objective.dataset: {name} declares shape {tuple(shape)}, which needs about "
            f"{needed / 1e9:,.1f} GB of memory; {available / 1e9:,.1f} GB may be used here."
        )
