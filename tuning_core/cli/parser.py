"""The argparse parser: every command, its flags and their help (``--help`` prints these)."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from tuning_core.cli.preflight import DEFAULT_RECYCLE_EVERY
from tuning_core.engine import audit as audits
from tuning_core.engine.memory import MEMORY_LIMIT_ENV
from tuning_core.engine.spec import DEFAULT_HEARTBEAT_SECONDS, DEFAULT_MAX_RETRIES
from tuning_core.engine.storage import default_storage_path


def build_parser() -> argparse.ArgumentParser:
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
