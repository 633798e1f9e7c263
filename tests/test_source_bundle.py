"""source_bundle: the library's own definitions as standalone text, which an exported script
embeds (the data loader and the split), run here apart from the modules they came from."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MNIST_DIR
from tuning_core.reports.source_bundle import bundle
from tuning_core.training import datasets, tables


def _run(text: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run ``text`` as a module of its own, as a script runs as ``__main__``."""
    module = types.ModuleType("bundled")
    monkeypatch.setitem(sys.modules, "bundled", module)  # a dataclass looks its module up
    exec(compile("from __future__ import annotations\n" + text, "bundled", "exec"), module.__dict__)
    return module.__dict__


def test_a_bundled_loader_reads_and_splits_as_the_library_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = bundle(
        [datasets.load_folder, datasets._as_images, datasets._as_labels, datasets.ordered_split],
        provided=["tuning_core.training.keras_runtime.import_keras"],
    )
    assert "tuning_core" not in text and "import numpy as np" in text
    # What load_folder reaches is copied too, the error class from engine/errors.py first.
    assert text.index("class DatasetError") < text.index("def read_idx(")
    bundled = _run(text, monkeypatch)
    assert bundled["load_folder"] is not datasets.load_folder
    arrays = bundled["load_folder"](MNIST_DIR)
    expected = datasets.load_folder(MNIST_DIR)
    x = bundled["_as_images"](arrays["x_test"])
    y = bundled["_as_labels"](arrays["y_test"])
    ours = datasets.ordered_split(datasets._as_images(expected["x_test"]), expected["y_test"], 0.2)
    theirs = bundled["ordered_split"](x, y, 0.2)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    # The copy raises its own DatasetError, with the library's sentence.
    try:
        bundled["load_folder"](MNIST_DIR / "no-such-folder")
    except bundled["DatasetError"] as error:
        assert str(error).startswith("objective.dataset must be digits")
    else:
        raise AssertionError("a missing folder was loaded")


def test_a_lazy_import_of_ours_is_bundled_and_a_shared_constant_written_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # tables.read_npz_table imports datasets.load_folder inside itself; both modules define
    # DATASET_MEMORY_SHARE = 0.5.
    text = bundle([tables.read_table, tables.apply_preparation])
    assert "tuning_core" not in text
    assert text.count("\ndef load_folder(") == 1
    assert text.count("\nDATASET_MEMORY_SHARE = ") == 1
    bundled = _run(text, monkeypatch)
    path = tmp_path / "table.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(40, 3)), y_train=rng.integers(0, 2, 40))
    theirs, ours = bundled["read_table"](str(path)), tables.read_table(str(path))
    assert theirs.rows == ours.rows == 40
    assert [c.name for c in theirs.columns] == [c.name for c in ours.columns]
    with pytest.raises(bundled["DatasetError"], match="must be 2-D"):
        bundled["read_table"](str(MNIST_DIR))  # images, not a table
