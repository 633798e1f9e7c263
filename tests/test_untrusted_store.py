"""A store file from elsewhere is untrusted: its blobs run no code, its schema cannot hang a
command, a read-only copy can be read, and a store deleted under a run stops it."""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, branin_spec, cli_env, run_cli, write_spec
from tuning_core.engine import snapshots, storage
from tuning_core.engine.errors import StoreError
from tuning_core.engine.storage import Store

STUDY = "crafted"


class _RunsShell:
    """Unpickling this runs a shell command: the classic pickle payload."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


class _WritesFile:
    """Unpickling this calls a builtin that writes a file (no shell involved)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _payloads(marker: Path) -> dict[str, bytes]:
    """Blobs that would run code if unpickled, by several techniques: raw pickles, a pickle
    wearing our header with a forged tag, one signed with another user's key, and a genuine
    record of ours with the payload appended after its tag."""
    raw_shell = pickle.dumps((_RunsShell(f"touch {marker}.shell"), 1))
    raw_builtin = pickle.dumps(_WritesFile(Path(f"{marker}.builtin")))
    forged = snapshots._SIGNED_MAGIC + b"\0" * snapshots._TAG_BYTES + raw_shell
    genuine = snapshots.dump({"version": 1})
    return {
        "shell": raw_shell,
        "builtin": raw_builtin,
        "forged-tag": forged,
        "appended": genuine + raw_shell,
    }


def _signed_by_someone_else(state: object, config_dir: Path) -> bytes:
    """``state`` as another user's Tuning Lab would sign it."""
    code = (
        "import pickle, sys; from tuning_core.engine import snapshots; "
        "sys.stdout.buffer.write(snapshots.dump(pickle.loads(sys.stdin.buffer.read())))"
    )
    env = {**cli_env(), "TUNING_LAB_CONFIG_DIR": str(config_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(state), env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def run_once_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store the CLI ran a finished 6-trial Bayesian Branin study into (records and a
    snapshot), checkpointed into one file; tests change copies of it, never it."""
    folder = tmp_path_factory.mktemp("bayesian")
    store_path = folder / "store.db"
    spec = branin_spec(STUDY, {"type": "bayesian", "initial_points": 3, "seed": 0}, trials=6)
    done = run_cli("run", str(write_spec(folder, spec)), storage=store_path)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(store_path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store_path


@pytest.fixture
def bayesian_store(run_once_store: Path, tmp_path: Path) -> Path:
    """This test's own copy of the module's run Bayesian store."""
    return Path(shutil.copy(run_once_store, tmp_path / "store.db"))


def _replace_blobs(store_path: Path, blob: bytes) -> None:
    with sqlite3.connect(store_path) as connection:
        connection.execute("UPDATE strategy_snapshots SET state = ?", (blob,))
        connection.execute("UPDATE strategy_asks SET state = ?", (blob,))


@pytest.mark.subprocess
def test_crafted_blobs_run_no_code_in_resume_explain_or_the_why_page(
    bayesian_store: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    spec_path = write_spec(
        tmp_path,
        branin_spec(STUDY, {"type": "bayesian", "initial_points": 3, "seed": 0}, trials=7),
        name="more.json",
    )
    for technique, blob in _payloads(marker).items():
        _replace_blobs(bayesian_store, blob)

        explained = run_cli("explain", STUDY, "--trial", "5", storage=bayesian_store)
        assert explained.returncode == 2, technique
        assert "cannot be trusted" in explained.stderr
        assert "Traceback" not in explained.stderr
        assert len(explained.stderr.strip().splitlines()) == 1

        page = AppTest.from_file(str(ROOT / "pages" / "why.py"), default_timeout=60)
        os.environ["TUNING_LAB_STORAGE"] = str(bayesian_store)
        try:
            page.query_params["study"] = STUDY
            page.run()
        finally:
            del os.environ["TUNING_LAB_STORAGE"]
        assert not page.exception, (technique, page.exception)
        assert any("cannot be trusted" in w.value for w in page.warning), technique

        resumed = run_cli("run", str(spec_path), storage=bayesian_store)
        assert resumed.returncode == 0, (technique, resumed.stderr)
        output = resumed.stdout + resumed.stderr
        assert "snapshot was not used" in output, technique
        assert "replaying" in output

        assert not list(tmp_path.glob("ran*")), f"{technique} ran code"
        # The study's earlier trials are all still there (the resume replayed them).
        with Store(bayesian_store) as store:
            assert len(store.trials(store.get_study(STUDY).id)) >= 6


@pytest.mark.subprocess
def test_records_signed_by_another_user_are_not_trusted(
    bayesian_store: Path, tmp_path: Path
) -> None:
    with Store(bayesian_store) as store:
        study_id = store.get_study(STUDY).id
        own = store.load_ask(study_id, 5)
    assert snapshots.load(own)["version"] == 1  # this user's record reads back
    theirs = _signed_by_someone_else({"version": 1}, tmp_path / "someone-else")
    with pytest.raises(snapshots.UntrustedSnapshotError):
        snapshots.load(theirs)
    # One byte changed in a record of ours also breaks the signature.
    tampered = own[:-1] + bytes([own[-1] ^ 1])
    with pytest.raises(snapshots.UntrustedSnapshotError):
        snapshots.load(tampered)


def test_the_signing_key_is_private_and_made_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(snapshots.CONFIG_DIR_ENV, str(tmp_path / "config"))
    first = snapshots.dump([1, 2])
    key_file = tmp_path / "config" / snapshots.KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o077 == 0
    snapshots._keys.clear()  # a new process reads the same key
    assert snapshots.load(first) == [1, 2]


def _endless_view_store(path: Path) -> None:
    """A store whose trials table became a view over an endless recursive query."""
    Store(path).close()
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            DROP TRIGGER finished_trials_are_final;
            DROP TRIGGER finished_trials_take_no_metrics;
            DROP TABLE trials;
            CREATE VIEW trials AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
            SELECT i AS id, 1 AS study_id, i AS number, '{}' AS params, 'complete' AS state,
                   0.0 AS value, NULL AS error, NULL AS note, NULL AS retry_of,
                   0.0 AS started_at, 0.0 AS finished_at FROM n;
            INSERT INTO studies (name, spec, status, created_at, updated_at)
            VALUES ('x', '{}', 'complete', 0, 0);
            """
        )


@pytest.mark.subprocess
def test_an_endless_view_is_refused_by_every_command_at_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    _endless_view_store(path)
    for command in (["list"], ["export", "x"], ["explain", "x", "--trial", "1"], ["delete", "x"]):
        started = time.monotonic()
        done = run_cli(*command, storage=path, timeout=60)
        assert time.monotonic() - started < 20, command
        assert done.returncode == 2, (command, done.stderr)
        assert "holds a view named 'trials'" in done.stderr, command
        assert "Traceback" not in done.stderr


def test_a_crafted_trigger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store(path).close()
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "DROP TRIGGER finished_trials_are_final;"
            "CREATE TRIGGER finished_trials_are_final BEFORE UPDATE ON trials BEGIN "
            "SELECT count(*) FROM epoch_metrics a, epoch_metrics b, epoch_metrics c; END;"
        )
    with pytest.raises(StoreError, match="trigger named 'finished_trials_are_final'"):
        Store(path)


def test_every_statement_is_bounded_in_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(storage.opening, "QUERY_LIMIT_S", 0.5)
    with Store(tmp_path / "store.db") as store:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            store.connection.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                "SELECT count(*) FROM n"
            ).fetchall()
        assert time.monotonic() - started < 5
        # The connection still answers ordinary queries afterwards.
        assert store.studies() == []
        assert store.connection.execute("PRAGMA trusted_schema").fetchone()[0] == 0


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Path:
    """A tmpfs folder that the test can remount read-only (needs root, as CI runs)."""
    folder = tmp_path / "course-drive"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)])
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.subprocess
def test_a_store_on_a_read_only_mount_is_read_and_refuses_writes(
    bayesian_store: Path, read_only_mount: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(bayesian_store) as connection:  # checkpoint: one self-contained file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(bayesian_store, read_only_mount / "store.db")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    shared = read_only_mount / "store.db"

    listed = run_cli("list", storage=shared)
    assert listed.returncode == 0, listed.stderr
    assert STUDY in listed.stdout
    exported = run_cli("export", STUDY, "--format", "json", storage=shared)
    assert exported.returncode == 0, exported.stderr
    assert '"trials"' in exported.stdout
    explained = run_cli("explain", STUDY, "--trial", "5", storage=shared)
    assert explained.returncode == 0, explained.stderr

    spec = branin_spec(STUDY, {"type": "bayesian", "initial_points": 3, "seed": 0}, trials=8)
    for command in (["run", str(write_spec(tmp_path, spec))], ["delete", STUDY], ["stop", STUDY]):
        done = run_cli(*command, storage=shared)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "is read-only" in done.stderr, command
        assert "Traceback" not in done.stderr
    assert not list(read_only_mount.glob("store.db-*"))  # no side files could be made


@pytest.mark.subprocess
def test_a_store_deleted_during_a_study_stops_it_with_one_sentence(tmp_path: Path) -> None:
    store_path = tmp_path / "store.db"
    spec = branin_spec("doomed", trials=8, epochs=5, trial_seconds=1.0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(write_spec(tmp_path, spec))],
        cwd=ROOT,
        env=cli_env(store_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _trials_started(store_path, 2):
            time.sleep(0.1)
        for leftover in tmp_path.glob("store.db*"):
            leftover.unlink()
        deleted_at = time.monotonic()
        stdout, stderr = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert time.monotonic() - deleted_at < 5  # noticed within the running trial
    assert worker.returncode == 2, stdout + stderr
    assert "was deleted or replaced" in stderr
    assert "finished" not in stdout
    assert "Traceback" not in stderr


def _trials_started(store_path: Path, count: int) -> bool:
    if not store_path.exists():
        return False
    try:
        with Store(store_path, create=False) as store:
            study = store.get_study("doomed")
            return study is not None and len(store.trials(study.id)) >= count
    except (sqlite3.Error, StoreError):
        return False


@pytest.mark.parametrize("page", ["app.py", "pages/studies.py", "pages/live.py", "pages/why.py"])
def test_pages_refuse_a_crafted_store_in_one_sentence(
    tmp_path: Path, monkeypatch, page: str
) -> None:
    path = tmp_path / "store.db"
    _endless_view_store(path)
    monkeypatch.setenv("TUNING_LAB_STORAGE", str(path))
    started = time.monotonic()
    app = AppTest.from_file(str(ROOT / page), default_timeout=30).run()
    assert time.monotonic() - started < 20
    assert not app.exception, app.exception
    assert [e.value for e in app.error] and "view named" in app.error[0].value
