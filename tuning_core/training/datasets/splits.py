"""The validation split of images and labels: stratified (shuffled, class-balanced, seeded) or
ordered (the last fraction, as Keras' own ``validation_split`` takes it), and a stratified
subset of the training part for a ``train_limit``. scikit-learn loads only when one is made.
"""

from __future__ import annotations

import numpy as np


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
