"""The Python API's data, kept as files beside the store.

A table (``optimize_table``) becomes a CSV (from a DataFrame) or a 2-D ``.npz`` (from ``x``
and ``y``) that the study's spec names as a spec file would: resume, export, the Live summary
and Dask workers read the very rows the study was tuned on, through ``run``'s reader and
preparation. A ``build_model`` study's arrays (``optimize_keras`` with ``parallel``) become an
``.npz`` that its Dask workers load instead of receiving the arrays with every task.

Files are named by a hash of their bytes (``data-<sha256 prefix>.csv``): passing the same data
again names the same file, and different data never overwrites the file a stored study names.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from tuning_core.engine.errors import SpecError, brief

NPZ_TARGET = "y"  # the target column of an .npz table (its x columns are x1…xk)


def _is_frame(data: Any) -> bool:
    # Duck-typed, so pandas is not imported for arrays.
    return hasattr(data, "columns") and hasattr(data, "to_csv")


def _frame_bytes(frame: Any, target: Any) -> bytes:
    names = [str(name) for name in frame.columns]
    if not isinstance(target, str) or target not in names:
        raise SpecError(
            f"target must name one of the DataFrame's columns ({', '.join(names[:8])}"
            f"{', …' if len(names) > 8 else ''}), not {brief(target)}."
        )
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _array_bytes(x: Any, y: Any) -> bytes:
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind not in "biuf":
        raise SpecError(
            f"data: x must hold numbers (a DataFrame may hold text columns), not {x.dtype} values."
        )
    if y.dtype == object:
        y = y.astype(str)  # an .npz must hold no pickled objects: the loader refuses them
    if y.ndim != 1:
        raise SpecError(f"target: y must be one value per row (1-D), not shape {y.shape}.")
    if x.ndim != 2 or len(x) == 0:
        raise SpecError(f"data: x must be 2-D (rows, features) with rows, not shape {x.shape}.")
    if len(x) != len(y):
        raise SpecError(f"target: y has {len(y)} values but x has {len(x)} rows; give one each.")
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=y)
    return buffer.getvalue()


def _write_once(payload: bytes, folder: Path, suffix: str) -> Path:
    """``payload`` as ``folder/data-<hash><suffix>``, written unless that file exists; the
    path is absolute, so the spec that names it reads the same from any folder."""
    path = folder.resolve() / f"data-{hashlib.sha256(payload).hexdigest()[:16]}{suffix}"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(payload)
        os.replace(partial, path)  # a reader never sees half a file
    return path


def save_arrays(folder: Path, arrays: dict[str, Any]) -> Path:
    """Numeric (or text) arrays as one ``.npz`` in ``folder``; one sentence naming the array
    that holds Python objects, which an .npz could keep only as a pickle."""
    plain: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise SpecError(
                f"{name}: give an array of numbers (or text), not Python objects; "
                f"{name}.dtype is object."
            )
        plain[name] = array
    buffer = io.BytesIO()
    np.savez(buffer, **plain)
    return _write_once(buffer.getvalue(), folder, ".npz")


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays :func:`save_arrays` wrote (never unpickling anything)."""
    with np.load(path, allow_pickle=False) as saved:
        return {name: saved[name] for name in saved.files}


def save_table(data: Any, target: Any, folder: Path) -> tuple[Path, str]:
    """Write ``data`` (a DataFrame, with ``target`` a column's name; or 2-D ``x``, with
    ``target`` its ``y``) into ``folder``; return the file and the target column's name.
    Bad input is one SpecError sentence naming ``data`` or ``target``."""
    if _is_frame(data):
        payload, suffix, column = _frame_bytes(data, target), ".csv", str(target)
    else:
        if isinstance(target, str):
            raise SpecError(
                "target: a column name needs a pandas DataFrame as data; with an x array, pass "
                "the targets y as an array."
            )
        payload, suffix, column = _array_bytes(data, target), ".npz", NPZ_TARGET
    return _write_once(payload, folder, suffix), column
