"""The pruner's plan New study shows before Start: rungs or brackets, trials reaching each, and
the epochs in all; checked against the rules themselves (engine/pruners/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, branin_spec
from tuning_core.engine.pruners import Hyperband, SuccessiveHalving, pruner_for
from tuning_core.views import pruning_plan

HALVING = {"type": "successive_halving", "max_epochs": 9, "min_epochs": 1, "reduction_factor": 3}
HYPERBAND = {**HALVING, "type": "hyperband"}
halving = SuccessiveHalving.from_options(HALVING)
hyperband = Hyperband.from_options(HYPERBAND)


def test_successive_halving_keeps_a_third_at_each_rung() -> None:
    stages = halving.plan(27)
    assert [(s.start_epoch, s.end_epoch, s.trials) for s in stages] == [
        (0, 1, 27), (1, 3, 9), (3, 9, 3),
    ]  # fmt: skip
    assert sum(s.epochs for s in stages) == 27 + 18 + 18
    # The same share of a full search the run-time estimate assumes, at an exact power of 3.
    assert sum(s.epochs for s in stages) / (27 * 9) == pytest.approx(halving.epoch_fraction())
    # At least one trial always trains to the end.
    assert halving.plan(2)[-1].trials == 1


def test_hyperband_splits_trials_into_its_brackets_by_number() -> None:
    stages = hyperband.plan(20)
    per_bracket = {}
    for number in range(20):
        per_bracket[hyperband.bracket_of(number)] = (
            per_bracket.get(hyperband.bracket_of(number), 0) + 1
        )
    firsts = {s.bracket: s for s in stages if s.start_epoch == 0}
    assert {b: s.trials for b, s in firsts.items()} == per_bracket
    assert len(firsts) == len(hyperband.bracket_weights()) == 3
    # Bracket b's first cut is at 3**b epochs; the last bracket is never cut.
    assert [firsts[b].end_epoch for b in range(3)] == [1, 3, 9]
    assert all(s.end_epoch == 9 for s in stages if s.bracket == 2)


def test_no_plan_for_the_median_rule_or_no_pruner() -> None:
    assert pruner_for({"type": "none"}).plan(10) == []
    assert pruner_for({"type": "median", "max_epochs": 9}).plan(10) == []
    assert pruning_plan.plan_sentence({"type": "none"}, 10, 9) is None


def test_the_plan_in_words_and_as_a_chart() -> None:
    sentence = pruning_plan.plan_sentence(HALVING, 27, 9)
    assert sentence.startswith("Successive halving: all 27 train to epoch 1; about 9 go on to")
    assert "About 63 epochs in all, of the 243 a full search trains (26%)" in sentence
    frame = pruning_plan.plan_frame(hyperband.plan(20))
    chart = pruning_plan.plan_chart(frame).to_dict()
    bars, labels = chart["layer"]
    assert bars["encoding"]["x"]["field"] == "start_epoch"
    assert bars["encoding"]["x2"]["field"] == "end_epoch"
    assert labels["encoding"]["text"]["field"] == "label"
    assert list(dict.fromkeys(frame["row"])) == ["bracket 1", "bracket 2", "bracket 3"]
    assert frame["label"].iloc[0] == f"{frame['trials'].iloc[0]} trials"


def test_new_study_shows_the_plan_before_start(storage: Path) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "new_study.py"), default_timeout=60)
    at.run()
    assert not any("Successive halving:" in c.value for c in at.caption)
    at.selectbox(key="pruner").set_value("successive_halving").run()
    assert not at.exception
    captions = [c.value for c in at.caption if c.value.startswith("Successive halving:")]
    assert captions and "epochs in all" in captions[0]
    assert any(
        "What the pruner will do" in str(chart.proto.spec) for chart in at.get("vega_lite_chart")
    )


def test_the_trial_table_says_each_trials_hyperband_bracket() -> None:
    import pandas as pd

    from tuning_core.engine.spec import parse_spec
    from tuning_core.views import live

    spec = parse_spec(
        {
            "name": "hb",
            "objective": {"type": "function", "name": "branin", "epochs": 9},
            "space": {
                "x1": {"type": "float", "low": -5, "high": 10},
                "x2": {"type": "float", "low": 0, "high": 15},
            },
            "strategy": {"type": "random"},
            "budget": {"trials": 6},
            "pruner": {"type": "hyperband", "min_epochs": 1, "reduction_factor": 3},
        }
    )
    trials = pd.DataFrame(
        {"number": range(6), "state": "complete", "value": 1.0, "duration_s": 1.0,
         "note": "", "error": "", "x1": 0.0, "x2": 0.0}
    )  # fmt: skip
    brackets = live.hyperband_brackets(spec, trials)
    assert brackets.to_dict() == {
        n: Hyperband.from_options(spec.pruner).bracket_of(n) + 1 for n in range(6)
    }
    table = live.trial_table(trials, pd.Series(9, index=range(6)), brackets)
    assert list(table.columns[:4]) == ["number", "state", "bracket", "epochs trained"]
    assert set(table["bracket"]) <= {1, 2, 3}
    halving = parse_spec({**spec.to_json(), "pruner": {"type": "successive_halving"}})
    assert live.hyperband_brackets(halving, trials) is None


def test_a_grid_of_fewer_points_than_its_budget_plans_its_points() -> None:
    raw = branin_spec("grid-plan", {"type": "grid", "levels": 2}, trials=9, epochs=9)
    raw["pruner"] = HALVING
    plan = pruning_plan.plan_for_spec(raw)
    assert plan is not None
    sentence, frame = plan
    # Two levels of two parameters: 4 points, all of which train to the first rung.
    assert frame.loc[frame["start_epoch"] == 0, "trials"].sum() == 4
    assert sentence.startswith("Successive halving: all 4 train to epoch 1")
    assert "of the 36 a full search trains" in sentence
