""".npz archives read safely: each wanted array's .npy header is read before any data, and
pickled objects, headers that disagree with the stored size and arrays too large for the
free memory are refused before anything is decompressed.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from tuning_core.engine.errors import DatasetError, brief
from tuning_core.training.datasets.limits import check_fits_in_memory

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class _NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    declared_bytes: int
    stored_bytes: int  # the member's data size after its header, from the zip directory


def _npz_headers(path: Path) -> dict[str, _NpyHeader]:
    """The .npy header of each wanted array in an .npz, read before any data is.

    Members are matched as ``np.load`` matches them, "x_train.npy" or plain "x_train", so no
    array can reach the loader unchecked.
    """
    headers: dict[str, _NpyHeader] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key not in NPZ_KEYS:
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                shape, _, dtype = _read_npy_header(member, version)
                stored = info.file_size - member.tell()
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            headers[key] = _NpyHeader(tuple(shape), dtype, declared, stored)
    return headers


def _check_npz_headers(path: Path) -> None:
    """Refuse object (pickled) arrays, headers that disagree with the member's real size,
    and arrays too large for the free memory, before anything is decompressed."""
    try:
        headers = _npz_headers(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DatasetError(
            f"objective.dataset: {path.name} is not a readable .npz archive ({error})."
        ) from None
    for key, header in headers.items():
        if header.dtype.hasobject:
            raise DatasetError(
                f"objective.dataset: {path.name} holds pickled objects in {key}, which are not "
                "loaded for safety."
            )
        if header.declared_bytes != header.stored_bytes:
            raise DatasetError(
                f"objective.dataset: {path.name}: the header of {key} declares shape "
                f"{brief(header.shape)}, which does not match its data; the file is damaged."
            )
        check_fits_in_memory(f"{path.name} ({key})", header.shape, header.dtype.itemsize)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    _check_npz_headers(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in NPZ_KEYS if key in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise DatasetError(
            f"objective.dataset: {path.name} could not be read as an .npz archive ({error})."
        ) from None
    if "x_train" not in arrays or "y_train" not in arrays:
        raise DatasetError(f"objective.dataset: {path} must hold arrays named x_train and y_train.")
    return arrays


def _read_npy_header(member: BinaryIO, version: tuple[int, int]) -> tuple[Any, bool, np.dtype]:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    return np.lib.format.read_array_header_2_0(member)


def npz_header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape each wanted array of an .npz declares, from its headers alone."""
    return {key: header.shape for key, header in _npz_headers(path).items()}
