"""Notes a person keeps on a study and on its trials: read and written straight through to the
store (never cached: a note saved in one tab shows in the next rerun of another)."""

from __future__ import annotations

from dashboard.common import open_store
from tuning_core.engine.errors import SpecError


def study_note(name: str) -> str:
    """The study's note, "" when it has none."""
    with open_store() as store:
        study = store.get_study(name)
        return "" if study is None else store.study_note(study.id)


def trial_notes(name: str) -> dict[int, str]:
    """Trial number -> its note, for the study's trials that have one."""
    with open_store() as store:
        study = store.get_study(name)
        return {} if study is None else store.trial_notes(study.id)


def save_note(name: str, text: str, trial: int | None = None) -> str | None:
    """Keep ``text`` as the note of the study (``trial`` None) or of one of its trials; blank
    text removes the note. Returns None, or the one sentence saying why it was not kept."""
    try:
        with open_store() as store:
            study = store.get_study(name)
            if study is None:
                return f"The study {name!r} no longer exists, so the note was not kept."
            if trial is None:
                store.set_study_note(study.id, text)
            else:
                store.set_trial_note(study.id, trial, text)
    except SpecError as error:  # too long, no such trial, a read-only store
        return str(error)
    return None
