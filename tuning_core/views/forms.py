"""The New-study form's logic, kept out of the page: spec building, checks, estimates.

Each hyperparameter control yields a :class:`Control`: fixed at one value, or tuned over a
range (numbers) or a set (choices). :func:`build_spec` turns the form into a spec document in
exactly the format the CLI runs; :func:`form_problems` explains what blocks the Start button.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.memory import default_memory_limit, memory_problem
from tuning_core.engine.pruners import OPTION_KEYS, expected_epoch_fraction
from tuning_core.engine.space import ChoiceDimension
from tuning_core.engine.spec import (
    BUILTIN_DATASETS,
    MAX_SPEC_BYTES,
    StudySpec,
    parse_spec,
    parse_spec_text,
)
from tuning_core.engine.spec_parts import FunctionObjectiveSpec
from tuning_core.training import datasets
from tuning_core.training.tables import objective_is_table
from tuning_core.views.table_form import table_problem
from tuning_core.workers import dask_address_problem

# The form asks for a smaller grid than a spec may hold: a class watches every point.
MAX_FORM_GRID_POINTS = 1000


def format_number(value: float) -> str:
    """1e-05 -> '0.00001'; 0.0005 -> '0.0005'; 1.0 -> '1'; 512 -> '512'."""
    if value == 0:
        return "0"
    if float(value).is_integer():
        return str(int(value))
    decimals = max(0, -math.floor(math.log10(abs(value)))) + 2
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


@dataclass
class Control:
    """One hyperparameter's setting on the form."""

    name: str
    tuned: bool
    value: Any = None  # fixed value
    low: Any = None  # tuned numeric range
    high: Any = None
    values: list[Any] | None = None  # tuned choice set
    log: bool | None = None  # a range's scale; None: the registry's, where the range allows

    def to_space_entry(self) -> Any:
        if not self.tuned:
            return self.value
        if self.values is not None:
            return {"type": "choice", "values": list(self.values)}
        entry = hyperparams.REGISTRY[self.name]
        kind = "int" if entry.kind == "int" else "float"
        # A log range cannot start at 0 (l2's ladder does): such a range is searched linearly.
        log = (entry.log if self.log is None else self.log) and float(self.low) > 0
        low, high = (
            (int(self.low), int(self.high))
            if kind == "int"
            else (float(self.low), float(self.high))
        )
        return {"type": kind, "low": low, "high": high, "log": log}


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


def spec_to_controls(raw: dict[str, Any]) -> dict[str, Control]:
    """Controls that reproduce a loaded spec's space (for the form's "load spec" button)."""
    controls: dict[str, Control] = {}
    for name, entry in raw.get("space", {}).items():
        if isinstance(entry, dict) and entry.get("type") == "choice":
            controls[name] = Control(name, True, values=list(entry.get("values", [])))
        elif isinstance(entry, dict):
            controls[name] = Control(
                name, True, low=entry.get("low"), high=entry.get("high"), log=entry.get("log")
            )
        else:
            controls[name] = Control(name, False, value=entry)
    objective = raw.get("objective", {})
    if "epochs" not in controls and "epochs" in objective:
        controls["epochs"] = Control("epochs", False, value=objective["epochs"])
    return controls


def form_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The New-study widgets' values (by widget name) that reproduce a spec document.

    Pages hand the form a spec, never widget names: this is the one place that knows how a
    spec maps onto the form's widgets. Names absent from the spec keep the form's defaults.
    """
    objective = raw.get("objective", {})
    values: dict[str, Any] = {"name": raw.get("name", "")}
    dataset = objective.get("dataset", "digits")
    values["dataset"] = dataset if dataset in BUILTIN_DATASETS else "folder"
    if values["dataset"] == "folder":
        values["folder"] = dataset
    values["model"] = objective.get("model", "mlp")
    values["train_limit"] = int(objective.get("train_limit") or 0)
    # What the loaded spec does not name is fixed at its default (the form would otherwise
    # tune the learning rate, as it does for a new study).
    values.update({f"tune_{name}": False for name in hyperparams.REGISTRY})
    for name, control in spec_to_controls(raw).items():
        if name == "optimizer":  # one multiselect: one value fixes it, several tune it
            values["optimizer"] = control.values if control.tuned else [control.value]
            continue
        values[f"tune_{name}"] = control.tuned
        if control.tuned and control.values is not None:
            values[f"{name}_set"] = control.values
            if hyperparams.REGISTRY[name].kind != "choice":
                values[f"{name}_mode"] = "values"
        elif control.tuned:
            values[f"{name}_range"] = (control.low, control.high)
            values[f"{name}_log"] = bool(control.log)
        else:
            values[name] = control.value
    strategy = raw.get("strategy", {})
    values["strategy"] = strategy.get("type", "bayesian")
    for key in ("levels", "surrogate", "acquisition", "initial_points", "seed"):
        if key in strategy:
            values[key] = strategy[key]
    budget = raw.get("budget", {})
    values["trials"] = int(budget.get("trials", 10))
    values["minutes"] = float(budget.get("seconds") or 0) / 60
    values["budget_extras"] = {key: budget[key] for key in ("epochs",) if key in budget}
    parallel = raw.get("parallel", 1)
    values["parallel"] = parallel if isinstance(parallel, int) and parallel >= 1 else 1
    pruner = raw.get("pruner") if isinstance(raw.get("pruner"), dict) else {}
    values["pruner"] = pruner.get("type", "none")
    # Options with no widget (warm-ups, reduction factor...) ride along with the choice.
    values["pruner_options"] = {key: value for key, value in pruner.items() if key != "type"}
    extras = {key: objective[key] for key in OBJECTIVE_EXTRAS if key in objective}
    if isinstance(raw.get("space", {}).get("epochs"), dict) and "epochs" in objective:
        extras["epochs"] = objective["epochs"]  # the default a tuned range does not show
    values["objective_extras"] = extras
    values["loaded_names"] = list(raw.get("space", {}))
    return values


# Objective fields with no widget on the form, carried through from a loaded spec.
OBJECTIVE_EXTRAS = ("metric", "direction", "validation_split", "split")
# A table's fields ride along too (the form names the file in its folder field).
OBJECTIVE_EXTRAS += ("target", "task", "impute", "test_split")
UPLOAD_SOURCE = "The uploaded file"


def spec_from_upload(data: bytes) -> dict[str, Any]:
    """A spec file's bytes, validated exactly as the CLI validates a file, as the canonical
    spec document the form loads; raises :class:`SpecError` with one sentence."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{UPLOAD_SOURCE} is over {MAX_SPEC_BYTES // 1000:,} kB, too large for a spec."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{UPLOAD_SOURCE} is not UTF-8 text.") from None
    spec = parse_spec_text(text, UPLOAD_SOURCE)
    # A python objective (the user's own code) loads too, into New study's confirm step
    # (dashboard/user_code.py), never into the Keras form.
    if isinstance(spec.objective, FunctionObjectiveSpec):
        raise SpecError(
            f"objective.type: this page builds Keras studies and runs your own python ones; "
            f"run a {spec.objective.type} study with python -m tuning_core run."
        )
    return spec.to_json()


def value_ladder(entry: hyperparams.HyperParameter) -> tuple[float, ...]:
    """The values a numeric control offers: its ladder, or its slider's steps."""
    if entry.ladder:
        return entry.ladder
    low, high, step = entry.slider
    steps = round((high - low) / step)
    values = (round(low + index * step, 10) for index in range(steps + 1))
    return tuple(int(v) if entry.kind == "int" else float(v) for v in values)


def slider_options(ladder: tuple[float, ...], *loaded: Any) -> list[Any]:
    """A select slider's values: the ladder plus any loaded value that is not on it, so a
    spec with, say, a learning rate of 0.0003 loads exactly."""
    extra = [value for value in loaded if isinstance(value, (int, float)) and value not in ladder]
    return sorted({*ladder, *extra})


def tune_around_spec(
    learning_rate: float, dataset: str, model: str, optimizer: str, epochs: int
) -> dict[str, Any]:
    """A Bayesian study tuning the learning rate from ``learning_rate``/10 to x10 (snapped to
    the slider's ladder), as the LR range test's "tune around it" button opens it."""
    ladder = hyperparams.REGISTRY["learning_rate"].ladder
    return {
        "name": f"tune-{dataset}-{model}",
        "objective": {"type": "keras", "dataset": dataset, "model": model, "epochs": int(epochs)},
        "space": {
            "learning_rate": {
                "type": "float",
                "low": nearest(learning_rate / 10, ladder),
                "high": nearest(learning_rate * 10, ladder),
                "log": True,
            },
            "optimizer": optimizer,
        },
        "strategy": {"type": "bayesian", "seed": 0},
        "budget": {"trials": 10},
    }


def count_training_examples(dataset: str, validation_split: float = 0.2) -> int | None:
    """Training examples after the split, from the dataset's headers; None if unknown."""
    count = datasets.example_count(dataset)
    return None if count is None else int(count * (1 - validation_split))


def space_size(raw: dict[str, Any]) -> str:
    """How big the search space is, in words (the exact point count for grid search)."""
    try:
        spec = parse_spec(raw)
    except SpecError:
        return "—"
    if spec.strategy.type == "grid":
        points = spec.space.grid_size(int(spec.strategy.levels or 0))
        return f"{points:,} grid points, {min(points, spec.budget.trials):,} will run"
    if not spec.space.dimensions:
        return "one configuration (nothing tuned)"
    if any(d.to_json()["type"] == "float" for d in spec.space.dimensions):
        count = len(spec.space.dimensions)
        return f"continuous, {count} tuned dimension{'s' if count > 1 else ''}"
    finite = 1
    for dimension in spec.space.dimensions:
        finite *= (
            len(dimension.values)
            if hasattr(dimension, "values")
            else int(dimension.high - dimension.low + 1)
        )
    return f"{finite:,} distinct configurations"


def estimate_seconds(
    raw: dict[str, Any],
    seconds_per_sample_unit: float = 3.4e-10,
    seconds_per_step: float = 2.5e-3,
    seconds_per_trial: float = 1.0,
) -> float | None:
    """A rough run time: 5 s to start, then per trial a second to build the model plus
    epochs x (steps x per-step overhead + examples x model size x cost per weight).

    With ``parallel`` N the trials run N at a time: the time of ceil(trials / N) trials in a
    row, plus a few seconds to start the Dask workers (each imports TensorFlow). On one machine
    the N trials share its cores, so the real gain is smaller than N (benchmarks/parallel.py
    measured 1.3x for 2 Keras trials at once on 2 cores); the page says it is an estimate.

    The constants were fitted to four digits studies timed on this project's 2-core CPU
    (MLPs of 64 to 2x1024 units at batch 16-128, and a CNN), each then within 10%; the page
    labels the result as an estimate. None when the dataset size is unknown.
    """
    try:
        spec = parse_spec(raw)
    except SpecError:
        return None
    objective = spec.objective  # the form's: a built-in Keras model
    examples = count_training_examples(objective.dataset, objective.validation_split)
    if examples is None:
        return None
    if objective.train_limit:
        examples = min(examples, objective.train_limit)
    pixels = 64 if objective.dataset == "digits" else 784

    def typical(name: str) -> float:
        dimension = spec.space.dimension(name)
        if dimension is None:
            value = hyperparams.trial_hyperparams(
                objective.model, objective.epochs, spec.space.fixed
            )[name]
            return float(value) if isinstance(value, (int, float)) else 1.0
        grid = dimension.grid(3)
        return float(grid[len(grid) // 2]) if isinstance(grid[0], (int, float)) else 1.0

    if objective.model == "mlp":
        weights = pixels * typical("units") + typical("units") ** 2 * max(
            typical("hidden_layers") - 1, 0
        )
    else:
        weights = pixels * typical("filters") * 9 * 4  # convolutions cost more per weight
    epochs = typical("epochs") if "epochs" in spec.space.names else objective.epochs
    # A pruner stops most trials early: count the share of epochs it is expected to train.
    epochs *= expected_epoch_fraction(spec.pruner)
    steps = examples / typical("batch_size")
    per_epoch = steps * seconds_per_step + examples * weights * seconds_per_sample_unit
    trials = spec.budget.trials
    if spec.strategy.type == "grid":
        trials = min(trials, spec.space.grid_size(int(spec.strategy.levels or 0)))
    if spec.budget.epochs:
        # An epoch budget ends the study once that many epochs are trained, whatever the
        # trial budget: the trials it allows at the expected epochs a trial.
        trials = min(trials, math.ceil(spec.budget.epochs / epochs))
    at_once = min(spec.parallel, trials)
    # Trials in a row: each wave of N takes as long as one trial.
    waves = math.ceil(trials / at_once)
    start = 5.0 + (DASK_START_SECONDS if spec.parallel > 1 else 0.0)  # + TensorFlow import
    total = waves * (epochs * per_epoch + seconds_per_trial) + start
    if spec.budget.seconds:
        total = min(total, float(spec.budget.seconds))
    return total


# Starting a LocalCluster's worker processes (each then imports TensorFlow on its own).
DASK_START_SECONDS = 5.0


def nearest(value: float, ladder: list[float]) -> float:
    """The ladder value closest to ``value`` on a log scale (for snapping suggestions to
    sliders).
    """
    return min(
        ladder, key=lambda step: abs(math.log(step / value)) if step > 0 and value > 0 else math.inf
    )


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` values from low to high, evenly spaced in log, rounded to 2 significant digits."""
    if count == 1:
        return [low]
    ratio = (high / low) ** (1 / (count - 1))
    return [float(f"{low * ratio**i:.2g}") for i in range(count)]


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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


def learning_rate_comparison_spec(
    name: str,
    dataset: str,
    model: str,
    optimizer: str,
    learning_rates: list[float],
    epochs: int,
    batch_size: int,
    train_limit: int | None,
    seed: int = 0,
) -> dict[str, Any]:
    """One trial per learning rate, same model and seed: a grid over a learning-rate choice."""
    objective: dict[str, Any] = {
        "type": "keras",
        "dataset": dataset,
        "model": model,
        "epochs": int(epochs),
    }
    if train_limit:
        objective["train_limit"] = int(train_limit)
    return {
        "name": name,
        "objective": objective,
        "space": {
            "learning_rate": {"type": "choice", "values": [float(lr) for lr in learning_rates]},
            "optimizer": optimizer,
            "batch_size": int(batch_size),
        },
        "strategy": {"type": "grid", "seed": int(seed)},
        "budget": {"trials": len(learning_rates)},
    }


def learning_rate_comparison_problem(raw: dict[str, Any]) -> str | None:
    """Why a learning-rate comparison cannot start, in one sentence, or None."""
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        return str(error)
    if (
        not is_learning_rate_comparison(spec)
        or len(spec.space.dimension("learning_rate").values) < 2
    ):
        return "Pick a range wide enough for at least two different learning rates."
    return None


def is_learning_rate_comparison(spec: StudySpec) -> bool:
    """A grid over a choice of learning rates, as the learning-rate lab starts them."""
    return spec.strategy.type == "grid" and isinstance(
        spec.space.dimension("learning_rate"), ChoiceDimension
    )
