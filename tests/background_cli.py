"""A real ``python -m tuning_core`` run started in the background, so that a test can do
something else (kill and resume another worker) while it runs, then read what it printed."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT, cli_env


class BackgroundRun:
    """One CLI process; :meth:`result` waits for it and gives what ``run_cli`` would have."""

    def __init__(self, args: tuple[str, ...], storage: Path) -> None:
        self.args = [sys.executable, "-m", "tuning_core", *args]
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=cli_env(storage),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(self.args, self.process.returncode, stdout, stderr)


@contextlib.contextmanager
def cli_in_background(*args: str, storage: Path) -> Iterator[BackgroundRun]:
    """Start ``python -m tuning_core ARGS`` now; kill it on the way out if it still runs (a
    test that failed before asking for its result)."""
    run = BackgroundRun(args, storage)
    try:
        yield run
    finally:
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate(timeout=10)
