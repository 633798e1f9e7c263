"""The datasets known by name: scikit-learn's bundled digits (offline), and MNIST or
Fashion-MNIST through Keras' own loader and cache (a download, told where to put the files
when offline); and the real MNIST test split this repository carries.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from tuning_core.engine.errors import DatasetError
from tuning_core.training.keras_runtime import import_keras

# The real MNIST test split (10,000 images) that this repository carries for its tests,
# benchmarks and offline demos; see tests/data/mnist/README.md for its provenance.
REPOSITORY_MNIST = Path(__file__).resolve().parents[3] / "tests" / "data" / "mnist"
KERAS_DATASETS = {"mnist": "mnist.npz", "fashion_mnist": None}
DOWNLOAD_TIMEOUT_S = 20


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
