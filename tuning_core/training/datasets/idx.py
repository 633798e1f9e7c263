"""MNIST-format IDX files (optionally gzipped), read safely: the header checked first (its
dimensions and the memory its shape needs), then no more bytes read than it declares, so a
small gzip bomb stays small. A folder's train and test files are found by their usual names.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tuning_core.engine.errors import DatasetError
from tuning_core.training.datasets.limits import check_fits_in_memory

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open_idx(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_idx_header(handle: BinaryIO, path: Path) -> tuple[str, tuple[int, ...]]:
    """The numpy dtype and shape an IDX header declares; the handle is left at the data."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number).")
    dtype_code, ndim = magic[2], magic[3]
    if dtype_code not in _IDX_DTYPES:
        raise DatasetError(f"{path} has an unknown IDX data type {dtype_code:#x}.")
    dimensions = handle.read(4 * ndim)
    if len(dimensions) < 4 * ndim:
        raise DatasetError(f"{path} is truncated inside its IDX header.")
    return _IDX_DTYPES[dtype_code], struct.unpack(f">{ndim}I", dimensions)


def idx_shape(path: Path) -> tuple[int, ...]:
    """The shape an IDX file (optionally gzipped) declares, read from its header alone."""
    with _open_idx(path) as handle:
        return _read_idx_header(handle, path)[1]


def read_idx(path: Path, dimensions: int | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a numpy array.

    The header is checked first: its number of ``dimensions`` (when given) and the memory
    its shape needs, before anything is decompressed; then no more bytes are read than the
    header declares, so a small gzip bomb stays small.
    """
    try:
        return _read_idx_checked(path, dimensions)
    except (EOFError, OSError, zlib.error) as error:
        raise DatasetError(
            f"objective.dataset: {path.name} could not be read ({error}); the file is damaged."
        ) from None


def _read_idx_checked(path: Path, dimensions: int | None) -> np.ndarray:
    with _open_idx(path) as handle:
        dtype, shape = _read_idx_header(handle, path)
        if dimensions is not None and len(shape) != dimensions:
            raise DatasetError(
                f"objective.dataset: {path.name} must have {dimensions} dimensions, but its "
                f"header declares {len(shape)}."
            )
        expected = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        check_fits_in_memory(path.name, shape, np.dtype(dtype).itemsize)
        data = handle.read(expected + 1)
    if len(data) != expected:
        found = "more" if len(data) > expected else "less"
        raise DatasetError(
            f"objective.dataset: {path.name} holds {found} data than its header declares "
            f"(shape {tuple(shape)}); the file is damaged."
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def find_idx_file(folder: Path, base: str) -> Path | None:
    """``folder/base`` or ``folder/base.gz``, whichever exists."""
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        images, labels = (
            find_idx_file(folder, IDX_NAMES[f"{split}_images"]),
            find_idx_file(folder, IDX_NAMES[f"{split}_labels"]),
        )
        if images and labels:
            arrays[f"x_{split}"] = read_idx(images, dimensions=3)
            arrays[f"y_{split}"] = read_idx(labels, dimensions=1)
        elif images or labels:
            missing = IDX_NAMES[f"{split}_labels" if images else f"{split}_images"]
            raise DatasetError(
                f"objective.dataset: {folder} has {split} images or labels but not {missing}[.gz]."
            )
    return arrays
