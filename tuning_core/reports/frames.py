"""Pure functions from store rows to pandas DataFrames, for the CLI, charts and pages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tuning_core.engine.pruners import Curve, PruneDecision, pruner_for
from tuning_core.engine.records import IN_PROCESS_LANE, TimelineBar
from tuning_core.engine.space import NumericDimension
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.storage import TrialRecord
from tuning_core.engine.strategies import BayesianStrategy
from tuning_core.reports.export import param_names, trial_row

# Below this many complete trials an importance estimate is mostly noise.
MIN_TRIALS_FOR_IMPORTANCE = 8
# What an importance is, in the words every place that shows one uses (chart, summary): one
# number, η² as a percentage. A share normalised over the hyperparameters gave a second number
# (67%) for the same idea (η² 0.53).
IMPORTANCE_MEANING = "share of the score's variance its value alone explains"


TRIAL_COLUMNS = ("number", "state", "value", "duration_s", "note", "error")
# Columns a curves frame has of its own, which a metric column merged into it must not take.
_CURVE_COLUMNS = ("epoch", "metric", "within_epoch")


def metric_columns(spec: StudySpec) -> dict[str, str]:
    """Metric name -> its column in :func:`trials_frame` (``with_metrics``), for a study of
    several metrics; empty for one metric, whose ``value`` column is all it has.

    A column is named by its metric, unless a trial column or a tuned hyperparameter already
    has that name (a metric called ``value``, or ``x`` beside a parameter ``x``): then
    ``"<name> (metric)"``.
    """
    if not spec.multi_metric:
        return {}
    taken = {*TRIAL_COLUMNS, *_CURVE_COLUMNS, *spec.space.names}
    return {
        goal.name: goal.name if goal.name not in taken else f"{goal.name} (metric)"
        for goal in spec.metrics
    }


def trials_frame(
    trials: list[TrialRecord], spec: StudySpec, with_metrics: bool = False
) -> pd.DataFrame:
    """One row per trial (as the exports write it): number, state, value, duration_s, note,
    error and one column per param; a missing note or error is an empty string.

    ``with_metrics``: a study of several metrics also gets one float column per metric
    (:func:`metric_columns`, after the params) from each trial's stored values, NaN where a
    trial has none (running, failed, or from before values were stored); their names are in
    ``frame.attrs["metric_columns"]``. A study of one metric gets nothing more.
    """
    names = param_names(trials, spec)
    columns = [*TRIAL_COLUMNS, *names]
    frame = pd.DataFrame.from_records(
        [trial_row(trial, names) for trial in trials], columns=columns
    )
    frame[["note", "error"]] = frame[["note", "error"]].fillna("")
    if with_metrics:
        by_metric = metric_columns(spec)
        for metric, column in by_metric.items():
            frame[column] = np.array(
                [trial.values.get(metric, np.nan) for trial in trials], dtype=float
            )
        frame.attrs["metric_columns"] = tuple(by_metric.values())
    return frame


def curves_frame(
    metric_rows: list[tuple[int, int, str, float | None]],
    trials: pd.DataFrame,
    diverged_batch_rows: list[tuple[int, float, float | None]] | None = None,
) -> pd.DataFrame:
    """Long form per-epoch curves: number, epoch, metric, value, within_epoch, state, and each
    param column. Epochs are 0-based, as stored.

    ``diverged_batch_rows`` (trial number, progress in epochs, loss) are the in-epoch losses of
    diverged trials: a trial that blows up stops mid-epoch and often writes no epoch row, so
    the losses after its last whole epoch are added as ``loss`` rows (``within_epoch`` True,
    epoch = progress - 1, so that the end of epoch e lands on e like an epoch row).
    """
    curves = pd.DataFrame(metric_rows, columns=["number", "epoch", "metric", "value"])
    curves["within_epoch"] = False
    if diverged_batch_rows:
        batches = pd.DataFrame(diverged_batch_rows, columns=["number", "progress", "value"])
        last_epoch = curves.groupby("number")["epoch"].max()
        whole_epochs_done = batches["number"].map(last_epoch).fillna(-1) + 1
        batches = batches[batches["progress"] > whole_epochs_done]
        extra = pd.DataFrame(
            {
                "number": batches["number"],
                "epoch": batches["progress"] - 1,
                "metric": "loss",
                "value": batches["value"],
                "within_epoch": True,
            }
        )
        curves = pd.concat([curves, extra], ignore_index=True) if len(extra) else curves
    if trials.empty:
        return curves
    # A trial's metrics are one number each; every epoch row of it need not carry them.
    dropped = {"value", "duration_s", "error", *trials.attrs.get("metric_columns", ())}
    # Only the trials drawn: merging all of 10,000 trials into a sample's rows cost more than
    # the rows themselves, on every Live rerun.
    wanted = trials["number"].isin(curves["number"].unique())
    extra = trials.loc[wanted, [c for c in trials.columns if c not in dropped]]
    return curves.merge(extra, on="number", how="left")


def has_pruner(spec: StudySpec) -> bool:
    """Whether the study stops trials early (its pruner is not "none")."""
    return spec.pruner.get("type", "none") != "none"


PRUNING_COLUMNS = [
    "number", "epoch", "value", "cutoff", "rule", "rung", "bracket", "compared", "kept", "metric",
]  # fmt: skip


def pruning_frame(decisions: list[PruneDecision], metric: str) -> pd.DataFrame:
    """One row per pruned trial: why it stopped (see PruneDecision), epochs 0-based as stored.

    ``metric`` is the study's metric, the one the value and the cut-off are measured in, so a
    chart of another metric (the training loss) can leave the cut-off out.
    """
    rows = [
        {
            "number": decision.trial_number,
            "epoch": decision.epoch,
            "value": decision.value,
            "cutoff": decision.cutoff,
            "rule": decision.rule,
            "rung": decision.rung,
            "bracket": decision.bracket,
            "compared": decision.compared,
            "kept": decision.kept,
            "metric": metric,
        }
        for decision in decisions
    ]
    return pd.DataFrame(rows, columns=PRUNING_COLUMNS)


GUIDE_COLUMNS = ["kind", "epoch", "value", "metric", "label", "why"]


def pruning_guides(spec: StudySpec, curves: pd.DataFrame) -> pd.DataFrame:
    """What the study's pruner measures trials against, drawn behind the curves: kind, epoch
    (0-based), value, metric, label and why (a sentence for the tooltip); the rule draws them
    (Pruner.guides) from the study's curves of its metric.

    * ``rung`` rows (successive halving, Hyperband): one per rung, value NaN.
    * ``median`` rows (the median rule): at each epoch where the rule applies, the cut-off a
      trial there meets now.
    Empty for a study without a pruner.
    """
    guides = pruner_for(spec.pruner).guides(spec.direction, _stored_curves(curves, spec.metric))
    rows = [
        {
            "kind": guide.kind,
            "epoch": guide.epoch,
            "value": guide.value,
            # A guide with a value is in the study's metric; a rung is only an epoch.
            "metric": "" if np.isnan(guide.value) else spec.metric,
            "label": guide.label,
            "why": guide.why,
        }
        for guide in guides
    ]
    return pd.DataFrame(rows, columns=GUIDE_COLUMNS)


def _stored_curves(curves: pd.DataFrame, metric: str) -> list[Curve]:
    """The curves of ``metric`` as the store holds them (whole epochs with a value), for a
    pruner to read; every trial is its own bracket key (guides do not depend on brackets)."""
    if curves.empty or "state" not in curves.columns:
        return []
    within = curves.get("within_epoch", pd.Series(False, index=curves.index)).astype(bool)
    rows = curves[(curves["metric"] == metric) & ~within].dropna(subset=["value", "state"])
    return [
        Curve(
            int(number),
            TrialState(group["state"].iloc[0]),
            dict(zip(group["epoch"].astype(int), group["value"].astype(float), strict=True)),
            int(number),
        )
        for number, group in rows.groupby("number")
    ]


@dataclass(frozen=True)
class EpochsSaved:
    """Epochs the finished trials trained against what they would have trained unpruned."""

    trained: int
    full: int
    trials: int
    pruned: int

    @property
    def saved_share(self) -> float:
        return 1 - self.trained / self.full if self.full else 0.0

    def sentence(self) -> str:
        """E.g. "Epochs trained: 74 of the 135 a full search of these 15 trials would train
        (45% saved; 11 trials pruned)."""
        trials = "trial" if self.trials == 1 else "trials"
        pruned = "trial" if self.pruned == 1 else "trials"
        return (
            f"Epochs trained: {self.trained} of the {self.full} a full search of these "
            f"{self.trials} {trials} would train ({self.saved_share:.0%} saved; {self.pruned} "
            f"{pruned} pruned)."
        )


def epochs_saved(
    spec: StudySpec, trials: pd.DataFrame, curves: pd.DataFrame | pd.Series
) -> EpochsSaved | None:
    """What pruning saved, over the finished trials that count against the budget; None for a
    study without a pruner. ``curves``: the long form of :func:`curves_frame`, or the epochs
    each trial trained (:func:`epochs_by_trial`), which a page that holds only some trials'
    rows counts without them.

    A pruned trial would have trained its own epochs (its ``epochs`` param, else the
    objective's); every other finished trial trained what it would have anyway (a diverged one
    stops by itself), so it counts the same on both sides. Running and interrupted trials are
    left out of both.
    """
    if not has_pruner(spec):
        return None
    counted = {state.value for state in TrialState if state.counts_against_budget()}
    finished = trials[trials["state"].isin(counted)] if not trials.empty else trials
    trained_by_trial = curves if isinstance(curves, pd.Series) else epochs_by_trial(curves)
    default_epochs = int(spec.objective.get("epochs") or spec.pruner["max_epochs"])
    trained = full = pruned = 0
    for row in finished.itertuples(index=False):
        done = int(trained_by_trial.get(row.number, 0))
        trained += done
        if row.state == TrialState.PRUNED.value:
            pruned += 1
            own = getattr(row, "epochs", None) if "epochs" in finished else None
            full += int(own) if own is not None and not pd.isna(own) else default_epochs
        else:
            full += done
    return EpochsSaved(trained, full, len(finished), pruned)


def epochs_by_trial(curves: pd.DataFrame) -> pd.Series:
    """Whole epochs recorded per trial number (a diverged run's in-epoch losses are not)."""
    if curves.empty:
        return pd.Series(dtype=int)
    whole = curves[~curves["within_epoch"]] if "within_epoch" in curves else curves
    return whole.drop_duplicates(["number", "epoch"]).groupby("number").size()


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


def final_metrics(
    curves: pd.DataFrame, trials: pd.DataFrame, metric: str = "val_accuracy"
) -> pd.DataFrame:
    """Each trial's last recorded ``metric`` with its learning rate, state and outcome label
    (diverged runs score 0 and are labelled "diverged"; chance-level runs "ended at chance").
    """
    columns = ["number", "learning_rate", metric, "state"]
    if trials.empty or "learning_rate" not in trials:
        return pd.DataFrame(columns=[*columns, "outcome"])
    last = (
        curves[curves["metric"] == metric]
        .sort_values("epoch")
        .groupby("number", as_index=False)
        .last()[["number", "value"]]
        if not curves.empty
        else pd.DataFrame(columns=["number", "value"])
    )
    frame = trials[["number", "learning_rate", "state", "note", "error"]].merge(
        last, on="number", how="left"
    )
    frame = frame[frame["state"] != TrialState.RUNNING.value]
    frame[metric] = (
        frame["value"].where(frame["state"] != TrialState.DIVERGED.value, 0.0).fillna(0.0)
    )
    frame["outcome"] = [
        outcome_label(state, note, value)
        for state, note, value in zip(frame["state"], frame["note"], frame[metric], strict=True)
    ]
    return frame[[*columns, "outcome"]].reset_index(drop=True)


def outcome_label(state: str, note: str, value: float) -> str:
    """A bar's label in the lab: "diverged", "ended at chance", or the score as a percentage."""
    if state == TrialState.DIVERGED.value:
        return "diverged"
    if state != TrialState.COMPLETE.value:
        return state
    if "chance" in (note or ""):
        return "ended at chance"
    return f"{value:.0%}"


TIMELINE_COLUMNS = ["number", "lane", "lane_order", "state", "start", "finish", "duration_s"]
# The time unit of a timeline's axis, by the span it covers: (unit, seconds in one, longest span).
_TIME_UNITS = (("seconds", 1.0, 180.0), ("minutes", 60.0, 3 * 3600.0), ("hours", 3600.0, None))


@dataclass(frozen=True)
class Timeline:
    """What the worker timeline draws (see :func:`timeline_frame`).

    ``bars``: one row per trial that a worker began: number, lane (``worker 0``…), lane_order,
    state (``running`` until it finishes), start and finish in ``unit`` since the first trial
    began (a running trial's finish is now) and duration_s. ``lanes`` in drawing order,
    ``busy`` each lane's share of the whole span spent running a trial, ``waiting`` the
    trials sent to Dask that no worker has begun yet (they have no lane), and ``wall_seconds``
    the time during which any trial ran (what the time budget counts, engine/study/session.py).
    """

    bars: pd.DataFrame
    unit: str
    lanes: list[str]
    busy: dict[str, float]
    waiting: int
    wall_seconds: float = 0.0

    def busy_text(self) -> str:
        """Each lane's busy share in lane order, as in "worker 0 96%, worker 1 91%"."""
        return ", ".join(f"{lane} {self.busy[lane]:.0%}" for lane in self.lanes)


def lane_label(worker: str) -> str:
    """A timeline lane's name: Dask's numbered LocalCluster workers read "worker 0"; named or
    addressed workers keep their name (clipped to 40 characters)."""
    if worker.isdigit():
        return f"worker {worker}"
    return worker if len(worker) <= 40 else worker[:39] + "…"


def _lane_key(worker: str) -> tuple[int, int, str]:
    # The in-process lane first (it ran before any worker), then numbered workers by number.
    if worker == IN_PROCESS_LANE:
        return (0, 0, "")
    return (1, int(worker), "") if worker.isdigit() else (2, 0, worker)


def timeline_frame(bars: list[TimelineBar], now: float, on_dask: bool = True) -> Timeline:
    """The worker timeline of ``bars`` (``records.worker_timeline``) at time ``now``.

    With ``on_dask`` a running trial that no worker has begun (still in the in-process lane,
    where ``worker_timeline`` puts trials without a worker) is waiting in Dask's queue: it is
    counted in ``waiting``, not drawn.
    """
    waiting = [
        bar for bar in bars
        if on_dask and bar.worker == IN_PROCESS_LANE and bar.state == TrialState.RUNNING
    ]  # fmt: skip
    waiting_numbers = {bar.number for bar in waiting}
    drawn = [bar for bar in bars if bar.number not in waiting_numbers]
    if not drawn:
        empty = pd.DataFrame(columns=TIMELINE_COLUMNS)
        return Timeline(empty, "seconds", [], {}, len(waiting))
    origin = min(bar.started_at for bar in drawn)
    ends = [max(bar.finished_at or now, bar.started_at) for bar in drawn]
    span = max(ends) - origin
    unit, seconds, _ = next(u for u in _TIME_UNITS if u[2] is None or span <= u[2])
    workers = sorted({bar.worker for bar in drawn}, key=_lane_key)
    order = {worker: index for index, worker in enumerate(workers)}
    frame = pd.DataFrame(
        [
            {
                "number": bar.number,
                "lane": lane_label(bar.worker),
                "lane_order": order[bar.worker],
                "state": bar.state.value,
                "start": (bar.started_at - origin) / seconds,
                "finish": (end - origin) / seconds,
                "duration_s": end - bar.started_at,
            }
            for bar, end in zip(drawn, ends, strict=True)
        ],
        columns=TIMELINE_COLUMNS,
    )
    busy = {
        lane_label(worker): (
            _covered(frame[frame["lane"] == lane_label(worker)]) / (span / seconds)
            if span > 0
            else 1.0
        )
        for worker in workers
    }
    lanes = [lane_label(worker) for worker in workers]
    return Timeline(frame, unit, lanes, busy, len(waiting), _covered(frame) * seconds)


def _covered(bars: pd.DataFrame) -> float:
    """The length of the union of the bars' [start, finish] intervals, in their unit."""
    covered, reach = 0.0, -np.inf
    for start, finish in sorted(zip(bars["start"], bars["finish"], strict=True)):
        # Overlaps (a trial recorded just after its successor began) are counted once.
        covered += max(0.0, finish - max(start, reach))
        reach = max(reach, finish)
    return covered


RUNNING_LOSS_COLUMNS = ["number", "trial", "progress", "loss"]


def running_losses_frame(
    batch_rows: list[tuple[int, float, float | None]],
    curves: pd.DataFrame,
    running: list[int],
    metric: str,
) -> pd.DataFrame:
    """The running trials' live losses, one line each: number, trial ("trial 3"), progress (in
    epochs) and loss.

    ``batch_rows`` (trial number, progress, loss) are the in-epoch training losses a Keras
    trial writes; a running trial without any (a function objective reports only whole
    epochs) contributes its ``metric`` per epoch from ``curves`` instead, at progress epoch+1,
    where an in-epoch loss at the end of that epoch would be.
    """
    batches = pd.DataFrame(batch_rows, columns=["number", "progress", "loss"])
    batches = batches[batches["number"].isin(running)]
    without = [n for n in running if n not in set(batches["number"])]
    parts = [batches] if len(batches) else []
    if without and not curves.empty:
        epochs = curves[
            curves["number"].isin(without)
            & (curves["metric"] == metric)
            & ~curves.get("within_epoch", pd.Series(False, index=curves.index)).astype(bool)
        ]
        parts.append(
            pd.DataFrame(
                {
                    "number": epochs["number"],
                    "progress": epochs["epoch"].astype(float) + 1,
                    "loss": epochs["value"],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=RUNNING_LOSS_COLUMNS)
    frame = pd.concat(parts, ignore_index=True).astype(
        {"number": int, "progress": float, "loss": float}
    )
    frame["trial"] = "trial " + frame["number"].astype(str)
    return frame.sort_values(["number", "progress"]).reset_index(drop=True)[RUNNING_LOSS_COLUMNS]
