"""Dataset folders that each once broke the loader (tests/test_hardening.py's data cases)."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np


def write_idx(path: Path, dtype_code: int, shape: tuple[int, ...], payload: bytes) -> None:
    """An IDX file: its header (type code, dimensions) then ``payload``."""
    header = bytes([0, 0, dtype_code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    path.write_bytes(header + payload)


DATA_CASES = [
    "idx ndim 255",
    "labels of -1",
    "npz header of 10^13 rows",
    "npz member without .npy",
    "npz of objects",
    "truncated gzip",
    "a class of one example",
]


def write_bad_data(folder: Path, case: str) -> Path:
    """``folder``, made and filled with the bad data ``case`` (one of DATA_CASES) names."""
    folder.mkdir()
    images, labels = folder / "train-images-idx3-ubyte", folder / "train-labels-idx1-ubyte"
    if case == "idx ndim 255":
        write_idx(images, 0x08, (1,) * 255, b"\0")
        write_idx(labels, 0x08, (1,), b"\0")
    elif case == "labels of -1":
        write_idx(images, 0x08, (50, 8, 8), bytes(50 * 64))
        write_idx(labels, 0x09, (50,), bytes([255]) * 50)
    elif case == "npz header of 10^13 rows":
        header = {"descr": "|u1", "fortran_order": False, "shape": (10**13, 28, 28)}
        with open(folder / "x_train.npy", "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, header)
            handle.write(bytes(100))
        np.save(folder / "y_train.npy", np.zeros(10, dtype=np.uint8))
        with zipfile.ZipFile(folder / "data.npz", "w") as archive:
            archive.write(folder / "x_train.npy", "x_train.npy")
            archive.write(folder / "y_train.npy", "y_train.npy")
    elif case == "npz member without .npy":
        # np.load reads a member named plain "x_train" too: its header is checked all the same.
        header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 280, 280)}
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(bytes(10**9 // 1000))
        with zipfile.ZipFile(folder / "data.npz", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("x_train", buffer.getvalue())
            y = io.BytesIO()
            np.save(y, np.zeros(10, dtype=np.uint8))
            archive.writestr("y_train", y.getvalue())
    elif case == "truncated gzip":
        payload = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (50, 8, 8))
        compressed = gzip.compress(payload + bytes(3200))
        (folder / "train-images-idx3-ubyte.gz").write_bytes(compressed[: len(compressed) // 2])
        write_idx(labels, 0x08, (50,), bytes(50))
    elif case == "a class of one example":
        write_idx(images, 0x08, (50, 8, 8), bytes(range(50)) * 64)
        write_idx(labels, 0x08, (50,), bytes([0] * 49 + [1]))
    else:
        np.savez(folder / "data.npz", x_train=np.array([object()] * 3), y_train=np.zeros(3))
    return folder
