"""Another site must not frame the dashboard, open its WebSocket, or delete a study by clicks.

The frame guard (dashboard/security.py) is tested as an ASGI middleware on its own, then in
front of a real `streamlit run app.py` (headers and WebSocket handshakes, no browser); the
typed-name delete through AppTest. tests/test_browser_framing.py frames it in Chromium.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from dashboard.security import (
    GUARD_MARK_HEADER,
    FrameGuard,
    served_through_guard,
    websocket_origin_allowed,
)
from tests.conftest import ROOT
from tests.seeding import seed_store
from tests.test_browser import server  # noqa: F401 - fixture
from tuning_core.engine.storage import Store

HOST = "127.0.0.1:8501"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8501", True),  # the dashboard's own page
        ("HTTP://127.0.0.1:8501/", True),
        (None, True),  # no browser page: a local program, as Streamlit allows
        ("http://127.0.0.1:8502", False),  # another loopback port: another local server
        ("http://localhost:8501", False),  # another origin, though the same machine
        ("http://127.0.0.1", False),
        ("https://127.0.0.1:8501", True),  # the same host and port, through a TLS proxy
        ("ws://127.0.0.1:8501", False),
        ("http://attacker.example", False),
        ("null", False),  # a sandboxed frame or a file:// page
        ("", False),
        ("http://127.0.0.1:99999", False),
        ("http://127.0.0.1:8501/studies", False),
    ],
)
def test_a_websocket_comes_from_the_dashboards_own_origin_only(
    origin: str | None, allowed: bool
) -> None:
    assert websocket_origin_allowed(origin, HOST) is allowed


def test_listed_origins_and_default_ports() -> None:
    listed = ["http://127.0.0.1:3000"]
    assert websocket_origin_allowed("http://127.0.0.1:3000", HOST, listed)
    assert not websocket_origin_allowed("http://127.0.0.1:3001", HOST, listed)
    assert websocket_origin_allowed("https://lab.example", "lab.example")
    assert websocket_origin_allowed("https://lab.example", "lab.example:443")
    assert not websocket_origin_allowed("https://lab.example", "lab.example:8501")
    assert not websocket_origin_allowed("https://attacker.example", "lab.example")
    assert websocket_origin_allowed("http://[::1]:8501", "[::1]:8501")
    assert not websocket_origin_allowed("http://[::1]:8502", "[::1]:8501")
    assert not websocket_origin_allowed("http://127.0.0.1:8501", None)
    assert not websocket_origin_allowed("http://127.0.0.1:8501", "")


class _Recorder:
    """An inner ASGI app that answers HTTP with its own X-Frame-Options and records what it saw."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"x-frame-options", b"ALLOWALL"), (b"etag", b"1")],
                }
            )
            await send({"type": "http.response.body", "body": b"ok"})


def _drive(
    scope: dict, headers: list[tuple[bytes, bytes]], listed: tuple[str, ...] | None = ()
) -> tuple[_Recorder, list[dict]]:
    """Run one request through the guard; ``listed`` None reads Streamlit's config."""
    inner, sent = _Recorder(), []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    guard = FrameGuard(inner, listed=None if listed is None else list(listed))
    asyncio.run(guard({**scope, "headers": headers}, receive, send))
    return inner, sent


def test_the_guard_lets_in_origins_listed_in_streamlits_config() -> None:
    """``server.corsAllowedOrigins`` is the one way to let another origin's WebSocket in."""
    handshake = {"type": "websocket", "scheme": "ws", "path": "/_stcore/stream"}
    headers = [(b"host", HOST.encode()), (b"origin", b"http://127.0.0.1:3000")]

    def reaches_streamlit() -> bool:
        inner, _ = _drive(handshake, headers, listed=None)
        return bool(inner.scopes)

    assert not reaches_streamlit()
    config.set_option("server.corsAllowedOrigins", ["http://127.0.0.1:3000"])
    try:
        assert reaches_streamlit()
    finally:
        config.set_option("server.corsAllowedOrigins", [])
    assert not reaches_streamlit()


def test_every_http_response_forbids_other_origins_to_frame_it() -> None:
    _, sent = _drive({"type": "http", "path": "/studies"}, [(b"host", HOST.encode())])
    headers = sent[0]["headers"]
    assert (b"x-frame-options", b"SAMEORIGIN") in headers
    assert (b"content-security-policy", b"frame-ancestors 'self'") in headers
    assert (b"x-frame-options", b"ALLOWALL") not in headers  # replaced, not doubled
    assert (b"etag", b"1") in headers
    assert sent[1]["body"] == b"ok"


def test_a_foreign_websocket_is_refused_before_streamlit_sees_it() -> None:
    inner, sent = _drive(
        {"type": "websocket", "scheme": "ws", "path": "/_stcore/stream"},
        [(b"host", HOST.encode()), (b"origin", b"http://127.0.0.1:9999")],
    )
    assert inner.scopes == []
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_a_guarded_websocket_is_marked_and_a_forged_mark_is_replaced() -> None:
    inner, sent = _drive(
        {"type": "websocket", "scheme": "ws", "path": "/_stcore/stream"},
        [
            (b"host", HOST.encode()),
            (b"origin", b"http://127.0.0.1:8501"),
            (GUARD_MARK_HEADER.encode(), b"forged"),
        ],
    )
    assert sent == []
    marks = [v for k, v in inner.scopes[0]["headers"] if k == GUARD_MARK_HEADER.encode()]
    assert marks == [b"on"]
    assert served_through_guard({"Host": HOST, GUARD_MARK_HEADER: "on"})
    assert not served_through_guard({"Host": HOST})  # a server without the guard
    assert not served_through_guard({"Host": HOST, GUARD_MARK_HEADER: "forged"})
    assert served_through_guard({})  # AppTest: no server, no browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _handshake(server_url: str, origin: str) -> bool:
    """Whether Streamlit's WebSocket opens for a page of ``origin`` (True) or is refused."""
    url = server_url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        with connect(url, origin=origin, subprotocols=["streamlit"], open_timeout=10):
            return True
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


@pytest.mark.subprocess
def test_the_served_dashboard_sends_the_headers_and_refuses_foreign_websockets(
    server: str,  # noqa: F811
) -> None:
    for path in ("/", "/studies", "/live?study=x", "/_stcore/health", "/_stcore/host-config"):
        with urllib.request.urlopen(server + path, timeout=10) as response:
            assert response.headers["X-Frame-Options"] == "SAMEORIGIN", path
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'", path
    assert _handshake(server, server)
    port = server.rsplit(":", 1)[1]
    for origin in (f"http://127.0.0.1:{_free_port()}", f"http://localhost:{port}", "null"):
        assert not _handshake(server, origin), origin


def _studies_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _study_exists(storage: Path) -> bool:
    with Store(storage) as store:
        return store.get_study("seeded") is not None


@pytest.mark.slow  # many reruns, 5-10 s; the running-study refusal below stays fast
def test_deleting_a_study_takes_its_name_typed(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_store(storage, running=False)
    at = _studies_page()
    assert at.button(key="delete").disabled
    # AppTest will not click a disabled button; a crafted WebSocket message could. Let it, to
    # see that such a click deletes nothing.
    monkeypatch.setattr(Widget, "_assert_can_interact", lambda self: None)
    for wrong in ("", "seede", "Seeded", "seeded ", "seeded2"):
        at.text_input(key="confirm_delete_seeded").input(wrong).run()
        assert at.button(key="delete").disabled, wrong
        at.button(key="delete").click().run()
        assert _study_exists(storage), wrong
        assert not at.success and not at.exception, wrong
    at.text_input(key="confirm_delete_seeded").input("seeded").run()
    assert not at.button(key="delete").disabled
    at.button(key="delete").click().run()
    assert not _study_exists(storage)
    assert [s.value for s in at.success] == ["Deleted 'seeded' and all its trials."]


def test_a_running_study_is_not_deleted_even_with_its_name_typed(storage: Path) -> None:
    seed_store(storage, running=True)
    at = _studies_page()
    at.text_input(key="confirm_delete_seeded").input("seeded").run()
    at.button(key="delete").click().run()
    assert _study_exists(storage)
    assert "is running" in at.error[0].value
