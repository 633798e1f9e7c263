"""The early-stopping benchmark's smoke run at max_epochs 27: every table, every row, one seed.

Our rows are always checked. The peers' rows (Keras Tuner, Optuna) need requirements-bench.txt,
which the test command does not install: without them the run leaves those rows out, and their
test says it is skipped and why.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from typing import Any

import pytest

from benchmarks.early_stopping import KERAS_TUNER_ROW, OPTUNA_ROW, OUR_ROWS
from benchmarks.early_stopping_tables import SPACE_OF
from tests.conftest import ROOT, cli_env

pytestmark = [pytest.mark.keras, pytest.mark.subprocess]

PEER_MODULES = {KERAS_TUNER_ROW: "keras_tuner", OPTUNA_ROW: "optuna"}
PEERS_HERE = [
    row for row, module in PEER_MODULES.items() if importlib.util.find_spec(module) is not None
]
MAX_EPOCHS = 27


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The smoke run's JSON document and its stdout (the tables)."""
    path = tmp_path_factory.mktemp("early-stopping") / "smoke.json"
    rows = ",".join([*OUR_ROWS, *PEERS_HERE])
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.early_stopping",
            "--smoke",
            "--max-epochs",
            str(MAX_EPOCHS),
            "--rows",
            rows,
            "--json",
            str(path),
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(path.read_text()), finished.stdout


def _check_rows(document: dict[str, Any], stdout: str, rows: list[str]) -> None:
    """Each table ran each row once, trained exactly its budget on the table's data, and has
    its heading and verdicts printed."""
    tables = {table["key"]: table for table in document["tables"]}
    assert {(t["data"], t["model"]) for t in tables.values()} == set(SPACE_OF)
    for key, table in tables.items():
        assert table["max_epochs"] == MAX_EPOCHS
        assert 0 < table["budget"] < MAX_EPOCHS  # a smoke budget: one trial of ours
        runs = {run["row"]: run for run in document["runs"] if run["table"] == key}
        fingerprints = set()
        for row in rows:
            assert row in runs, f"{key}: {row} did not run"
            run = runs[row]
            # Trained, and stopped at exactly the budget (the peers by their callbacks, ours
            # by the recording reporter and the study's budget.epochs).
            assert run["epochs"] == len(run["val_accuracies"]) == table["budget"], (key, row)
            assert run["trials"] >= 1
            assert any(math.isfinite(value) for value in run["val_accuracies"]), (key, row)
            if row in OUR_ROWS:
                assert run["epochs_in_store"] == run["epochs"], (key, row)
            fingerprints.add(run["dataset_fingerprint"])
        assert len(fingerprints) == 1, f"{key}: the rows trained on different data"
        section = stdout.split(f"### {key}\n", 1)[1].split("### ", 1)[0]
        assert all(f"| {row} |" in section for row in rows)
        assert "Same best, fewer epochs" in section
        assert "is ahead of both peers' medians at the same budget" in section


def test_our_rows_train_every_table_within_the_budget(smoke: tuple[dict[str, Any], str]) -> None:
    document, stdout = smoke
    _check_rows(document, stdout, list(OUR_ROWS))


def test_the_peers_rows_train_every_table_within_the_budget(
    smoke: tuple[dict[str, Any], str],
) -> None:
    missing = [module for row, module in PEER_MODULES.items() if row not in PEERS_HERE]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed (pip install -r requirements-bench.txt); "
            "our rows were checked without them"
        )
    document, stdout = smoke
    _check_rows(document, stdout, list(PEER_MODULES))
