"""One trial: call the objective, say how it ended (:class:`TrialEnd`, the same for a trial
run here or on Dask), and record it. Training errors fail the trial, not the search; a
dataset that cannot load, an objective that cannot run at all, or an interrupt stops the study
and is recorded so before it propagates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuning_core.engine.errors import DatasetError, StoreError
from tuning_core.engine.objectives import (
    Objective,
    Reporter,
    TrialDiverged,
    TrialPruned,
    TrialStopped,
)
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.study.reporter import StoreReporter
from tuning_core.engine.user_objectives import ObjectiveError, exception_line

# How long a trial in this process holds its in-epoch losses before writing them: one
# transaction each half second, not one per point (~0.2 ms each, 2% of a small model's trial).
BATCH_FLUSH_SECONDS = 0.5


@dataclass
class TrialEnd:
    """How a trial ended, before it is recorded: the same for a trial run here or on Dask."""

    state: TrialState
    value: float | None = None
    error: str | None = None
    note: str | None = None
    pruned: PruneDecision | None = None
    values: dict[str, float] | None = None  # every metric measured, by name


def missing_metric(values: Mapping[str, float], metrics: Sequence[str]) -> str | None:
    """The sentence that stops a study whose objective returned none of one of its metrics
    (naming the missing one and those it did return), or None."""
    missing = [name for name in metrics if name not in values]
    if not missing:
        return None
    returned = ", ".join(values) or "nothing"
    return (
        f"the objective returned no {missing[0]} (it returned {returned}); return every metric "
        f"the study optimises: {', '.join(metrics)}."
    )


def run_objective(
    objective: Objective,
    params: dict[str, Any],
    reporter: Reporter,
    metric: str,
    metrics: Sequence[str] = (),
) -> TrialEnd:
    """Call the objective and say how the trial ended. Training errors fail the trial, not the
    search; :class:`DatasetError` and ``KeyboardInterrupt`` propagate for the caller to record.

    ``metric`` is the study's first metric, ``metrics`` all of them (for a study of several):
    when the objective returns ``values``, the trial's value is ``values[metric]``, and a
    metric it did not return stops the study (:class:`ObjectiveError`, one sentence).

    ``reporter`` must have ``prune_decision`` and ``stop_reason`` attributes (None unless it
    pruned or stopped the trial).
    """
    end = TrialEnd(TrialState.COMPLETE)
    try:
        outcome = objective(params, reporter)
        end.value, end.note = outcome.value, outcome.note
        if outcome.values is not None:
            problem = missing_metric(outcome.values, list(dict.fromkeys([metric, *metrics])))
            if problem:
                raise ObjectiveError(problem)
            end.values = dict(outcome.values)
            end.value = end.values[metric]
        if end.value is None or not math.isfinite(end.value):
            end.state, end.error = TrialState.DIVERGED, f"the objective returned {end.value}"
    except TrialPruned:
        end.pruned = getattr(reporter, "prune_decision", None)
        end.state = TrialState.PRUNED
        if end.pruned is not None:
            end.value, end.note = end.pruned.value, end.pruned.sentence(metric)
    except TrialDiverged as diverged:
        end.state = TrialState.DIVERGED
        end.error = f"diverged at epoch {diverged.epoch}: {diverged}"
    except TrialStopped as stopped:
        end.state = TrialState.INTERRUPTED
        end.error = getattr(reporter, "stop_reason", None) or str(stopped) or "stopped"
    except ObjectiveError:
        raise  # the user's objective cannot run at all: the caller stops the study
    except (DatasetError, StoreError, KeyboardInterrupt):
        raise  # no trial could be kept: the caller stops the study
    except Exception as exc:  # noqa: BLE001 - any training error fails the trial, not the search
        end.state, end.error = TrialState.FAILED, exception_line(exc)
    if end.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        end.value = None
    return end


def metric_names(spec: StudySpec) -> tuple[str, ...]:
    """The names of every metric ``spec`` optimises, in its order."""
    return tuple(goal.name for goal in spec.metrics)


def _run_trial(
    store: Store,
    study_id: int,
    number: int,
    params: dict[str, Any],
    retry_of: int | None,
    objective: Objective,
    deadline: float | None,
    spec: StudySpec,
) -> TrialRecord:
    """Run one trial, record how it ended, and return its finished record.

    Training errors fail the trial, not the search. A dataset that cannot be loaded stops
    the study with that sentence: no trial could run, so the trial is left interrupted, and a
    re-run retries it once the data is there.
    """
    trial_id = store.start_trial(study_id, number, params, retry_of=retry_of)
    reporter = StoreReporter(
        store, study_id, trial_id, deadline, spec, number, flush_seconds=BATCH_FLUSH_SECONDS
    )
    started = time.time()
    try:
        try:
            end = run_objective(objective, params, reporter, spec.metric, metric_names(spec))
        finally:
            reporter.flush()
    except DatasetError as dataset_error:
        store.finish_trial(trial_id, TrialState.INTERRUPTED, error=str(dataset_error))
        store.set_status(study_id, StudyStatus.FAILED, message=str(dataset_error))
        raise
    except ObjectiveError as objective_error:
        # Retrying would fail the same way: the trial failed, and the study stops with it.
        store.finish_trial(trial_id, TrialState.FAILED, error=str(objective_error))
        message = str(objective_error)
        store.set_status(study_id, StudyStatus.FAILED, worker_pid=None, message=message)
        raise
    except KeyboardInterrupt:
        store.finish_trial(trial_id, TrialState.INTERRUPTED, error="the worker was interrupted")
        store.set_status(study_id, StudyStatus.STOPPED, message="the worker was interrupted")
        raise
    finished = store.finish_trial(
        trial_id, end.state, end.value, end.error, end.note, end.pruned, values=end.values
    )
    return finished_record(trial_id, number, params, retry_of, started, finished, end)


def finished_record(
    trial_id: int,
    number: int,
    params: dict[str, Any],
    retry_of: int | None,
    started_at: float,
    finished_at: float,
    end: TrialEnd,
) -> TrialRecord:
    """The stored record of a trial that ended as ``end`` says."""
    return TrialRecord(
        id=trial_id,
        number=number,
        params=params,
        state=end.state,
        value=end.value,
        error=end.error,
        note=end.note,
        retry_of=retry_of,
        started_at=started_at,
        finished_at=finished_at,
        values=dict(end.values or {}),
    )
