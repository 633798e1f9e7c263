"""``race``: run or resume a strategy race (several strategies, K seeds, one budget), in this
process or on Dask, and print its verdict."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
from pathlib import Path
from typing import Any

from tuning_core.cli.preflight import attach_best_model, keep_code_folder, refuse_what_cannot_fit
from tuning_core.cli.store_args import storage_path
from tuning_core.engine import race as races
from tuning_core.engine.dask_address import DASK_ENV
from tuning_core.engine.errors import SpecError
from tuning_core.engine.race_spec import RaceSpec, load_race_spec
from tuning_core.engine.spec import StudySpec, json_from_file
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.storage import Store
from tuning_core.training.factory import objective_for
from tuning_core.training.tables import complete_table_spec


def command_race(args: argparse.Namespace) -> int:
    if args.recycle_every < 0:
        raise SpecError(f"--recycle-every must be 0 or more, not {args.recycle_every}.")
    if args.memory_limit is not None and not 0 < args.memory_limit < 1e6:
        raise SpecError(f"--memory-limit must be a positive number of GB, not {args.memory_limit}.")
    race = load_race_spec(args.spec)
    keras = isinstance(race.objective, KerasObjectiveSpec)
    if keras:
        refuse_what_cannot_fit(race.members[0].spec, args.memory_limit)
        # As for run: each study's table is read and its preparation fitted (on its own
        # seed's split) and stored with its spec before the store is opened.
        given = json_from_file(args.spec).get("objective") or {}
        members = [
            dataclasses.replace(member, spec=complete_table_spec(member.spec, given))
            for member in race.members
        ]
        race = dataclasses.replace(race, members=tuple(members))
    if isinstance(race.objective, UserFunctionSpec | UserModelSpec):
        # As for run: the target is imported from beside the race spec (a LocalCluster's
        # workers inherit the path), and once before the store is opened, so a target that
        # cannot be imported is one sentence with nothing stored.
        sys.path.insert(0, str(Path(args.spec).resolve().parent))
        objective_for(race.members[0].spec)
        keep_code_folder(args, race.name)
    # A user's build_model keeps its best epoch's model as a built-in Keras model does.
    keeps_model = keras or isinstance(race.objective, UserModelSpec)
    recycle = args.recycle_every if keras and args.recycle_every > 0 else None
    address = args.dask if args.dask is not None else os.environ.get(DASK_ENV) or None
    if race.parallel > 1 or address is not None:
        return _race_on_dask(args, race, address, recycle)
    with Store(storage_path(args)) as store:

        def objective(spec: StudySpec) -> Any:
            built = objective_for(spec)
            if keeps_model:
                attach_best_model(built, store, spec)
            return built

        outcome = races.run_race(
            race,
            store,
            objective,
            log=lambda line: print(line, flush=True),
            max_trials_this_process=recycle,
        )
    if outcome.recycle:
        print("recycling the worker to release Keras memory", flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "tuning_core", *sys.argv[1:]])
    print(f"race {race.name}: {outcome.status.value} ({outcome.message})", flush=True)
    _print_race_verdict(args, race, outcome)
    return 0


def _print_race_verdict(args: argparse.Namespace, race: RaceSpec, outcome: races.RaceRun) -> None:
    """The verdict the Strategy race page shows, read back from the store."""
    from tuning_core.views import race as race_view  # noqa: PLC0415 - pandas, only at the end

    with Store(storage_path(args)) as store:
        rows = races.race_trial_rows(store, outcome.race_id)
    finished = outcome.status.value == "finished"
    print(f"verdict: {race_view.race_verdict(race, rows, finished)}", flush=True)


def _race_on_dask(
    args: argparse.Namespace, race: RaceSpec, address: str | None, restart_every: int | None
) -> int:
    """Run the race's studies one after another, each with its trials as Dask tasks, on one
    client (one LocalCluster for the whole race, or the scheduler at ``address``)."""
    from tuning_core.engine import parallel  # noqa: PLC0415 - Dask loads only here

    if address is not None:
        parallel.refuse_unreachable(address)  # before the store is opened or created
    log = functools.partial(print, flush=True)
    # Connect first: an unreachable scheduler leaves the store untouched.
    with parallel.dask_client(race.parallel, address) as client, Store(storage_path(args)) as store:
        outcome = races.run_race(
            race,
            store,
            objective_for,
            log=log,
            run_on_dask=lambda spec: parallel.run_parallel_study(
                spec, store, objective_for, log=log, restart_every=restart_every, client=client
            ),
        )
    print(f"race {race.name}: {outcome.status.value} ({outcome.message})", flush=True)
    _print_race_verdict(args, race, outcome)
    return 0
