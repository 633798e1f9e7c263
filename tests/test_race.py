"""Strategy races: bookkeeping, kill and resume in a real process, stop, the bands and the
verdict on a real race, the charts' specs, bad race specs, and a small Keras race on digits."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tuning_core.cli import main
from tuning_core.engine import race as races
from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import TEST_FUNCTIONS, function_objective
from tuning_core.engine.race_spec import RaceSpec, load_race_spec, parse_race_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.views import race as race_view
from tuning_core.views import race_charts

BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5, "high": 10},
    "x2": {"type": "float", "low": 0, "high": 15},
}


def branin_race(
    name: str = "br", trials: int = 10, seeds: int = 2, **objective: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"type": "function", "name": "branin", **objective},
        "space": BRANIN_SPACE,
        "budget": {"trials": trials},
        "seeds": seeds,
        "strategies": [
            {"type": "grid"},
            {"type": "random"},
            {"type": "bayesian", "surrogate": "GP", "acquisition": "EI"},
        ],
    }


@contextlib.contextmanager
def race_worker(
    spec: Path, storage: Path, capture: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """``python -m tuning_core race SPEC`` in its own process (its output kept when
    ``capture``), killed on the way out if it still runs."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "race", str(spec)],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        text=True,
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()


def wait_for_trials(storage: Path, study_name: str, count: int, timeout: float = 60) -> None:
    """Wait until the study has ``count`` trials in the store (running ones count)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.1)
        if storage.exists():
            with Store(storage) as store:
                study = store.get_study(study_name)
                if study is not None and len(store.trials(study.id)) >= count:
                    return
    raise AssertionError(f"{study_name} did not reach {count} trials in {timeout:g} s")


def _write(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.mark.subprocess
def test_every_study_of_a_race_is_listed_and_grid_runs_once(storage: Path) -> None:
    spec = _write(storage.parent / "race.json", branin_race(seeds=3))
    result = run_cli("race", str(spec), storage=storage)
    assert result.returncode == 0, result.stderr
    assert "race br: finished (all 7 studies finished)" in result.stdout
    with Store(storage) as store:
        record = races.get_race(store, "br")
        members = races.race_studies(store, record.id)
        names = [m.study_name for m in members]
        assert names == [
            "br.grid.s0",
            "br.random.s0",
            "br.random.s1",
            "br.random.s2",
            "br.gp-ei.s0",
            "br.gp-ei.s1",
            "br.gp-ei.s2",
        ]
        assert record.status == StudyStatus.FINISHED
        for name in names:
            study = store.get_study(name)
            assert study.status == StudyStatus.FINISHED
        # Grid levels fill the budget: floor(sqrt(10)) = 3 levels, 9 points.
        assert len(store.trials(store.get_study("br.grid.s0").id)) == 9
        assert len(store.trials(store.get_study("br.gp-ei.s2").id)) == 10
        # Seeds differ, so the random studies differ.
        first = [t.params for t in store.trials(store.get_study("br.random.s0").id)]
        second = [t.params for t in store.trials(store.get_study("br.random.s1").id)]
        assert first != second
    # The CLI ends with the verdict the page shows, read back from the store.
    with Store(storage) as store:
        rows = races.race_trial_rows(store, races.get_race(store, "br").id)
    page_verdict = race_view.race_verdict(load_race_spec(spec), rows, finished=True)
    assert result.stdout.rstrip().splitlines()[-1] == f"verdict: {page_verdict}"
    assert "Seeds won of 3:" in page_verdict
    listed = run_cli("list", storage=storage).stdout
    assert all(name in listed for name in names)
    # Running it again changes nothing: every study is finished.
    again = run_cli("race", str(spec), storage=storage)
    assert again.returncode == 0 and "trial " not in again.stdout


@pytest.mark.subprocess
def test_a_killed_race_resumes_without_losing_finished_studies(storage: Path) -> None:
    raw = branin_race(name="killed", trials=6, seeds=2, trial_seconds=0.15)
    raw["strategies"] = raw["strategies"][1:]  # random and GP: four studies of ~1 s each
    spec = _write(storage.parent / "race.json", raw)
    finished_before: dict[str, list[tuple[int, float]]] = {}
    with race_worker(spec, storage) as worker:
        wait_for_trials(storage, "killed.random.s1", 2, timeout=90)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    with Store(storage) as store:
        assert races.get_race(store, "killed").status == StudyStatus.RUNNING  # left by the kill
        first = store.get_study("killed.random.s0")
        assert first.status == StudyStatus.FINISHED
        finished_before = {
            first.name: [(t.id, t.value) for t in store.trials(first.id)],
        }
        assert store.get_study("killed.gp-ei.s0") is None  # never started
    result = run_cli("race", str(spec), storage=storage)
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stdout  # the interrupted study resumed, as `run` resumes
    assert "killed.random.s0" not in result.stdout  # the finished one was not run again
    with Store(storage) as store:
        record = races.get_race(store, "killed")
        assert record.status == StudyStatus.FINISHED
        kept = store.get_study("killed.random.s0")
        assert [(t.id, t.value) for t in store.trials(kept.id)] == finished_before[kept.name]
        for member in races.race_studies(store, record.id):
            study = store.get_study(member.study_name)
            assert study.status == StudyStatus.FINISHED, member.study_name
            done = [t for t in store.trials(study.id) if t.state.counts_against_budget()]
            assert len(done) == 6


@pytest.mark.subprocess
def test_stop_reaches_a_running_race(storage: Path) -> None:
    raw = branin_race(name="stopme", trials=20, seeds=2, trial_seconds=0.2)
    spec = _write(storage.parent / "race.json", raw)
    with race_worker(spec, storage, capture=True) as worker:
        wait_for_trials(storage, "stopme.grid.s0", 1)
        stopped = run_cli("stop", "stopme", storage=storage)
        assert stopped.returncode == 0 and "race" in stopped.stdout
        output, _ = worker.communicate(timeout=30)
    assert "race stopme: stopped" in output
    with Store(storage) as store:
        assert races.get_race(store, "stopme").status == StudyStatus.STOPPED
        assert store.get_study("stopme.random.s0") is None  # no study started after the stop


def test_a_stop_sent_while_a_study_is_being_built_stops_the_race(storage: Path) -> None:
    """A Keras study takes seconds to build (TensorFlow's import): a stop sent then, before
    the study exists, must stop it before its first trial rather than after its last."""
    race = parse_race_spec(branin_race(name="early", trials=6, seeds=1))

    def objective_while_stop_arrives(spec: Any) -> Any:
        with Store(storage) as other_process:
            assert races.request_race_stop(other_process, "early")
        return function_objective("branin")

    with Store(storage) as store:
        outcome = races.run_race(race, store, objective_while_stop_arrives, log=lambda _: None)
        first = store.get_study("early.grid.s0")
        assert outcome.status == StudyStatus.STOPPED
        assert first.status == StudyStatus.STOPPED
        assert store.trials(first.id) == []
        assert store.get_study("early.random.s0") is None
        assert races.get_race(store, "early").status == StudyStatus.STOPPED


def _real_race(trials: int = 15, seeds: int = 3) -> tuple[RaceSpec, list]:
    race = parse_race_spec(branin_race(trials=trials, seeds=seeds))
    with Store(":memory:") as store:
        outcome = races.run_race(
            race, store, lambda spec: function_objective("branin"), log=lambda _: None
        )
        return race, races.race_trial_rows(store, outcome.race_id)


@pytest.mark.slow  # 3 strategies x 3 seeds x 15 trials in process: 5-15 s
def test_bands_and_verdict_on_a_real_race() -> None:
    race, rows = _real_race()
    optimum = TEST_FUNCTIONS["branin"].optimum
    frame = race_view.trial_frame(rows, "minimize", optimum)
    assert set(frame["label"]) == {"grid", "random", "gp-ei"}
    # Best so far never gets worse, and regret is best minus the optimum.
    for _, study in frame.groupby("study"):
        assert study["best"].is_monotonic_decreasing
        assert study["elapsed_s"].is_monotonic_increasing
    assert (frame["regret"] - (frame["best"] - optimum)).abs().max() < 1e-9

    bands = race_view.convergence_frame(frame, race.titles())
    assert set(bands["strategy"]) == {"Grid", "Random", "Bayesian (GP, EI)"}
    assert (bands["q25"] <= bands["median"] + 1e-12).all()
    assert (bands["median"] <= bands["q75"] + 1e-12).all()
    random_rows = bands[bands["label"] == "random"]
    assert list(random_rows["trial"]) == list(range(1, 16))
    assert (random_rows["studies"] == 3).all()
    assert (bands.loc[bands["label"] == "grid", "studies"] == 1).all()
    assert bands.loc[bands["label"] == "grid", "trial"].max() == 9  # 3 levels in 2-D

    # The median band at trial k is the median of the studies' best at k.
    at_ten = frame[(frame["label"] == "random") & (frame["trial"] == 10)]["regret"].median()
    assert random_rows.set_index("trial").loc[10, "median"] == pytest.approx(at_ten)

    timed = race_view.time_frame(frame, race.titles())
    assert set(timed["label"]) == {"grid", "random", "gp-ei"}
    # Every study of a strategy counts from the band's first point on, so it never gets worse.
    for _, band in timed.groupby("label"):
        assert band["median"].is_monotonic_decreasing
        assert band["studies"].nunique() == 1
    assert (timed["q25"] <= timed["q75"] + 1e-12).all()

    text = race_view.verdict(frame, race.titles(), "minimize", "regret")
    finals = race_view.final_values(frame).groupby("label")["final"].median()
    winner = race.titles()[finals.idxmin()]
    assert text.startswith((f"{winner} ended best over 3 seeds", "No clear winner over 3 seeds"))
    assert "Random" in text and "Grid" in text and "Seeds won of 3:" in text


def _hand_made(curves: dict[tuple[str, int], list[float]]) -> Any:
    """A trial frame as ``trial_frame`` makes it: each (label, seed)'s best so far by trial."""
    import pandas as pd

    rows = [
        (f"r.{label}.s{seed}", label, seed, trial, best)
        for (label, seed), values in curves.items()
        for trial, best in enumerate(values, start=1)
    ]
    return pd.DataFrame(rows, columns=["study", "label", "seed", "trial", "best"])


TITLES = {"grid": "Grid", "random": "Random", "gp-ei": "Bayesian (GP, EI)"}


def test_overlapping_bands_say_there_is_no_clear_winner() -> None:
    # The lecturer's case: Bayesian 0.70 against Random 0.647 in the median, over 3 seeds
    # whose middle halves overlap; Bayesian won 2 seeds, Random 1, the one grid study none.
    frame = _hand_made(
        {
            ("grid", 0): [0.3, 0.5, 0.55],
            ("random", 0): [0.5, 0.6, 0.60],
            ("random", 1): [0.5, 0.6, 0.71],
            ("random", 2): [0.4, 0.6, 0.647],
            ("gp-ei", 0): [0.5, 0.7, 0.72],
            ("gp-ei", 1): [0.5, 0.6, 0.65],
            ("gp-ei", 2): [0.4, 0.6, 0.70],
        }
    )
    text = race_view.verdict(frame, TITLES, "maximize", "val_accuracy")
    assert text == (
        "No clear winner over 3 seeds: Bayesian (GP, EI)'s median val_accuracy 0.7 and "
        "Random's 0.647 have overlapping bands (0.675–0.71 and 0.623–0.678, the middle half of "
        "the seeds). Seeds won of 3: Bayesian (GP, EI) 2, Random 1, Grid 0 (Grid ran once and "
        "meets every seed). Others (median): Grid 0.55."
    )
    assert "ended best" not in text
    assert not race_view.has_clear_winner(frame, "maximize", "val_accuracy")


def test_separated_bands_name_the_winner_and_how_soon() -> None:
    frame = _hand_made(
        {
            ("random", 0): [1.0, 1.0, 0.2],
            ("random", 1): [1.0, 0.3, 0.3],
            ("random", 2): [1.0, 0.25, 0.25],
            ("gp-ei", 0): [1.0, 0.01, 0.01],
            ("gp-ei", 1): [1.0, 0.02, 0.02],
            ("gp-ei", 2): [1.0, 0.5, 0.015],
        }
    )
    text = race_view.verdict(frame, TITLES, "minimize", "regret")
    assert text == (
        "Bayesian (GP, EI) ended best over 3 seeds: median regret 0.015 against 0.25 for "
        "Random, and their bands do not overlap (0.0125–0.0175 and 0.225–0.275, the middle half "
        "of the seeds). Seeds won of 3: Bayesian (GP, EI) 3, Random 0. In the median, "
        "Bayesian (GP, EI) reached Random's final 0.25 by trial 2; Random needed 3."
    )
    assert race_view.has_clear_winner(frame, "minimize", "regret")
    assert race_view.verdict(frame, TITLES, "minimize", "regret", finished=False).startswith(
        "Bayesian (GP, EI) leads so far over 3 seeds: median regret 0.015"
    )
    assert race_view.verdict(frame.iloc[0:0], TITLES, "minimize", "regret").startswith("No trial")
    # "Both" names who: the two reach the runner-up's final median at the same trial.
    same_pace = frame.copy()
    same_pace.loc[same_pace["study"] == "r.gp-ei.s2", "best"] = [1.0, 1.0, 0.015]
    same_pace.loc[same_pace["study"] == "r.gp-ei.s0", "best"] = [1.0, 1.0, 0.01]
    assert race_view.verdict(same_pace, TITLES, "minimize", "regret").endswith(
        "In the median, Bayesian (GP, EI) and Random both reached 0.25 by trial 3; "
        "Bayesian (GP, EI) kept improving."
    )


def test_one_seed_and_ties_do_not_claim_a_winner() -> None:
    one = _hand_made({("random", 0): [1.0, 0.2], ("gp-ei", 0): [1.0, 0.01]})
    assert race_view.verdict(one, TITLES, "minimize", "regret") == (
        "Bayesian (GP, EI) is ahead on one seed: regret 0.01 against 0.2 for Random; one seed "
        "cannot tell a better strategy from a luckier one."
    )
    assert not race_view.has_clear_winner(one, "minimize", "regret")
    # Both found the optimum (regret at the floor) on every seed: a tie, each seed tied.
    tied = _hand_made(
        {(label, seed): [1.0, 1e-6] for label in ("random", "gp-ei") for seed in (0, 1)}
    )
    assert race_view.verdict(tied, TITLES, "minimize", "regret") == (
        "No clear winner over 2 seeds: Bayesian (GP, EI) and Random tie at median regret 1e-06. "
        "Seeds won of 2: Bayesian (GP, EI) 0, Random 0, 2 tied."
    )


def test_the_wall_clock_title_is_read_off_the_chart() -> None:
    import pandas as pd

    # Bayesian's median reaches Random's final 0.3 at 2 s, Random only at 8 s: the title says
    # Bayesian got there first, whatever a Bayesian step costs.
    bands = pd.DataFrame(
        [
            ("gp-ei", "Bayesian (GP, EI)", 1.0, 0.9),
            ("gp-ei", "Bayesian (GP, EI)", 2.0, 0.1),
            ("gp-ei", "Bayesian (GP, EI)", 8.0, 0.05),
            ("random", "Random", 1.0, 0.9),
            ("random", "Random", 2.0, 0.5),
            ("random", "Random", 8.0, 0.3),
        ],
        columns=["label", "strategy", "seconds", "median"],
    )
    assert race_view.time_title(bands, "regret", lower_is_better=True) == [
        "By wall-clock time, Bayesian (GP, EI) reached regret 0.3 first (2 s; Random 8 s)"
    ]
    # Slow Bayesian steps: Random gets there first, and Bayesian still ends lower (a second
    # line: one line of both ran past a 1366-px page's chart and was cut).
    slow = bands.assign(seconds=[1.0, 20.0, 30.0, 1.0, 2.0, 8.0])
    assert race_view.time_title(slow, "regret", lower_is_better=True) == [
        "By wall-clock time, Random reached regret 0.3 first (8 s; Bayesian (GP, EI) 20 s)",
        "Bayesian (GP, EI) ended best: regret 0.05, reached at 30 s",
    ]


def test_the_suggested_race_name_follows_the_objective_and_skips_taken_names() -> None:
    assert race_view.default_race_name("digits", ["branin-race-1"]) == "digits-race-1"
    taken = ["branin-race-1", "branin-race-3"]
    assert race_view.default_race_name("branin", taken) == "branin-race-2"


def test_race_charts_draw_one_colour_per_strategy_and_log_regret() -> None:
    race, rows = _real_race(trials=8, seeds=2)
    frame = race_view.trial_frame(rows, "minimize", TEST_FUNCTIONS["branin"].optimum)
    strategies = list(race.titles().values())
    by_trial = race_charts.convergence_by_trial(
        race_view.convergence_frame(frame, race.titles()), strategies, "regret", log_y=True
    ).to_dict()
    band, line = by_trial["layer"]
    assert band["mark"]["type"] == "area" and line["mark"]["type"] == "line"
    assert line["encoding"]["x"]["field"] == "trial"
    assert line["encoding"]["y"]["field"] == "median"
    assert line["encoding"]["y"]["scale"]["type"] == "log"
    assert band["encoding"]["y"]["field"] == "q25" and band["encoding"]["y2"]["field"] == "q75"
    assert line["encoding"]["color"]["scale"]["domain"] == strategies
    by_time = race_charts.convergence_by_time(
        race_view.time_frame(frame, race.titles()), strategies, "regret", True, title="Read off"
    ).to_dict()
    assert by_time["title"] == "Read off"
    line = by_time["layer"][1]
    assert line["encoding"]["x"]["field"] == "seconds"
    assert line["encoding"]["x"]["scale"]["type"] == "log"
    assert line["encoding"]["x"]["scale"]["nice"] is False  # the axis ends where the race did
    assert line["encoding"]["color"]["scale"]["domain"] == strategies
    plain = race_charts.convergence_by_trial(
        race_view.convergence_frame(frame, race.titles()), strategies, "val_accuracy"
    ).to_dict()
    assert plain["layer"][1]["encoding"]["y"]["scale"].get("type") is None


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"name": "a.b"}, "name must be 1 to 40 letters"),
        ({"seeds": 0}, "seeds must be a whole number of seeds per strategy from 1 to 50, not 0."),
        ({"strategies": [{"type": "random"}]}, "strategies must be a list of 2 to 10"),
        ({"strategies": [{"type": "random"}, {"type": "annealing"}]}, "strategies[1].type must"),
        (
            {"strategies": [{"type": "random"}, {"type": "random", "seed": 3}]},
            "strategies[1].seed is not a race strategy key",
        ),
        (
            {"strategies": [{"type": "random"}, {"type": "random"}]},
            "strategies[1] races as 'random' like an earlier strategy",
        ),
        (
            {"strategies": [{"type": "random"}, {"type": "bayesian", "surrogate": "SVM"}]},
            "strategies[1].surrogate must be one of GP, RF, ET, GBRT, not 'SVM'.",
        ),
        (
            {"strategies": [{"type": "random"}, {"type": "random", "pruner": {"type": "median"}}]},
            "strategies[1].pruner.type median stops trials between epochs",
        ),
        ({"trials": 3}, "trials is not a race spec field"),
        ({"space": {"x1": 1}}, "space must define exactly x1, x2 for branin."),
    ],
)
def test_bad_race_specs_get_one_sentence_naming_the_field(
    change: dict[str, Any], sentence: str
) -> None:
    raw = {**branin_race(), **change}
    with pytest.raises(SpecError) as caught:
        parse_race_spec(raw)
    assert sentence in str(caught.value)


@pytest.mark.subprocess
def test_the_cli_refuses_a_bad_race_spec_with_exit_2(
    storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(storage.parent / "race.json", {**branin_race(), "seeds": "five"})
    result = run_cli("race", str(spec), storage=storage)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: seeds must be a whole number of seeds per strategy from 1 to 50, not 'five'."
    )
    assert "Traceback" not in result.stderr
    # The rest through the CLI's main() in this process: four process starts fewer.
    capsys.readouterr()

    def race_here(path: Path) -> tuple[int, str]:
        code = main(["--storage", str(storage), "race", str(path)])
        return code, capsys.readouterr().err

    code, err = race_here(storage.parent / "none.json")
    assert code == 2 and err.endswith("does not exist.\n")
    spec.write_text('{"name": "br", "seeds": NaN}', encoding="utf-8")
    code, err = race_here(spec)
    assert code == 2 and "holds NaN is not a number a spec may hold" in err
    # The same name with another spec is refused once the race exists.
    assert race_here(_write(spec, branin_race(trials=3)))[0] == 0
    code, err = race_here(_write(spec, branin_race(trials=4)))
    assert code == 2 and "name: a race called 'br' already exists" in err


@pytest.mark.subprocess
def test_a_pruned_strategy_races_against_an_unpruned_one(storage: Path) -> None:
    raw = branin_race(name="pr", trials=8, seeds=2, epochs=6)
    raw["strategies"] = [
        {"type": "random"},
        {"type": "random", "pruner": {"type": "successive_halving"}},
    ]
    race = parse_race_spec(raw)
    assert [m.spec.name for m in race.members][:2] == ["pr.random.s0", "pr.random.s1"]
    assert race.titles()["random-sh"] == "Random + successive halving"
    result = run_cli("race", str(_write(storage.parent / "race.json", raw)), storage=storage)
    assert result.returncode == 0, result.stderr
    with Store(storage) as store:
        pruned = store.trials(store.get_study("pr.random-sh.s0").id)
        assert any(t.state == TrialState.PRUNED for t in pruned)
        rows = races.race_trial_rows(store, races.get_race(store, "pr").id)
    # A pruned trial has no value of its own: the best so far carries over it, so both seeds
    # count at every trial after their first value, and the band never loses a seed.
    frame = race_view.trial_frame(rows, "minimize", TEST_FUNCTIONS["branin"].optimum)
    bands = race_view.convergence_frame(frame, race.titles())
    sh = bands[bands["label"] == "random-sh"].sort_values("trial")
    first_with_both = sh.index[sh["studies"] == 2][0]
    assert (sh.loc[first_with_both:, "studies"] == 2).all()
    assert sh["trial"].max() == 8
    assert sh["median"].is_monotonic_decreasing


@pytest.mark.subprocess
@pytest.mark.keras
def test_a_small_keras_race_on_digits(storage: Path) -> None:
    raw = {
        "name": "digits-race",
        "objective": {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": 1,
            "train_limit": 300,
        },
        "space": {"learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True}},
        "budget": {"trials": 3},
        "seeds": 1,
        "strategies": [{"type": "random"}, {"type": "bayesian", "initial_points": 2}],
    }
    spec = _write(storage.parent / "race.json", raw)
    # A fresh process after 3 fits (Keras leaks memory per fit): the first runs the random
    # study and the Bayesian one's first trial, the second resumes the race mid-study. (Every
    # worker imports TensorFlow, ~7 s: two, not the three that --recycle-every 2 started.)
    result = run_cli("race", str(spec), "--recycle-every", "3", storage=storage, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "race digits-race: finished" in result.stdout
    assert result.stdout.count("recycling the worker") == 1
    with Store(storage) as store:
        record = races.get_race(store, "digits-race")
        rows = races.race_trial_rows(store, record.id)
    frame = race_view.trial_frame(rows, "maximize")
    assert len(frame) == 6 and frame["value"].between(0, 1).all()
    text = race_view.verdict(frame, record.spec.titles(), "maximize", "val_accuracy")
    assert "on one seed: val_accuracy" in text or "tie at median" in text
    assert result.stdout.rstrip().splitlines()[-1] == f"verdict: {text}"


def test_two_labelled_variants_of_one_strategy_keep_apart_titles() -> None:
    raw = branin_race(name="variants")
    raw["strategies"] = [
        {"type": "bayesian", "initial_points": 2, "label": "gp-2"},
        {"type": "bayesian", "initial_points": 10, "label": "gp-10"},
    ]
    titles = parse_race_spec(raw).titles()
    assert titles == {"gp-2": "Bayesian (GP, EI) [gp-2]", "gp-10": "Bayesian (GP, EI) [gp-10]"}


def test_a_default_grid_with_a_choice_fits_the_budget() -> None:
    raw = branin_race(name="choices", trials=30)
    raw["objective"] = {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 1}
    raw["space"] = {
        "learning_rate": {"type": "float", "low": 0.001, "high": 1.0, "log": True},
        "optimizer": {"type": "choice", "values": ["sgd", "adam", "rmsprop"]},
    }
    grid = next(m for m in parse_race_spec(raw).members if m.label == "grid")
    # Every optimizer gets the same 10 learning rates: 30 points, not a corner of 100.
    assert grid.spec.space.grid_size(grid.spec.strategy["levels"]) == 30


@pytest.mark.subprocess
@pytest.mark.dask
def test_a_race_with_parallel_trials_runs_each_study_on_one_local_cluster(storage: Path) -> None:
    raw = branin_race(name="wide", trials=6, seeds=1, trial_seconds=0.3)
    raw["strategies"] = [{"type": "random"}, {"type": "bayesian", "initial_points": 2}]
    raw["parallel"] = 2
    result = run_cli("race", str(_write(storage.parent / "race.json", raw)), storage=storage)
    assert result.returncode == 0, result.stderr
    assert "race wide: finished" in result.stdout
    with Store(storage) as store:
        for name in ("wide.random.s0", "wide.gp-ei.s0"):
            study = store.get_study(name)
            trials = [t for t in store.trials(study.id) if t.state == TrialState.COMPLETE]
            assert len(trials) == 6
            # Two workers, and trials that ran at the same time.
            assert len({w.worker for w in store.trial_workers(study.id).values()}) == 2
            spans = sorted((t.started_at, t.finished_at) for t in trials)
            assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.subprocess
def test_a_bad_race_parallel_gets_one_sentence(storage: Path) -> None:
    raw = branin_race(name="toowide")
    raw["parallel"] = 65
    result = run_cli("race", str(_write(storage.parent / "race.json", raw)), storage=storage)
    assert result.returncode == 2
    assert result.stderr.startswith("error: parallel must be")
    assert result.stderr.count("\n") == 1, result.stderr
