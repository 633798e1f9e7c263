"""Notes a person keeps on a study and on its trials: read and written straight through to the
store by the run's read model (never cached: a note saved in one tab shows in the next rerun of
another)."""

from __future__ import annotations

from dashboard.read_model import ReadModel
from tuning_core.engine.errors import SpecError


def study_note(reads: ReadModel, name: str) -> str:
    """The study's note, "" when it has none."""
    study = reads.study(name)
    return "" if study is None else reads.study_note(study.id)


def trial_notes(reads: ReadModel, name: str) -> dict[int, str]:
    """Trial number -> its note, for the study's trials that have one."""
    study = reads.study(name)
    return {} if study is None else reads.trial_notes(study.id)


def save_note(reads: ReadModel, name: str, text: str, trial: int | None = None) -> str | None:
    """Keep ``text`` as the note of the study (``trial`` None) or of one of its trials; blank
    text removes the note. Returns None, or the one sentence saying why it was not kept."""
    try:
        study = reads.study(name)
        if study is None:
            return f"The study {name!r} no longer exists, so the note was not kept."
        reads.save_note(study.id, text, trial)
    except SpecError as error:  # too long, no such trial, a read-only store
        return str(error)
    return None
