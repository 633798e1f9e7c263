"""What a dataset holds, from its name or its files' headers alone (nothing decompressed
beyond a header): its image shape and count for the memory estimate, the check that its
load fits in memory, and what the loader does to its pixels, in words.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from tuning_core.engine.errors import DatasetError, SpecError
from tuning_core.engine.memory import (
    ImageShape,
    data_bytes,
    dataset_words,
    default_memory_limit,
    size_words,
)
from tuning_core.training.datasets.idx import IDX_NAMES, _open_idx, _read_idx_header, find_idx_file
from tuning_core.training.datasets.limits import DATASET_MEMORY_SHARE
from tuning_core.training.datasets.named import KERAS_DATASETS
from tuning_core.training.datasets.npz import _npz_headers

# Training-split shapes of the named datasets, known without loading them.
KNOWN_SHAPES = {"digits": (1797, 8, 8), "mnist": (60000, 28, 28), "fashion_mnist": (60000, 28, 28)}
# Bytes each named loader reads before the images are scaled: Keras' four uint8 arrays (both
# splits); scikit-learn's digits as float64 data and images, plus the scaled float64 copy.
KNOWN_STORED_BYTES = {
    "digits": 1797 * (64 * 8 * 3 + 8),
    "mnist": 70000 * (28 * 28 + 1),
    "fashion_mnist": 70000 * (28 * 28 + 1),
}


@dataclass(frozen=True)
class _Declared:
    images: tuple[int, ...]  # the images trained and validated on
    stored_bytes: int  # every array the loader reads, both splits, at its stored dtype


def _idx_declared(folder: Path) -> _Declared | None:
    """What a folder's IDX headers declare, split by split as _load_idx_folder reads them."""
    images: tuple[int, ...] | None = None
    stored = 0
    for split in ("train", "test"):
        for kind in ("images", "labels"):
            path = find_idx_file(folder, IDX_NAMES[f"{split}_{kind}"])
            if path is None:
                continue
            with _open_idx(path) as handle:
                dtype, shape = _read_idx_header(handle, path)
            stored += int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
            if kind == "images" and images is None:
                images = shape  # the training split when present, as the loader picks
    return None if images is None else _Declared(images, stored)


def _declared(dataset: str) -> _Declared | None:
    """What a dataset holds, from its name or its files' headers alone (nothing is
    decompressed beyond a header); None when they cannot be read."""
    if dataset in KNOWN_SHAPES:
        return _Declared(KNOWN_SHAPES[dataset], KNOWN_STORED_BYTES[dataset])
    folder = Path(dataset).expanduser()
    try:
        if folder.is_dir():
            idx = _idx_declared(folder)
            if idx is not None:
                return idx
            npz_files = sorted(folder.glob("*.npz"))
            folder = npz_files[0] if npz_files else folder
        if folder.is_file() and folder.suffix == ".npz":
            headers = _npz_headers(folder)
            stored = sum(header.declared_bytes for header in headers.values())
            return _Declared(headers["x_train"].shape, stored)
    except Exception:  # noqa: BLE001 - any unreadable header means "unknown", never a crash
        return None
    return None


def _height_width(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """Image height and width from an images array's shape, as _as_images reads it."""
    if len(shape) == 3 or (len(shape) == 4 and shape[3] == 1):
        return (shape[1], shape[2])
    return None


def image_shape_of(dataset: str) -> ImageShape | None:
    """A dataset's image height and width, with how many images it declares and the bytes
    its loader reads, from headers alone (see _declared); the memory estimate counts them."""
    declared = _declared(dataset)
    side = None if declared is None else _height_width(declared.images)
    if declared is None or side is None:
        return None
    return ImageShape(
        *side,
        dataset=dataset,
        examples=int(declared.images[0]),
        stored_bytes=declared.stored_bytes,
    )


def example_count(dataset: str) -> int | None:
    """How many images a dataset trains and validates on, from headers alone."""
    shape = image_shape_of(dataset)
    return None if shape is None else shape.examples


def check_data_fits(dataset: str) -> None:
    """Refuse, before any array is read, a dataset whose load would need more than half the
    free memory or than $TUNING_LAB_MEMORY_LIMIT: what the CLI checks with the model before
    a study starts, checked again here for every caller that loads data (lr-find, the
    learning-rate lab, Dask workers)."""
    shape = image_shape_of(dataset)
    if shape is None:
        return  # the loader's own header checks speak for a file that cannot be read
    needed = data_bytes(shape)
    limit = int(psutil.virtual_memory().available * DATASET_MEMORY_SHARE)
    # A malformed limit is reported, in its own sentence, where a study starts.
    with contextlib.suppress(SpecError):
        limit = min(limit, default_memory_limit())
    if needed > limit:
        raise DatasetError(
            f"objective.dataset: {dataset_words(dataset)} declares {shape.examples:,} images "
            f"of {shape[0]}x{shape[1]}, which need about {size_words(needed)} to load as "
            f"float32 with their split copies, over the {size_words(limit)} this process may "
            "use (half the free memory, or $TUNING_LAB_MEMORY_LIMIT); use fewer or smaller "
            "images."
        )


def image_preparation(dataset: str) -> str:
    """What the image loader does to a dataset's pixels, in words, from its headers alone."""
    if dataset == "digits":
        return "8x8 images scaled from 0-16 to 0-1 (scikit-learn's digits)"
    if dataset in KERAS_DATASETS:
        return "28x28 uint8 images scaled by 1/255"
    try:
        path = Path(dataset).expanduser()
        idx = find_idx_file(path, IDX_NAMES["train_images"]) if path.is_dir() else None
        idx = idx or (find_idx_file(path, IDX_NAMES["test_images"]) if path.is_dir() else None)
        if idx is not None:
            with _open_idx(idx) as handle:
                dtype = np.dtype(_read_idx_header(handle, idx)[0])
        else:
            npz = path if path.is_file() else sorted(path.glob("*.npz"))[0]
            shapes = _npz_headers(npz)
            dtype = (shapes.get("x_train") or shapes["x_test"]).dtype
    except Exception:  # noqa: BLE001 - unreadable headers are reported by the loader itself
        return "images"
    if dtype.kind == "u" and dtype.itemsize == 1:
        return "uint8 images scaled by 1/255"
    return f"{dtype.name} images used as stored (not scaled)"
