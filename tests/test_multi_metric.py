"""Studies of several metrics (issue 26), engine side: the spec's ``metrics``, the store's
trial values, zdt1/zdt2, user functions returning a dict, the tuple the strategy is told,
the front and the default best, every bad input's sentence, and older stores. Real stores,
real studies; the Keras and CLI ones are in test_multi_metric_keras.py."""

from __future__ import annotations

import copy
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tuning_core
from tests.conftest import branin_spec, digits_spec
from tuning_core.engine.errors import ObjectiveError, SpecError
from tuning_core.engine.objectives import MULTI_TEST_FUNCTIONS, function_objective, zdt1, zdt2
from tuning_core.engine.pareto import MAX_METRICS
from tuning_core.engine.records import front_trials, study_best
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies.random_search import RandomStrategy
from tuning_core.engine.study import _Teller, run_study
from tuning_core.reports.export import export_json
from tuning_core.training.factory import objective_for

TWO_METRICS = [
    {"name": "val_accuracy", "direction": "maximize"},
    {"name": "train_seconds", "direction": "minimize"},
]


def zdt_spec(name: str = "zdt", function: str = "zdt1", inputs: int = 6, trials: int = 10) -> dict:
    return {
        "name": name,
        "objective": {"type": "function", "name": function},
        "space": {
            f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, inputs + 1)
        },
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }


def with_objective(spec: dict, **fields: Any) -> dict:
    spec = copy.deepcopy(spec)
    spec["objective"].update(fields)
    return spec


# The spec -------------------------------------------------------------------------------


def test_metrics_parse_to_typed_goals_and_the_first_is_the_primary_metric() -> None:
    spec = parse_spec(with_objective(digits_spec(), metrics=TWO_METRICS))
    assert spec.metrics == (
        MetricGoal("val_accuracy", Direction.MAXIMIZE),
        MetricGoal("train_seconds", Direction.MINIMIZE),
    )
    assert (spec.metric, spec.direction, spec.multi_metric) == (
        "val_accuracy",
        Direction.MAXIMIZE,
        True,
    )
    stored = spec.to_json()["objective"]
    assert stored["metrics"] == TWO_METRICS and "metric" not in stored
    assert parse_spec(json.loads(json.dumps(spec.to_json()))).to_json() == spec.to_json()


def test_a_list_of_one_metric_is_the_single_form_exactly() -> None:
    single = parse_spec(with_objective(digits_spec(), metric="val_loss"))
    listed = parse_spec(with_objective(digits_spec(), metrics=[{"name": "val_loss"}]))
    assert listed.to_json() == single.to_json()
    assert listed.search_identity() == single.search_identity()
    assert "metrics" not in single.to_json()["objective"]
    assert listed.metrics == (MetricGoal("val_loss", Direction.MINIMIZE),)


@pytest.mark.parametrize(
    ("metrics", "sentence"),
    [
        ([], "objective.metrics must list one or more metrics"),
        ("val_accuracy", "objective.metrics must list one or more metrics"),
        (
            [{"name": "val_accuracy"}, {"name": "val_accuracy", "direction": "maximize"}],
            "objective.metrics[1].name repeats 'val_accuracy'; list each metric once.",
        ),
        (
            [{"name": "val_accuracy", "direction": "up"}],
            "objective.metrics[0].direction must be minimize or maximize, not 'up'.",
        ),
        ([{"name": "f1"}], "objective.metrics[0].name must be one of val_accuracy"),
        (
            [{"name": "val_accuracy"}, {"name": "val_mae"}],
            "objective.metrics[1].name val_mae measures a regression",
        ),
        ([{"metric": "val_accuracy"}], "objective.metrics[0] must be an object"),
    ],
)
def test_bad_metrics_are_one_sentence_naming_the_field(metrics: Any, sentence: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(with_objective(digits_spec(), metrics=metrics))
    assert str(error.value).startswith(sentence)
    assert str(error.value).count(". ") == 0  # one sentence


def test_more_metrics_than_an_exact_hypervolume_can_afford_are_refused() -> None:
    four = [{"name": name} for name in ("val_accuracy", "val_loss", "train_seconds", "parameters")]
    with pytest.raises(SpecError) as error:
        parse_spec(with_objective(digits_spec(), metrics=four))
    assert str(error.value).startswith(
        f"objective.metrics lists 4 metrics; a study trades at most {MAX_METRICS} "
    )
    assert str(error.value).count(". ") == 0
    assert len(parse_spec(with_objective(digits_spec(), metrics=four[:3])).metrics) == 3


def test_metrics_with_metric_or_a_pruner_are_refused() -> None:
    with pytest.raises(SpecError, match=r"^objective.metrics replaces metric and direction"):
        parse_spec(with_objective(digits_spec(), metrics=TWO_METRICS, metric="val_loss"))
    pruned = with_objective(digits_spec(), metrics=TWO_METRICS)
    pruned["pruner"] = {"type": "median"}
    with pytest.raises(SpecError) as error:
        parse_spec(pruned)
    assert str(error.value) == (
        "pruner: a study with several metrics cannot be pruned (pruning compares one metric); "
        "remove the pruner or keep one metric."
    )


def test_a_measure_may_be_a_keras_metric_but_cannot_prune() -> None:
    assert parse_spec(with_objective(digits_spec(), metric="parameters")).direction == "minimize"
    pruned = with_objective(digits_spec(), metric="train_seconds")
    pruned["pruner"] = {"type": "median"}
    with pytest.raises(SpecError, match=r"^pruner: train_seconds is measured once a trial ends"):
        parse_spec(pruned)


def test_user_objectives_take_any_metric_names_and_functions_only_their_own() -> None:
    user = {
        "type": "python",
        "target": "train:objective",
        "metrics": [{"name": "error"}, {"name": "latency_ms"}, {"name": "auc"}],
    }
    spec = parse_spec({**branin_spec(), "objective": user, "space": {"a": 1.0}})
    assert [(g.name, g.direction.value) for g in spec.metrics] == [
        ("error", "minimize"),
        ("latency_ms", "minimize"),
        ("auc", "maximize"),
    ]
    with pytest.raises(SpecError) as error:
        parse_spec(with_objective(zdt_spec(), metrics=[{"name": "f1"}, {"name": "f3"}]))
    assert str(error.value) == "objective.metrics[1].name must be one of f1, f2 for zdt1, not 'f3'."
    with pytest.raises(SpecError, match=r"^objective.metrics\[0\].direction must be minimize"):
        parse_spec(with_objective(zdt_spec(), metrics=[{"name": "f1", "direction": "maximize"}]))


def test_every_spec_file_in_the_repository_keeps_its_json() -> None:
    root = Path(__file__).resolve().parent.parent
    checked = 0
    for path in sorted(root.rglob("*.json")):
        if {".git", "test-artifacts", "node_modules"} & set(path.parts):
            continue
        try:
            raw = json.loads(path.read_text())
            spec = parse_spec(raw)
        except (SpecError, ValueError, UnicodeDecodeError):
            continue  # not a study spec
        checked += 1
        stored = spec.to_json()
        assert "metrics" not in stored["objective"] or "metrics" in raw["objective"], path
        assert parse_spec(stored).to_json() == stored, path
    assert checked >= 1


# zdt1 and zdt2 --------------------------------------------------------------------------


def test_zdt_functions_match_their_definitions() -> None:
    on_front = np.array([0.25, 0.0, 0.0, 0.0])
    assert zdt1(on_front) == pytest.approx({"f1": 0.25, "f2": 1 - math.sqrt(0.25)})
    assert zdt2(on_front) == pytest.approx({"f1": 0.25, "f2": 1 - 0.25**2})
    x = np.array([0.5, 1.0, 0.5])
    g = 1 + 9 * 1.5 / 2
    assert zdt1(x)["f2"] == pytest.approx(g * (1 - math.sqrt(0.5 / g)))
    assert zdt2(x)["f2"] == pytest.approx(g * (1 - (0.5 / g) ** 2))
    assert set(MULTI_TEST_FUNCTIONS) == {"zdt1", "zdt2"}


def test_a_zdt_space_must_be_x1_to_xn_within_0_and_1() -> None:
    spec = parse_spec(zdt_spec())
    assert [g.name for g in spec.metrics] == ["f1", "f2"]
    with pytest.raises(SpecError) as error:
        parse_spec(zdt_spec(inputs=1))
    assert str(error.value) == "space must define exactly x1, x2 for zdt1."
    wide = zdt_spec()
    wide["space"]["x3"]["high"] = 2.0
    with pytest.raises(SpecError) as error:
        parse_spec(wide)
    assert str(error.value) == "space.x3 must lie within 0 and 1 for zdt1, not 0 to 2."


@pytest.mark.parametrize("function", ["zdt1", "zdt2"])
def test_a_zdt_study_stores_both_metrics_of_every_trial(function: str) -> None:
    spec = parse_spec(zdt_spec(function=function))
    store = Store(":memory:")
    lines: list[str] = []
    run = run_study(spec, store, objective_for(spec), log=lines.append)
    assert run.status == StudyStatus.FINISHED
    trials = store.trials(run.study_id)
    assert len(trials) == 10
    reference = MULTI_TEST_FUNCTIONS[function].function
    for trial in trials:
        x = np.array([trial.params[f"x{i}"] for i in range(1, 7)])
        assert trial.values == pytest.approx(reference(x))
        assert trial.value == trial.values["f1"]
    # A reader that needs no values (a one-metric Live page) skips reading them.
    bare = store.trials(run.study_id, with_values=False)
    assert [t.number for t in bare] == [t.number for t in trials]
    assert all(t.values == {} for t in bare)
    assert [t.value for t in bare] == [t.value for t in trials]
    front = front_trials(trials, spec.metrics)
    assert front and all(
        not (o.values["f1"] <= t.values["f1"] and o.values["f2"] < t.values["f2"])
        for t in front
        for o in trials
    )
    assert "front=trials " in lines[-1] and "f1=" in lines[-1] and "f2=" in lines[-1]
    exported = json.loads(export_json(store, store.get_study(spec.name)))
    assert [t["values"] for t in exported["trials"]] == [t.values for t in trials]


# The Python API -------------------------------------------------------------------------


def zdt1_objective(trial: tuning_core.Trial) -> dict[str, float]:
    return zdt1(np.array([trial.params[f"x{i}"] for i in range(1, 7)]))


def test_the_api_runs_a_user_function_returning_a_dict_and_reads_the_front(
    storage: Path,
) -> None:
    study = tuning_core.create_study(
        "zdt-api",
        storage=storage,
        space={f"x{i}": (0.0, 1.0) for i in range(1, 7)},
        metrics=["f1", "f2"],
        budget=10,
    )
    study.optimize(zdt1_objective, show_progress=False)
    frame = study.trials_dataframe()
    assert len(frame) == 10 and all(set(v) == {"f1", "f2"} for v in frame["values"])
    front = study.best_trials
    assert front and {t["number"] for t in front} <= set(frame["number"])
    points = [(v["f1"], v["f2"]) for v in frame["values"]]
    for trial in front:
        f1, f2 = trial["values"]["f1"], trial["values"]["f2"]
        assert not any(a <= f1 and b <= f2 and (a, b) != (f1, f2) for a, b in points)
    # The default best: the best on the first metric, which is on the front.
    assert study.best_value == min(frame["value"])
    assert study.best_values["f1"] == study.best_value
    assert study.best_params in [t["params"] for t in front]
    again = tuning_core.load_study("zdt-api", storage=storage)
    again.optimize(zdt1_objective, n_trials=2, show_progress=False)
    assert len(again.trials_dataframe()) == 12


def test_a_dict_missing_a_study_metric_stops_the_study_naming_it(storage: Path) -> None:
    study = tuning_core.create_study(
        "missing", storage=storage, space={"x": (0.0, 1.0)}, metrics=["error", "size"]
    )
    with pytest.raises(ObjectiveError) as error:
        study.optimize(lambda trial: {"error": trial.params["x"], "sizes": 3}, show_progress=False)
    assert str(error.value) == (
        "the objective returned no size (it returned error, sizes); return every metric the "
        "study optimises: error, size."
    )
    assert study.status == StudyStatus.FAILED


def test_a_single_metric_study_keeps_a_returned_dict_and_its_value(storage: Path) -> None:
    study = tuning_core.create_study("one", storage=storage, space={"x": (0.0, 1.0)}, budget=3)
    study.optimize(lambda trial: {"value": trial.params["x"], "extra": 2.0}, show_progress=False)
    frame = study.trials_dataframe()
    assert list(frame["value"]) == [v["value"] for v in frame["values"]]
    assert all(v["extra"] == 2.0 for v in frame["values"])


def test_resuming_with_other_metrics_is_refused_and_keeps_the_trials(storage: Path) -> None:
    space = {f"x{i}": (0.0, 1.0) for i in range(1, 7)}
    study = tuning_core.create_study("kept", storage=storage, space=space, metrics=["f1", "f2"])
    study.optimize(zdt1_objective, n_trials=3, show_progress=False)
    single = tuning_core.create_study("kept", storage=storage, space=space, metric="f1")
    with pytest.raises(SpecError) as error:
        single.optimize(lambda trial: zdt1_objective(trial)["f1"], show_progress=False)
    assert str(error.value) == (
        "objective: the study 'kept' optimises f1 (minimize) and f2 (minimize), not f1 "
        "(minimize); give the same metrics to resume it (nothing stored is changed), or give "
        "this spec another name."
    )
    assert len(study.trials_dataframe()) == 3
    assert all(set(v) == {"f1", "f2"} for v in study.trials_dataframe()["values"])


# The strategy's side ---------------------------------------------------------------------


class RecordingRandom(RandomStrategy):
    """The real random strategy, keeping what it was told."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[tuple[Any, bool]] = []

    def tell(self, params: dict[str, Any], loss: Any, failed: bool = False) -> None:
        self.told.append((loss, failed))
        super().tell(params, loss, failed)


def test_a_study_of_several_metrics_tells_a_tuple_of_losses_in_spec_order() -> None:
    spec = parse_spec(
        with_objective(
            digits_spec(),
            metrics=[{"name": "train_seconds"}, {"name": "val_accuracy"}],
        )
    )
    strategy = RecordingRandom(spec.space, seed=0)
    teller = _Teller(strategy, spec.space, spec.direction, goals=spec.metrics)
    params = spec.space.full_params(strategy.ask())
    teller.tell(params, TrialState.FAILED, None)  # waits for a finite loss
    assert strategy.told == []
    teller.tell(
        params, TrialState.COMPLETE, 3.0, values={"train_seconds": 3.0, "val_accuracy": 0.9}
    )
    teller.tell(
        params, TrialState.COMPLETE, 1.0, values={"train_seconds": 1.0, "val_accuracy": 0.5}
    )
    teller.tell(params, TrialState.DIVERGED, None)
    assert strategy.told == [
        ((3.0, -0.9), False),
        ((3.0, -0.9), True),  # the failure that waited: the worst so far of each component
        ((1.0, -0.5), False),
        ((3.0, -0.5), True),
    ]
    single = parse_spec(digits_spec())
    plain = RecordingRandom(single.space, seed=0)
    _Teller(plain, single.space, single.direction, goals=single.metrics).tell(
        params, TrialState.COMPLETE, 0.9, values={"val_accuracy": 0.9, "train_seconds": 2.0}
    )
    assert plain.told == [(-0.9, False)]  # one metric: a float, as before


# Stores -----------------------------------------------------------------------------------


def test_an_older_store_without_trial_values_opens_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    spec = parse_spec(branin_spec(trials=3))
    with Store(path) as store:
        run_study(spec, store, function_objective("branin"), log=lambda line: None)
    # The schema of a store written before trial values existed.
    connection = sqlite3.connect(path)
    connection.executescript(
        "DROP TRIGGER finished_trials_take_no_values; DROP TABLE trial_values;"
    )
    connection.close()
    with Store(path) as store:
        study = store.get_study("branin")
        assert [t.values for t in store.trials(study.id)] == [{}, {}, {}]
        longer = parse_spec(branin_spec(trials=5))
        run = run_study(longer, store, function_objective("branin"), log=lambda line: None)
        assert run.status == StudyStatus.FINISHED
        trials = store.trials(study.id)
        assert len(trials) == 5 and all(t.value is not None for t in trials)
        exported = json.loads(export_json(store, study))
        assert [t["values"] for t in exported["trials"]] == [{"value": t.value} for t in trials]


def test_a_finished_trials_values_are_final() -> None:
    store = Store(":memory:")
    spec = parse_spec(zdt_spec(trials=1))
    run = run_study(spec, store, objective_for(spec), log=lambda line: None)
    trial = store.trials(run.study_id)[0]
    with pytest.raises(sqlite3.IntegrityError, match="finished trials are never modified"):
        store.connection.execute(
            "INSERT INTO trial_values (trial_id, name, value) VALUES (?, 'f3', 1.0)", (trial.id,)
        )


def test_the_default_best_is_on_the_front_even_when_the_first_metric_ties() -> None:
    store = Store(":memory:")
    spec = parse_spec({**zdt_spec(), "budget": {"trials": 1}})
    study_id = store.create_study(spec)
    for number, (f1, f2) in enumerate([(0.2, 5.0), (0.2, 3.0), (0.5, 1.0)]):
        trial_id = store.start_trial(study_id, number, {"x1": f1})
        store.finish_trial(trial_id, TrialState.COMPLETE, f1, values={"f1": f1, "f2": f2})
    trials = store.trials(study_id)
    assert [t.number for t in front_trials(trials, spec.metrics)] == [1, 2]
    assert study_best(trials, spec).number == 1


@pytest.mark.dask
def test_the_dask_path_stores_every_metric_and_tells_the_front(tmp_path: Path) -> None:
    from tuning_core.engine import parallel

    spec = parse_spec({**zdt_spec("zdt-dask", function="zdt2", inputs=3, trials=6), "parallel": 2})
    lines: list[str] = []
    with Store(tmp_path / "store.db") as store:
        run = parallel.run_parallel_study(spec, store, objective_for, log=lines.append)
        trials = store.trials(run.study_id)
    assert run.status == StudyStatus.FINISHED and len(trials) == 6
    for trial in trials:
        x = np.array([trial.params[f"x{i}"] for i in range(1, 4)])
        assert trial.values == pytest.approx(zdt2(x)) and trial.value == trial.values["f1"]
    assert any("front=trials " in line for line in lines)
