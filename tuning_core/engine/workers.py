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

from tuning_core.engine.storage import Store, artifacts_dir

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_children: list[subprocess.Popen[bytes]] = []


def specs_dir(storage: str) -> Path:
    return Path(f"{storage}.specs")


def _reap() -> None:
    """Collect finished children so they do not linger as zombies."""
    _children[:] = [child for child in _children if child.poll() is None]


def _launch(arguments: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    _reap()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
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


def launch_study(storage: str, raw_spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Write the spec and start a worker that runs (or resumes) it."""
    spec_path = write_spec(storage, raw_spec)
    log_path = artifacts_dir(storage, raw_spec["name"]) / "worker.log"
    return _launch(["--storage", storage, "run", str(spec_path)], log_path)


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
