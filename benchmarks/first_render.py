"""Seconds from `streamlit run app.py` to the first page drawn in a real browser (Debian chromium).

Starts the server, opens the page in headless chromium as soon as the port answers, and
stops the clock when the New-study heading is visible. Target: <= 2 s.
Usage: python -m benchmarks.first_render [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, TUNING_LAB_STORAGE=str(Path(tempfile.mkdtemp()) / "store.db"))
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=FLAGS
        )
        for _ in range(args.repeats):
            port = free_port()
            page = browser.new_page()
            started = time.perf_counter()
            server = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_role("heading", name="New study").wait_for(timeout=30_000)
            timings.append(time.perf_counter() - started)
            page.close()
            server.terminate()
            server.wait(timeout=20)
        browser.close()
    print(
        "first render after `streamlit run`: "
        + ", ".join(f"{t:.2f} s" for t in timings)
        + f"; median {statistics.median(timings):.2f} s (target <= 2 s)"
    )


if __name__ == "__main__":
    main()
