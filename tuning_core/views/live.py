"""What the live view shows, computed from the study's DataFrames: pure and testable."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuning_core.engine.pruners import bracket_of
from tuning_core.engine.records import worker_running
from tuning_core.engine.space import ChoiceDimension, NumericDimension
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec, KerasObjectiveSpec, UserModelSpec
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import StudyRecord
from tuning_core.engine.tasks import METRIC_WORDS, metric_sentence
from tuning_core.training.datasets import image_preparation
from tuning_core.views import eta
from tuning_core.views.forms import format_duration

FINISHED = [s.value for s in TrialState if s.is_finished() and s != TrialState.INTERRUPTED]


@dataclass
class LiveSummary:
    """What the live view's header shows for a study at one moment."""

    running: bool
    done: int
    budget: int
    progress: float
    progress_text: str
    status_line: str
    best_text: str
    best_help: str
    current_number: int | None
    current_params: dict[str, Any] | None
    current_text: str
    running_numbers: tuple[int, ...] = ()  # every running trial (several with parallel > 1)

    def running_line(self) -> tuple[str, str]:
        """What runs now, as (label, text): the one trial with its settings, or several
        trials' numbers (their settings are in the trial table); ("", "") when none."""
        if len(self.running_numbers) > 1:
            return "Running trials", ", ".join(str(n) for n in self.running_numbers)
        return ("Current trial", self.current_text) if self.current_params else ("", "")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def live_summary(
    study: StudyRecord,
    trials: pd.DataFrame,
    now: float,
    epochs_trained: int = 0,
    wall_seconds: float | None = None,
    epochs_by_trial: pd.Series | None = None,
) -> LiveSummary:
    """Progress, elapsed and remaining time, best so far and the running trial.

    A study with an epoch budget (``budget.epochs``) counts its progress and time left in
    epochs, which is what ends it; ``epochs_trained`` is how many it has trained.
    Elapsed is the trials' summed durations, or ``wall_seconds`` when given: the time during
    which any trial ran (:attr:`frames.Timeline.wall_seconds`), which is what a study that
    runs several trials at once has spent, as its time budget counts it.

    With ``epochs_by_trial`` (:func:`frames.epochs_by_trial`) the time left of a trial budget
    is fitted to this study's own timed epochs (:func:`eta.fitted_eta`), and says so.
    """
    spec = study.spec
    budget = spec.budget.trials
    budget_epochs = spec.budget.epochs
    if trials.empty:
        done, running_rows = 0, trials
    else:
        done = int(trials["state"].isin(FINISHED).sum())
        running_rows = trials[trials["state"] == TrialState.RUNNING.value]
    running = worker_running(study)
    durations = (
        trials.loc[trials["state"].isin(FINISHED), "duration_s"].dropna()
        if not trials.empty
        else pd.Series(dtype=float)
    )
    elapsed = float(trials["duration_s"].fillna(0).sum()) if not trials.empty else 0.0
    if wall_seconds is not None:
        elapsed = wall_seconds
    remaining = None
    progress = min(done / budget, 1.0) if budget else 0.0
    fitted = None
    if running and epochs_by_trial is not None:
        fitted = eta.fitted_eta(spec, trials, epochs_by_trial, budget)
    if fitted is not None:
        remaining = fitted.seconds
    elif running and len(durations):
        left = max(budget - done, 0)
        # Trials run parallel at a time: the rest take as long as ceil(left / parallel) in a row.
        waves = math.ceil(left / max(1, min(spec.parallel, left)))
        remaining = float(durations.mean()) * waves
    if budget_epochs:
        epoch_progress = min(epochs_trained / budget_epochs, 1.0)
        if running and epochs_trained:
            # Elapsed is wall time, so epochs per second already counts the parallel trials.
            by_epochs = elapsed / epochs_trained * max(budget_epochs - epochs_trained, 0)
            remaining = by_epochs if remaining is None else min(remaining, by_epochs)
        progress = max(progress, epoch_progress)
    seconds_budget = spec.budget.seconds
    if remaining is not None and seconds_budget:
        remaining = min(remaining, max(float(seconds_budget) - elapsed, 0.0))
    progress_text = f"{done} of {budget} trials · {format_duration(elapsed)} elapsed"
    if budget_epochs:
        progress_text = (
            f"{epochs_trained} of {budget_epochs} epochs ({done} trials) · "
            f"{format_duration(elapsed)} elapsed"
        )
    if running:
        progress_text += (
            f" · about {format_duration(remaining)} left"
            if remaining is not None
            else " · time left: after the first trial"
        )
        if fitted is not None and remaining is not None:
            progress_text += f" ({fitted.basis()})"
    if study.status == StudyStatus.RUNNING and not running:
        status_line = "status: stopped (its worker is gone; start the same spec again to resume)"
    else:
        status_line = f"status: {study.status}" + (f" ({study.message})" if study.message else "")
    complete = (
        trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
        if not trials.empty
        else trials
    )
    best_text, best_help = "—", "No complete trial yet."
    if not complete.empty:
        best = complete.loc[spec.direction.best_index(complete["value"])]
        best_text = f"{best['value']:.4f}"
        best_help = f"Trial {int(best['number'])}: {spec.metric} ({spec.direction})"
    current_number, current_params, current_text = None, None, ""
    running_numbers: tuple[int, ...] = ()
    if running and not running_rows.empty:
        running_numbers = tuple(sorted(int(n) for n in running_rows["number"]))
        row = running_rows.iloc[-1]
        current_number = int(row["number"])
        params = {
            k: row[k]
            for k in trials.columns
            if k not in ("number", "state", "value", "duration_s", "note", "error")
        }
        current_params = {
            k: v for k, v in params.items() if not (isinstance(v, float) and math.isnan(v))
        }
        current_text = f"{current_number}: " + ", ".join(
            f"{k} = {_fmt(v)}" for k, v in current_params.items()
        )
    return LiveSummary(
        running,
        done,
        budget,
        progress,
        progress_text,
        status_line,
        best_text,
        best_help,
        current_number,
        current_params,
        current_text,
        running_numbers,
    )


def shows_timeline(spec: StudySpec, trials_on_workers: int) -> bool:
    """Whether a study gets the worker timeline: it runs (or ran) trials in parallel, or some
    of its trials ran on Dask workers (``run --dask`` with parallel 1)."""
    return spec.parallel > 1 or trials_on_workers > 0


def timeline_caption(busy_text: str, waiting: int) -> str:
    """What to look at on the worker timeline, in one sentence; with no bar drawn yet
    (``busy_text`` empty), only how many trials wait for a worker to begin them."""
    queued = (
        f"{waiting} trial{'s' if waiting != 1 else ''} sent to Dask and not yet begun by a "
        "worker (a new worker loads its libraries and data first)"
        if waiting
        else ""
    )
    if not busy_text:
        return f"{queued[0].upper()}{queued[1:]}." if queued else ""
    return (
        "One lane per worker, one bar per trial coloured by its state: gaps between bars are a "
        f"worker sitting idle (busy: {busy_text}){'; ' + queued if queued else ''}."
    )


def trains_keras(spec: StudySpec) -> bool:
    """Whether the study's trials run Keras' fit with Tuning Lab's callbacks, so they store
    in-epoch training losses: a built-in model, or a user's build_model (API or spec file)."""
    return isinstance(spec.objective, KerasObjectiveSpec | UserModelSpec)


def running_losses_titles(in_epoch: bool, count: int, metric: str) -> tuple[str, str, str]:
    """The running-losses chart's title, y-axis and x-axis titles: in-epoch training losses
    for a Keras study, the metric per epoch for a function (which reports no in-epoch loss)."""
    trials = "running trial" if count == 1 else f"{count} running trials"
    if in_epoch:
        return f"{trials}: training loss within epochs", "training loss", "epoch (in-epoch points)"
    return f"{trials}: {metric} per epoch so far", metric, "epoch"


def resumable(study: StudyRecord, status: LiveSummary) -> bool:
    """Whether the live view offers Resume: the study was stopped (by request or because its
    worker died) with trials left in its budget, and no worker runs it now.
    """
    if status.running or status.done >= status.budget:
        return False
    return study.status in (StudyStatus.STOPPED, StudyStatus.RUNNING)


@dataclass(frozen=True)
class Colouring:
    """How curves are coloured: by a numeric hyperparameter on a fixed domain, else by trial."""

    field: str | None
    log: bool
    domain: tuple[float, float] | None


def colour_choices(spec: StudySpec) -> list[str]:
    """The hyperparameters curves can be coloured by: the tuned numeric ones and numeric choices
    (a learning-rate choice, as the lab compares them), learning rate first."""
    names = []
    for dimension in spec.space.dimensions:
        if isinstance(dimension, NumericDimension) or (
            isinstance(dimension, ChoiceDimension)
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in dimension.values
            )
        ):
            names.append(dimension.name)
    return sorted(names, key=lambda name: name != "learning_rate")


def curve_colouring(spec: StudySpec, field: str | None = None) -> Colouring:
    """Colour by ``field`` (default: the learning rate when tuned, else by trial).

    The domain comes from the study's space, not from the trials so far, so a curve keeps its
    colour while trials arrive (a range's low and high; a choice's smallest and largest value).
    """
    choices = colour_choices(spec)
    if field is None:
        field = choices[0] if choices else None
    if field not in choices:
        return Colouring(None, False, None)
    dimension = spec.space.dimension(field)
    if isinstance(dimension, NumericDimension):
        return Colouring(field, dimension.log, (float(dimension.low), float(dimension.high)))
    values = [float(v) for v in dimension.values]
    low, high = min(values), max(values)
    # A choice of rates spans decades, so it is coloured on a log scale like a log range.
    log = low > 0 and (field == "learning_rate" or high / low >= 100)
    return Colouring(field, log, (low, high))


def best_trial_number(trials: pd.DataFrame, direction: Direction) -> int | None:
    """The complete trial with the best value, or None."""
    if trials.empty:
        return None
    complete = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    if complete.empty:
        return None
    return int(complete.loc[direction.best_index(complete["value"].astype(float)), "number"])


def epochs_recorded(curves: pd.DataFrame) -> int:
    """How many whole (trial, epoch) points the curves hold (a diverged run's in-epoch losses
    are not epochs)."""
    if curves.empty:
        return 0
    whole = curves[~curves["within_epoch"]] if "within_epoch" in curves else curves
    return int(whole[["number", "epoch"]].drop_duplicates().shape[0])


# Lines of a worker log that are not errors even when they contain the word: TensorFlow's
# start-up notices (oneDNN's "floating-point round-off errors", CUDA probing, absl).
_NOTICE = re.compile(
    r"oneDNN|TF_ENABLE_ONEDNN_OPTS|cuda|absl::|computation placer|^\s*[IWT]\d{4} |"
    r"tensorflow/core/util/port|rebuild TensorFlow|This TensorFlow binary",
    re.IGNORECASE,
)
_ERROR = re.compile(r"(^|\b)(\w*Error|\w*Exception|error|Traceback)\b[:\s]")


def last_error_line(log: str) -> str | None:
    """The last line of a worker log that reports an error (``ValueError: …``,
    ``error: …``), skipping TensorFlow's notices; None when there is none.
    """
    for line in reversed(log.splitlines()):
        text = line.strip()
        if not text or _NOTICE.search(text) or text.startswith("Traceback"):
            continue
        if _ERROR.search(text):
            return text
    return None


_EPOCH_IN_TEXT = re.compile(r"\b(at|in) epoch (\d+)\b")


def epochs_from_one(text: str) -> str:
    """The store counts epochs from 0 ("diverged at epoch 0"); shown text counts them from 1,
    as Keras prints "Epoch 1/10" and the charts' axes do."""
    return _EPOCH_IN_TEXT.sub(lambda m: f"{m.group(1)} epoch {int(m.group(2)) + 1}", text)


def hyperband_brackets(spec: StudySpec, trials: pd.DataFrame) -> pd.Series | None:
    """Each trial's Hyperband bracket, counted from 1 (None without Hyperband): by its place
    among the trials, as the pruner assigns it (a retried trial keeps its original's bracket in
    the pruner; here it is placed by its own number)."""
    if spec.pruner.type != "hyperband" or trials.empty:
        return None
    order = sorted(int(n) for n in trials["number"])
    return pd.Series(
        {n: bracket_of(spec.pruner, position) + 1 for position, n in enumerate(order)},
        name=BRACKET,
    )


def trial_table(
    trials: pd.DataFrame, epochs: pd.Series | None = None, brackets: pd.Series | None = None
) -> pd.DataFrame:
    """The trial table as shown: newest first, error and note merged into one column (epochs
    counted from 1), and with ``epochs`` (whole epochs recorded per trial number, from
    :func:`frames.epochs_by_trial`) an "epochs trained" column, where a pruned trial stopped;
    with ``brackets`` (:func:`hyperband_brackets`) a "bracket" column beside it.
    """
    table = trials.copy()
    # Errors count epochs from 0 as stored ("diverged at epoch 0"); notes are written for
    # people and already count from 1 ("pruned at epoch 3: ..."), so only errors are shifted.
    table["flag"] = (
        table["error"].fillna("").map(epochs_from_one) + " " + table["note"].fillna("")
    ).str.strip()
    table = table.drop(columns=["error", "note"])
    ordered = ["number", "state", "value", "flag"]
    if epochs is not None:
        table[EPOCHS_TRAINED] = table["number"].map(epochs).fillna(0).astype(int)
        ordered.insert(2, EPOCHS_TRAINED)
    if brackets is not None:
        table[BRACKET] = table["number"].map(brackets).astype("Int64")
        ordered.insert(2, BRACKET)
    # The flag right after the state: at the far right it was cut off at 1366 px.
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    return table.sort_values("number", ascending=False).reset_index(drop=True)


# The trial table shows this many rows at a time: 10,000 rows took ~0.5 s to send each rerun.
TABLE_PAGE_SIZE = 100


def table_pages(count: int, size: int = TABLE_PAGE_SIZE) -> int:
    """How many pages the trial table has for ``count`` trials (at least one)."""
    return max(1, math.ceil(count / size))


def table_page(trials: pd.DataFrame, page: int, size: int = TABLE_PAGE_SIZE) -> pd.DataFrame:
    """Page ``page`` (from 1) of the trials, newest first, as :func:`trial_table` orders them;
    a page past the last is the last."""
    page = min(max(1, page), table_pages(len(trials), size))
    newest = trials.sort_values("number", ascending=False)
    return newest.iloc[(page - 1) * size : page * size]


def table_page_caption(count: int, page: int, size: int = TABLE_PAGE_SIZE) -> str:
    """The caption of a paged table ("Trials 101-200 of 10,000, newest first."); empty on one
    page."""
    if count <= size:
        return ""
    page = min(max(1, page), table_pages(count, size))
    first, last = (page - 1) * size + 1, min(page * size, count)
    return f"Trials {first:,}-{last:,} of {count:,}, newest first."


EPOCHS_TRAINED = "epochs trained"
BRACKET = "bracket"
# The flag holds a pruned trial's whole reason: given room (taken from the short columns), it
# reads to its end at 1366 px.
FLAG_WIDTH_PX = 820
NARROW_COLUMNS = ("number", "state", "value", EPOCHS_TRAINED, BRACKET)
# Metric names in words: the one table, in engine/tasks.py.
METRIC_TITLES = METRIC_WORDS


def data_sentence(spec: StudySpec) -> str:
    """What a Keras study trains on and tunes for, in words: every transformation its data
    went through (a table's stored preparation summary, or how images are scaled), then the
    metric, "validation mean absolute error, lower is better"."""
    objective = spec.objective
    if not isinstance(objective, KerasObjectiveSpec):
        return f"Tuning for {metric_sentence(spec.metric, spec.direction.value)}."
    preparation = objective.table.preparation if objective.table else None
    if preparation:
        data = preparation["summary"]
    else:
        data = image_preparation(objective.dataset)
        order = objective.split
        share = round(100 * objective.validation_split)
        data += f"; {order} {100 - share}/{share} split, seed {spec.seed}"
    return f"Data: {data}. Tuning for {metric_sentence(spec.metric, spec.direction.value)}."


@dataclass(frozen=True)
class CurvePanel:
    """One learning-curves chart on the live page: which metric, its title, its widget key."""

    metric: str
    title: str
    key: str


def curve_panels(spec: StudySpec, metrics: set[str]) -> list[CurvePanel]:
    """The curve charts the live page draws, given the metrics recorded so far.

    A Keras study: the training loss, and beside it the study's own metric (validation
    accuracy unless it tunes for another; the pruner's cut-offs are in that metric). A function
    with a fidelity (``objective.epochs`` above 1): its value per epoch. Otherwise none, and
    the page shows only the convergence chart.
    """
    if isinstance(spec.objective, FunctionObjectiveSpec):
        if spec.objective.epochs > 1 and spec.metric in metrics:
            return [CurvePanel(spec.metric, f"{spec.metric} per epoch", "value_chart")]
        return []
    right = "val_accuracy" if spec.metric == "loss" else spec.metric
    if not {"loss", right} <= metrics:
        return []
    return [
        CurvePanel("loss", METRIC_TITLES["loss"], "loss_chart"),
        CurvePanel(right, METRIC_TITLES.get(right, right), "accuracy_chart"),
    ]


def pruning_caption(spec: StudySpec) -> str:
    """What to look at on a pruned study's curves, in one or two sentences; empty without a
    pruner."""
    rule = spec.pruner.type
    if rule == "none":
        return ""
    side = "under" if spec.direction == Direction.MAXIMIZE else "over"
    cut = (
        f"Pale curves ending in orange scissors were pruned: on the {spec.metric} chart the orange "
        f"dash at that epoch is the cut-off the trial had to reach, and its curve ended {side} it."
    )
    if rule == "median":
        return (
            f"{cut} The cut-off is the median (grey dashed line) of the complete trials' best "
            f"so far at that epoch, from epoch {int(spec.pruner.options['warmup_epochs']) + 1} on."
        )
    share = f"1/{spec.pruner.options['reduction_factor']}"
    where = " of its bracket" if rule == "hyperband" else ""
    return (
        f"{cut} Grey dotted rules are the rungs: there only the top {share} of the trials{where} "
        "that reached the rung go on, so the cut-off is the worst score still in that top share."
    )
