"""Strategy snapshots: a Bayesian search's whole state as bytes, and a guarded way back.

Resuming a study used to replay every stored trial through a fresh scikit-optimize
``Optimizer``, refitting its surrogate once per trial (18.8 s before the next trial at 100
trials, 62.9 s at 200). A snapshot taken right after each trial is told restores that exact
state (random generator, told points, fitted surrogate, the next point it will propose), so a
resume replays only what came after.

The bytes are a pickle, so they are read back by :class:`_SnapshotUnpickler`, which builds
only classes from numpy, scipy, scikit-learn and scikit-optimize (plus numpy's own array
rebuilders): a store file from elsewhere cannot run code through a snapshot. A snapshot that
fails to load is ignored and the study replays its history as before.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

_TRUSTED_PACKAGES = ("numpy", "scipy", "sklearn", "skopt")
# Functions (not classes) that numpy's and Python's own pickles call to rebuild objects.
_TRUSTED_FUNCTIONS = {
    ("copyreg", "_reconstructor"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
}
_TRUSTED_BUILTINS = {
    "object", "float", "int", "complex", "bool", "str", "bytes", "bytearray",
    "list", "tuple", "dict", "set", "frozenset", "slice", "range",
}  # fmt: skip


class SnapshotError(ValueError):
    """A snapshot could not be read back (damaged, or holding something not allowed)."""


# scipy's discrete distributions pickle a bound method as getattr(distribution, name).
_GETATTR_NAMES = {"_entropy"}


def _guarded_getattr(target: Any, name: str) -> Any:
    """getattr, only for the method names scipy's distributions pickle, on scipy objects."""
    if name not in _GETATTR_NAMES or not type(target).__module__.startswith("scipy.stats"):
        raise SnapshotError(f"a snapshot may not read {name!r} of {type(target).__name__}")
    return getattr(target, name)


class _SnapshotUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _guarded_getattr
        if module == "builtins" and name in _TRUSTED_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _TRUSTED_FUNCTIONS:
            return super().find_class(module, name)
        # Cython's rebuilders of extension types (scikit-learn's trees and losses; its loss
        # module reports itself as the top-level "_loss").
        trusted_module = module.split(".")[0] in _TRUSTED_PACKAGES or module == "_loss"
        if name.startswith("__pyx_unpickle_") and trusted_module:
            return super().find_class(module, name)
        if trusted_module:
            found = super().find_class(module, name)
            if isinstance(found, type):  # classes only: no function calls from the bytes
                return found
        raise SnapshotError(f"a snapshot may not build {module}.{name}")


def dump(state: Any) -> bytes:
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def load(blob: bytes) -> Any:
    """The state in ``blob``; raises :class:`SnapshotError` for anything not allowed."""
    try:
        return _SnapshotUnpickler(io.BytesIO(blob)).load()
    except SnapshotError:
        raise
    except Exception as error:  # noqa: BLE001 - any damage means "replay instead"
        raise SnapshotError(f"the snapshot is damaged ({type(error).__name__})") from None
