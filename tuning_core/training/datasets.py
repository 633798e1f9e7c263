"""Datasets for Keras trials: bundled digits, Keras' MNIST/Fashion-MNIST, IDX or npz folders.

Every loader returns images as float32 with shape (n, height, width) and integer labels:
8-bit pixels scaled to [0, 1], other pixels as stored, flat (2-D) arrays never reshaped (they
are tables; see tables.py). The validation set is a stratified, seeded split of the training
data; a folder's test split is used only when it is the only split present.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import psutil

from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.memory import (
    ImageShape,
    data_bytes,
    dataset_words,
    default_memory_limit,
    size_words,
)
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserModelSpec
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


# A dataset may take at most this share of the memory that is free when it loads.
DATASET_MEMORY_SHARE = 0.5


def check_fits_in_memory(name: str, shape: tuple[int, ...], itemsize: int) -> None:
    """Refuse an array whose declared shape (raw, plus its float32 copy) would not fit."""
    count = int(np.prod(shape, dtype=object))
    needed = count * (itemsize + 4)
    available = int(psutil.virtual_memory().available * DATASET_MEMORY_SHARE)
    if needed > available:
        raise DatasetError(
            f"objective.dataset: {name} declares shape {tuple(shape)}, which needs about "
            f"{needed / 1e9:,.1f} GB of memory; {available / 1e9:,.1f} GB may be used here."
        )


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


def _read_npy_header(member: BinaryIO, version: tuple[int, int]) -> tuple[Any, bool, np.dtype]:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    return np.lib.format.read_array_header_2_0(member)


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


# More classes than this is not an image-classification dataset Tuning Lab can train.
MAX_CLASSES = 1000


def _as_labels(y: np.ndarray) -> np.ndarray:
    """Labels as int64 class indices 0..classes-1; anything else is refused in one sentence."""
    y = np.asarray(y).reshape(-1)
    if y.size == 0:
        raise DatasetError("objective.dataset: the labels are empty.")
    if y.dtype.kind not in "iuf" or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        raise DatasetError("objective.dataset: labels must be whole numbers (class indices).")
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        raise DatasetError(
            f"objective.dataset: labels must be class indices from 0 to {MAX_CLASSES - 1}, "
            f"found {brief(int(y.min()) if y.min() < 0 else int(y.max()))}."
        )
    return y.astype(np.int64)


def _as_images(x: np.ndarray) -> np.ndarray:
    """(n, h, w) float32: uint8 pixels scaled by 1/255, any other numbers used as stored.

    Nothing else is changed without a word: 2-D arrays are tables of features (see
    training/tables.py), never reshaped into images.
    """
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        raise DatasetError(
            f"objective.dataset: x is 2-D ({x.shape[1]} features a row), a table rather than "
            "images; train the mlp model on it, which takes it as features."
        )
    if x.ndim != 3:
        raise DatasetError(
            f"objective.dataset: images must be (n, height, width), not shape {x.shape}."
        )
    if x.dtype.kind not in "iuf":
        raise DatasetError(f"objective.dataset: images must hold numbers, not {x.dtype}.")
    # Only 8-bit pixels are scaled (0-255 -> 0-1); other images are used as stored, and the
    # study says so (image_preparation), where they used to be divided by 255 whenever over 1.
    eight_bit = x.dtype.kind == "u" and x.dtype.itemsize == 1
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DatasetError("objective.dataset: images hold NaN or infinite pixels.")
    if eight_bit:
        x /= 255.0
    return x


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


def npz_header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape each wanted array of an .npz declares, from its headers alone."""
    return {key: header.shape for key, header in _npz_headers(path).items()}


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
    try:
        return _load_dataset(name, validation_split, train_limit, seed, split)
    except DatasetError:
        raise
    except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as error:
        # Anything else the data does (a class with one example, text pixels, a damaged
        # file) stops the study with one sentence, not trial after trial.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(
            f"objective.dataset: {brief(name)} could not be used ({brief(reason)})."
        ) from None


def _load_dataset(
    name: str, validation_split: float, train_limit: int | None, seed: int, split: str
) -> Dataset:
    check_data_fits(name)
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
    del arrays  # the raw arrays go as soon as they are scaled, not when this returns
    x, y = _as_images(x), _as_labels(y)
    if len(x) != len(y):
        raise DatasetError(f"objective.dataset: {len(x)} images but {len(y)} labels.")
    if split == "ordered":
        x_train, y_train, x_val, y_val = ordered_split(x, y, validation_split)
    else:
        x_train, y_train, x_val, y_val = stratified_split(x, y, validation_split, seed)
    del x, y  # so that a train_limit subset does not stack on the whole array as well
    if train_limit is not None and train_limit < len(x_train):
        # Keep the validation set whole, so a fast demo is still judged on the same data.
        x_train, _, y_train, _ = stratified_subset(x_train, y_train, train_limit, seed)
    return Dataset(x_train, y_train, x_val, y_val, name)


def dataset_for(objective: KerasObjectiveSpec | UserModelSpec, seed: int) -> Dataset:
    """The dataset a validated Keras objective, or a build_model objective that names a
    dataset, describes."""
    if objective.dataset is None:
        raise SpecError("objective.dataset: this build_model objective names no dataset.")
    return load_dataset(
        objective.dataset,
        float(objective.validation_split or 0.2),
        objective.train_limit,
        seed,
        objective.split or "stratified",
    )


def stratified_subset(
    x: np.ndarray, y: np.ndarray, size: int, seed: int
) -> tuple[np.ndarray, None, np.ndarray, None]:
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - as above

    classes = len(np.unique(y))
    if size < classes:
        order = np.random.default_rng(seed).permutation(len(x))[:size]
        return x[order], None, y[order], None
    # Split the indices, not the images: the same draw, without copying the part left out.
    keep, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=y, random_state=seed)
    return x[keep], None, y[keep], None
