"""Datasets for Keras trials: bundled digits, Keras' MNIST/Fashion-MNIST, IDX or npz folders.

Every loader returns images as float32 with shape (n, height, width) and integer labels:
8-bit pixels scaled to [0, 1], other pixels as stored, flat (2-D) arrays never reshaped (they
are tables; see training/tables/). The validation set is a stratified, seeded split of the
training data; a folder's test split is used only when it is the only split present.

One idea a module, re-exported here (``from tuning_core.training import datasets`` is how the
rest of Tuning Lab reads them); none loads Keras on import:

- ``limits``: the memory an array may take, refused from its declared shape;
- ``idx`` and ``npz``: the two file formats, read safely (headers before data);
- ``folders``: a dataset path's raw arrays (``load_folder``);
- ``named``: digits, MNIST and Fashion-MNIST by name, and the repository's MNIST test split;
- ``declared``: what a dataset holds from headers alone (shape, count, the memory check, the
  preparation in words);
- ``images``: raw arrays as images and labels;
- ``splits``: the validation split and a training subset;
- ``loading``: :class:`Dataset`, ``load_dataset`` and ``dataset_for``.

``reports/source_bundle.py`` copies the loaders, the image conversion and the splits into
exported scripts by following their names across these modules, so a definition keeps its
comment lines right above it.
"""

from __future__ import annotations

from tuning_core.training.datasets.declared import (
    KNOWN_SHAPES,
    KNOWN_STORED_BYTES,
    check_data_fits,
    example_count,
    image_preparation,
    image_shape_of,
)
from tuning_core.training.datasets.folders import load_folder
from tuning_core.training.datasets.idx import IDX_NAMES, find_idx_file, idx_shape, read_idx

# The exported Keras script's loader and tests use these two by their module-level names.
from tuning_core.training.datasets.images import MAX_CLASSES
from tuning_core.training.datasets.images import _as_images as _as_images
from tuning_core.training.datasets.images import _as_labels as _as_labels
from tuning_core.training.datasets.limits import DATASET_MEMORY_SHARE, check_fits_in_memory
from tuning_core.training.datasets.loading import Dataset, dataset_for, load_dataset
from tuning_core.training.datasets.named import (
    DOWNLOAD_TIMEOUT_S,
    KERAS_DATASETS,
    REPOSITORY_MNIST,
    load_digits_arrays,
    load_keras_dataset,
)
from tuning_core.training.datasets.npz import NPZ_KEYS, npz_header_shapes
from tuning_core.training.datasets.splits import ordered_split, stratified_split, stratified_subset

__all__ = [
    "DATASET_MEMORY_SHARE",
    "DOWNLOAD_TIMEOUT_S",
    "IDX_NAMES",
    "KERAS_DATASETS",
    "KNOWN_SHAPES",
    "KNOWN_STORED_BYTES",
    "MAX_CLASSES",
    "NPZ_KEYS",
    "REPOSITORY_MNIST",
    "Dataset",
    "check_data_fits",
    "check_fits_in_memory",
    "dataset_for",
    "example_count",
    "find_idx_file",
    "idx_shape",
    "image_preparation",
    "image_shape_of",
    "load_dataset",
    "load_digits_arrays",
    "load_folder",
    "load_keras_dataset",
    "npz_header_shapes",
    "ordered_split",
    "read_idx",
    "stratified_split",
    "stratified_subset",
]
