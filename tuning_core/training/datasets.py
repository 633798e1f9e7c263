"""Datasets for Keras trials: bundled digits, Keras' MNIST/Fashion-MNIST, IDX or npz folders.

Every loader returns images as float32 in [0, 1] with shape (n, height, width) and integer
labels. The validation set is a stratified, seeded split of the training data; a folder's
test split is used only when it is the only split present.
"""

from __future__ import annotations

import gzip
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tuning_core.engine.errors import DatasetError, brief
from tuning_core.training.keras_runtime import import_keras

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The real MNIST test split (10,000 images) that this repository carries for its tests,
# benchmarks and offline demos; see tests/data/mnist/README.md for its provenance.
REPOSITORY_MNIST = Path(__file__).resolve().parents[2] / "tests" / "data" / "mnist"
KERAS_DATASETS = {"mnist": "mnist.npz", "fashion_mnist": None}
DOWNLOAD_TIMEOUT_S = 20


@dataclass
class Dataset:
    x_train: np.ndarray  # (n, height, width) float32 in [0, 1]
    y_train: np.ndarray  # (n,) int
    x_val: np.ndarray
    y_val: np.ndarray
    name: str

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.x_train.shape[1:3])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max()) + 1)


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


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a numpy array."""
    with _open_idx(path) as handle:
        dtype, shape = _read_idx_header(handle, path)
        data = handle.read()
    array = np.frombuffer(data, dtype=dtype)
    if array.size != int(np.prod(shape)):
        raise DatasetError(
            f"{path} is truncated: expected {int(np.prod(shape))} values, found {array.size}."
        )
    return array.reshape(shape)


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
            arrays[f"x_{split}"], arrays[f"y_{split}"] = read_idx(images), read_idx(labels)
        elif images or labels:
            missing = IDX_NAMES[f"{split}_labels" if images else f"{split}_images"]
            raise DatasetError(
                f"objective.dataset: {folder} has {split} images or labels but not {missing}[.gz]."
            )
    return arrays


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {
                key: archive[key]
                for key in ("x_train", "y_train", "x_test", "y_test")
                if key in archive.files
            }
    except ValueError as error:
        raise DatasetError(
            f"objective.dataset: {path} holds pickled objects, which are not loaded for safety "
            f"({error})."
        ) from None
    if "x_train" not in arrays or "y_train" not in arrays:
        raise DatasetError(f"objective.dataset: {path} must hold arrays named x_train and y_train.")
    return arrays


def load_folder(folder: Path) -> dict[str, np.ndarray]:
    """Raw arrays from a folder of MNIST-format IDX files or a single .npz file."""
    if folder.is_file() and folder.suffix == ".npz":
        return _load_npz(folder)
    if not folder.is_dir():
        raise DatasetError(
            "objective.dataset must be digits, mnist, fashion_mnist or an existing folder, not "
            f"{brief(str(folder))}."
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


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load_keras_dataset(name: str) -> dict[str, np.ndarray]:
    """MNIST or Fashion-MNIST through Keras' own loader and cache.

    Offline, the download fails at once (or after DOWNLOAD_TIMEOUT_S), and the user is told
    where to put the files instead.
    """
    keras = import_keras()

    loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # noqa: BLE001 - any download failure gets the same advice
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise DatasetError(
            f"objective.dataset: {name} could not be downloaded ({reason}); put its IDX or .npz "
            "files in a "
            "folder and set objective.dataset to that folder's path, or place them in Keras' "
            f"cache {_keras_cache_dir()}."
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_digits_arrays() -> dict[str, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16): works offline."""
    from sklearn.datasets import load_digits  # noqa: PLC0415 - the UI imports this module

    digits = load_digits()
    return {"x_train": digits.images / 16.0, "y_train": digits.target}


def _as_images(x: np.ndarray) -> np.ndarray:
    """(n, h, w) float32 in [0, 1] from uint8 pixels, already-scaled floats, or flat squares."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise DatasetError(
                f"objective.dataset: flat images of {x.shape[1]} pixels are not square."
            )
        x = x.reshape(len(x), side, side)
    if x.ndim != 3:
        raise DatasetError(
            f"objective.dataset: images must be (n, height, width), not shape {x.shape}."
        )
    x = x.astype(np.float32)
    if x.max(initial=0.0) > 1.0:
        x /= 255.0
    return x


def stratified_split(
    x: np.ndarray, y: np.ndarray, validation_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - as above

    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=validation_split, stratify=y, random_state=seed
    )
    return x_train, y_train, x_val, y_val


def ordered_split(
    x: np.ndarray, y: np.ndarray, validation_split: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The last fraction as validation, unshuffled: what Keras' ``fit(validation_split=...)``
    does.
    """
    cut = int(round(len(x) * (1 - validation_split)))
    return x[:cut], y[:cut], x[cut:], y[cut:]


def load_dataset(
    name: str,
    validation_split: float = 0.2,
    train_limit: int | None = None,
    seed: int = 0,
    split: str = "stratified",
) -> Dataset:
    """Load, scale and split a dataset by name or path (see module docstring).

    ``split`` is ``stratified`` (shuffled, class-balanced, seeded) or ``ordered`` (the last
    fraction, as Keras' own validation_split takes it).
    """
    if name == "digits":
        arrays = load_digits_arrays()
    elif name in KERAS_DATASETS:
        arrays = load_keras_dataset(name)
    else:
        arrays = load_folder(Path(name).expanduser())
    if "x_train" in arrays:
        x, y = arrays["x_train"], arrays["y_train"]
    else:
        x, y = arrays["x_test"], arrays["y_test"]
    x, y = _as_images(x), np.asarray(y).astype(np.int64).reshape(-1)
    if len(x) != len(y):
        raise DatasetError(f"objective.dataset: {len(x)} images but {len(y)} labels.")
    if split == "ordered":
        x_train, y_train, x_val, y_val = ordered_split(x, y, validation_split)
    else:
        x_train, y_train, x_val, y_val = stratified_split(x, y, validation_split, seed)
    if train_limit is not None and train_limit < len(x_train):
        # Keep the validation set whole, so a fast demo is still judged on the same data.
        x_train, _, y_train, _ = stratified_subset(x_train, y_train, train_limit, seed)
    return Dataset(x_train, y_train, x_val, y_val, name)


def dataset_for(objective: dict, seed: int) -> Dataset:
    """The dataset a validated Keras objective describes."""
    return load_dataset(
        objective["dataset"],
        objective["validation_split"],
        objective.get("train_limit"),
        seed,
        objective.get("split", "stratified"),
    )


def stratified_subset(
    x: np.ndarray, y: np.ndarray, size: int, seed: int
) -> tuple[np.ndarray, None, np.ndarray, None]:
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - as above

    classes = len(np.unique(y))
    if size < classes:
        order = np.random.default_rng(seed).permutation(len(x))[:size]
        return x[order], None, y[order], None
    x_small, _, y_small, _ = train_test_split(x, y, train_size=size, stratify=y, random_state=seed)
    return x_small, None, y_small, None
