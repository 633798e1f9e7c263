"""Every invalid spec exits non-zero with one sentence naming the field and changes nothing."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import branin_spec, run_cli, write_spec


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(spec: dict) -> None:
        *parents, last = path.split(".")
        target = spec
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


BAD_SPECS = [
    ("low > high", _set("space.x1.low", 11), "space.x1.low"),
    ("log low <= 0", _set("space.x2.log", True), "space.x2.low"),
    ("empty choice", _set("space.x2", {"type": "choice", "values": []}), "space.x2.values"),
    ("unknown strategy", _set("strategy.type", "annealing"), "strategy.type"),
    ("unknown surrogate", _set("strategy", {"type": "bayesian", "surrogate": "XGB"}), "strategy.surrogate"),
    ("unknown acquisition", _set("strategy", {"type": "bayesian", "acquisition": "UCB"}), "strategy.acquisition"),
    ("unknown objective type", _set("objective.type", "pytorch"), "objective.type"),
    ("unknown function", _set("objective.name", "ackley"), "objective.name"),
    ("levels < 1", _set("strategy", {"type": "grid", "levels": 0}), "strategy.levels"),
    ("trials < 1", _set("budget.trials", 0), "budget.trials"),
    ("trials wrong type", _set("budget.trials", "ten"), "budget.trials"),
    ("bound wrong type", _set("space.x1.high", "10"), "space.x1.high"),
    ("space wrong type", _set("space", ["x1", "x2"]), "space"),
    ("unknown keras dataset key", _set("objective", {"type": "keras", "datasett": "digits"}), "objective.datasett"),
]


@pytest.fixture
def seeded_store(storage: Path, tmp_path: Path) -> Path:
    good = write_spec(tmp_path, branin_spec(name="kept", trials=3), "good.json")
    assert run_cli("run", str(good), storage=storage).returncode == 0
    return storage


def _assert_one_sentence_error(result, field: str) -> None:  # noqa: ANN001
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and field in lines[0]


@pytest.mark.parametrize(("case", "mutate", "field"), BAD_SPECS, ids=[case for case, _, _ in BAD_SPECS])
def test_bad_spec_is_refused_without_touching_the_store(seeded_store: Path, tmp_path: Path, case, mutate, field) -> None:  # noqa: ANN001
    before = run_cli("export", "kept", "--format", "json", storage=seeded_store).stdout
    spec = copy.deepcopy(branin_spec(name="bad"))
    mutate(spec)
    result = run_cli("run", str(write_spec(tmp_path, spec)), storage=seeded_store)
    _assert_one_sentence_error(result, field)
    assert run_cli("export", "kept", "--format", "json", storage=seeded_store).stdout == before
    assert "bad" not in run_cli("list", storage=seeded_store).stdout


def test_malformed_json_and_missing_file(seeded_store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "space": {')
    _assert_one_sentence_error(run_cli("run", str(broken), storage=seeded_store), "not valid JSON")
    _assert_one_sentence_error(run_cli("run", str(tmp_path / "missing.json"), storage=seeded_store), "does not exist")
    _assert_one_sentence_error(run_cli("export", "nope", storage=seeded_store), "no study called 'nope'")


@pytest.mark.parametrize("dataset", ["mnist", "/no/such/folder"])
def test_unloadable_dataset_stops_the_study_with_one_sentence(storage: Path, tmp_path: Path, dataset: str) -> None:
    spec = {
        "name": "no-data",
        "objective": {"type": "keras", "dataset": dataset, "model": "mlp", "epochs": 1},
        "space": {"learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True}},
        "strategy": {"type": "random"},
        "budget": {"trials": 5},
    }
    result = run_cli("run", str(write_spec(tmp_path, spec)), storage=storage)
    _assert_one_sentence_error(result, "objective.dataset")
    listing = run_cli("list", storage=storage).stdout
    assert "no-data" in listing and "failed" in listing and "0/5" in listing  # stopped at the first try; nothing counted
