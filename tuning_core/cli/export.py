"""``export``: a study's trials as CSV or JSON, or one trial (the best, or ``--trial N``) as
params, a script or the saved Keras model."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from tuning_core.cli.store_args import require_study, storage_path
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.records import study_best
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord, artifacts_dir
from tuning_core.reports import export
from tuning_core.reports.export import saved_model_problem
from tuning_core.reports.keras_script import keras_script
from tuning_core.reports.user_script import best_params_json, user_script


def command_export(args: argparse.Namespace) -> int:

    with Store(storage_path(args), create=False) as store:
        study = require_study(store, args.name)
        chosen = _chosen_trial(store, study, args)
        if chosen is not None:  # the exports below write the store's best: make it this one
            store = _ChosenTrialStore(store, chosen)  # type: ignore[assignment]
        if args.format == "csv":
            text = export.export_csv(store, study)
        elif args.format == "json":
            text = export.export_json(store, study)
        elif args.format == "params":
            text = best_params_json(store, study)
        elif args.format == "script":
            text = user_script(store, study, Path(args.output).name if args.output else None)
        elif args.format == "keras-script":
            text = keras_script(store, study, Path(args.output).name if args.output else None)
        else:
            source = artifacts_dir(storage_path(args), study.name) / "best.keras"
            if not source.is_file():
                raise SpecError(
                    f"name: the study {brief(study.name)} has no saved best model yet (only Keras "
                    "studies save one)."
                )
            target = Path(args.output or f"{study.name}.keras")
            problem = saved_model_problem(source)
            if problem:
                raise SpecError(
                    f"name: the saved model of {study.name!r} is damaged ({problem}); run the "
                    "study again to save a new one."
                )
            shutil.copyfile(source, target)
            print(f"wrote {target}")
            return 0
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


class _ChosenTrialStore:
    """A read view of a store in which a study's trials are only ``chosen``: the single-trial
    exports (params, script, keras-script) write the best of the trials they read, which is
    then that trial. Everything else reads through to the store."""

    def __init__(self, store: Store, chosen: TrialRecord) -> None:
        self._store = store
        self._chosen = chosen

    def trials(self, study_id: int) -> list[TrialRecord]:
        return [self._chosen]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _chosen_trial(store: Store, study: StudyRecord, args: argparse.Namespace) -> TrialRecord | None:
    """The trial a single-trial export writes when it is not simply the best on the first
    metric: ``--trial N``, or for a study of several metrics the default (the best on the first
    metric among the front). None: the export's own best."""
    single = args.format in ("params", "script", "keras-script")
    if args.trial is None:
        if not (single and study.spec.multi_metric):
            return None
        return study_best(store.trials(study.id), study.spec)
    if args.format in ("csv", "json"):
        raise SpecError(
            f"--trial: the {args.format} export holds every trial; leave --trial out, or use "
            "--format params, script or keras-script for one trial."
        )
    trials = {trial.number: trial for trial in store.trials(study.id)}
    trial = trials.get(args.trial)
    if trial is None or trial.state != TrialState.COMPLETE:
        state = "no such trial" if trial is None else f"trial {args.trial} is {trial.state.value}"
        raise SpecError(
            f"--trial: the study {study.name!r} has {state}; give a complete trial's number "
            "(the front's are listed by run and list)."
        )
    best = study_best(list(trials.values()), study.spec)
    if args.format == "keras-model" and (best is None or best.number != trial.number):
        raise SpecError(
            f"--trial: only the best trial's model is saved (trial "
            f"{best.number if best else '-'}); --format keras-script --trial "
            f"{args.trial} writes a script that trains trial {args.trial}."
        )
    return trial
