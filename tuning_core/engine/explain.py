""" "Why this point?": what a Bayesian search knew when it proposed trial N.

The worker stores, at each ask, the fitted surrogate, the space, the acquisition and its
options and the points told so far (``strategies.ask_record``, table ``strategy_asks``). This
module reads that record back and evaluates the same surrogate and acquisition on a grid over
one or two chosen dimensions, the others held at trial N's values. Nothing is refitted, so the
view is faithful (the same kernel, transformed space and y-normalisation as the worker's) and
fast: one ``predict`` over a few thousand points.

Values are shown the study's way round: ``mean`` is the surrogate's belief about the metric
(a maximised metric is negated back from the loss the strategy minimised), and
``acquisition`` is "higher is more promising" (scikit-optimize minimises its negative).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuning_core.engine import snapshots
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objectives import TEST_FUNCTIONS, input_names
from tuning_core.engine.space import ChoiceDimension, Scalar
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies import load_ask_record

# Grid points along one numeric dimension: 1-D curves and 2-D heatmaps.
RESOLUTION_1D = 200
RESOLUTION_2D = 30

ACQUISITION_NAMES = {
    "EI": "expected improvement",
    "PI": "probability of improvement",
    "LCB": "lower confidence bound",
}


@dataclass
class Explanation:
    """The data of the view (and of ``explain --json``) for one trial."""

    study: str
    trial: int
    initial: bool
    dims: list[str]
    metric: str
    direction: str
    acquisition: str | None  # the acquisition the worker used for this point (gp_hedge: chosen)
    acq_func: str  # the study's setting (EI, PI, LCB or gp_hedge)
    surrogate: str
    chosen: dict[str, Scalar]
    replaced: bool = False  # ask() swapped the acquisition's choice for an untried point
    log_dims: list[str] = field(default_factory=list)
    categorical_dims: list[str] = field(default_factory=list)
    grid: list[dict[str, Scalar]] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    acquisition_values: list[float] = field(default_factory=list)
    true_value: list[float] | None = None  # function objectives: the function itself
    observed: list[dict[str, Any]] = field(default_factory=list)
    chosen_mean: float | None = None
    chosen_std: float | None = None
    acquisition_at_chosen: float | None = None
    # What the search knew about failures (strategies.Feasibility): the failed trials' params,
    # and P(the point runs without failing) at its first choice and at the point proposed.
    failed: list[dict[str, Scalar]] = field(default_factory=list)
    feasibility: dict[str, Any] | None = None
    # A study of several metrics: the ParEGO weights this ask scalarised them with (the
    # surrogate and the observed values are of that scalarisation, by default its ranks).
    weights: list[float] | None = None
    metrics: list[str] | None = None  # the metrics the weights weigh, in the same order

    def to_json(self) -> dict[str, Any]:
        data = {
            "study": self.study,
            "trial": self.trial,
            "initial": self.initial,
            "chosen": self.chosen,
            "observed": self.observed,
            "metric": self.metric,
            "direction": self.direction,
            "surrogate": self.surrogate,
            "acq_func": self.acq_func,
            "failed": self.failed,
            "feasibility": self.feasibility,
        }
        if self.weights is not None:
            data["weights"] = self.weights
            data["metrics"] = self.metrics
        if self.initial:
            return data
        data.update(
            dims=self.dims,
            log_dims=self.log_dims,
            categorical_dims=self.categorical_dims,
            acquisition=self.acquisition,
            replaced=self.replaced,
            grid=self.grid,
            mean=self.mean,
            std=self.std,
            acquisition_values=self.acquisition_values,
            chosen_mean=self.chosen_mean,
            chosen_std=self.chosen_std,
            acquisition_at_chosen=self.acquisition_at_chosen,
        )
        if self.true_value is not None:
            data["true_value"] = self.true_value
        return data


def load_record(store: Store, name: str, trial: int) -> tuple[StudySpec, dict[str, Any]]:
    """The study's spec and the ask record of ``trial``; SpecError in one sentence otherwise."""
    study = store.get_study(name)
    if study is None:
        names = ", ".join(s.name for s in store.studies()) or "none yet"
        raise SpecError(
            f"name: there is no study called {brief(name)} in this store (studies: {names})."
        )
    spec = study.spec
    if spec.strategy.type != "bayesian":
        raise SpecError(
            f"{brief(name)} uses {spec.strategy.type} search, which follows no model: only a "
            "Bayesian study can be explained."
        )
    asked = store.asked_trials(study.id)
    blob = store.load_ask(study.id, trial)
    if blob is None:
        raise SpecError(_no_record(store, study.id, name, trial, asked))
    try:
        record = load_ask_record(blob)
    except snapshots.UntrustedSnapshotError as error:
        raise SpecError(
            f"--trial: the record of trial {trial} cannot be trusted, so it is not opened: {error}."
        ) from None
    except snapshots.SnapshotError as error:
        raise SpecError(f"--trial: the record of trial {trial} cannot be read ({error}).") from None
    return spec, record


def _no_record(store: Store, study_id: int, name: str, trial: int, asked: list[int]) -> str:
    """Why a trial has no ask record, in one sentence naming --trial."""
    trials = {t.number: t for t in store.trials(study_id)}
    if trial not in trials:
        known = f"trials 0 to {max(trials)}" if trials else "no trial yet"
        return f"--trial: {brief(name)} has no trial {trial} (it has {known})."
    if trials[trial].retry_of is not None:
        original = trials[trial].retry_of
        return (
            f"--trial: trial {trial} of {brief(name)} retried trial {original} with the same "
            f"params; explain trial {original}, where they were chosen."
        )
    if not asked:
        return (
            f"--trial: {brief(name)} ran before Tuning Lab recorded its proposals, so there is "
            "nothing to explain; run it again under a new name."
        )
    return f"--trial: {brief(name)} has no recorded proposal for trial {trial}."


# What the surrogate of a study of several metrics models (strategies/parego.py): one score
# a trial, lower is better, so the page's axes and sentences name it and not the first metric.
SCALARISED_METRIC = "ParEGO score"


def _factor(spec: StudySpec) -> float:
    """Loss (what the strategy minimised) times this is the study's metric (1 for a study of
    several metrics: the loss is already the scalarised score)."""
    return 1.0 if spec.multi_metric else spec.direction.sign


def observed_points(spec: StudySpec, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The points told before this ask, each with its value and whether its trial failed (a
    failure's value is the penalty the search was told)."""
    names = spec.space.names
    factor = _factor(spec)
    failed = (record.get("feasibility") or {}).get("failed", [])
    return [
        {
            "params": dict(zip(names, x, strict=True)),
            "value": factor * float(y),
            "failed": list(x) in failed,
        }
        for x, y in zip(record["Xi"], record["yi"], strict=True)
    ]


def failure_facts(
    spec: StudySpec, record: dict[str, Any]
) -> tuple[list[dict[str, Scalar]], dict[str, Any] | None]:
    """The failed points' params and the failure model's numbers at this ask (None before
    any failure)."""
    feasibility = record.get("feasibility")
    if not feasibility:
        return [], None
    names = spec.space.names
    failed = [dict(zip(names, x, strict=True)) for x in feasibility["failed"]]
    numbers = {k: feasibility[k] for k in ("at_first", "at_chosen", "moved")}
    return failed, numbers


def acquisition_of(record: dict[str, Any]) -> str:
    """The acquisition that chose the point: gp_hedge's pick, else the study's."""
    if record["acq_func"] == "gp_hedge":
        return record.get("chosen_acquisition") or "EI"
    return record["acq_func"]


def acquisition_at(record: dict[str, Any], transformed: np.ndarray) -> np.ndarray:
    """scikit-optimize's acquisition at points of the transformed space, negated so that
    higher is more promising (the worker minimised the un-negated values)."""
    from skopt.acquisition import _gaussian_acquisition  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = _gaussian_acquisition(
            X=transformed,
            model=record["model"],
            y_opt=record["y_opt"],
            acq_func=acquisition_of(record),
            acq_func_kwargs=record["acq_func_kwargs"],
        )
    return -np.asarray(values, dtype=float)


def _axis(spec: StudySpec, name: str, resolution: int) -> list[Scalar]:
    dimension = spec.space.dimension(name)
    if isinstance(dimension, ChoiceDimension):
        return list(dimension.values)
    low, high = float(dimension.low), float(dimension.high)
    if dimension.log:
        values = np.geomspace(low, high, resolution)
    else:
        values = np.linspace(low, high, resolution)
    if dimension.kind == "int":
        return sorted({int(round(v)) for v in values})
    return [float(v) for v in values]


def _check_dims(spec: StudySpec, dims: list[str] | None) -> list[str]:
    names = spec.space.names
    if not dims:
        return names[:2]
    if len(dims) > 2 or len(set(dims)) != len(dims):
        raise SpecError(f"--dims takes one or two different tuned names, not {','.join(dims)}.")
    for name in dims:
        if name not in names:
            raise SpecError(
                f"--dims: {brief(name)} is not a tuned hyperparameter of this study "
                f"(tuned: {', '.join(names)})."
            )
    return dims


def explain(
    store: Store,
    name: str,
    trial: int,
    dims: list[str] | None = None,
    resolution: int | None = None,
) -> Explanation:
    """The view's data for ``trial`` of study ``name`` over ``dims`` (one or two tuned names;
    default the first two). Raises SpecError with one sentence for anything that cannot be
    explained; an initial random point comes back with ``initial=True`` and no surface."""
    spec, record = load_record(store, name, trial)
    return explain_record(spec, record, trial, dims, resolution)


def explain_record(
    spec: StudySpec,
    record: dict[str, Any],
    trial: int,
    dims: list[str] | None = None,
    resolution: int | None = None,
) -> Explanation:
    dims = _check_dims(spec, dims)
    names = spec.space.names
    chosen = dict(zip(names, record["point"], strict=True))
    explanation = Explanation(
        study=spec.name,
        trial=trial,
        initial=bool(record["initial"]),
        dims=dims,
        metric=SCALARISED_METRIC if spec.multi_metric else spec.metric,
        direction="minimize" if spec.multi_metric else spec.direction.value,
        acquisition=None,
        acq_func=record["acq_func"],
        surrogate=spec.strategy.surrogate or "GP",
        chosen=chosen,
        observed=observed_points(spec, record),
    )
    explanation.failed, explanation.feasibility = failure_facts(spec, record)
    explanation.weights = record.get("weights")
    if explanation.weights is not None:
        explanation.metrics = [goal.name for goal in spec.metrics]
    if explanation.initial:
        return explanation
    explanation.acquisition = acquisition_of(record)
    explanation.replaced = bool(record.get("replaced"))
    explanation.log_dims = [
        n for n in dims if getattr(spec.space.dimension(n), "log", False) is True
    ]
    explanation.categorical_dims = [
        n for n in dims if isinstance(spec.space.dimension(n), ChoiceDimension)
    ]
    if resolution is None:
        resolution = RESOLUTION_1D if len(dims) == 1 else RESOLUTION_2D
    axes = [_axis(spec, n, resolution) for n in dims]
    if len(dims) == 1:
        combos: list[tuple[Scalar, ...]] = [(v,) for v in axes[0]]
    else:
        combos = [(a, b) for b in axes[1] for a in axes[0]]
    positions = [names.index(n) for n in dims]
    rows = []
    for combo in combos:
        row = list(record["point"])
        for position, value in zip(positions, combo, strict=True):
            row[position] = value
        rows.append(row)
    space = record["space"]
    transformed = np.asarray(space.transform(rows + [list(record["point"])]), dtype=float)
    model = record["model"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean, std = model.predict(transformed, return_std=True)
    acquisition = acquisition_at(record, transformed)
    factor = _factor(spec)
    mean = factor * np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    explanation.grid = [dict(zip(dims, combo, strict=True)) for combo in combos]
    explanation.mean = [float(v) for v in mean[:-1]]
    explanation.std = [float(v) for v in std[:-1]]
    explanation.acquisition_values = [float(v) for v in acquisition[:-1]]
    explanation.chosen_mean = float(mean[-1])
    explanation.chosen_std = float(std[-1])
    explanation.acquisition_at_chosen = float(acquisition[-1])
    explanation.true_value = _true_values(spec, rows)
    return explanation


def _true_values(spec: StudySpec, rows: list[list[Any]]) -> list[float] | None:
    """The closed-form function at each grid row, for function objectives (in the study's
    metric, as the trials record it)."""
    # A function of several metrics (zdt1, zdt2) has no one surface to draw: the surrogate
    # models the ask's scalarisation of them (strategies/parego.py).
    if (
        not isinstance(spec.objective, FunctionObjectiveSpec)
        or spec.objective.name not in TEST_FUNCTIONS
    ):
        return None
    test_function = TEST_FUNCTIONS[spec.objective.name]
    names = spec.space.names
    values = []
    for row in rows:
        params = spec.space.full_params(dict(zip(names, row, strict=True)))
        x = np.array([float(params[n]) for n in input_names(params)])
        value = test_function.function(x)
        values.append(float(value) if math.isfinite(value) else float("nan"))
    return values
