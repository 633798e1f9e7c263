"""Loading a dataset for a Keras trial: by name or path, checked against the memory limit,
read, turned into images and labels, and split, as a :class:`Dataset`; any other failure of
the data is one sentence naming it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserModelSpec
from tuning_core.training.datasets.declared import check_data_fits
from tuning_core.training.datasets.folders import load_folder
from tuning_core.training.datasets.images import _as_images, _as_labels
from tuning_core.training.datasets.named import (
    KERAS_DATASETS,
    load_digits_arrays,
    load_keras_dataset,
)
from tuning_core.training.datasets.splits import ordered_split, stratified_split, stratified_subset


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
