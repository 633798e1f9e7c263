"""AppTest drives the Strategy race page through app.py against a real store and real race
workers: start from the form, the bands and the verdict, stop, and refused input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.test_pages import charts_on, shown
from tests.test_race import branin_race, race_worker, wait_for_trials
from tuning_core.engine import race as races
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import Store

APP = str(ROOT / "app.py")
PAGE = "pages/race.py"


def open_race_page(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _wait_for(storage: Path, name: str, status: StudyStatus, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if storage.exists():
            with Store(storage) as store:
                record = races.get_race(store, name)
                if record is not None and record.status == status:
                    return
        time.sleep(0.3)
    raise AssertionError(f"the race {name} did not become {status.value}")


def test_an_empty_store_offers_the_form(storage: Path) -> None:
    at = open_race_page()
    assert at.title[0].value == "Strategy race"
    assert any("No races yet" in info.value for info in at.info)
    assert at.button(key="start_race")
    assert at.multiselect(key="race_strategies").value == [
        "Grid",
        "Random",
        "Bayesian (GP, EI)",
    ]


@pytest.mark.slow  # runs a race in process, 5-10 s
def test_a_finished_race_shows_its_verdict_and_bands(storage: Path) -> None:
    race = parse_race_spec(branin_race(name="seeded", trials=10, seeds=2))
    with Store(storage) as store:
        races.run_race(race, store, lambda spec: function_objective("branin"), log=lambda _: None)
    at = open_race_page(race="seeded")
    # Green for a clear winner, blue for "no clear winner": either way the verdict is there.
    verdicts = [shown(s.value) for s in [*at.success, *at.info]]
    verdict = next(v for v in verdicts if "Seeds won of 2" in v)
    assert ("ended best over 2 seeds" in verdict) == bool(at.success), verdict
    charts = charts_on(at)
    assert len(charts) == 2
    for spec, frame in charts:
        line = spec["layer"][1]
        assert line["encoding"]["color"]["scale"]["domain"] == [
            "Grid",
            "Random",
            "Bayesian (GP, EI)",
        ]
        assert line["encoding"]["y"]["scale"]["type"] == "log"
        assert set(frame["strategy"]) == {"Grid", "Random", "Bayesian (GP, EI)"}
    assert charts[0][0]["layer"][1]["encoding"]["x"]["field"] == "trial"
    assert charts[1][0]["layer"][1]["encoding"]["x"]["field"] == "seconds"
    assert charts[1][0]["title"][0].startswith("By wall-clock time, ")
    assert any(c.value.startswith("A trial took (median wall time") for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["study"]) == [m.spec.name for m in race.members]
    assert set(table["status"]) == {"finished"}
    assert "stop_race" not in [button.key for button in at.button]  # nothing runs


@pytest.mark.subprocess
def test_the_form_starts_a_race_that_runs_to_the_end(storage: Path) -> None:
    at = open_race_page()
    at.number_input(key="race_seeds").set_value(2)
    # Four trials: two initial points and two Gaussian-process proposals a Bayesian study.
    at.number_input(key="race_trials_branin").set_value(4)
    at.number_input(key="race_parallel").set_value(2)
    at.text_input(key="race_name").set_value("from-form")
    at.button(key="start_race").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["race"] == "from-form"
    _wait_for(storage, "from-form", StudyStatus.FINISHED)
    at.run()
    assert any("over 2 seeds" in shown(s.value) for s in [*at.success, *at.info])
    written = json.loads(Path(f"{storage}.specs/from-form.race.json").read_text())
    assert written["parallel"] == 2
    with Store(storage) as store:  # two trials at a time: two Dask workers ran them
        study = store.get_study("from-form.random.s0")
        assert len({w.worker for w in store.trial_workers(study.id).values()}) == 2
    # The same name again is refused in one sentence, and nothing starts.
    at.text_input(key="race_name").set_value("from-form")
    at.button(key="start_race").click().run()
    assert any("a race called 'from-form' already exists" in shown(e.value) for e in at.error)


@pytest.mark.subprocess
def test_a_started_race_is_shown_at_once_and_the_name_follows_the_objective(
    storage: Path,
) -> None:
    race = parse_race_spec(branin_race(name="branin-race-1", trials=4, seeds=1))
    with Store(storage) as store:
        races.run_race(race, store, lambda spec: function_objective("branin"), log=lambda _: None)
    at = open_race_page(race="branin-race-1")
    assert at.selectbox(key="race_choice").value == "branin-race-1"
    assert at.text_input(key="race_name").value == "branin-race-2"
    at.selectbox(key="race_objective").set_value("digits").run()
    assert at.text_input(key="race_name").value == "digits-race-1"
    at.selectbox(key="race_objective").set_value("branin").run()
    at.number_input(key="race_trials_branin").set_value(4)
    at.number_input(key="race_seeds").set_value(1)
    at.button(key="start_race").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # The page and its link show the new race on the very next run, not the finished one.
    assert at.query_params["race"] == "branin-race-2"
    assert at.selectbox(key="race_choice").value == "branin-race-2"
    assert not any("branin-race-1 ·" in shown(m.value) for m in at.markdown)
    _wait_for(storage, "branin-race-2", StudyStatus.FINISHED, timeout=60)
    at.run()
    assert any("branin-race-2 · finished" in shown(m.value) for m in at.markdown)
    assert at.text_input(key="race_name").value == "branin-race-3"
    # A name the user typed stays when the objective changes.
    at.text_input(key="race_name").set_value("my-own").run()
    at.selectbox(key="race_objective").set_value("hartmann6").run()
    assert at.text_input(key="race_name").value == "my-own"


@pytest.mark.slow  # 3 s; the race page stays in the fast tier (test_an_empty_store_offers_the_form)
def test_a_bad_form_value_is_refused_in_one_sentence(storage: Path) -> None:
    at = open_race_page()
    at.multiselect(key="race_strategies").set_value(["Random"])
    at.button(key="start_race").click().run()
    assert [shown(e.value) for e in at.error] == [
        "strategies must be a list of 2 to 10 strategies to race, not [{'type': 'random'}]."
    ]
    at.multiselect(key="race_strategies").set_value(["Random", "Grid"])
    at.text_input(key="race_name").set_value("no.dots")
    at.button(key="start_race").click().run()
    assert at.error and shown(at.error[0].value).startswith("name must be 1 to 40 letters")


@pytest.mark.subprocess
def test_the_stop_button_stops_a_running_race(storage: Path) -> None:
    raw = branin_race(name="slow", trials=30, seeds=2, trial_seconds=0.3)
    spec = storage.parent / "slow.json"
    spec.write_text(json.dumps(raw), encoding="utf-8")
    with race_worker(spec, storage) as worker:
        wait_for_trials(storage, "slow.grid.s0", 2)
        at = open_race_page(race="slow")
        assert any("so far" in shown(i.value) for i in at.info)
        at.button(key="stop_race").click().run()
        worker.wait(timeout=30)
    with Store(storage) as store:
        assert races.get_race(store, "slow").status == StudyStatus.STOPPED
    # Resume keeps what finished and carries on to the end.
    at.run()
    at.button(key="resume_race").click().run()
    _wait_for(storage, "slow", StudyStatus.RUNNING, timeout=30)
    with Store(storage) as store:
        races.request_race_stop(store, "slow")  # the rest would take a minute: stop it again
    _wait_for(storage, "slow", StudyStatus.STOPPED, timeout=60)
    with Store(storage) as store:
        grid = store.trials(store.get_study("slow.grid.s0").id)
        assert len([t for t in grid if t.state.counts_against_budget()]) >= 3
