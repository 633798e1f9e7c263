"""The store interface: SQLite's Store satisfies StudyStore on a file and in memory, a memory
store keeps the file store's rules, and races keep their rows through the store's methods."""

from __future__ import annotations

import inspect
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import branin_spec
from tests.test_race import branin_race
from tests.test_untrusted_store import read_only_mount  # noqa: F401  (a fixture)
from tuning_core.engine import race as races
from tuning_core.engine.errors import StoreError
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.race_spec import RaceSpec, parse_race_spec
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import MEMORY, Store
from tuning_core.engine.store_protocol import StudyStore
from tuning_core.engine.study import run_study


def _protocol_members() -> list[str]:
    return [
        name
        for name in StudyStore.__dict__
        if not name.startswith("_") and callable(getattr(StudyStore, name))
    ] + ["__enter__", "__exit__"]


def test_the_sqlite_store_satisfies_the_protocol_method_for_method(tmp_path: Path) -> None:
    for where in (tmp_path / "store.db", MEMORY):
        with Store(where) as store:
            assert isinstance(store, StudyStore)
            assert isinstance(store.path, str) and store.read_only is False
    for name in _protocol_members():
        wanted = inspect.signature(getattr(StudyStore, name))
        found = inspect.signature(getattr(Store, name))
        assert list(found.parameters) == list(wanted.parameters), name
        for parameter in wanted.parameters.values():
            assert found.parameters[parameter.name].default == parameter.default, name
    # Every public method callers use is named there (the protocol is the store's surface).
    public = {
        name
        for part in Store.__mro__  # Store is assembled from one class per topic
        for name, value in vars(part).items()
        if callable(value) and not name.startswith("_")
    }
    assert public <= set(_protocol_members())


def test_a_memory_store_runs_a_study_with_the_file_stores_rules(tmp_path: Path) -> None:
    spec = parse_spec(branin_spec(trials=3))
    with Store(MEMORY) as store:
        run = run_study(spec, store, function_objective("branin"), log=lambda _: None)
        trials = store.trials(run.study_id)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
        assert store.get_study("branin").status == StudyStatus.FINISHED
        # The triggers came with the schema: a finished trial is final in memory too.
        with pytest.raises(sqlite3.IntegrityError, match="never modified"):
            store.add_epoch_metrics(trials[0].id, 5, {"value": 1.0})
        with pytest.raises(sqlite3.IntegrityError, match="never modified"):
            store.finish_trial(trials[0].id, TrialState.FAILED, error="again")
        assert store.trials(run.study_id) == trials
        # No WAL (nothing else could read it), and no file anywhere.
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
        assert store.in_memory and not Path(MEMORY).exists()
        # A second memory store is another, empty one: the handle is the store.
        with Store(MEMORY) as other:
            assert other.studies() == []


def _race_spec() -> RaceSpec:
    """Grid (once) and random (two seeds): three member studies."""
    raw = branin_race(name="r", trials=3)
    raw["strategies"] = raw["strategies"][:2]
    return parse_race_spec(raw)


@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_race_keeps_its_rows_through_the_store_methods(where: str, tmp_path: Path) -> None:
    path = tmp_path / "store.db" if where == "file" else MEMORY
    race = _race_spec()
    with Store(path) as store:
        assert store.race_row("r") is None and store.race_rows() == []  # no race tables yet
        race_id = races.open_race(store, race)
        record = races.get_race(store, "r")
        assert record.id == race_id and record.status == StudyStatus.RUNNING
        assert record.spec.raw == race.raw
        members = races.race_studies(store, race_id)
        assert [(m.study_name, m.label, m.seed) for m in members] == [
            (m.spec.name, m.label, m.seed) for m in race.members
        ]
        assert [m.position for m in members] == list(range(len(race.members)))
        assert not store.race_stop_requested(race_id)
        assert races.request_race_stop(store, "r")
        assert store.race_stop_requested(race_id)
        store.set_race_stop(race_id, False)
        assert not store.race_stop_requested(race_id)
        store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
        record = races.get_race(store, "r")
        assert (record.status, record.worker_pid, record.message) == (
            StudyStatus.STOPPED,
            None,
            "stopped on request",
        )
        # Deleting a race leaves its studies: they are the user's.
        store.create_study(parse_spec(branin_spec(name=members[0].study_name, trials=1)))
        store.delete_race("r")
        assert races.races(store) == [] and store.race_members(race_id) == []
        assert store.get_study(members[0].study_name) is not None
        store.create_race("x", json.dumps(race.raw), [("x-0", "random", 0)])
        with pytest.raises(sqlite3.IntegrityError):  # race names stay unique
            store.create_race("x", json.dumps(race.raw), [])
    if where == "file":  # the rows are where an older version's code looks for them
        with sqlite3.connect(path) as plain:
            assert plain.execute("SELECT name FROM races").fetchall() == [("x",)]
            assert plain.execute("SELECT study_name FROM race_studies").fetchall() == [("x-0",)]


def test_the_studies_fingerprint_moves_with_the_member_studies() -> None:
    with Store(MEMORY) as store:
        names = ["a", "b"]
        seen = [store.studies_fingerprint(names)]
        study_id = store.create_study(parse_spec(branin_spec(name="a", trials=2)))
        seen.append(store.studies_fingerprint(names))
        trial_id = store.start_trial(study_id, 0, {"x1": 0.0, "x2": 0.0})
        store.finish_trial(trial_id, TrialState.COMPLETE, 1.0)
        seen.append(store.studies_fingerprint(names))
        store.start_trial(study_id, 1, {"x1": 1.0, "x2": 0.0})
        seen.append(store.studies_fingerprint(names))
        store.set_status(study_id, StudyStatus.RUNNING)
        seen.append(store.studies_fingerprint(names))
        assert len(set(seen)) == len(seen)
        store.create_study(parse_spec(branin_spec(name="c", trials=2)))
        assert store.studies_fingerprint(names) == seen[-1]  # not a member


@pytest.mark.subprocess
def test_a_race_on_a_read_only_mount_is_read_and_refuses_writes(
    read_only_mount: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    made = tmp_path / "store.db"
    with Store(made) as store:
        race_id = races.open_race(store, _race_spec())
    with sqlite3.connect(made) as connection:  # checkpoint: one self-contained file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(made, read_only_mount / "store.db")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    with Store(read_only_mount / "store.db") as store:
        assert store.read_only
        assert races.get_race(store, "r").id == race_id
        assert len(races.race_studies(store, race_id)) == len(_race_spec().members)
        for write in (
            lambda: store.set_race_stop(race_id, True),
            lambda: store.set_race_status(race_id, StudyStatus.FAILED, None, "x"),
            lambda: store.delete_race("r"),
        ):
            with pytest.raises(StoreError, match="is read-only"):
                write()
