from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MNIST_DIR
from tuning_core.engine.errors import DatasetError
from tuning_core.training.datasets import load_dataset, read_idx


def test_digits_is_scaled_split_and_stratified() -> None:
    data = load_dataset("digits", validation_split=0.2, seed=0)
    assert data.image_shape == (8, 8) and data.num_classes == 10
    assert len(data.x_train) + len(data.x_val) == 1797
    assert abs(len(data.x_val) - 0.2 * 1797) <= 1
    assert (
        data.x_train.dtype == np.float32 and data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    )
    train_share = np.bincount(data.y_train) / len(data.y_train)
    val_share = np.bincount(data.y_val) / len(data.y_val)
    assert np.abs(train_share - val_share).max() < 0.01
    again = load_dataset("digits", validation_split=0.2, seed=0)
    assert np.array_equal(again.y_val, data.y_val)
    assert not np.array_equal(load_dataset("digits", seed=1).y_val, data.y_val)


def test_real_mnist_idx_folder_gives_the_8k_2k_split() -> None:
    data = load_dataset(str(MNIST_DIR), validation_split=0.2, seed=0)
    assert data.image_shape == (28, 28)
    assert (len(data.x_train), len(data.x_val)) == (8000, 2000)
    assert data.x_train.max() == pytest.approx(1.0) and data.x_train.min() == 0.0
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    ordered = load_dataset(str(MNIST_DIR), validation_split=0.2, split="ordered")
    assert np.array_equal(ordered.y_val, labels[8000:])  # Keras' own validation_split: the last 20%
    limited = load_dataset(str(MNIST_DIR), train_limit=500, seed=0)
    assert len(limited.x_train) == 500 and len(limited.x_val) == 2000


def test_npz_with_one_split_is_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(200, 12, 12), dtype=np.uint8)
    y = np.repeat(np.arange(4), 50)
    np.savez(tmp_path / "shapes.npz", x_train=x, y_train=y)
    data = load_dataset(str(tmp_path), validation_split=0.25)
    assert (len(data.x_train), len(data.x_val)) == (150, 50)
    assert data.num_classes == 4 and data.x_train.max() <= 1.0
    direct = load_dataset(str(tmp_path / "shapes.npz"), validation_split=0.25)
    assert np.array_equal(direct.y_val, data.y_val)


def test_npz_holding_a_pickle_is_rejected(tmp_path: Path) -> None:
    objects = np.array([{"evil": 1}, {"evil": 2}], dtype=object)
    np.savez(tmp_path / "bad.npz", x_train=objects, y_train=np.array([0, 1]))
    with pytest.raises(DatasetError, match="pickled objects"):
        load_dataset(str(tmp_path / "bad.npz"))


def test_idx_errors_are_sentences(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(
            b"\x00\x00\x08\x03"
            + (5).to_bytes(4, "big")
            + (28).to_bytes(4, "big") * 2
            + b"\x00" * 10
        )
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="objective.dataset must be digits, mnist"):
        load_dataset(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.keras
def test_offline_keras_download_fails_fast_with_advice(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # an empty cache
    started = time.monotonic()
    with pytest.raises(DatasetError) as error:
        load_dataset(name)
    assert time.monotonic() - started < 60
    message = str(error.value)
    assert message.startswith(f"objective.dataset: {name} could not be downloaded")
    assert "set objective.dataset to that folder's path" in message
