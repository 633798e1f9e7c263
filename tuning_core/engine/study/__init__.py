"""The study loop: ask -> run the trial -> tell, with budgets, stop requests and resume.

:func:`run_study` is three parts, as Optuna splits ``_optimize``, ``_run_trial`` and its
logging: :func:`_replay` rebuilds the strategy from the stored history, :func:`_run_trial`
runs and records one trial, and :func:`_progress_line` says what happened; each has its
module below.

Resuming replays the stored trials through a fresh strategy in their original order (asking
before each told trial, exactly as the first run did), so a study that was interrupted or
recycled proposes the same params as one that never stopped. Trials that a dead worker left
running become ``interrupted`` and are retried first, with the params they had.

One module per idea, each depending only on those listed before it:

- ``reporter.py``: ``StoreReporter``, a trial's metrics written through, stops and pruning;
- ``teller.py``: ``_Teller``, what the strategy is told of each finished trial (failures as a
  finite penalty, several metrics as a tuple);
- ``replay.py``: ``_replay``, the stored history fed to a fresh strategy, or its snapshot;
- ``trial.py``: ``run_objective`` and ``TrialEnd`` (how a trial ended, here or on Dask),
  ``_run_trial`` (one trial run and recorded), ``finished_record``;
- ``progress.py``: the CLI's line for each finished trial;
- ``claim.py``: ``claim_and_run``, the study claimed for this process and never left running;
- ``session.py``: ``Session`` and ``begin_session``, a claimed study's state between trials,
  and the steps the sequential loop and the Dask driver share;
- ``loop.py``: ``run_study``, the sequential loop.

This package re-exports the names callers import (the Dask driver, the audit, the API, the
CLI, tests and benchmarks), so ``tuning_core.engine.study`` stays the one import path.
"""

from __future__ import annotations

from tuning_core.engine.study.claim import StudyRun, claim_and_run, open_study
from tuning_core.engine.study.loop import run_study
from tuning_core.engine.study.reporter import STOP_POLL_SECONDS, StoreReporter
from tuning_core.engine.study.session import (
    Session,
    _busy_seconds,
    begin_session,
    save_ask,
    stop_if_every_trial_fails,
)
from tuning_core.engine.study.teller import Loss, _Teller
from tuning_core.engine.study.trial import (
    BATCH_FLUSH_SECONDS,
    TrialEnd,
    _run_trial,
    finished_record,
    metric_names,
    missing_metric,
    run_objective,
)

__all__ = [
    "BATCH_FLUSH_SECONDS",
    "STOP_POLL_SECONDS",
    "Loss",
    "Session",
    "StoreReporter",
    "StudyRun",
    "TrialEnd",
    # Private to the package, but the audit, tests and benchmarks import them from here.
    "_Teller",
    "_busy_seconds",
    "_run_trial",
    "begin_session",
    "claim_and_run",
    "finished_record",
    "metric_names",
    "missing_metric",
    "open_study",
    "run_objective",
    "run_study",
    "save_ask",
    "stop_if_every_trial_fails",
]
