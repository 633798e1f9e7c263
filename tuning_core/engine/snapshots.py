"""Strategy snapshots and ask records: a Bayesian search's state as bytes, and a safe way back.

Resuming a study used to replay every stored trial through a fresh scikit-optimize
``Optimizer``, refitting its surrogate once per trial (18.8 s before the next trial at 100
trials, 62.9 s at 200). A snapshot taken right after each trial is told restores that exact
state (random generator, told points, fitted surrogate, the next point it will propose), so a
resume replays only what came after. "Why this point?" reads the ask records the same way.

The bytes hold a pickle, and a pickle can run code while it is read. A store is a file that
travels (mailed to a class, shipped with a course), so a blob is only unpickled when it
carries an HMAC-SHA256 tag made with this user's secret key: a random key created on first
use in the user's config folder (``$TUNING_LAB_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/tuning-lab``, else ``~/.config/tuning-lab``), readable by the user alone.
Bytes from anyone else's store, or changed after they were written, fail the check before a
single opcode is read, and count as absent: a resume replays the history instead, and the
"Why this point?" page says the record cannot be trusted. The allow-listed unpickler below
stays as a second wall behind the key, not as the wall.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import pickle
import secrets
from pathlib import Path
from typing import Any

CONFIG_DIR_ENV = "TUNING_LAB_CONFIG_DIR"
KEY_FILE_NAME = "blob-signing.key"
# Signed blobs start with this line, then the 32-byte tag, then the pickle.
_SIGNED_MAGIC = b"tuning-lab signed v1\n"
_TAG_BYTES = hashlib.sha256().digest_size

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


class UntrustedSnapshotError(SnapshotError):
    """A blob that this user's Tuning Lab did not write (or that was changed since): it is
    never unpickled."""


def config_dir() -> Path:
    """The user's Tuning Lab config folder (see the module docstring)."""
    configured = os.environ.get(CONFIG_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tuning-lab"


_keys: dict[Path, bytes] = {}


def _signing_key() -> bytes:
    """This user's key, created on first use (32 random bytes, mode 0600).

    Two processes creating it at once agree: each writes a private temporary file and links it
    into place, and the one that loses reads the winner's. A folder that cannot be written
    gives a key for this process alone, so what it writes is safe and simply not trusted later.
    """
    path = config_dir() / KEY_FILE_NAME
    if path in _keys:
        return _keys[path]
    try:
        key = _read_or_create_key(path)
    except OSError:
        key = secrets.token_bytes(32)
    _keys[path] = key
    return key


def _read_or_create_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            # Another process that made it first wins: its key is read below.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise OSError(f"{path} holds no usable key")
    return key


def _tag(body: bytes) -> bytes:
    return hmac.new(_signing_key(), body, hashlib.sha256).digest()


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
    """``state`` pickled and signed with this user's key."""
    body = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return _SIGNED_MAGIC + _tag(body) + body


def load(blob: bytes) -> Any:
    """The state in ``blob``, only if this user's key signed it.

    Raises :class:`UntrustedSnapshotError` for bytes it did not sign (nothing of them is
    unpickled), and :class:`SnapshotError` for a signed blob that cannot be read back.
    """
    blob = bytes(blob)
    header = len(_SIGNED_MAGIC) + _TAG_BYTES
    if not blob.startswith(_SIGNED_MAGIC) or len(blob) < header:
        raise UntrustedSnapshotError(
            "it carries no Tuning Lab signature (written by another version or crafted)"
        )
    tag, body = blob[len(_SIGNED_MAGIC) : header], blob[header:]
    if not hmac.compare_digest(tag, _tag(body)):
        raise UntrustedSnapshotError(
            "it was not signed with this user's key (a store from elsewhere, or changed since)"
        )
    try:
        return _SnapshotUnpickler(io.BytesIO(body)).load()
    except SnapshotError:
        raise
    except Exception as error:  # noqa: BLE001 - any damage means "replay instead"
        raise SnapshotError(f"the snapshot is damaged ({type(error).__name__})") from None
