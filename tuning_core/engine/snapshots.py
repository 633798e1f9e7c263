"""Strategy snapshots: a Bayesian search's whole state as bytes, and a guarded way back.

Resuming a study used to replay every stored trial through a fresh scikit-optimize
``Optimizer``, refitting its surrogate once per trial (18.8 s before the next trial at 100
trials, 62.9 s at 200). A snapshot taken right after each trial is told restores that exact
state (random generator, told points, fitted surrogate, the next point it will propose), so a
resume replays only what came after.

The bytes are a pickle, so they are read back by :class:`_SnapshotUnpickler`, which finds
only the globals listed in ``_ALLOWED_GLOBALS`` (the Optimizer's own classes and numpy's
array rebuilders): a store file from elsewhere cannot reach a function that runs code or
touches files through a snapshot. A snapshot that fails to load is ignored and the study
replays its history as before.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

# Every global a scikit-optimize Optimizer's pickle needs, found by pickling each surrogate
# (GP, RF, ET, GBRT) with each acquisition over float, log, int and choice dimensions. An
# explicit list, not whole packages: numpy.memmap alone would let a crafted snapshot write any
# file. A global missing after a library upgrade fails the load, and the study replays.
_ALLOWED_GLOBALS = {
    ("_loss", "CyPinballLoss"),
    ("_loss", "__pyx_unpickle_CyPinballLoss"),
    ("builtins", "float"),
    ("builtins", "range"),
    ("copyreg", "_reconstructor"),
    ("numpy", "dtype"),
    ("numpy", "int64"),
    ("numpy", "ndarray"),
    ("numpy", "vectorize"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._mt19937", "MT19937"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("scipy.stats._continuous_distns", "uniform_gen"),
    ("scipy.stats._discrete_distns", "randint_gen"),
    ("scipy.stats._distn_infrastructure", "rv_continuous_frozen"),
    ("scipy.stats._distn_infrastructure", "rv_discrete_frozen"),
    ("scipy.stats._distn_infrastructure", "rv_sample"),
    ("sklearn._loss.link", "IdentityLink"),
    ("sklearn._loss.link", "Interval"),
    ("sklearn._loss.loss", "PinballLoss"),
    ("sklearn.dummy", "DummyRegressor"),
    ("sklearn.ensemble._gb", "GradientBoostingRegressor"),
    ("sklearn.preprocessing._label", "LabelBinarizer"),
    ("sklearn.tree._classes", "DecisionTreeRegressor"),
    ("sklearn.tree._classes", "ExtraTreeRegressor"),
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.tree._tree", "__pyx_unpickle_Tree"),
    ("skopt.learning.forest", "ExtraTreesRegressor"),
    ("skopt.learning.forest", "RandomForestRegressor"),
    ("skopt.learning.gaussian_process.gpr", "GaussianProcessRegressor"),
    ("skopt.learning.gaussian_process.kernels", "ConstantKernel"),
    ("skopt.learning.gaussian_process.kernels", "HammingKernel"),
    ("skopt.learning.gaussian_process.kernels", "Matern"),
    ("skopt.learning.gaussian_process.kernels", "Product"),
    ("skopt.learning.gaussian_process.kernels", "Sum"),
    ("skopt.learning.gaussian_process.kernels", "WhiteKernel"),
    ("skopt.learning.gbrt", "GradientBoostingQuantileRegressor"),
    ("skopt.optimizer.optimizer", "Optimizer"),
    ("skopt.space.space", "Categorical"),
    ("skopt.space.space", "Integer"),
    ("skopt.space.space", "Real"),
    ("skopt.space.space", "Space"),
    ("skopt.space.transformers", "CategoricalEncoder"),
    ("skopt.space.transformers", "Identity"),
    ("skopt.space.transformers", "LogN"),
    ("skopt.space.transformers", "Normalize"),
    ("skopt.space.transformers", "Pipeline"),
}


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
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
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
