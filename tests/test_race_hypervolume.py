"""Races of several metrics are ranked by hypervolume: every study measured from one reference
point shared by the whole race, through the engine on ZDT1 and on hand-made values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tuning_core.engine import pareto
from tuning_core.engine import race as races
from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.race import RaceTrialRow
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.storage import Store
from tuning_core.reports import recording
from tuning_core.views import race as race_view
from tuning_core.views import race_charts

ZDT_SPACE = {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 5)}


def zdt_race(name: str = "zr", trials: int = 14, seeds: int = 2) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"type": "function", "name": "zdt1"},
        "space": ZDT_SPACE,
        "budget": {"trials": trials},
        "seeds": seeds,
        "strategies": [
            {"type": "random"},
            {"type": "bayesian", "surrogate": "GP", "acquisition": "EI"},
        ],
    }


def test_a_race_spec_of_several_metrics_parses() -> None:
    race = parse_race_spec(zdt_race())
    assert [g.name for g in race.objective.metrics] == ["f1", "f2"]
    assert all(member.spec.multi_metric for member in race.members)
    keras = parse_race_spec(
        {
            **zdt_race(name="kr"),
            "objective": {
                "type": "keras",
                "dataset": "digits",
                "model": "mlp",
                "epochs": 1,
                "metrics": [
                    {"name": "val_accuracy", "direction": "maximize"},
                    {"name": "train_seconds", "direction": "minimize"},
                ],
            },
            "space": {"units": {"type": "int", "low": 8, "high": 64}},
        }
    )
    assert race_view.measure_of(keras.objective) == "hypervolume"
    assert race_view.judged_direction(keras.objective) == "maximize"
    # A pruner compares trials on one metric: refused for the strategy that asks for one.
    pruned = zdt_race()
    pruned["strategies"][1]["pruner"] = {"type": "median"}
    pruned["objective"]["epochs"] = 5  # so the epochs are not what it refuses
    with pytest.raises(SpecError) as error:
        parse_race_spec(pruned)
    message = str(error.value)
    assert message.startswith("strategies[1].pruner") and "several metrics" in message
    assert "\n" not in message


def test_a_zdt1_race_is_ranked_by_hypervolume_through_the_engine() -> None:
    race = parse_race_spec(zdt_race())
    with Store(":memory:") as store:
        outcome = races.run_race(
            race, store, lambda spec: function_objective("zdt1"), log=lambda _: None
        )
        rows = races.race_trial_rows(store, outcome.race_id)
        recorded = recording.parse_recording(recording.record(store, "zr"))
    # Recorded and replayed elsewhere, the race keeps every trial's values, so its ranking.
    with Store(":memory:") as elsewhere:
        recording.replay(elsewhere, recorded)
        replayed = races.race_trial_rows(elsewhere, races.get_race(elsewhere, "zr").id)
    assert [(r.study, r.trial, r.values) for r in replayed] == [
        (r.study, r.trial, r.values) for r in rows
    ]
    assert len(rows) == 4 * 14 and all(set(row.values) == {"f1", "f2"} for row in rows)
    frame = race_view.race_frame(race, rows)
    # One reference point for the whole race: just beyond the worst of each metric over
    # every study's trials.
    points = [(row.values["f1"], row.values["f2"]) for row in rows]
    reference = pareto.reference_point(points, ["minimize", "minimize"])
    assert frame.attrs["reference"] == {"f1": reference[0], "f2": reference[1]}
    for study, trials in frame.groupby("study"):
        assert trials["best"].is_monotonic_increasing  # a hypervolume never shrinks
        own = [(r.values["f1"], r.values["f2"]) for r in rows if r.study == study]
        final = pareto.hypervolume(own, ["minimize", "minimize"], reference)
        assert trials["best"].iloc[-1] == pytest.approx(final, rel=1e-12)
    finals = race_view.final_values(frame).groupby("label")["final"].median()
    assert finals.gt(0).all()
    ranked = finals.sort_values(ascending=False).index
    text = race_view.race_verdict(race, rows, finished=True)
    titles = race.titles()
    leader, runner = titles[ranked[0]], titles[ranked[1]]
    # Higher is better: the strategy with the larger median hypervolume is named first.
    assert "hypervolume" in text and "regret" not in text
    assert text.index(leader) < text.index(runner)
    assert race_view.hypervolume_note(frame).startswith("Hypervolume: how much of the f1 × f2")
    bands = race_view.convergence_frame(frame, titles)
    assert set(bands["strategy"]) == {"Random", "Bayesian (GP, EI)"}
    assert (bands["q25"] <= bands["q75"] + 1e-12).all()


def _row(study: str, trial: int, values: dict[str, float]) -> RaceTrialRow:
    label, seed = study.split(".")[1], int(study.split(".")[2][1:])
    state = "complete" if values else "failed"
    return RaceTrialRow(
        study, label, seed, trial, values.get("f1"), state, float(trial), dict(values)
    )


def _hand_made() -> list[RaceTrialRow]:
    """Random finds f1 = 0 on both seeds (the best on the first metric) but little else;
    Bayesian finds (0.2, 0.2), which dominates far more. Every value lies in [0, 1], so the
    shared reference point is (1.1, 1.1)."""
    return [
        _row("zr.random.s0", 1, {"f1": 1.0, "f2": 0.0}),
        _row("zr.random.s0", 2, {"f1": 0.0, "f2": 1.0}),
        _row("zr.random.s1", 1, {"f1": 0.0, "f2": 1.0}),
        _row("zr.gp-ei.s0", 1, {"f1": 0.5, "f2": 0.5}),
        _row("zr.gp-ei.s0", 2, {"f1": 0.2, "f2": 0.2}),
        _row("zr.gp-ei.s1", 1, {}),  # failed: no values, adds nothing
        _row("zr.gp-ei.s1", 2, {"f1": 0.2, "f2": 0.2}),
    ]


def test_hand_made_values_rank_by_hypervolume_not_by_the_first_metric() -> None:
    race = parse_race_spec(zdt_race())
    rows = _hand_made()
    frame = race_view.race_frame(race, rows)
    assert frame.attrs["reference"] == pytest.approx({"f1": 1.1, "f2": 1.1})
    best = {(r.study, r.trial): r.best for r in frame.itertuples()}
    assert best[("zr.random.s0", 1)] == pytest.approx(0.1 * 1.1)
    # (1, 0) and (0, 1): two 1.1 x 0.1 strips overlapping in a 0.1 x 0.1 corner.
    assert best[("zr.random.s0", 2)] == pytest.approx(0.21)
    assert best[("zr.random.s1", 1)] == pytest.approx(0.11)
    assert best[("zr.gp-ei.s0", 1)] == pytest.approx(0.36)
    assert best[("zr.gp-ei.s0", 2)] == pytest.approx(0.81)
    assert best[("zr.gp-ei.s1", 1)] == 0.0 and best[("zr.gp-ei.s1", 2)] == pytest.approx(0.81)

    finals = race_view.final_values(frame).set_index("study")["final"]
    assert finals.to_dict() == pytest.approx(
        {"zr.random.s0": 0.21, "zr.random.s1": 0.11, "zr.gp-ei.s0": 0.81, "zr.gp-ei.s1": 0.81}
    )
    text = race_view.race_verdict(race, rows, finished=True)
    assert text.startswith(
        "Bayesian (GP, EI) ended best over 2 seeds: median hypervolume 0.81 against 0.16 for "
        "Random, and their bands do not overlap"
    )
    assert "Seeds won of 2: Bayesian (GP, EI) 2, Random 0." in text
    assert race_view.has_clear_winner(frame, "maximize", "hypervolume")
    # By its best first metric alone Random would lead (f1 = 0 on both seeds).
    by_value = race_view.trial_frame(rows, "minimize")
    value_finals = race_view.final_values(by_value).groupby("label")["final"].median()
    assert value_finals["random"] < value_finals["gp-ei"]


def test_a_given_reference_is_used_and_no_complete_trial_gives_no_hypervolume() -> None:
    goals = parse_race_spec(zdt_race()).objective.metrics
    frame = race_view.hypervolume_trial_frame(_hand_made(), goals, reference=(2.0, 2.0))
    assert frame.attrs["reference"] == {"f1": 2.0, "f2": 2.0}
    final = frame[frame["study"] == "zr.gp-ei.s0"]["best"].iloc[-1]
    assert final == pytest.approx(1.8 * 1.8)
    failed_only = race_view.hypervolume_trial_frame([_row("zr.random.s0", 1, {})], goals)
    assert math.isnan(failed_only["best"].iloc[0]) and race_view.hypervolume_note(failed_only) == ""
    assert race_view.hypervolume_trial_frame([], goals).empty


def test_the_hypervolume_chart_says_what_it_draws() -> None:
    race = parse_race_spec(zdt_race())
    frame = race_view.race_frame(race, _hand_made())
    bands = race_view.convergence_frame(frame, race.titles())
    measure = race_view.measure_of(race.objective)
    chart = race_charts.convergence_by_trial(
        bands,
        list(race.titles().values()),
        race_view.measure_title(measure, log_y=False),
        title=race_view.trial_chart_title(measure),
    ).to_dict()
    assert chart["title"] == "Hypervolume so far by trial: median and middle half of the seeds"
    y_titles = {layer["encoding"]["y"]["title"] for layer in chart["layer"]}
    assert y_titles == {"hypervolume so far"}
    assert all(layer["encoding"]["y"]["scale"].get("type") != "log" for layer in chart["layer"])
    median = bands[(bands["label"] == "gp-ei") & (bands["trial"] == 2)]["median"].iloc[0]
    assert median == pytest.approx(0.81)


def test_the_race_form_offers_a_zdt1_race_judged_by_hypervolume() -> None:
    assert "zdt1" in race_view.OBJECTIVES and race_view.DEFAULT_TRIALS["zdt1"] >= 10
    document = race_view.race_document(
        "zdt1-race-1", "zdt1", race_view.DEFAULT_STRATEGIES, seeds=2, trials=12
    )
    race = parse_race_spec(document)
    assert race.objective.metrics[0].name == "f1" and len(race.objective.metrics) == 2
    assert list(race.members[0].spec.space.names) == [f"x{i}" for i in range(1, 7)]
    assert race_view.measure_of(race.objective) == "hypervolume"
    assert race_view.default_race_name("zdt1", ["zdt1-race-1"]) == "zdt1-race-2"
