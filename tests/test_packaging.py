"""`pip install .` gives the API, the CLI and the dashboard: every package is listed, and
`tuning-lab app` serves the dashboard from any folder."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env


def test_every_package_and_page_is_in_the_wheel() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(settings["packages"])
    for top in ("tuning_core", "dashboard"):
        for init in (ROOT / top).rglob("__init__.py"):
            package = ".".join(init.parent.relative_to(ROOT).parts)
            assert package in listed, f"{package} is missing from pyproject.toml's packages"
    shipped = settings["package-data"]["tuning_lab_app"]
    assert "pages/*.py" in shipped and ".streamlit/config.toml" in shipped
    # The recorded lessons the landing page replays travel with the app.
    for lesson in (ROOT / "lessons").rglob("*.json"):
        folder = lesson.parent.relative_to(ROOT).as_posix()
        assert f"{folder}/*.json" in shipped, lesson
    assert settings["package-dir"]["tuning_lab_app"] == "."
    # app.py names each page by its path under pages/, which the wheel ships.
    for page in re.findall(r'"(pages/[a-z_]+\.py)"', (ROOT / "app.py").read_text()):
        assert (ROOT / page).is_file(), page


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.subprocess
def test_tuning_lab_app_serves_the_guarded_dashboard_from_another_folder(tmp_path: Path) -> None:
    port = _free_port()
    env = cli_env()
    env.pop("TUNING_LAB_STORAGE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "app", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    headers = response.headers
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.5)
        # Served through the frame guard, from app.py's own config (127.0.0.1, headless).
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in output
