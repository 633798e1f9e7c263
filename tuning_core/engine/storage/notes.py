"""A person's plain-text notes on a study or a trial, edited in the dashboard."""

from __future__ import annotations

import contextlib
import sqlite3
import time

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.storage.handle import StoreHandle

# A note is a few paragraphs of plain text, not a document.
NOTE_MAX_CHARS = 5000


def _checked_note(text: str) -> str:
    """The note to keep: stripped, within NOTE_MAX_CHARS, or SpecError in one sentence."""
    if not isinstance(text, str):
        raise SpecError(f"note: a note is plain text, not {brief(text)}.")
    text = text.replace("\x00", "").strip()
    if len(text) > NOTE_MAX_CHARS:
        raise SpecError(
            f"note: a note holds at most {NOTE_MAX_CHARS:,} characters, not {len(text):,}; "
            "shorten it."
        )
    return text


class NoteMethods(StoreHandle):
    """The study_notes and trial_notes tables. Notes live in tables of their own: a finished
    trial's row is immutable (a trigger), and trials.note is the engine's own note (why a
    trial was pruned or ended at chance)."""

    def set_study_note(self, study_id: int, text: str) -> None:
        """Keep ``text`` as the study's note (an empty or blank text removes it)."""
        text = _checked_note(text)
        if not text:
            self._write("DELETE FROM study_notes WHERE study_id = ?", (study_id,))
            return
        self._write(
            "INSERT INTO study_notes (study_id, text, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (study_id) DO UPDATE SET text = excluded.text, "
            "updated_at = excluded.updated_at",
            (study_id, text, time.time()),
        )

    def set_trial_note(self, study_id: int, number: int, text: str) -> None:
        """Keep ``text`` as the note of trial ``number`` of the study (blank removes it)."""
        text = _checked_note(text)
        row = self.connection.execute(
            "SELECT id FROM trials WHERE study_id = ? AND number = ?", (study_id, number)
        ).fetchone()
        if row is None:
            raise SpecError(f"trial: this study has no trial {number}; pick one from the list.")
        if not text:
            self._write("DELETE FROM trial_notes WHERE trial_id = ?", (row[0],))
            return
        self._write(
            "INSERT INTO trial_notes (trial_id, text, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (trial_id) DO UPDATE SET text = excluded.text, "
            "updated_at = excluded.updated_at",
            (row[0], text, time.time()),
        )

    def study_note(self, study_id: int) -> str:
        """The study's note, "" when it has none (or the store predates notes)."""
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            row = self.connection.execute(
                "SELECT text FROM study_notes WHERE study_id = ?", (study_id,)
            ).fetchone()
            return "" if row is None else str(row[0])
        return ""

    def trial_notes(self, study_id: int) -> dict[int, str]:
        """Trial number -> its note, for the trials that have one."""
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            rows = self.connection.execute(
                """SELECT t.number, n.text FROM trial_notes n JOIN trials t ON t.id = n.trial_id
                   WHERE t.study_id = ? ORDER BY t.number""",
                (study_id,),
            ).fetchall()
            return {int(row[0]): str(row[1]) for row in rows}
        return {}
