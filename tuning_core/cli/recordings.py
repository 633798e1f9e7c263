"""``record`` and ``replay``: a study or a race written as a recording, and a recording played
back into the store as if it ran now (nothing trains)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tuning_core.cli.store_args import require_study, storage_path
from tuning_core.engine import race as races
from tuning_core.engine.errors import SpecError
from tuning_core.engine.storage import Store


def command_record(args: argparse.Namespace) -> int:
    """Write a study or a race as a recording (reports/recording.py)."""
    from tuning_core.reports import recording  # noqa: PLC0415 - only this command needs it

    with Store(storage_path(args), create=False) as store:
        if races.get_race(store, args.name) is None:
            require_study(store, args.name)
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
    with Store(storage_path(args)) as store:
        recording.replay(store, loaded, args.speed, worker_pid=os.getpid())
    print(f"replayed {loaded.name} ({len(loaded.trials)} trials)")
    return 0
