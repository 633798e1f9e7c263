"""``audit``: would a pruned trial have won? Train some of a study's pruned trials to the end
and print the false-prune rate."""

from __future__ import annotations

import argparse
import sys

from tuning_core.cli.store_args import storage_path
from tuning_core.engine import audit as audits
from tuning_core.engine.storage import Store
from tuning_core.training.factory import objective_for
from tuning_core.workers import code_folder_of, specs_dir


def command_audit(args: argparse.Namespace) -> int:
    """Train ``--sample`` pruned trials of a study to the end, each a new trial of NAME.audit
    (engine/audit.py), and print the false-prune rate over every audited trial."""
    storage = storage_path(args)
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
