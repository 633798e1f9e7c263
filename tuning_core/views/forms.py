"""The New-study form's logic, kept out of the page: spec building and checks.

Each hyperparameter control yields a :class:`Control`: fixed at one value, or tuned over a
range (numbers) or a set (choices). :func:`build_spec` turns the form into a spec document in
exactly the format the CLI runs; :func:`form_problems` explains what blocks the Start button.
The controls (form_controls), a loaded spec (form_loading), the estimates (form_estimates) and
the learning-rate specs (learning_rate_specs) live beside it and are re-exported here.
"""

from __future__ import annotations

import os
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.memory import default_memory_limit, memory_problem
from tuning_core.engine.pruners import OPTION_KEYS
from tuning_core.engine.spec import parse_spec
from tuning_core.training import datasets
from tuning_core.training.tables import objective_is_table

# Split out by what they hold; re-exported here, where the pages and the tests have always
# found them.
from tuning_core.views.form_controls import (  # noqa: F401
    Control,
    format_number,
    slider_options,
    value_ladder,
)
from tuning_core.views.form_estimates import (  # noqa: F401
    DASK_START_SECONDS,
    count_training_examples,
    estimate_seconds,
    format_duration,
    space_size,
)
from tuning_core.views.form_loading import (  # noqa: F401
    OBJECTIVE_EXTRAS,
    UPLOAD_SOURCE,
    form_values,
    spec_from_upload,
    spec_to_controls,
)
from tuning_core.views.learning_rate_specs import (  # noqa: F401
    is_learning_rate_comparison,
    learning_rate_comparison_problem,
    learning_rate_comparison_spec,
    log_spaced,
    nearest,
    tune_around_spec,
)
from tuning_core.views.table_form import table_problem
from tuning_core.workers import dask_address_problem

# The form asks for a smaller grid than a spec may hold: a class watches every point.
MAX_FORM_GRID_POINTS = 1000


def build_spec(
    name: str,
    dataset: str,
    model: str,
    controls: list[Control],
    strategy: dict[str, Any],
    trials: int,
    minutes: float | None,
    train_limit: int | None = None,
    objective_extras: dict[str, Any] | None = None,
    loaded_names: list[str] | None = None,
    pruner: dict[str, Any] | None = None,
    budget_extras: dict[str, Any] | None = None,
    parallel: int = 1,
) -> dict[str, Any]:
    """A spec document from the form; epochs come from its control (fixed, or the range's top).

    ``pruner`` is the early-stopping rule (left out when none); ``budget_extras`` carries
    budget fields with no widget (an epoch budget) from a loaded spec; ``parallel`` is how
    many trials run at once (written only above 1, as the engine writes it).

    ``objective_extras`` carries objective fields the form has no widget for (the metric,
    the validation split) from a loaded spec, and ``loaded_names`` that spec's space names: a
    control it did not name, left at its default, stays out of the space. So a loaded spec
    round-trips exactly, and a study the CLI started resumes from the form.
    """
    extras = dict(objective_extras or {})
    space = {
        control.name: control.to_space_entry()
        for control in controls
        if control.name != "epochs" and not _untouched_default(control, loaded_names)
    }
    epochs_control = next((c for c in controls if c.name == "epochs"), None)
    epochs = 10
    if epochs_control is not None:
        if epochs_control.tuned:
            space["epochs"] = epochs_control.to_space_entry()
            epochs = int(extras.pop("epochs", None) or epochs_control.high)
        else:
            epochs = int(epochs_control.value)
    objective: dict[str, Any] = {
        "type": "keras",
        "dataset": dataset,
        "model": model,
        "epochs": epochs,
    }
    if train_limit:
        objective["train_limit"] = int(train_limit)
    extras.pop("epochs", None)
    objective.update(extras)
    # Rounding undoes the float error of seconds -> minutes -> seconds (100 s = 1.666… min).
    seconds = None if not minutes else round(float(minutes) * 60, 6)
    spec = {
        "name": name,
        "objective": objective,
        "space": space,
        "strategy": strategy,
        "budget": {"trials": int(trials), "seconds": seconds, **(budget_extras or {})},
    }
    if pruner and pruner.get("type", "none") != "none":
        most = int(epochs_control.high if epochs_control and epochs_control.tuned else epochs)
        spec["pruner"] = fit_pruner_options(pruner, most)
    if int(parallel) != 1:
        spec["parallel"] = int(parallel)
    return spec


def fit_pruner_options(pruner: dict[str, Any], most_epochs: int) -> dict[str, Any]:
    """The pruner the form runs: a loaded spec's options that the chosen type takes and that
    still fit the form's epochs (a spec's canonical form writes its derived ``max_epochs``,
    which must follow the epochs slider, not pin it)."""
    kind = pruner["type"]
    options = {key: pruner[key] for key in OPTION_KEYS[kind] if key in pruner}
    if options.get("max_epochs", most_epochs) >= most_epochs:
        options.pop("max_epochs", None)
    most = options.get("max_epochs", most_epochs)
    if options.get("min_epochs", 1) >= most:
        options.pop("min_epochs", None)
    if options.get("warmup_epochs", 0) > most - 2:
        options.pop("warmup_epochs", None)
    return {"type": kind, **options}


def parallel_limit(loaded: int = 1) -> int:
    """The most trials the form lets run at once: this machine's cores (or a loaded spec's
    larger value, so it loads exactly)."""
    return max(os.cpu_count() or 1, int(loaded))


PARALLEL_HELP = (
    "How many trials run at the same time. Above 1 they run as Dask tasks on this machine, "
    "one process each sharing its cores, or on the Dask scheduler below."
)
DASK_HELP = (
    "Leave empty to run on this machine. To use a Dask cluster, start `dask scheduler` and "
    "`dask worker ADDRESS` on each machine, then give the scheduler's address here; its workers "
    "need Tuning Lab installed. Anyone who can reach the scheduler can run code on its workers: "
    "keep it on a private network."
)


def _untouched_default(control: Control, loaded_names: list[str] | None) -> bool:
    """A fixed control at its registry default that the loaded spec did not name."""
    if loaded_names is None or control.name in loaded_names or control.tuned:
        return False
    return control.value == hyperparams.REGISTRY[control.name].default


def form_problems(
    raw: dict[str, Any],
    controls: list[Control],
    storage: str | None = None,
    dask_address: str = "",
    start_conflict: str | None = None,
) -> list[str]:
    """Sentences explaining what is wrong with the form; an empty list means it can start.

    ``storage`` is the store's path, which an uploaded table must sit beside (it is not
    opened here). ``dask_address`` is the optional scheduler address (not part of the spec:
    Start passes it as ``run --dask``); a malformed one gets one sentence naming the field.
    ``start_conflict`` is what the store says against starting this spec now
    (``reports.start_check.start_conflict``, read by the caller), added last.
    """
    problems = []
    address_problem = dask_address_problem(dask_address)
    if address_problem:
        problems.append(address_problem)
    for control in controls:
        if control.tuned and control.values is not None and len(control.values) == 0:
            problems.append(f"{control.name}: pick at least one value to tune over, or fix it.")
        elif control.tuned and control.values is None and control.low == control.high:
            problems.append(
                f"{control.name}: the range is a single value; widen it or switch tuning off."
            )
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        return problems + [str(error)]
    # A single-value range already has its own sentence above; it also leaves no tuned
    # dimension, which must not be reported a second time as "every hyperparameter is fixed".
    tuned_controls = any(control.tuned for control in controls)
    if (
        not spec.space.dimensions
        and not tuned_controls
        and spec.strategy.type != "grid"
        and spec.budget.trials > 1
    ):
        problems.append(
            "Every hyperparameter is fixed, so each trial would repeat the same run: tune at "
            "least one, or set trials to 1."
        )
    if (
        spec.strategy.type == "bayesian"
        and int(spec.strategy.initial_points or 0) > spec.budget.trials
    ):
        problems.append(
            f"initial points ({spec.strategy.initial_points}) exceed the trial budget "
            f"({spec.budget.trials}): "
            "the surrogate would never be used."
        )
    if (
        spec.strategy.type == "grid"
        and spec.space.grid_size(int(spec.strategy.levels or 0)) > MAX_FORM_GRID_POINTS
    ):
        problems.append(
            f"The grid has over {MAX_FORM_GRID_POINTS} points: lower the levels or tune fewer "
            "hyperparameters."
        )
    is_table = objective_is_table(spec.objective)
    image_shape = None if is_table else datasets.image_shape_of(spec.objective.dataset)
    if is_table:
        # Read as the worker will (an upload or a file inside the project only).
        problem = table_problem(spec, storage)
        if problem:
            problems.append(problem)
    elif image_shape is None:
        # The same words whether the path is missing or unreadable: the form must not tell a
        # visitor which paths exist on this machine.
        problems.append(
            f"dataset: {brief(spec.objective.dataset)} cannot be read as a dataset "
            "(a folder of MNIST-format IDX files or an .npz)."
        )
    else:
        try:
            problem = memory_problem(spec, image_shape, default_memory_limit())
        except SpecError as error:  # a malformed $TUNING_LAB_MEMORY_LIMIT
            problem = str(error)
        if problem:
            problems.append(problem)
    if start_conflict:
        problems.append(start_conflict)
    return problems
