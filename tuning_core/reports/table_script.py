"""``export --format keras-script`` for a table study: a standalone script that reads the same
file, repeats the stored preparation (the parameters fitted on the study's training split,
not fitted again), makes the same split and trains the same model. It needs keras, numpy,
scikit-learn and psutil, not Tuning Lab: reading, preparing and splitting the table are
training/tables/'s own functions, copied in at export (``source_bundle``).
"""

from __future__ import annotations

import json
from typing import Any

from tuning_core.engine.model_plan import table_plan
from tuning_core.engine.records import TrialRecord
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.storage import StudyRecord
from tuning_core.engine.tasks import REGRESSION
from tuning_core.reports.model_source import compile_source, plan_lines
from tuning_core.reports.source_bundle import bundle
from tuning_core.training import tables

_TEMPLATE = '''\
#!/usr/bin/env python3
"""Rebuild and train trial {number} of the Tuning Lab study {study!r} on its table.

It scored {metric} = {value:.6g} (best epoch). Hyperparameters:
{param_lines}
Preparation (fitted on the study's training split; repeated here from its stored parameters):
{summary_lines}
Run: python {filename} [--epochs N] [--save model.keras]
"""
from __future__ import annotations

import argparse
import json

{quiet_import}

keras = import_keras()

DATASET = {dataset!r}
SEED = {seed!r}
EPOCHS = {epochs!r}
BATCH_SIZE = {batch_size!r}
METRIC = {metric!r}
MAXIMIZE = {maximize!r}
# The preparation as the study stored it: the task, the classes, each feature column's
# mean and deviation or categories, and the split.
PREPARATION = json.loads(
    {preparation!r}
)


def build_model():
    model = keras.Sequential(
        [
{layers}
        ]
    )
    model.compile(
        optimizer={optimizer}, loss={loss}, loss_weights={loss_weights}, metrics={metrics}
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--save", help="write the trained model to this .keras file")
    args = parser.parse_args()
    data = apply_preparation(read_table(DATASET), PREPARATION)
    tests = 0 if data.x_test is None else len(data.x_test)
    print(
        f"{{len(data.x_train)}} training, {{len(data.x_val)}} validation and {{tests}} test rows; "
        f"the first validation targets: {{' '.join(str(v) for v in data.y_val[:10].tolist())}}"
    )
    keras.utils.set_random_seed(SEED)
    model = build_model()
    history = model.fit(
        data.x_train,
        outputs(data.y_train),
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=(data.x_val, outputs(data.y_val)),
        verbose=2,
    ).history
    scores = history[METRIC]
    best = max(scores) if MAXIMIZE else min(scores)
    print(f"best {{METRIC}}={{best:.6g}} (epoch {{scores.index(best) + 1}})")
    if tests:
        tested = model.evaluate(
            data.x_test, outputs(data.y_test), verbose=0, return_dict=True
        )
        print("test " + " ".join(f"{{k}}={{v:.4g}}" for k, v in tested.items()))
    if args.save:
        model.save(args.save)


def outputs(labels):
    return {target_shape}


# The table, read and prepared with the stored parameters and split as the study did: the
# functions below are Tuning Lab's own (training/tables/ and what it uses), copied when
# exported.
{data_source}


if __name__ == "__main__":
    main()
'''


def _target_shape(task: str, classes: int) -> str:
    """The targets as the model's output takes them (``table_objective.targets_for``)."""
    if task == REGRESSION:
        return 'labels.reshape(-1, 1).astype("float32")  # one linear output'
    if classes == 2:
        return 'labels.reshape(-1, 1).astype("float32")  # one sigmoid output'
    return "labels  # class indices"


def table_script(
    study: StudyRecord,
    best: TrialRecord,
    hp: dict[str, Any],
    filename: str,
    quiet_import: str,
) -> str:
    """The script's source text for a table study's best trial (``hp``: its hyperparameters
    with the model's defaults)."""
    objective = study.spec.objective
    # keras_script sends only a Keras objective whose table has its stored preparation.
    assert isinstance(objective, KerasObjectiveSpec) and objective.table is not None
    preparation = objective.table.preparation
    assert preparation is not None
    task, classes = preparation["task"], len(preparation["classes"] or [])
    plan = table_plan(
        hp, int(preparation["features"]), task, classes, preparation.get("target_scale")
    )
    summary = preparation["summary"].split("; ")
    return _TEMPLATE.format(
        number=best.number,
        study=study.name,
        metric=objective.metric,
        value=best.value,
        param_lines="\n".join(f"  {name} = {value!r}" for name, value in sorted(hp.items())),
        summary_lines="\n".join(f"  {part}" for part in summary),
        filename=filename,
        quiet_import=quiet_import,
        dataset=objective.dataset,
        seed=study.spec.seed,
        epochs=int(hp["epochs"]),
        batch_size=int(hp["batch_size"]),
        maximize=objective.direction is Direction.MAXIMIZE,
        preparation=json.dumps(preparation),
        layers="\n".join(" " * 12 + line for line in plan_lines(plan)),
        **compile_source(plan.optimizer, plan.loss, plan.metrics, plan.loss_weight),
        target_shape=_target_shape(task, classes),
        data_source=bundle(
            [tables.read_table, tables.apply_preparation],
            provided=["tuning_core.training.keras_runtime.import_keras"],
        ),
    )
