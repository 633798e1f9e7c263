"""The study spec: one JSON document that the CLI runs and the dashboard writes.

:func:`parse_spec` validates a whole spec and returns a :class:`StudySpec`; every problem
raises :class:`SpecError` with one sentence naming the field. Defaults are filled in, so
``StudySpec.to_json()`` is the complete, canonical form that the store keeps. The parts'
classes live in engine/spec_parts.py and the objective's parsing in engine/objective_spec.py;
this module parses the rest (strategy, budget, pruner, Dask settings) and reads spec files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objective_spec import parse_objective
from tuning_core.engine.objectives import MAX_FUNCTION_EPOCHS, MEASURES
from tuning_core.engine.pruners import parse_pruner
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace, parse_space
from tuning_core.engine.spec_fields import count_field, expect, int_field, is_finite_number
from tuning_core.engine.spec_parts import (
    BudgetSpec,
    DaskSpec,
    MetricGoal,
    ObjectiveSpec,
    PrunerSpec,
    SpecPart,
    StrategySpec,
)
from tuning_core.engine.states import Direction

STRATEGIES = ("grid", "random", "bayesian")
SURROGATES = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("EI", "PI", "LCB", "gp_hedge")
KERAS_METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")
BUILTIN_DATASETS = ("digits", "mnist", "fashion_mnist")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# Bounds that keep every value usable by numpy, scikit-optimize and Keras, and every study
# small enough to hold in memory.
MAX_SEED = 2**32 - 1  # numpy's and scikit-optimize's seeds are 32-bit
MAX_TRIALS = 100_000
MAX_GRID_LEVELS = 100
MAX_GRID_POINTS = 1_000_000
MAX_SPEC_BYTES = 1_000_000
# Trials run at once on Dask (see engine/parallel/); 1 runs them in this process, as always.
MAX_PARALLEL = 64
# How a Dask study handles lost workers (see engine/parallel/lost_workers.py): a trial whose
# worker sends nothing for heartbeat_seconds is given up and retried elsewhere; one whose worker
# is lost more than max_retries times fails. Both may be set in the spec's "dask" object.
DEFAULT_HEARTBEAT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 3
MAX_HEARTBEAT_SECONDS = 86_400.0
MAX_RETRIES = 100

# Bayesian defaults chosen by benchmarks/search_strategies.py (see README): a GP with EI,
# whose acquisition is optimised by sampling plus a short L-BFGS polish.
DEFAULT_BAYESIAN = {"surrogate": "GP", "acquisition": "EI", "initial_points": 10}


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec: typed, frozen parts whose ``to_json`` is the stored form.

    Parts given as plain JSON objects (``dataclasses.replace(spec, budget={...})``) are
    validated as a spec file's would be and become their typed parts.
    """

    name: str
    objective: ObjectiveSpec
    space: SearchSpace
    strategy: StrategySpec
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    parallel: int = 1
    dask: DaskSpec = field(default_factory=DaskSpec)

    def __post_init__(self) -> None:
        def typed(name: str, part: Any, parse: Callable[[Any], SpecPart]) -> None:
            if not isinstance(part, SpecPart):
                object.__setattr__(self, name, parse(part))

        typed("objective", self.objective, lambda raw: parse_objective(raw, self.space))
        typed("strategy", self.strategy, _parse_strategy)
        typed("budget", self.budget, _parse_budget)
        typed("pruner", self.pruner, lambda raw: _parse_pruner(raw, self.objective, self.space))
        typed("dask", self.dask, _parse_dask)

    @property
    def heartbeat_seconds(self) -> float:
        heartbeat = self.dask.heartbeat_seconds
        return float(DEFAULT_HEARTBEAT_SECONDS if heartbeat is None else heartbeat)

    @property
    def max_retries(self) -> int:
        retries = self.dask.max_retries
        return int(DEFAULT_MAX_RETRIES if retries is None else retries)

    @property
    def direction(self) -> Direction:
        return Direction(self.objective.direction)

    @property
    def planned_trials(self) -> int:
        """The trials the study runs: its trial budget, or its grid's points when a grid
        search has fewer (the study ends once its grid is exhausted)."""
        trials = int(self.budget.trials)
        if self.strategy.type == "grid":
            return min(trials, self.space.grid_size(int(self.strategy.levels or 0)))
        return trials

    @property
    def metric(self) -> str:
        """The first (primary) metric: a trial's ``value``, the best trial's, the pruner's."""
        return self.objective.metric

    @property
    def metrics(self) -> tuple[MetricGoal, ...]:
        """Every metric the study optimises, the primary one first, in the spec's order."""
        return self.objective.metrics

    @property
    def multi_metric(self) -> bool:
        """Whether the study optimises several metrics (its best is a Pareto front)."""
        return len(self.objective.metrics) > 1

    @property
    def seed(self) -> int:
        return int(self.strategy.seed)

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "objective": self.objective.to_json(),
            "space": self.space.to_json(),
            "strategy": self.strategy.to_json(),
            "budget": self.budget.to_json(),
            "pruner": self.pruner.to_json(),
        }
        # Left out at its default, so specs and stores written before it existed read the same.
        if self.parallel != 1:
            data["parallel"] = self.parallel
        dask = self.dask.to_json()
        if dask:
            data["dask"] = dask
        return data

    def search_identity(self) -> str:
        """What must match for a re-run to resume this study: everything but the budget and
        how many trials run at once."""
        data = self.to_json()
        del data["budget"]
        data.pop("parallel", None)
        data.pop("dask", None)
        return json.dumps(data, sort_keys=True)


def _parse_strategy(raw: Any) -> StrategySpec:
    expect(
        isinstance(raw, dict), "strategy must be an object with a type of grid, random or bayesian."
    )
    kind = raw.get("type")
    expect(
        kind in STRATEGIES,
        f"strategy.type must be one of {', '.join(STRATEGIES)}, not {brief(kind)}.",
    )
    # Null takes the default, as a missing key does: a strategy always has a seed.
    seed = count_field(raw, "seed", "strategy", 0, 0, MAX_SEED)
    if kind == "grid":
        levels = count_field(raw, "levels", "strategy", 3, 1, MAX_GRID_LEVELS)
        return StrategySpec(kind, seed, levels=levels)
    if kind == "bayesian":
        surrogate = raw.get("surrogate", DEFAULT_BAYESIAN["surrogate"])
        expect(
            surrogate in SURROGATES,
            f"strategy.surrogate must be one of {', '.join(SURROGATES)}, not {brief(surrogate)}.",
        )
        acquisition = raw.get("acquisition", DEFAULT_BAYESIAN["acquisition"])
        expect(
            acquisition in ACQUISITIONS,
            f"strategy.acquisition must be one of {', '.join(ACQUISITIONS)}, not "
            f"{brief(acquisition)}.",
        )
        initial_points = count_field(
            raw, "initial_points", "strategy", DEFAULT_BAYESIAN["initial_points"], 1, MAX_TRIALS
        )
        return StrategySpec(
            kind, seed, surrogate=surrogate, acquisition=acquisition, initial_points=initial_points
        )
    return StrategySpec(kind, seed)


def _parse_budget(raw: Any) -> BudgetSpec:
    raw = {} if raw is None else raw
    expect(
        isinstance(raw, dict),
        "budget must be an object with trials and optionally seconds and epochs.",
    )
    unknown = sorted(set(raw) - {"trials", "seconds", "epochs"})
    expect(
        not unknown,
        f"budget.{unknown[0] if unknown else ''} is not a known key; use trials, seconds and "
        "epochs.",
    )
    trials = count_field(raw, "trials", "budget", 20, 1, MAX_TRIALS)
    seconds = raw.get("seconds")
    expect(
        seconds is None or (is_finite_number(seconds) and seconds > 0),
        f"budget.seconds must be a positive number of seconds or null, not {brief(seconds)}.",
    )
    # Epochs summed over all trials: the budget that compares pruned and full searches fairly.
    epochs = int_field(raw, "epochs", "budget", None, 1, MAX_TRIALS * MAX_FUNCTION_EPOCHS)
    return BudgetSpec(trials, seconds, epochs)


def _parse_pruner(raw: Any, objective: ObjectiveSpec, space: SearchSpace) -> PrunerSpec:
    """The early-stopping rule; its class in tuning_core.engine.pruners checks its options."""
    # The most epochs a trial can train: a tuned range's top or a choice's largest value, a
    # fixed value, else the objective's epochs (1 for a function without a fidelity).
    epochs_dimension = space.dimension("epochs")
    source = "space.epochs"
    if isinstance(epochs_dimension, NumericDimension):
        most = int(epochs_dimension.high)
    elif isinstance(epochs_dimension, ChoiceDimension):
        most = max(int(value) for value in epochs_dimension.values)
    elif "epochs" in space.fixed:
        most = int(space.fixed["epochs"])
    else:
        most, source = int(objective.epochs), "objective.epochs"
    kind, options = parse_pruner(raw, most, source, MAX_TRIALS)
    if kind != "none":
        expect(
            len(objective.metrics) == 1,
            "pruner: a study with several metrics cannot be pruned (pruning compares one "
            "metric); remove the pruner or keep one metric.",
        )
        expect(
            objective.metric not in MEASURES,
            f"pruner: {objective.metric} is measured once a trial ends, so it cannot prune "
            "between epochs; remove the pruner or make an epoch metric the first.",
        )
    return PrunerSpec(kind, options)


def parse_spec(raw: Any) -> StudySpec:
    """Validate a spec document (already parsed from JSON) and fill in its defaults."""
    expect(
        isinstance(raw, dict),
        "The spec must be a JSON object with name, objective, space, strategy and budget.",
    )
    fields = {"name", "objective", "space", "strategy", "budget", "pruner", "parallel", "dask"}
    unknown = sorted(set(raw) - fields)
    expect(
        not unknown,
        f"{unknown[0] if unknown else ''} is not a spec field; use name, objective, space, "
        "strategy, budget, pruner, parallel and dask.",
    )
    name = raw.get("name")
    expect(
        isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)),
        f"name must be 1 to 64 letters, digits, dots, dashes or underscores, not {brief(name)}.",
    )
    space = parse_space(raw.get("space"))
    objective = parse_objective(raw.get("objective"), space)
    strategy = _parse_strategy(raw.get("strategy"))
    budget = _parse_budget(raw.get("budget"))
    pruner = _parse_pruner(raw.get("pruner"), objective, space)
    parallel = raw.get("parallel", 1)
    expect(
        isinstance(parallel, int)
        and not isinstance(parallel, bool)
        and 1 <= parallel <= MAX_PARALLEL,
        f"parallel must be a whole number of trials to run at once, from 1 to {MAX_PARALLEL}, not "
        f"{brief(parallel)}.",
    )
    if strategy.type == "grid":
        points = space.grid_size(int(strategy.levels or 0))
        expect(
            points <= MAX_GRID_POINTS,
            f"strategy.levels: this space's grid has {points:,} points, over the "
            f"{MAX_GRID_POINTS:,} a study may hold; lower the levels or tune fewer "
            "hyperparameters.",
        )
    dask = _parse_dask(raw.get("dask"))
    return StudySpec(name, objective, space, strategy, budget, pruner, parallel, dask)


def _parse_dask(raw: Any) -> DaskSpec:
    """The spec's "dask" object: heartbeat_seconds and max_retries, each optional."""
    if raw is None:
        return DaskSpec()
    expect(
        isinstance(raw, dict),
        'dask must be an object such as {"heartbeat_seconds": 60, "max_retries": 3}, not '
        f"{brief(raw)}.",
    )
    unknown = sorted(set(raw) - {"heartbeat_seconds", "max_retries"})
    expect(
        not unknown,
        f"dask.{unknown[0] if unknown else ''} is not a dask field; use heartbeat_seconds and "
        "max_retries.",
    )
    heartbeat = raw.get("heartbeat_seconds")
    expect(
        heartbeat is None
        or (is_finite_number(heartbeat) and 1 <= heartbeat <= MAX_HEARTBEAT_SECONDS),
        "dask.heartbeat_seconds must be a number of seconds from 1 to "
        f"{MAX_HEARTBEAT_SECONDS:,.0f}, not {brief(heartbeat)}.",
    )
    max_retries = int_field(raw, "max_retries", "dask", None, 0, MAX_RETRIES)
    return DaskSpec(heartbeat, max_retries)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a spec may hold")


def json_from_text(text: str, source: str, kind: str = "study spec") -> Any:
    """A spec's JSON text as Python values; ``source`` names it in error sentences.

    NaN and Infinity (which Python's json accepts) are refused, and so is nesting too deep
    to be a ``kind``, each in one sentence.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise SpecError(f"{source} is not valid JSON (line {error.lineno}: {error.msg}).") from None
    except ValueError as error:
        raise SpecError(f"{source} holds {error}; use a finite number or null.") from None
    except RecursionError:
        raise SpecError(f"{source} nests objects too deeply to be a {kind}.") from None


def json_from_file(path: str | Path, kind: str = "study spec") -> Any:
    """A spec file's JSON as Python values; a file that cannot hold one gets one sentence."""
    path = Path(path)
    source = f"The {kind.removeprefix('study ')} file {brief(str(path))}"
    if path.is_dir():
        raise SpecError(f"{source} is a directory; give the path of a .json file.")
    if not path.is_file():
        raise SpecError(f"{source} does not exist.")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{source} is over {MAX_SPEC_BYTES // 1000:,} kB, too large for a spec.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{source} is not UTF-8 text.") from None
    return json_from_text(text, source, kind)


def parse_spec_text(text: str, source: str) -> StudySpec:
    """Parse and validate a spec's JSON text; ``source`` names it in error sentences."""
    return parse_spec(json_from_text(text, source))


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a spec file."""
    return parse_spec(json_from_file(path))
