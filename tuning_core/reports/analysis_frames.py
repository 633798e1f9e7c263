"""What a study found, as DataFrames: the best value so far, how much of the score each
tuned hyperparameter explains, and the surrogate's partial dependence on each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tuning_core.engine.space import NumericDimension
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.strategies import BayesianStrategy

# Below this many complete trials an importance estimate is mostly noise.
MIN_TRIALS_FOR_IMPORTANCE = 8
# What an importance is, in the words every place that shows one uses (chart, summary): one
# number, η² as a percentage. A share normalised over the hyperparameters gave a second number
# (67%) for the same idea (η² 0.53).
IMPORTANCE_MEANING = "share of the score's variance its value alone explains"


def convergence_frame(trials: pd.DataFrame, direction: Direction) -> pd.DataFrame:
    """Complete trials with the best value so far: number, value, best_so_far."""
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()][
        ["number", "value"]
    ].copy()
    done["value"] = done["value"].astype(float)
    done["best_so_far"] = direction.running_best(done["value"])
    return done.reset_index(drop=True)


def importance(trials: pd.DataFrame, dimensions: list[str]) -> pd.DataFrame:
    """Share of the score's variance each tuned hyperparameter explains, on its own.

    For each dimension the complete trials are split into bins (quartiles of its rank for
    numbers, one bin per value for choices); the importance is the between-bin variance of
    the score over its total variance (the correlation ratio, eta squared, 0 to 1; the shares
    need not sum to 1). Returns hyperparameter, eta_squared, largest first; empty with fewer
    than two trials.
    """
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    rows = []
    scores = done["value"].astype(float)
    total = float(((scores - scores.mean()) ** 2).sum())
    for name in dimensions:
        if name not in done or len(done) < 2 or total == 0:
            continue
        column = done[name]
        if pd.api.types.is_numeric_dtype(column) and column.nunique() > 4:
            groups = pd.qcut(column.rank(method="first"), q=4, labels=False)
        else:
            groups = column.astype(str)
        between = sum(
            len(g) * (g.mean() - scores.mean()) ** 2 for _, g in scores.groupby(groups.values)
        )
        rows.append({"hyperparameter": name, "eta_squared": float(between / total)})
    frame = pd.DataFrame(rows, columns=["hyperparameter", "eta_squared"])
    return frame.sort_values("eta_squared", ascending=False).reset_index(drop=True)


def log_scaled_dimensions(spec: StudySpec) -> list[str]:
    """Tuned numeric dimensions searched on a log scale (their charts use a log axis)."""
    return [
        dimension.name
        for dimension in spec.space.dimensions
        if isinstance(dimension, NumericDimension) and dimension.log
    ]


def tuned_dimensions(spec: StudySpec) -> list[str]:
    return spec.space.names


def partial_dependence_frame(
    spec: StudySpec, trials: pd.DataFrame, points: int = 20, samples: int = 200
) -> pd.DataFrame:
    """scikit-optimize's partial dependence of the score on each tuned dimension.

    Refits the study's own surrogate on its complete trials, then, for each dimension and each
    of ``points`` values along it, averages the surrogate's prediction over ``samples`` random
    settings of the other dimensions. Returns dimension, x, score (in the metric's own sign);
    empty when the study is not Bayesian or has too few trials for a surrogate.
    """
    strategy_config = spec.strategy
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    if strategy_config["type"] != "bayesian" or len(done) < max(
        int(strategy_config["initial_points"]), 3
    ):
        return pd.DataFrame(columns=["dimension", "x", "score"])
    space = spec.space
    strategy = BayesianStrategy(
        space,
        strategy_config["surrogate"],
        strategy_config["acquisition"],
        1,
        int(strategy_config["seed"]),
        kernel_refit_every=1,
    )
    optimizer = strategy.optimizer
    sign = spec.direction.sign
    xs = [[row[name] for name in space.names] for _, row in done.iterrows()]
    optimizer.tell(xs, [sign * float(v) for v in done["value"]])
    model = optimizer.models[-1]
    skopt_space = optimizer.space
    rng = np.random.default_rng(0)
    base = skopt_space.rvs(n_samples=samples, random_state=int(rng.integers(1 << 30)))
    rows = []
    for index, dimension in enumerate(skopt_space.dimensions):
        if hasattr(dimension, "categories"):
            values = list(dimension.categories)
        elif getattr(dimension, "prior", "uniform") == "log-uniform":
            values = list(np.geomspace(dimension.low, dimension.high, points))
        else:
            values = list(np.linspace(dimension.low, dimension.high, points))
        if type(dimension).__name__ == "Integer":
            values = sorted({int(round(v)) for v in values})
        for value in values:
            grid = [list(sample) for sample in base]
            for sample in grid:
                sample[index] = value
            prediction = model.predict(skopt_space.transform(grid))
            rows.append(
                {
                    "dimension": space.names[index],
                    "x": value,
                    "score": float(sign * np.mean(prediction)),
                }
            )
    return pd.DataFrame(rows, columns=["dimension", "x", "score"])
