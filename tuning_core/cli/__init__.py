"""The command line: ``python -m tuning_core run|race|list|export|stop|delete|explain|lr-find``,
``audit``, ``app``, ``record`` and ``replay``.

Bad input exits with status 2 and one sentence on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning_core.engine import audit as audits
from tuning_core.engine import race as races
from tuning_core.engine.dask_address import DASK_ENV
from tuning_core.engine.errors import ClusterError, DatasetError, SpecError, brief
from tuning_core.engine.explain import explain as explain_trial
from tuning_core.engine.memory import MEMORY_LIMIT_ENV, default_memory_limit, memory_problem
from tuning_core.engine.race_spec import RaceSpec, load_race_spec
from tuning_core.engine.records import best_trial, front_trials, study_best, study_summaries
from tuning_core.engine.spec import (
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_MAX_RETRIES,
    MAX_HEARTBEAT_SECONDS,
    MAX_RETRIES,
    StudySpec,
    json_from_file,
    load_spec,
)
from tuning_core.engine.spec_parts import KerasObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import (
    STORAGE_ENV,
    Store,
    StudyRecord,
    TrialRecord,
    artifacts_dir,
    default_storage_path,
)
from tuning_core.engine.study import run_study
from tuning_core.reports import export
from tuning_core.reports.export import saved_model_problem
from tuning_core.reports.keras_script import keras_script
from tuning_core.reports.user_script import best_params_json, user_script
from tuning_core.training.datasets import image_shape_of
from tuning_core.training.factory import objective_for
from tuning_core.training.held_out import report_held_out
from tuning_core.training.lr_find import lr_range_test_for_spec
from tuning_core.training.tables import complete_table_spec, objective_is_table
from tuning_core.workers import code_folder_of, remember_code_folder, specs_dir

if TYPE_CHECKING:  # importing it loads Keras; the annotation alone must not
    from tuning_core.training.keras_objective import KerasObjective

# Keras leaks ~2 MB per fit even after clear_session(); a fresh process every N trials keeps
# the worker's memory bounded, at the cost of one TensorFlow import (~4 s) per N trials.
DEFAULT_RECYCLE_EVERY = 20


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a ``run`` or ``race`` stops as Ctrl-C stops it
    (its running trials interrupted, the study stopped), not killed mid-write."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (from the main thread only; a
    caller on another thread, such as a test, keeps its own handling)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        # A second SIGTERM must not cut short the cleanup the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated("the process was sent SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parser() -> argparse.ArgumentParser:
    storage_help = (
        f"SQLite store (default: $TUNING_LAB_STORAGE, else ./{Path(default_storage_path()).name})"
    )
    parser = argparse.ArgumentParser(
        prog="python -m tuning_core", description="Tuning Lab's engine."
    )
    parser.add_argument("--storage", default=None, help=storage_help)
    # --storage may also follow the subcommand (as in Optuna's CLI); SUPPRESS keeps an absent
    # one there from overwriting a value given before the subcommand.
    storage_after = argparse.ArgumentParser(add_help=False)
    storage_after.add_argument("--storage", default=argparse.SUPPRESS, help=storage_help)
    commands = parser.add_subparsers(dest="command", required=True)
    add_command = functools.partial(commands.add_parser, parents=[storage_after])
    run = add_command("run", help="run or resume the study a spec file describes")
    run.add_argument("spec", help="study spec JSON file")
    run.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="GB",
        help=(
            "refuse a Keras spec whose largest model needs more memory than this to train "
            f"(default: ${MEMORY_LIMIT_ENV}, else half this machine's memory)"
        ),
    )
    run.add_argument(
        "--recycle-every",
        type=int,
        default=DEFAULT_RECYCLE_EVERY,
        help="start a fresh worker process after this many Keras trials (0: never)",
    )
    run.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help=(
            "run the trials as tasks on the Dask scheduler at ADDRESS (tcp://host:8786), "
            "spec.parallel at once (default: $TUNING_LAB_DASK; without either, a spec with "
            "parallel above 1 starts a local Dask cluster)"
        ),
    )
    run.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=None,
        metavar="SECONDS",
        help=(
            "on Dask, give up a trial whose worker sends nothing for this long and retry it "
            f"elsewhere (default: the spec's dask.heartbeat_seconds, else "
            f"{DEFAULT_HEARTBEAT_SECONDS:g})"
        ),
    )
    run.add_argument(
        "--max-retries",
        type=int,
        default=None,
        metavar="N",
        help=(
            "on Dask, fail a trial once it has lost more than N workers (default: the spec's "
            f"dask.max_retries, else {DEFAULT_MAX_RETRIES})"
        ),
    )
    race = add_command(
        "race", help="run or resume a strategy race: several strategies, K seeds, one budget"
    )
    race.add_argument("spec", help="race spec JSON file")
    race.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="GB",
        help="refuse a Keras race whose largest model needs more memory than this to train",
    )
    race.add_argument(
        "--recycle-every",
        type=int,
        default=DEFAULT_RECYCLE_EVERY,
        help="start a fresh worker process after this many Keras trials (0: never)",
    )
    race.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help=(
            "run each study's trials on the Dask scheduler at ADDRESS, the race's parallel at "
            "once (default: $TUNING_LAB_DASK; without either, a race with parallel above 1 "
            "starts one local Dask cluster for all its studies)"
        ),
    )
    add_command("list", help="show each study with its state, trials done and best value")
    export = add_command("export", help="export a study's trials")
    export.add_argument("name")
    export.add_argument(
        "--format",
        choices=["csv", "json", "keras-script", "keras-model", "params", "script"],
        default="csv",
        help="params and script: the best params as JSON, and a script calling your own "
        "function with them (studies of a python objective)",
    )
    export.add_argument("--output", help="file to write (default: standard output)")
    export.add_argument(
        "--trial",
        type=int,
        default=None,
        help="params, script and keras-script: export this trial (a complete one, e.g. another "
        "point of a several-metric study's front) instead of the best on the first metric",
    )
    record = add_command(
        "record",
        help="write a study (or a race) as a recording that replays without training (a lesson)",
    )
    record.add_argument("name", help="a study, or a race (all its studies)")
    record.add_argument("--output", required=True, help="the recording's file (JSON)")
    replay = add_command(
        "replay", help="replay a recording into the store as if it ran now (nothing trains)"
    )
    replay.add_argument("recording")
    replay.add_argument(
        "--speed", type=float, default=None, help="times faster than recorded (default: at once)"
    )
    stop = add_command("stop", help="ask the worker running a study (or a race) to stop")
    stop.add_argument("name")
    delete = add_command("delete", help="delete a study and all its trials")
    delete.add_argument("name")
    explain = add_command(
        "explain",
        help="why a Bayesian study proposed a trial: its surrogate and acquisition then",
    )
    explain.add_argument("name")
    explain.add_argument("--trial", type=int, required=True, help="the trial number to explain")
    explain.add_argument(
        "--dims",
        default=None,
        help="one or two tuned names, comma-separated (default: the first two)",
    )
    explain.add_argument(
        "--json", action="store_true", help="print the grid, mean, std and acquisition as JSON"
    )
    audit = add_command(
        "audit",
        help="would it have won? train some of a pruned study's pruned trials to the end (as "
        "trials of NAME.audit) and print the false-prune rate",
    )
    audit.add_argument("name", help="a finished study run with a pruner")
    audit.add_argument(
        "--sample", type=int, required=True, metavar="K", help="how many pruned trials to train"
    )
    audit.add_argument(
        "--choose",
        choices=audits.CHOICES,
        default="random",
        help="random (default), or promising: the best values at their cut-off first",
    )
    audit.add_argument(
        "--seed", type=int, default=None, help="seeds the random choice (default: the study's)"
    )
    app = add_command(
        "app",
        help="serve the dashboard on 127.0.0.1 from any folder (streamlit run on the installed "
        "app); the store is --storage, else $TUNING_LAB_STORAGE, else ./tuning_lab.db here",
    )
    app.add_argument("--port", type=int, default=None, help="the port (default 8501)")
    app.add_argument(
        "streamlit_args",
        nargs=argparse.REMAINDER,
        help="after --, more options for streamlit run (e.g. -- --theme.base dark)",
    )
    lr_find = commands.add_parser(
        "lr-find",
        help="LR range test: suggest learning rates for a Keras spec",
        description=(
            "LR range test: train the spec's model for --steps batches while the learning rate "
            "rises "
            "from --start to --end, and suggest learning rates from the loss curve. The learning "
            "rate "
            "is the only thing varied: every other hyperparameter the spec fixes is used as is, "
            "and "
            "every other tuned one is held at the middle of its range (a choice at its first "
            "value)."
        ),
    )
    lr_find.add_argument("spec")
    lr_find.add_argument(
        "--json", action="store_true", help="print the suggestions and curve as JSON"
    )
    lr_find.add_argument(
        "--start", type=float, default=1e-7, help="first learning rate (default 1e-7)"
    )
    lr_find.add_argument("--end", type=float, default=10.0, help="last learning rate (default 10)")
    lr_find.add_argument(
        "--steps", type=int, default=100, help="batches from start to end (default 100)"
    )
    lr_find.add_argument(
        "--output", help="also write the JSON result to this file (the dashboard reads it)"
    )
    return parser


def _storage(args: argparse.Namespace) -> str:
    return args.storage or default_storage_path()


def _require_study(store: Store, name: str) -> StudyRecord:
    study = store.get_study(name)
    if study is None:
        names = ", ".join(s.name for s in store.studies()) or "none yet"
        raise SpecError(
            f"name: there is no study called {brief(name)} in this store (studies: {names})."
        )
    return study


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
        _refuse_what_cannot_fit(spec, args.memory_limit)
        # A table is read and its preparation fitted before the store is opened: bad data is
        # one sentence, with nothing stored.
        spec = complete_table_spec(spec, json_from_file(args.spec).get("objective") or {})
        _refuse_table_model_too_large(spec, args.memory_limit)
    if isinstance(spec.objective, UserFunctionSpec | UserModelSpec):
        # The target is imported from beside the spec file, and before the store is opened:
        # a target that cannot be imported is one sentence, and nothing is stored.
        sys.path.insert(0, str(Path(args.spec).resolve().parent))
        objective_for(spec)
        _remember_code_folder(args, spec.name)
    recycle = args.recycle_every if built_in and args.recycle_every > 0 else None
    if spec.parallel > 1 or address is not None:
        return _run_on_dask(args, spec, address, recycle)
    with Store(_storage(args)) as store:
        objective = objective_for(spec)
        if isinstance(spec.objective, KerasObjectiveSpec | UserModelSpec):
            _attach_best_model(objective, store, spec)
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
        with Store(_storage(args), create=False) as store:
            study = store.get_study(spec.name)
            for line in front_lines(spec, store.trials(study.id) if study else []):
                print(line, flush=True)
    print(f"study {spec.name}: {outcome.status.value} ({outcome.message})", flush=True)
    return 0


def command_race(args: argparse.Namespace) -> int:
    if args.recycle_every < 0:
        raise SpecError(f"--recycle-every must be 0 or more, not {args.recycle_every}.")
    if args.memory_limit is not None and not 0 < args.memory_limit < 1e6:
        raise SpecError(f"--memory-limit must be a positive number of GB, not {args.memory_limit}.")
    race = load_race_spec(args.spec)
    keras = isinstance(race.objective, KerasObjectiveSpec)
    if keras:
        _refuse_what_cannot_fit(race.members[0].spec, args.memory_limit)
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
        _remember_code_folder(args, race.name)
    # A user's build_model keeps its best epoch's model as a built-in Keras model does.
    keeps_model = keras or isinstance(race.objective, UserModelSpec)
    recycle = args.recycle_every if keras and args.recycle_every > 0 else None
    address = args.dask if args.dask is not None else os.environ.get(DASK_ENV) or None
    if race.parallel > 1 or address is not None:
        return _race_on_dask(args, race, address, recycle)
    with Store(_storage(args)) as store:

        def objective(spec: StudySpec) -> Any:
            built = objective_for(spec)
            if keeps_model:
                _attach_best_model(built, store, spec)
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

    with Store(_storage(args)) as store:
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
    with parallel.dask_client(race.parallel, address) as client, Store(_storage(args)) as store:
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


def _run_on_dask(
    args: argparse.Namespace, spec: StudySpec, address: str | None, restart_every: int | None
) -> int:
    """Run the study's trials as Dask tasks; this process stays the store's only writer."""
    # Dask loads only here: a study with parallel 1 and no scheduler never imports it.
    from tuning_core.engine import parallel  # noqa: PLC0415

    if address is not None:
        parallel.refuse_unreachable(address)  # before the store is opened or created
    with Store(_storage(args)) as store:
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


def _remember_code_folder(args: argparse.Namespace, name: str) -> None:
    """Keep the spec file's folder beside the study or race, so a Resume from the dashboard
    (which runs a copy of the spec from <store>.specs) imports the same python target; a
    spec the dashboard wrote is in that folder, and what it remembered stays."""
    folder = Path(args.spec).resolve().parent
    if folder != specs_dir(_storage(args)).resolve():
        remember_code_folder(_storage(args), name, str(folder))


def _refuse_what_cannot_fit(spec: StudySpec, limit_gb: float | None) -> None:
    """Before any trial runs (and before anything is stored), refuse a built-in Keras model
    too large."""
    if limit_gb is not None:
        # The loader checks the data again against the same limit (in this process, a
        # recycled one and the Dask workers it starts; a table's reader too): it reads the
        # environment.
        os.environ[MEMORY_LIMIT_ENV] = f"{limit_gb:g}"
    if not isinstance(spec.objective, KerasObjectiveSpec):
        return
    image_shape = image_shape_of(spec.objective.dataset)
    if image_shape is None:
        return  # unreadable data is refused, in one sentence, when the first trial loads it
    limit = default_memory_limit() if limit_gb is None else int(limit_gb * 1e9)
    problem = memory_problem(spec, image_shape, limit)
    if problem:
        raise SpecError(problem)


def _refuse_table_model_too_large(spec: StudySpec, limit_gb: float | None) -> None:
    """A table's largest MLP, counted as the image MLP is with one row of features as its
    input (the data is already bounded by the reader)."""
    table = spec.objective.table if isinstance(spec.objective, KerasObjectiveSpec) else None
    preparation = table.preparation if table else None
    if not preparation:
        return
    limit = default_memory_limit() if limit_gb is None else int(limit_gb * 1e9)
    problem = memory_problem(spec, (1, int(preparation["features"])), limit)
    if problem:
        raise SpecError(problem)


def _attach_best_model(objective: KerasObjective, store: Store, spec: StudySpec) -> None:
    """Have the Keras objective save a trial's model whenever it beats the stored best."""

    study = store.get_study(spec.name)
    best = best_trial(store.trials(study.id), spec.direction) if study else None
    objective.best_model_path = artifacts_dir(store.path, spec.name) / "best.keras"
    objective.best_value = (
        None if best is None or not objective.best_model_path.is_file() else best.value
    )


def command_list(args: argparse.Namespace) -> int:

    with Store(_storage(args), create=False) as store:
        rows = study_summaries(store)
    if not rows:
        print("no studies yet")
        return 0
    print(f"{'name':<28} {'status':<10} {'trials':>9} {'best':>12}  metric")
    for row in rows:
        best = "-" if row.best_value is None else f"{row.best_value:.6g}"
        pruned = f", {row.pruned} pruned" if row.pruned else ""
        more = ""
        if len(row.metrics) > 1:  # best is the first metric's; the front is the study's best
            more = f"; with {', '.join(row.metrics[1:])}: front of {row.front} trials"
        print(
            f"{row.name:<28} {row.status:<10} {row.done:>4}/{row.budget:<4} {best:>12}  "
            f"{row.metric} ({row.direction}{pruned}{more})"
        )
    return 0


def command_export(args: argparse.Namespace) -> int:

    with Store(_storage(args), create=False) as store:
        study = _require_study(store, args.name)
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
            source = artifacts_dir(_storage(args), study.name) / "best.keras"
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


def command_stop(args: argparse.Namespace) -> int:
    with Store(_storage(args), create=False) as store:
        if store.get_study(args.name) is None and races.get_race(store, args.name) is not None:
            races.request_race_stop(store, args.name)
            print(f"asked the worker of the race {brief(args.name)} to stop")
            return 0
        _require_study(store, args.name)
        store.request_stop(args.name)
    print(f"asked the worker of {brief(args.name)} to stop")
    return 0


def command_delete(args: argparse.Namespace) -> int:
    with Store(_storage(args), create=False) as store:
        _require_study(store, args.name)
        store.delete_study(args.name)
    print(f"deleted {brief(args.name)}")
    return 0


def command_explain(args: argparse.Namespace) -> int:
    dims = [d.strip() for d in args.dims.split(",")] if args.dims else None
    with Store(_storage(args), create=False) as store:
        result = explain_trial(store, args.name, args.trial, dims)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    chosen = ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in result.chosen.items()
    )
    if result.initial:
        print(
            f"trial {result.trial} was an initial random point ({chosen}): the search drew it "
            "at random, before fitting any model."
        )
        return 0
    told = len(result.observed)
    print(
        f"trial {result.trial} ({chosen}) maximised the {result.acquisition} acquisition of a "
        f"{result.surrogate} surrogate fitted on {told} trials"
        + (f" (gp_hedge chose {result.acquisition})" if result.acq_func == "gp_hedge" else "")
        + (" and replaced a repeat of a tried point" if result.replaced else "")
        + "."
    )
    spread = 2 * (result.chosen_std or 0.0)
    grid_best = max(result.acquisition_values)
    print(
        f"the surrogate predicted {result.metric} {result.chosen_mean:.4g} ± {spread:.3g} (2σ) "
        f"there; acquisition {result.acquisition_at_chosen:.4g} (the best on the "
        f"{'×'.join(result.dims)} grid: {grid_best:.4g})."
    )
    return 0


def command_audit(args: argparse.Namespace) -> int:
    """Train ``--sample`` pruned trials of a study to the end, each a new trial of NAME.audit
    (engine/audit.py), and print the false-prune rate over every audited trial."""
    storage = _storage(args)
    with Store(storage, create=False) as store:
        audits.check_audit(store, args.name, args.sample, args.choose)  # before any import
        # A python target is imported as run's worker imported it: from the spec's folder
        # (remembered beside the study) or the dashboard's copy of the spec.
        for folder in (str(specs_dir(storage).resolve()), code_folder_of(storage, args.name)):
            if folder:
                sys.path.insert(0, folder)
        report = audits.audit_study(
            store,
            args.name,
            args.sample,
            objective_for,
            choose=args.choose,
            seed=args.seed,
            log=lambda line: print(line, flush=True),
        )
    print(report.sentence(), flush=True)
    return 0


def dashboard_app_file() -> Path:
    """The dashboard's app.py: the checkout's when this runs from one, else the installed
    package ``tuning_lab_app`` (pyproject.toml ships app.py, pages/ and .streamlit/ there)."""
    checkout = Path(__file__).resolve().parents[2] / "app.py"
    if checkout.is_file():
        return checkout
    import importlib.resources  # noqa: PLC0415 - only for an installed copy

    installed = Path(str(importlib.resources.files("tuning_lab_app") / "app.py"))
    if not installed.is_file():
        raise SpecError("app: the dashboard is not installed here; run `pip install .` again.")
    return installed


def command_app(args: argparse.Namespace) -> int:
    """Serve the dashboard with ``streamlit run``, from app.py's own folder so that its
    .streamlit/config.toml (127.0.0.1, headless) applies; the store stays the caller's."""
    app_file = dashboard_app_file()
    environment = dict(os.environ)
    environment[STORAGE_ENV] = str(Path(_storage(args)).resolve())
    extra = [a for a in args.streamlit_args if a != "--"]
    if args.port is not None:
        extra += ["--server.port", str(args.port)]
    command = [sys.executable, "-m", "streamlit", "run", str(app_file), *extra]
    # This process becomes the server, so Ctrl-C and SIGTERM reach Streamlit itself.
    sys.stdout.flush()
    os.chdir(app_file.parent)
    os.execve(sys.executable, command, environment)
    return 0  # not reached: execve replaces this process


def command_lr_find(args: argparse.Namespace) -> int:
    if not 0 < args.start < args.end:
        raise SpecError(f"--start ({args.start}) must be positive and below --end ({args.end}).")
    if args.steps < 5:
        raise SpecError(f"--steps must be at least 5, not {args.steps}.")
    spec = load_spec(args.spec)
    if not isinstance(spec.objective, KerasObjectiveSpec):
        raise SpecError(
            f"objective.type must be keras (a built-in model) for an LR range test, not "
            f"{spec.objective.type}."
        )
    if objective_is_table(spec.objective):
        raise SpecError(
            "objective.dataset: lr-find trains on images for now; for a table, tune "
            "learning_rate over a log range with run instead."
        )
    _refuse_what_cannot_fit(spec, None)
    result = lr_range_test_for_spec(spec, start=args.start, end=args.end, steps=args.steps)
    if args.output:
        Path(args.output).write_text(json.dumps(result.to_json()), encoding="utf-8")
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"valley:        {result.valley:.3g}")
        print(f"steep:         {result.steep:.3g}")
        print(f"minimum/10:    {result.minimum_div10:.3g}")
        print(f"points: {len(result.learning_rates)}, stopped: {result.stop_reason}")
    return 0


def command_record(args: argparse.Namespace) -> int:
    """Write a study or a race as a recording (reports/recording.py)."""
    from tuning_core.reports import recording  # noqa: PLC0415 - only this command needs it

    with Store(_storage(args), create=False) as store:
        if races.get_race(store, args.name) is None:
            _require_study(store, args.name)
        written = recording.record(store, args.name)
    recording.write_recording(written, Path(args.output))
    studies = written.get("studies") or [written]
    trials = sum(len(study["trials"]) for study in studies)
    print(f"wrote {args.output} ({trials} trials, {Path(args.output).stat().st_size:,} bytes)")
    return 0


def command_replay(args: argparse.Namespace) -> int:
    """Replay a recording into the store, at --speed times the recorded pace or at once."""
    from tuning_core.reports import recording  # noqa: PLC0415 - only this command needs it

    if args.speed is not None and not 0 < args.speed <= 1000:
        raise SpecError("speed: give a number above 0 and at most 1000, e.g. 10.")
    loaded = recording.load_recording(args.recording)
    with Store(_storage(args)) as store:
        recording.replay(store, loaded, args.speed, worker_pid=os.getpid())
    print(f"replayed {loaded.name} ({len(loaded.trials)} trials)")
    return 0


COMMANDS = {
    "run": command_run,
    "race": command_race,
    "list": command_list,
    "export": command_export,
    "stop": command_stop,
    "delete": command_delete,
    "explain": command_explain,
    "lr-find": command_lr_find,
    "app": command_app,
    "record": command_record,
    "replay": command_replay,
    "audit": command_audit,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command not in ("run", "race", "audit"):
            return COMMANDS[args.command](args)
        with _stop_on_sigterm():
            return COMMANDS[args.command](args)
    except (SpecError, DatasetError, ClusterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Terminated as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("TUNING_LAB_DEBUG"):
            raise
        print(
            f"error: {type(error).__name__}: {brief(str(error))} (set TUNING_LAB_DEBUG=1 for the "
            "traceback)",
            file=sys.stderr,
        )
        return 1
