"""Notes a person keeps on a study and its trials: the store's tables (beside the immutable
trials), the one-sentence refusals, the exports, and the Compare page's forms."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.seeding import seed_store
from tests.test_pages import open_page, shown
from tuning_core.engine.errors import SpecError, StoreError
from tuning_core.engine.storage import NOTE_MAX_CHARS, Store
from tuning_core.reports import export


def test_notes_sit_beside_finished_trials_and_go_with_the_study(storage: Path) -> None:
    seed_store(storage, running=False)
    with Store(storage) as store:
        study = store.get_study("seeded")
        # Trial 4 is finished (immutable by trigger); its note is kept all the same.
        store.set_trial_note(study.id, 4, "  adam at 0.01: the one to show  ")
        store.set_trial_note(study.id, 9, "diverged: lr 8 is far too high")
        store.set_study_note(study.id, "Lecture 3, the learning-rate sweep.")
        assert store.trial_notes(study.id) == {
            4: "adam at 0.01: the one to show",
            9: "diverged: lr 8 is far too high",
        }
        assert store.study_note(study.id) == "Lecture 3, the learning-rate sweep."
        store.set_trial_note(study.id, 9, "   ")  # blank removes it
        assert list(store.trial_notes(study.id)) == [4]
        # The engine's own note is untouched.
        assert store.trials(study.id)[4].note is None
        with pytest.raises(SpecError, match=r"^trial: this study has no trial 99; pick one"):
            store.set_trial_note(study.id, 99, "x")
        with pytest.raises(SpecError) as too_long:
            store.set_study_note(study.id, "x" * (NOTE_MAX_CHARS + 1))
        assert str(too_long.value) == (
            "note: a note holds at most 5,000 characters, not 5,001; shorten it."
        )
        store.delete_study("seeded")
        counts = [
            store.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("study_notes", "trial_notes")
        ]
        assert counts == [0, 0]


def test_an_older_store_gains_the_note_tables_and_a_crafted_trigger_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:
        store.connection.execute("DROP TABLE study_notes")
        store.connection.execute("DROP TABLE trial_notes")
    with Store(path) as store:
        assert store.study_note(1) == "" and store.trial_notes(1) == {}
    # A trigger that Tuning Lab did not write on a note table is refused like any other.
    raw = sqlite3.connect(path)
    raw.execute("CREATE TRIGGER sneaky AFTER INSERT ON trial_notes BEGIN DELETE FROM studies; END")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="holds a trigger named 'sneaky'"):
        Store(path)


@pytest.mark.subprocess
def test_exports_carry_the_notes(storage: Path) -> None:
    seed_store(storage, running=False)
    with Store(storage) as store:
        study = store.get_study("seeded")
        store.set_study_note(study.id, "Sweep for lecture 3")
        store.set_trial_note(study.id, 4, 'the best, "adam", 0.01')
        table = list(csv.reader(io.StringIO(export.export_csv(store, study))))
        document = json.loads(export.export_json(store, study))
    assert table[0][-1] == "user_note"
    notes_column = {row[0]: row[-1] for row in table[1:]}
    assert notes_column["4"] == 'the best, "adam", 0.01' and notes_column["3"] == ""
    assert document["note"] == "Sweep for lecture 3"
    by_number = {trial["number"]: trial for trial in document["trials"]}
    assert by_number[4]["user_note"] == 'the best, "adam", 0.01'
    assert by_number[3]["user_note"] is None
    # The CLI's export is the same function.
    printed = run_cli("export", "seeded", "--format", "json", storage=storage)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["note"] == "Sweep for lecture 3"


@pytest.mark.slow  # Compare rerun four times, 5-12 s
def test_notes_are_written_and_shown_on_the_compare_page(storage: Path) -> None:
    seed_store(storage, running=False)
    at = open_page("pages/compare.py", study="seeded")
    at.text_area(key="study_note_seeded").set_value("Lecture 3: <b>not bold</b>")
    at.button[[b.label for b in at.button].index("Save study note")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="note_trial_seeded").set_value(4).run()
    at.text_area(key="trial_note_seeded_4").set_value("adam at 0.01")
    at.button[[b.label for b in at.button].index("Save trial note")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    with Store(storage) as store:
        study = store.get_study("seeded")
        assert store.study_note(study.id) == "Lecture 3: <b>not bold</b>"
        assert store.trial_notes(study.id) == {4: "adam at 0.01"}
    # A fresh page (another tab) reads them back from the store.
    again = open_page("pages/compare.py", study="seeded")
    assert again.text_area(key="study_note_seeded").value == "Lecture 3: <b>not bold</b>"
    table = again.dataframe[-1].value
    assert list(table["number"]) == [4] and list(table["note"]) == ["adam at 0.01"]
    assert not any("not bold" in shown(m.value) for m in again.markdown)  # never as markup
