"""A dataset path's raw arrays: a folder of MNIST-format IDX files, a folder holding an .npz,
or an .npz file, each read by its safe reader; anything else refused in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tuning_core.engine.errors import DatasetError, brief
from tuning_core.training.datasets.idx import _load_idx_folder
from tuning_core.training.datasets.npz import _load_npz


def load_folder(folder: Path) -> dict[str, np.ndarray]:
    """Raw arrays from a folder of MNIST-format IDX files or a single .npz file."""
    if folder.is_file() and folder.suffix == ".npz":
        return _load_npz(folder)
    if not folder.is_dir():
        raise DatasetError(
            "objective.dataset must be digits, mnist, fashion_mnist, or an existing folder, .npz "
            f"or .csv file, not {brief(str(folder))}."
        )
    arrays = _load_idx_folder(folder)
    if arrays:
        return arrays
    npz_files = sorted(folder.glob("*.npz"))
    if npz_files:
        return _load_npz(npz_files[0])
    raise DatasetError(
        f"objective.dataset: {folder} holds neither MNIST IDX files (train-images-idx3-ubyte[.gz] "
        "…) nor an .npz file."
    )
