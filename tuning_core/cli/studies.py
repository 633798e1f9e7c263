"""``list``, ``stop`` and ``delete``: the stored studies, a worker asked to stop (a study's or
a race's), a study removed with its trials."""

from __future__ import annotations

import argparse

from tuning_core.cli.store_args import require_study, storage_path
from tuning_core.engine import race as races
from tuning_core.engine.errors import brief
from tuning_core.engine.records import study_summaries
from tuning_core.engine.storage import Store


def command_list(args: argparse.Namespace) -> int:

    with Store(storage_path(args), create=False) as store:
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


def command_stop(args: argparse.Namespace) -> int:
    with Store(storage_path(args), create=False) as store:
        if store.get_study(args.name) is None and races.get_race(store, args.name) is not None:
            races.request_race_stop(store, args.name)
            print(f"asked the worker of the race {brief(args.name)} to stop")
            return 0
        require_study(store, args.name)
        store.request_stop(args.name)
    print(f"asked the worker of {brief(args.name)} to stop")
    return 0


def command_delete(args: argparse.Namespace) -> int:
    with Store(storage_path(args), create=False) as store:
        require_study(store, args.name)
        store.delete_study(args.name)
    print(f"deleted {brief(args.name)}")
    return 0
