"""``app``: serve the dashboard with ``streamlit run`` from any folder, on this store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tuning_core.cli.store_args import storage_path
from tuning_core.engine.errors import SpecError
from tuning_core.engine.storage import STORAGE_ENV


def dashboard_app_file() -> Path:
    """The dashboard's app.py: the checkout's when this runs from one, else the installed
    package ``tuning_lab_app`` (pyproject.toml ships app.py, pages/ and .streamlit/ there)."""
    checkout = Path(__file__).resolve().parents[2] / "app.py"
    if checkout.is_file():
        return checkout
    import importlib.resources  # noqa: PLC0415 - only for an installed copy

    installed = Path(str(importlib.resources.files("tuning_lab_app") / "app.py"))
    if not installed.is_file():
        raise SpecError("app: the dashboard is not installed here; run `pip install .` again.")
    return installed


def command_app(args: argparse.Namespace) -> int:
    """Serve the dashboard with ``streamlit run``, from app.py's own folder so that its
    .streamlit/config.toml (127.0.0.1, headless) applies; the store stays the caller's."""
    app_file = dashboard_app_file()
    environment = dict(os.environ)
    environment[STORAGE_ENV] = str(Path(storage_path(args)).resolve())
    extra = [a for a in args.streamlit_args if a != "--"]
    if args.port is not None:
        extra += ["--server.port", str(args.port)]
    command = [sys.executable, "-m", "streamlit", "run", str(app_file), *extra]
    # This process becomes the server, so Ctrl-C and SIGTERM reach Streamlit itself.
    sys.stdout.flush()
    os.chdir(app_file.parent)
    os.execve(sys.executable, command, environment)
    return 0  # not reached: execve replaces this process
