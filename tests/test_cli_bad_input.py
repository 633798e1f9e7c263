"""Every invalid spec exits non-zero with one sentence naming the field and changes nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, branin_spec, cli_env, run_cli, write_spec


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
    (
        "unknown surrogate",
        _set("strategy", {"type": "bayesian", "surrogate": "XGB"}),
        "strategy.surrogate",
    ),
    (
        "unknown acquisition",
        _set("strategy", {"type": "bayesian", "acquisition": "UCB"}),
        "strategy.acquisition",
    ),
    ("unknown objective type", _set("objective.type", "pytorch"), "objective.type"),
    ("unknown function", _set("objective.name", "ackley"), "objective.name"),
    ("levels < 1", _set("strategy", {"type": "grid", "levels": 0}), "strategy.levels"),
    ("trials < 1", _set("budget.trials", 0), "budget.trials"),
    ("trials wrong type", _set("budget.trials", "ten"), "budget.trials"),
    ("bound wrong type", _set("space.x1.high", "10"), "space.x1.high"),
    ("space wrong type", _set("space", ["x1", "x2"]), "space"),
    (
        "unknown keras dataset key",
        _set("objective", {"type": "keras", "datasett": "digits"}),
        "objective.datasett",
    ),
]


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module: its tests only read it, and check it is left as it was."""
    folder = tmp_path_factory.mktemp("seeded")
    storage = folder / "store.db"
    good = write_spec(folder, branin_spec(name="kept", trials=3), "good.json")
    assert run_cli("run", str(good), storage=storage).returncode == 0
    return storage


def _store_bytes(storage: Path) -> dict[str, bytes]:
    """Every file of the store, by path: its database, the journals beside it and what its
    side folders (specs, artifacts) hold. A refused command may write none of them (compared
    byte for byte, with no export or list process)."""
    found = storage.parent.glob(f"{storage.name}*")
    files = [p for path in found for p in ([path] if path.is_file() else path.rglob("*"))]
    return {str(p.relative_to(storage.parent)): p.read_bytes() for p in files if p.is_file()}


def _assert_one_sentence_error(result, field: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and field in lines[0]


def run_cli_listing_imports(
    *args: str, storage: Path
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m tuning_core ARGS``: the result, its stderr without the
    import lines, and the top-level packages the run imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tuning_core", *args],
        cwd=ROOT,
        env=cli_env(storage),
        capture_output=True,
        text=True,
        timeout=300,
    )
    imported, other_lines = set(), []
    for line in result.stderr.splitlines(keepends=True):
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            other_lines.append(line)
    stripped = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout, "".join(other_lines)
    )
    return stripped, imported


@pytest.mark.parametrize(
    ("case", "mutate", "field"), BAD_SPECS, ids=[case for case, _, _ in BAD_SPECS]
)
@pytest.mark.subprocess
def test_bad_spec_is_refused_without_touching_the_store(
    seeded_store: Path, tmp_path: Path, case, mutate, field
) -> None:
    before = _store_bytes(seeded_store)
    spec = copy.deepcopy(branin_spec(name="bad"))
    mutate(spec)
    result = run_cli("run", str(write_spec(tmp_path, spec)), storage=seeded_store)
    _assert_one_sentence_error(result, field)
    assert _store_bytes(seeded_store) == before


@pytest.mark.subprocess
def test_malformed_json_and_missing_file(seeded_store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "space": {')
    _assert_one_sentence_error(run_cli("run", str(broken), storage=seeded_store), "not valid JSON")
    _assert_one_sentence_error(
        run_cli("run", str(tmp_path / "missing.json"), storage=seeded_store), "does not exist"
    )
    _assert_one_sentence_error(
        run_cli("export", "nope", storage=seeded_store), "no study called 'nope'"
    )


@pytest.mark.parametrize("dataset", ["mnist", "/no/such/folder"])
@pytest.mark.subprocess
def test_unloadable_dataset_stops_the_study_with_one_sentence(
    storage: Path, tmp_path: Path, dataset: str
) -> None:
    spec = {
        "name": "no-data",
        "objective": {"type": "keras", "dataset": dataset, "model": "mlp", "epochs": 1},
        "space": {"learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True}},
        "strategy": {"type": "random"},
        "budget": {"trials": 5},
    }
    result, imported = run_cli_listing_imports(
        "run", str(write_spec(tmp_path, spec)), storage=storage
    )
    _assert_one_sentence_error(result, "objective.dataset")
    if dataset.startswith("/"):  # a missing folder is refused before Keras loads (~7 s)
        assert "numpy" in imported and not imported & {"keras", "tensorflow"}, sorted(imported)
    listing = run_cli("list", storage=storage).stdout
    assert (
        "no-data" in listing and "failed" in listing and "0/5" in listing
    )  # stopped at the first try; nothing counted


def test_tensorflow_start_up_chatter_is_told_from_real_errors() -> None:
    from tuning_core.training.keras_runtime import is_startup_chatter

    # Lines TensorFlow 2.21 printed on this machine's import, before any filtering.
    chatter = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795835697.020782    4309 port.cc:153] oneDNN custom operations are on. You "
        "may see",
        "I0000 00:00:1795835697.066148    4309 cpu_feature_guard.cc:227] This TensorFlow binary "
        "is optimized",
        "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
        "TensorFlow "
        "with the appropriate compiler flags.",
        "W0000 00:00:1795835697.1 4309 cuda_executor.cc:1309] could not find cuda drivers on your "
        "machine",
    ]
    assert all(is_startup_chatter(line) for line in chatter)
    errors = [
        "E0000 00:00:1795835697.020782    4309 cuda_dnn.cc:8310] Unable to load cuDNN",
        "Traceback (most recent call last):",
        "error: objective.dataset: /nope could not be read.",
    ]
    assert not any(is_startup_chatter(line) for line in errors)


@pytest.mark.subprocess
def test_storage_may_follow_the_subcommand(seeded_store: Path) -> None:
    before = run_cli("--storage", str(seeded_store), "list")
    after = run_cli("list", "--storage", str(seeded_store))
    assert after.returncode == 0, after.stderr
    assert "kept" in after.stdout and after.stdout == before.stdout
    exported = run_cli("export", "kept", "--storage", str(seeded_store), "--format", "csv")
    assert exported.returncode == 0 and exported.stdout.count("\n") == 4  # header and 3 trials


@pytest.mark.parametrize(
    "command", [["list"], ["export", "kept"], ["stop", "kept"], ["delete", "kept"]]
)
@pytest.mark.subprocess
def test_reading_a_store_that_does_not_exist_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo.db"
    result = run_cli(*command, "--storage", str(missing))
    _assert_one_sentence_error(result, "--storage")
    assert "no store at" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.subprocess
def test_a_storage_path_that_is_no_store_gets_one_sentence(
    seeded_store: Path, tmp_path: Path
) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n" * 100)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(seeded_store.read_bytes()[:3000])
    for path in (text_file, tmp_path, truncated, Path("/dev/null")):
        _assert_one_sentence_error(run_cli("list", "--storage", str(path)), "--storage")
    assert text_file.read_text() == "not a database\n" * 100  # refused without writing to it
