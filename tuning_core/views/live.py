"""What the live view shows, computed from the study's DataFrames: pure and testable. The
trial table (live_table) and the curve charts' choice and colours (live_curves) live beside it
and are re-exported here, where the pages and the tests have always found them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuning_core.engine.records import worker_running
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserModelSpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import StudyRecord
from tuning_core.engine.tasks import metric_sentence
from tuning_core.training.datasets import image_preparation
from tuning_core.views import eta
from tuning_core.views.forms import format_duration

# Split out by what they hold; re-exported here (see above).
from tuning_core.views.live_curves import (  # noqa: F401
    METRIC_TITLES,
    Colouring,
    CurvePanel,
    best_trial_number,
    colour_choices,
    curve_colouring,
    curve_panels,
    epochs_recorded,
    pruning_caption,
)
from tuning_core.views.live_table import (  # noqa: F401
    BRACKET,
    EPOCHS_TRAINED,
    TABLE_PAGE_SIZE,
    epochs_from_one,
    hyperband_brackets,
    table_column_config,
    table_page,
    table_page_caption,
    table_pages,
    trial_table,
)

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
    budget = spec.planned_trials  # a grid of fewer points ends with them
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
