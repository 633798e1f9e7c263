"""``export --format keras-script``: a standalone Keras 3 script for a study's best trial.

The script spells the model out layer by layer, so a student can read exactly what was
trained: the same data split and scaling, the same reshape, the same optimizer and learning
rate. It needs keras, numpy and scikit-learn, not Tuning Lab. No TensorFlow is imported here.
"""

from __future__ import annotations

import inspect

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.model_plan import IMAGE_LOSS, IMAGE_METRICS, optimizer_call
from tuning_core.engine.records import best_trial
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.storage import Store, StudyRecord
from tuning_core.reports.model_source import compile_source, image_plan_lines
from tuning_core.reports.table_script import table_script
from tuning_core.training import keras_runtime

_LOADERS = {
    "digits": '''\
def load_images():
    """scikit-learn's bundled 8x8 digits; pixel values 0..16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, digits.target
''',
    "keras": '''\
def load_images():
    """Keras' own download and cache; the training split is tuned on."""
    (x, y), _ = keras.datasets.{name}.load_data()
    return x / 255.0, y
''',
    "folder": '''\
def read_idx(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_images():
    """MNIST-format IDX files (train split if present, else t10k) or an .npz, from DATASET."""
    folder = pathlib.Path(DATASET).expanduser()
    if folder.suffix == ".npz" or not folder.is_dir():
        npz = folder if folder.suffix == ".npz" else next(folder.glob("*.npz"))
        with np.load(npz, allow_pickle=False) as archive:
            x, y = archive["x_train"], archive["y_train"]
    else:
        for split in ("train", "t10k"):
            images = sorted(folder.glob(split + "-images-idx3-ubyte*"))
            labels = sorted(folder.glob(split + "-labels-idx1-ubyte*"))
            if images and labels:
                x, y = read_idx(images[0]), read_idx(labels[0])
                break
    # As the study's loader: only 8-bit pixels are scaled; other images are used as stored.
    return (x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")), y
''',
}

_TEMPLATE = '''\
#!/usr/bin/env python3
"""Rebuild and train trial {number} of the Tuning Lab study {study!r}.

It scored {metric} = {value:.6g} (best epoch). Hyperparameters:
{param_lines}
Run: python {filename} [--epochs N] [--train-limit N] [--save model.keras]
"""
import argparse
import gzip
import pathlib
import struct

import numpy as np
from sklearn.model_selection import train_test_split

DATASET = {dataset!r}
VALIDATION_SPLIT = {validation_split!r}
SPLIT = {split!r}  # "stratified" (shuffled, class-balanced) or "ordered" (the last fraction)
TRAIN_LIMIT = {train_limit!r}
SEED = {seed!r}
EPOCHS = {epochs!r}
BATCH_SIZE = {batch_size!r}


def build_model(image_shape, num_classes):
    model = keras.Sequential(
        [
{layers}
        ]
    )
    model.compile(
        optimizer={optimizer},
        loss={loss},
        metrics={metrics},
    )
    return model


{loader}

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-limit", type=int, default=TRAIN_LIMIT)
    parser.add_argument("--save", help="write the trained model to this .keras file")
    args = parser.parse_args()
    keras.utils.set_random_seed(SEED)
    x, y = load_images()
    x = x.astype("float32")
    if SPLIT == "ordered":
        cut = int(round(len(x) * (1 - VALIDATION_SPLIT)))
        x_train, x_val, y_train, y_val = x[:cut], x[cut:], y[:cut], y[cut:]
    else:
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=VALIDATION_SPLIT, stratify=y, random_state=SEED
        )
    if args.train_limit and args.train_limit < len(x_train):
        x_train, _, y_train, _ = train_test_split(
            x_train, y_train, train_size=args.train_limit, stratify=y_train, random_state=SEED
        )
    {reshape}
    model = build_model(x.shape[1:3], int(y.max()) + 1)
    model.fit(
        x_train,
        y_train,
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=(x_val, y_val),
        verbose=2,
    )
    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
    print(f"val_loss={{loss:.4f}} val_accuracy={{accuracy:.4f}}")
    if args.save:
        model.save(args.save)


{quiet_import}


keras = import_keras()  # build_model and load_images above use it when main() calls them

if __name__ == "__main__":
    main()
'''


def _quiet_import_source() -> str:
    """tuning_core.training.keras_runtime as script text, so the script starts as quietly as the
    CLI.
    """
    source = inspect.getsource(keras_runtime)
    body = source.split('"""', 2)[2].replace("from __future__ import annotations\n", "")
    header = (
        "# Plumbing, after the model on purpose: import Keras with TensorFlow's native start-up\n"
        "# chatter filtered out (fd 2). Nothing below changes what is trained."
    )
    return header + "\n" + body.strip()


def keras_script(store: Store, study: StudyRecord, filename: str | None = None) -> str:
    """The script's source text for the study's best complete trial.

    ``filename`` is what the docstring's "Run:" line names (default ``<study>_best.py``).
    """
    objective = study.spec.objective
    if isinstance(objective, (UserFunctionSpec, UserModelSpec)):
        # Never a fake: the study trained the user's own code, not a model this script builds.
        target = objective.target
        raise SpecError(
            f"name: the study {study.name!r} tuned your own "
            f"{'build_model' if isinstance(objective, UserModelSpec) else 'objective'} "
            f"{target}, not a built-in model, so no Keras script is written for it; export "
            f"--format script writes one that calls {target} with the best params, and "
            "--format params the params as JSON."
        )
    if not isinstance(objective, KerasObjectiveSpec):
        raise SpecError(
            f"name: the study {study.name!r} has a function objective; only Keras studies export "
            "a script."
        )
    best = best_trial(store.trials(study.id), study.spec.direction)
    if best is None:
        raise SpecError(f"name: the study {study.name!r} has no complete trial to export yet.")
    model = objective.model
    hp = hyperparams.trial_hyperparams(model, objective.epochs, best.params)
    if objective.table is not None and objective.table.preparation:
        return table_script(
            study, best, hp, filename or f"{study.name}_best.py", _quiet_import_source()
        )
    dataset = objective.dataset
    if dataset == "digits":
        loader = _LOADERS["digits"]
    elif dataset in ("mnist", "fashion_mnist"):
        loader = _LOADERS["keras"].format(name=dataset)
    else:
        loader = _LOADERS["folder"]
    reshape = (
        "x_train, x_val = x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)  # "
        "flat pixels for the MLP"
        if model == "mlp"
        else "x_train, x_val = x_train[..., np.newaxis], x_val[..., np.newaxis]  # one channel"
    )
    return _TEMPLATE.format(
        number=best.number,
        study=study.name,
        metric=objective.metric,
        value=best.value,
        param_lines="\n".join(f"  {name} = {value!r}" for name, value in sorted(hp.items())),
        filename=filename or f"{study.name}_best.py",
        quiet_import=_quiet_import_source(),
        dataset=dataset,
        validation_split=objective.validation_split,
        split=objective.split,
        train_limit=objective.train_limit,
        seed=study.spec.seed,
        epochs=int(hp["epochs"]),
        batch_size=int(hp["batch_size"]),
        loader=loader,
        layers="\n".join(" " * 12 + line for line in image_plan_lines(model, hp)),
        **compile_source(optimizer_call(hp), IMAGE_LOSS, IMAGE_METRICS),
        reshape=reshape,
    )
