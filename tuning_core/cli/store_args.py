"""Which store a command opens (``--storage``, else the default) and the study it names."""

from __future__ import annotations

import argparse

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.storage import Store, StudyRecord, default_storage_path


def storage_path(args: argparse.Namespace) -> str:
    """The store's path: ``--storage`` (before or after the command), else the default."""
    return args.storage or default_storage_path()


def require_study(store: Store, name: str) -> StudyRecord:
    """The study called ``name``; none is one sentence naming the studies there are."""
    study = store.get_study(name)
    if study is None:
        names = ", ".join(s.name for s in store.studies()) or "none yet"
        raise SpecError(
            f"name: there is no study called {brief(name)} in this store (studies: {names})."
        )
    return study
