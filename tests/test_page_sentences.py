"""Engine sentences on pages: the field in the page's words, not the CLI's option."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.sentences import in_page_words
from tests.conftest import ROOT
from tuning_core.cli import main
from tuning_core.engine import snapshots
from tuning_core.engine.errors import cli_field
from tuning_core.engine.storage import Store
from tuning_core.reports import recording
from tuning_core.views import lessons

APP = str(ROOT / "app.py")


def test_a_sentence_opening_with_a_cli_option_names_the_field_in_words() -> None:
    assert cli_field("--trial: 'x' has no trial 9.") == ("trial", ": 'x' has no trial 9.")
    assert cli_field("--dims takes one or two names.") == ("dims", " takes one or two names.")
    assert cli_field("name: no study called 'x'.") == (None, "name: no study called 'x'.")
    assert cli_field("Use --trial: not a prefix.")[0] is None
    assert in_page_words("--trial: 'x' has no trial 9.") == "Trial: 'x' has no trial 9."
    assert in_page_words("--storage: /tmp is a directory.").startswith(
        "The store (TUNING_LAB_STORAGE): /tmp"
    )
    assert in_page_words("--new-thing: x.") == "New thing: x."


def test_the_why_page_names_the_trial_as_its_slider_does(
    storage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Records signed by another user's key are not opened: the CLI says --trial, the page
    says Trial (one sentence, written once in engine/explain.py)."""
    lesson = lessons.lesson_named("why-this-point")
    with Store(storage) as store:
        recording.replay(store, recording.load_recording(lesson.recording_path()))
    monkeypatch.setenv(snapshots.CONFIG_DIR_ENV, str(tmp_path / "another-user"))
    monkeypatch.setattr(snapshots, "_keys", {})
    assert main(["--storage", str(storage), "explain", lesson.study, "--trial", "15"]) == 2
    assert capsys.readouterr().err.startswith("error: --trial: the record of trial 15")
    at = AppTest.from_file(str(ROOT / "pages" / "why.py"), default_timeout=60)
    at.query_params["study"] = lesson.study
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value.replace("\\", "") for w in at.warning]  # as read, not escaped
    assert any(w.startswith("Trial: the record of trial") for w in warnings), warnings
    assert not any("--" in w for w in warnings), warnings


def test_an_unusable_store_is_named_as_the_dashboard_finds_it(storage: Path) -> None:
    storage.write_text("not a database, just text\n" * 50)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    errors = [e.value.replace("\\", "") for e in at.error]  # as read, not escaped
    assert errors and errors[0].startswith("The store (TUNING_LAB_STORAGE):"), errors
    assert "--storage" not in errors[0]
