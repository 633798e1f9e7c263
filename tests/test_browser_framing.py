"""Real browser (Debian's chromium) against a real `streamlit run app.py`: a page on another
origin frames the dashboard and opens its WebSocket, and gets neither; deleting a study takes
its name typed; a server without the frame guard renders nothing; Streamlit's own component
iframes still work behind the guard.

Screenshots (1366x768) go to test-artifacts/. This test never skips: CI installs chromium first.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Page, expect

from tests.browser_pages import ARTIFACTS, open_new_study, rerun_settled, settle, streamlit_app
from tests.conftest import ROOT
from tests.seeding import seed_store
from tests.test_browser import server  # noqa: F401 - the fixture
from tuning_core.engine.storage import Store

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)

# What the probe found: a page that frames the Studies page of a seeded study, and opens the
# dashboard's WebSocket itself (as a page on another loopback port could before).
ATTACKER_PAGE = """<!doctype html>
<html><head><title>Free GPU hours</title></head>
<body style="margin:0;font-family:sans-serif">
<p style="margin:4px">Click the red button twice to claim your prize.</p>
<iframe id="victim" src="{dashboard}/studies?study=seeded" width="1340" height="600"></iframe>
<p style="margin:4px">WebSocket to the dashboard: <b id="ws">pending</b></p>
<script>
  const socket = new WebSocket("{websocket}/_stcore/stream", ["streamlit"]);
  socket.onopen = () => {{ document.getElementById("ws").textContent = "open"; }};
  socket.onerror = () => {{ document.getElementById("ws").textContent = "refused"; }};
</script>
</body></html>
"""


@contextlib.contextmanager
def _attacker_site(dashboard: str) -> Iterator[str]:
    """A tiny web server on another 127.0.0.1 port (another origin) serving ATTACKER_PAGE."""
    body = ATTACKER_PAGE.format(
        dashboard=dashboard, websocket=dashboard.replace("http://", "ws://")
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep pytest's output clean
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()


def _study_exists(storage: Path) -> bool:
    with Store(storage) as store:
        return store.get_study("seeded") is not None


def _child_frame(page: Page) -> Frame:
    frames = [frame for frame in page.frames if frame != page.main_frame]
    assert len(frames) == 1, [frame.url for frame in page.frames]
    return frames[0]


def test_another_origin_can_neither_frame_the_dashboard_nor_open_its_websocket(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    """The shared dashboard's store holds the finished study 'seeded'."""
    with _attacker_site(shared_server) as attacker:
        page = new_page()
        page.goto(attacker)
        expect(page.locator("#ws")).to_have_text("refused", timeout=15_000)
        page.wait_for_timeout(5000)  # time enough for a Streamlit page to draw, were it allowed
        frame = _child_frame(page)
        # Chromium shows its own error page instead of a refused frame's content.
        assert not frame.url.startswith(shared_server), frame.url
        assert frame.locator("[data-testid='stApp']").count() == 0
        assert frame.get_by_text("Delete study").count() == 0
        # The probe's two clicks, where the frame sits: nothing there to press.
        box = page.locator("#victim").bounding_box()
        assert box is not None
        for x, y in ((0.5, 0.8), (0.3, 0.9)):
            page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
            page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "framing-refused.png"))
        assert _study_exists(shared_store)

        # The same page, opened as a page of its own, is the dashboard: the refusal above is
        # the frame's, not a dead server's.
        page.goto(f"{shared_server}/studies?study=seeded")
        expect(page.get_by_role("heading", name="Studies")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Delete study")).to_be_disabled(timeout=30_000)


def test_deleting_a_study_in_the_browser_takes_its_name_typed(
    server: str,  # noqa: F811 - the fixture imported above
    storage: Path,
    new_page: Callable[[], Page],
) -> None:
    """On a server of its own: the study deleted is gone from its store."""
    seed_store(storage, running=False)
    page = new_page()
    open_new_study(page, server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
    page.goto(f"{server}/studies?study=seeded")
    expect(page.get_by_role("heading", name="Studies")).to_be_visible(timeout=30_000)
    delete = page.get_by_role("button", name="Delete study")
    field = page.get_by_label("To delete 'seeded' and all its trials, type its name")
    expect(delete).to_be_disabled(timeout=30_000)
    for wrong in ("seede", "Seeded"):
        field.fill(wrong)
        rerun_settled(page, lambda: field.press("Enter"))
        expect(delete).to_be_disabled()
    field.fill("seeded")
    field.press("Enter")
    expect(delete).to_be_enabled(timeout=10_000)
    delete.scroll_into_view_if_needed()
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "delete-confirmation.png"))
    assert _study_exists(storage)
    delete.click()
    expect(page.get_by_text("Deleted 'seeded' and all its trials.")).to_be_visible(timeout=15_000)
    assert not _study_exists(storage)


def test_a_server_without_the_frame_guard_renders_nothing(
    storage: Path, new_page: Callable[[], Page]
) -> None:
    """A page started on its own (plain Streamlit, no st.App, so no guard) refuses to draw."""
    seed_store(storage, running=False)
    with streamlit_app(storage, ROOT / "pages" / "studies.py") as url:
        page = new_page()
        page.goto(f"{url}/?study=seeded")
        expect(page.get_by_text("Tuning Lab must be started with")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        assert page.get_by_role("heading", name="Studies").count() == 0
        assert page.get_by_role("button", name="Delete study").count() == 0
        page.screenshot(path=str(ARTIFACTS / "unguarded-server-refused.png"))
        page.close()
    assert _study_exists(storage)


COMPONENTS_LAUNCHER = """import streamlit as st

from dashboard.security import frame_guard_middleware

app = st.App("components_page.py", middleware=frame_guard_middleware())
"""
COMPONENTS_PAGE = """from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from dashboard.security import begin_page

begin_page()
st.title("Components behind the guard")
components.html("<p>an inline component</p>", height=60)
served = components.declare_component("probe", path=str(Path(__file__).parent / "probe"))
served(key="probe")
"""


def test_streamlit_component_iframes_still_work_behind_the_guard(
    tmp_path: Path, storage: Path, new_page: Callable[[], Page]
) -> None:
    """Components are same-origin iframes (srcdoc, or pages this server serves): the guard's
    frame-ancestors 'self' must let them draw."""
    (tmp_path / "launcher.py").write_text(COMPONENTS_LAUNCHER)
    (tmp_path / "components_page.py").write_text(COMPONENTS_PAGE)
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "index.html").write_text("<p>a served component</p>")
    with streamlit_app(storage, tmp_path / "launcher.py") as url:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        page = new_page()
        page.goto(url)
        expect(page.get_by_role("heading", name="Components behind the guard")).to_be_visible(
            timeout=30_000
        )
        frames = page.locator("iframe")
        expect(frames).to_have_count(2, timeout=15_000)
        expect(frames.nth(0).content_frame.get_by_text("an inline component")).to_be_visible(
            timeout=15_000
        )
        # A declared component is drawn 0 px high until its own script sets a height; that it
        # loaded from this server inside the frame is what the guard could have stopped.
        assert "/component/" in (frames.nth(1).get_attribute("src") or "")
        expect(frames.nth(1).content_frame.locator("p")).to_have_text(
            "a served component", timeout=15_000
        )
        page.screenshot(path=str(ARTIFACTS / "components-behind-guard.png"))
        page.close()
