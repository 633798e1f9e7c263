"""The learning-rate lab's comparison: how many runs train at once, and the sentence that says
the comparison has finished (pure, then on the page against a seeded store)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.test_pages import open_page, shown
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.views import forms, lab


@pytest.mark.parametrize(
    ("rates", "cores", "at_once"),
    [(3, 2, 1), (3, None, 1), (3, 3, 2), (3, 16, 3), (8, 16, lab.MAX_PARALLEL_RUNS)],
)
def test_runs_train_at_once_only_on_spare_cores(
    rates: int, cores: int | None, at_once: int
) -> None:
    assert lab.comparison_parallel(rates, cores) == at_once


def _trials(states: list[str], values: list[float | None]) -> pd.DataFrame:
    rates = [0.001, 0.1, 10.0][: len(states)]
    return pd.DataFrame(
        {"number": range(len(states)), "learning_rate": rates, "state": states, "value": values}
    )


def test_the_comparison_says_when_it_is_finished() -> None:
    done = _trials(["complete", "complete", "diverged"], [0.61, 0.95, None])
    maximize = Direction("maximize")
    assert lab.finished_sentence("finished", done, "val_accuracy", maximize) == (
        "Finished: all 3 learning rates trained; the best val_accuracy, 0.950, came from "
        "learning rate 0.1."
    )
    running = _trials(["complete", "running"], [0.61, None])
    assert lab.finished_sentence("running", running, "val_accuracy", maximize) is None
    assert lab.finished_sentence("stopped", running, "val_accuracy", maximize) == (
        "Stopped after 1 learning rate: train again to finish the others."
    )


def _seed_finished_comparison(path: Path) -> None:
    raw = forms.learning_rate_comparison_spec(
        "lr-digits-mlp-sgd", "digits", "mlp", "sgd", [0.001, 0.1, 10.0], 10, 32, None
    )
    with Store(path) as store:
        study_id = store.create_study(parse_spec(raw))
        for number, (rate, score) in enumerate([(0.001, 0.61), (0.1, 0.95), (10.0, None)]):
            trial_id = store.start_trial(study_id, number, {"learning_rate": rate})
            metrics = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1, "val_accuracy": score or 0.1}
            store.add_epoch_metrics(trial_id, 0, metrics)
            if score is None:
                store.finish_trial(trial_id, TrialState.DIVERGED, error="diverged at epoch 0")
            else:
                store.finish_trial(trial_id, TrialState.COMPLETE, score)
        store.set_status(study_id, StudyStatus.FINISHED)


@pytest.mark.slow  # a finished three-rate comparison through AppTest, ~1.9 s
def test_the_page_says_the_comparison_finished_and_how_many_train_at_once(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_finished_comparison(storage)
    at = open_page("pages/lr_lab.py", rates="0.001,0.1,10")
    assert [shown(s.value) for s in at.success][:1] == [
        "Finished: all 3 learning rates trained; the best val_accuracy, 0.950, came from "
        "learning rate 0.1."
    ]
    assert not any("train at once" in c.value for c in at.caption)  # 1 spare core or fewer
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    many = open_page("pages/lr_lab.py", rates="0.001,0.1,10")
    assert any("; 3 rates train at once" in c.value for c in many.caption)
