"""``run``: run or resume the study a spec file describes, in this process or as Dask tasks,
and print its outcome (and a study of several metrics' front)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tuning_core.cli.preflight import (
    attach_best_model,
    keep_code_folder,
    refuse_table_model_too_large,
    refuse_what_cannot_fit,
)
from tuning_core.cli.store_args import storage_path
from tuning_core.engine.dask_address import DASK_ENV
from tuning_core.engine.errors import SpecError
from tuning_core.engine.records import front_trials, study_best
from tuning_core.engine.spec import (
    MAX_HEARTBEAT_SECONDS,
    MAX_RETRIES,
    StudySpec,
    json_from_file,
    load_spec,
)
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.study import run_study
from tuning_core.training.factory import objective_for
from tuning_core.training.held_out import report_held_out
from tuning_core.training.tables import complete_table_spec


def command_run(args: argparse.Namespace) -> int:
    if args.recycle_every < 0:
        raise SpecError(f"--recycle-every must be 0 or more, not {args.recycle_every}.")
    if args.heartbeat_seconds is not None and not 1 <= args.heartbeat_seconds <= (
        MAX_HEARTBEAT_SECONDS
    ):
        raise SpecError(
            f"--heartbeat-seconds must be from 1 to {MAX_HEARTBEAT_SECONDS:,.0f} seconds, not "
            f"{args.heartbeat_seconds:g}."
        )
    if args.max_retries is not None and not 0 <= args.max_retries <= MAX_RETRIES:
        raise SpecError(f"--max-retries must be from 0 to {MAX_RETRIES}, not {args.max_retries}.")
    if args.memory_limit is not None and not 0 < args.memory_limit < 1e6:
        raise SpecError(f"--memory-limit must be a positive number of GB, not {args.memory_limit}.")
    address = args.dask if args.dask is not None else os.environ.get(DASK_ENV) or None
    spec = load_spec(args.spec)
    built_in = isinstance(spec.objective, KerasObjectiveSpec)
    if built_in:
        refuse_what_cannot_fit(spec, args.memory_limit)
        # A table is read and its preparation fitted before the store is opened: bad data is
        # one sentence, with nothing stored.
        spec = complete_table_spec(spec, json_from_file(args.spec).get("objective") or {})
        refuse_table_model_too_large(spec, args.memory_limit)
    if isinstance(spec.objective, UserFunctionSpec | UserModelSpec):
        # The target is imported from beside the spec file, and before the store is opened:
        # a target that cannot be imported is one sentence, and nothing is stored.
        sys.path.insert(0, str(Path(args.spec).resolve().parent))
        objective_for(spec)
        keep_code_folder(args, spec.name)
    recycle = args.recycle_every if built_in and args.recycle_every > 0 else None
    if spec.parallel > 1 or address is not None:
        return _run_on_dask(args, spec, address, recycle)
    with Store(storage_path(args)) as store:
        objective = objective_for(spec)
        if isinstance(spec.objective, KerasObjectiveSpec | UserModelSpec):
            attach_best_model(objective, store, spec)
        outcome = run_study(
            spec,
            store,
            objective,
            log=lambda line: print(line, flush=True),
            max_trials_this_process=recycle,
        )
        if not outcome.recycle:
            report_held_out(spec, store, lambda line: print(line, flush=True))
    if outcome.recycle:
        print(
            f"recycling the worker after {outcome.trials_run} trials to release Keras memory",
            flush=True,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "tuning_core", *sys.argv[1:]])
    if spec.multi_metric:
        with Store(storage_path(args), create=False) as store:
            study = store.get_study(spec.name)
            for line in front_lines(spec, store.trials(study.id) if study else []):
                print(line, flush=True)
    print(f"study {spec.name}: {outcome.status.value} ({outcome.message})", flush=True)
    return 0


def _run_on_dask(
    args: argparse.Namespace, spec: StudySpec, address: str | None, restart_every: int | None
) -> int:
    """Run the study's trials as Dask tasks; this process stays the store's only writer."""
    # Dask loads only here: a study with parallel 1 and no scheduler never imports it.
    from tuning_core.engine import parallel  # noqa: PLC0415

    if address is not None:
        parallel.refuse_unreachable(address)  # before the store is opened or created
    with Store(storage_path(args)) as store:
        outcome = parallel.run_parallel_study(
            spec,
            store,
            objective_for,
            address=address,
            log=lambda line: print(line, flush=True),
            restart_every=restart_every,
            heartbeat_seconds=args.heartbeat_seconds,
            max_retries=args.max_retries,
        )
    print(f"study {spec.name}: {outcome.status.value} ({outcome.message})", flush=True)
    return 0


def front_lines(spec: StudySpec, trials: list[TrialRecord]) -> list[str]:
    """A study of several metrics' front as the CLI prints it: one line per trial, its number
    and each metric's value, the default best (the best on the first metric) marked."""
    front = front_trials(trials, spec.metrics)
    best = study_best(trials, spec)
    lines = [f"front ({len(front)} of {len(trials)} trials; * the default best, first metric):"]
    for trial in front:
        values = "  ".join(f"{g.name}={trial.values[g.name]:.6g}" for g in spec.metrics)
        mark = "*" if best is not None and trial.number == best.number else " "
        lines.append(f" {mark} trial {trial.number}: {values}")
    return lines
