"""Start and stop worker processes (``python -m tuning_core ...``) for the dashboard.

The dashboard never trains: it writes a spec beside the store and launches the CLI, which
imports TensorFlow in its own process. Workers run in their own session, so closing the
browser or restarting Streamlit does not kill a study.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tuning_core.engine.dask_address import DASK_ENV, is_dask_address
from tuning_core.engine.errors import brief
from tuning_core.engine.storage import Store, artifacts_dir

# The folder above tuning_core: workers run there and import tuning_core from it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_children: list[subprocess.Popen[bytes]] = []


def specs_dir(storage: str) -> Path:
    return Path(f"{storage}.specs")


def _reap() -> None:
    """Collect finished children so they do not linger as zombies."""
    _children[:] = [child for child in _children if child.poll() is None]


# New study's label for the address, which its sentences name.
DASK_FIELD = "Dask scheduler address"


def dask_address_problem(address: str, field: str = DASK_FIELD) -> str | None:
    """Why ``address`` is not a Dask scheduler address, in one sentence naming ``field``, or
    None for a good one (an empty address means no scheduler, which is fine too)."""
    if not address.strip() or is_dask_address(address):
        return None
    return (
        f"{field}: {brief(address.strip())} is not a Dask address; give one such as "
        "tcp://10.0.0.5:8786 (tcp://, tls://, ucx:// or inproc://, then host:port)."
    )


def _launch(
    arguments: list[str], log_path: Path, environment: dict[str, str | None] | None = None
) -> subprocess.Popen[bytes]:
    _reap()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name, value in (environment or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    )
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "tuning_core", *arguments],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children.append(child)
    return child


def write_spec(storage: str, raw_spec: dict[str, Any], name: str | None = None) -> Path:
    """Save a spec where the worker (and the user) can find it: <store>.specs/<name>.json."""
    path = specs_dir(storage) / f"{name or raw_spec['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw_spec, indent=2), encoding="utf-8")
    return path


def _dask_address_file(storage: str, name: str) -> Path:
    return artifacts_dir(storage, name) / "dask_address.txt"


def launch_study(
    storage: str,
    raw_spec: dict[str, Any],
    dask_address: str | None = None,
    code_folder: str | None = None,
) -> subprocess.Popen[bytes]:
    """Write the spec and start a worker that runs (or resumes) it; with ``dask_address`` the
    worker sends its trials to that Dask scheduler (``run --dask``), and the address is kept
    beside the study so a resume goes there too (:func:`dask_address_of`).

    Without an address the worker gets no ``$TUNING_LAB_DASK`` either: what the form showed is
    what runs (New study fills its address field from that variable).

    ``code_folder`` goes on the worker's import path for a python objective's target (see
    :func:`worker_import_path`), and is kept beside the study so a resume imports the same file.
    """
    name = raw_spec["name"]
    address = (dask_address or "").strip() or None
    if address is not None and (problem := dask_address_problem(address)):
        raise ValueError(problem)
    spec_path = write_spec(storage, raw_spec)
    log_path = artifacts_dir(storage, name) / "worker.log"
    remembered = _dask_address_file(storage, name)
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(address or "", encoding="utf-8")  # empty: this machine
    if code_folder is not None:
        remember_code_folder(storage, name, code_folder)
    arguments = ["--storage", storage, "run", str(spec_path)]
    if address is not None:
        arguments += ["--dask", address]
    return _launch(arguments, log_path, {DASK_ENV: None, **_code_path(storage, name)})


def _code_folder_file(storage: str, name: str) -> Path:
    return artifacts_dir(storage, name) / "code_folder.txt"


def remember_code_folder(storage: str, name: str, folder: str) -> None:
    """Keep the folder a study's (or race's) python target is imported from: a worker the
    dashboard starts to resume it runs a copy of its spec from <store>.specs, elsewhere."""
    path = _code_folder_file(storage, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(folder, encoding="utf-8")


def _code_path(storage: str, name: str) -> dict[str, str]:
    """The worker's PYTHONPATH with the remembered code folder first, if there is one."""
    folder = code_folder_of(storage, name)
    if folder is None:
        return {}
    return {"PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}


def code_folder_of(storage: str, name: str) -> str | None:
    """The folder New study put on the study's import path for its python target, if any."""
    path = _code_folder_file(storage, name)
    return (path.read_text(encoding="utf-8").strip() or None) if path.is_file() else None


def worker_import_path(storage: str, code_folder: str | None) -> list[str]:
    """Where a worker from :func:`launch_study` looks for a spec's python target, in order:
    the spec's folder (``run`` puts it first), the worker's working folder (``python -m``),
    ``PYTHONPATH`` as :func:`_launch` builds it with ``code_folder``, then this Python's own
    folders (the worker runs the same interpreter)."""
    path = [str(specs_dir(storage).resolve()), str(PROJECT_ROOT), str(PROJECT_ROOT)]
    if code_folder:
        path.append(code_folder)
    path += [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    # sys.path's "" (or this process's script folder) is the dashboard's, not the worker's.
    return path + [entry for entry in sys.path if entry and Path(entry).is_absolute()]


def default_dask_address() -> str:
    """What New study's address field starts with: ``$TUNING_LAB_DASK``, as ``run`` reads it."""
    return os.environ.get(DASK_ENV, "")


def dask_address_of(storage: str, name: str) -> str | None:
    """Where a resume of the study should send its trials: the Dask scheduler the dashboard
    last started it on (None: this machine); for a study the dashboard never started,
    ``$TUNING_LAB_DASK`` as the CLI would read it."""
    path = _dask_address_file(storage, name)
    if not path.is_file():
        return os.environ.get(DASK_ENV) or None
    return path.read_text(encoding="utf-8").strip() or None


def lr_find_output(storage: str, name: str) -> Path:
    return artifacts_dir(storage, name) / "lr_find.json"


def launch_lr_find(storage: str, raw_spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Start an LR range test whose JSON result lands in :func:`lr_find_output`."""
    name = raw_spec["name"]
    output = lr_find_output(storage, name)
    if output.exists():
        output.unlink()
    spec_path = write_spec(storage, raw_spec, name=f"{name}.lr-find")
    return _launch(
        ["lr-find", str(spec_path), "--output", str(output)],
        artifacts_dir(storage, name) / "lr_find.log",
    )


def request_stop(storage: str, name: str) -> bool:
    with Store(storage) as store:
        return store.request_stop(name)


def worker_log_tail(storage: str, name: str, filename: str = "worker.log", lines: int = 5) -> str:
    path = artifacts_dir(storage, name) / filename
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def race_log_path(storage: str, name: str) -> Path:
    """The race worker's log, beside the store: <store>.artifacts/<race>/race.log."""
    return artifacts_dir(storage, name) / "race.log"


def launch_race(storage: str, raw_race_spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Write the race spec (<store>.specs/<race>.race.json) and start a worker that runs or
    resumes it (``python -m tuning_core race``)."""
    name = raw_race_spec["name"]
    spec_path = write_spec(storage, raw_race_spec, name=f"{name}.race")
    return _launch(
        ["--storage", storage, "race", str(spec_path)],
        race_log_path(storage, name),
        {DASK_ENV: None, **_code_path(storage, name)},
    )


def request_race_stop(storage: str, name: str) -> bool:
    """Ask a race's worker to stop (it stops the study it runs and starts no other)."""
    from tuning_core.engine import race  # noqa: PLC0415 - race imports study; keep this light

    with Store(storage) as store:
        return race.request_race_stop(store, name)
