"""``export --format keras-script``: a standalone Keras 3 script for a study's best trial.

The script spells the model out layer by layer, so a student can read exactly what was
trained: the same data split and scaling, the same reshape, the same optimizer and learning
rate. It needs keras, numpy and scikit-learn (psutil too for a folder of files), not Tuning
Lab. Its data loading and split are the library's own functions (training/datasets/), copied
in at export by ``source_bundle``, as keras_runtime's quiet import is: a standalone script
that cannot drift from what the study trained on. No TensorFlow is imported here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.model_plan import IMAGE_LOSS, IMAGE_METRICS, optimizer_call
from tuning_core.engine.records import best_trial
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.storage import Store, StudyRecord
from tuning_core.reports.model_source import compile_source, image_plan_lines
from tuning_core.reports.source_bundle import bundle
from tuning_core.reports.table_script import table_script
from tuning_core.training import datasets, keras_runtime

_TEMPLATE = '''\
#!/usr/bin/env python3
"""Rebuild and train trial {number} of the Tuning Lab study {study!r}.

It scored {metric} = {value:.6g} (best epoch). Hyperparameters:
{param_lines}
Run: python {filename} [--epochs N] [--train-limit N] [--save model.keras]
"""
from __future__ import annotations

import argparse
import pathlib

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-limit", type=int, default=TRAIN_LIMIT)
    parser.add_argument("--save", help="write the trained model to this .keras file")
    args = parser.parse_args()
    keras.utils.set_random_seed(SEED)
    data = load_split(args.train_limit)
    x_train, y_train, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    print(
        f"{{len(x_train)}} training and {{len(x_val)}} validation images; the first validation "
        f"labels: {{' '.join(str(label) for label in y_val[:10])}}"
    )
    {reshape}
    model = build_model(data.image_shape, data.num_classes)
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


# The data, loaded, scaled and split as the study did: below load_split, the functions are
# Tuning Lab's own (training/datasets/ and the errors they raise), copied when exported.
def load_split(train_limit):
    arrays = {load_call}
    part = "train" if "x_train" in arrays else "test"  # a test split only when it is alone
    x, y = _as_images(arrays["x_" + part]), _as_labels(arrays["y_" + part])
    if SPLIT == "ordered":
        x_train, y_train, x_val, y_val = ordered_split(x, y, VALIDATION_SPLIT)
    else:
        x_train, y_train, x_val, y_val = stratified_split(x, y, VALIDATION_SPLIT, SEED)
    if train_limit and train_limit < len(x_train):
        x_train, _, y_train, _ = stratified_subset(x_train, y_train, train_limit, SEED)
    return Dataset(x_train, y_train, x_val, y_val, DATASET)


{data_source}


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


def _data_source(loader: Callable[..., Any]) -> str:
    """``loader`` and what the script's load_split calls after it, as script text: the
    library's own definitions (see ``source_bundle``); Keras comes from the script's
    import_keras."""
    roots = [
        loader,
        datasets._as_images,
        datasets._as_labels,
        datasets.ordered_split,
        datasets.stratified_split,
        datasets.stratified_subset,
        datasets.Dataset,
    ]
    return bundle(roots, provided=["tuning_core.training.keras_runtime.import_keras"])


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
        loader, load_call = datasets.load_digits_arrays, "load_digits_arrays()"
    elif dataset in datasets.KERAS_DATASETS:
        loader, load_call = datasets.load_keras_dataset, "load_keras_dataset(DATASET)"
    else:
        loader, load_call = datasets.load_folder, "load_folder(pathlib.Path(DATASET).expanduser())"
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
        load_call=load_call,
        data_source=_data_source(loader),
        layers="\n".join(" " * 12 + line for line in image_plan_lines(model, hp)),
        **compile_source(optimizer_call(hp), IMAGE_LOSS, IMAGE_METRICS),
        reshape=reshape,
    )
