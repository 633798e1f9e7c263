"""Who may drive the dashboard: a Host allow-list against DNS rebinding, a frame guard against
other sites' pages, and user text shown as text.

The dashboard starts and deletes studies, so a web page elsewhere must not drive it.

- DNS rebinding: a page at ``attacker.example`` re-points its name to 127.0.0.1 and talks to
  the local server as a same-origin page would, with its own name in the Host header. Like
  Jupyter's ``allow_remote_access``, the app renders only for loopback names and addresses,
  plus any names in ``$TUNING_LAB_ALLOWED_HOSTS`` (comma-separated).
- Framing: a page on another origin puts the dashboard in an iframe and tricks clicks into it
  (clickjacking). Inside the frame the dashboard is its own origin, so the Host and WebSocket
  checks pass. ``FrameGuard``, the ASGI middleware app.py serves the app through, tells the
  browser to refuse such frames (``X-Frame-Options`` and CSP ``frame-ancestors``).
- Cross-origin WebSockets: Streamlit accepts a WebSocket from any page whose Origin names a
  loopback host, whatever its port, so a page served by any other local server could drive
  the app. ``FrameGuard`` accepts only the dashboard's own origin (and origins listed in
  ``server.corsAllowedOrigins``).

A server started without the guard (a script run with plain ``streamlit run`` that is not
app.py) must not serve a usable page, so the guard marks every WebSocket it lets through and
``begin_page`` renders nothing without the mark.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import streamlit as st

from dashboard.presenter import apply_presenter_mode
from dashboard.read_model import check_store
from tuning_core.engine.errors import SpecError

ALLOWED_HOSTS_ENV = "TUNING_LAB_ALLOWED_HOSTS"
# Sent on every HTTP response: no page on another origin may frame the dashboard. Same-origin
# frames stay allowed because Streamlit's own custom components are iframes served by this
# server (components.html uses srcdoc, which no header governs).
FRAME_HEADERS = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
)
# Added by FrameGuard to each WebSocket it accepts (and stripped from what clients send), so a
# page can tell that the guard stands in front of it. A browser cannot set it on a WebSocket.
GUARD_MARK_HEADER = "x-tuning-lab-frame-guard"
_GUARD_MARK_VALUE = "on"
_DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
# Markdown (and Streamlit's LaTeX and emoji shortcodes) treat these as syntax.
_ZERO_WIDTH_SPACE = "\u200b"
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port or IPv6 brackets, lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str | None, extra: str | None = None) -> bool:
    """Whether a request with this Host header may see the app (see the module docstring).

    No Host header at all means no browser (every browser request carries one; a script run
    without a server, as streamlit.testing's AppTest does, has none), so it is allowed.
    """
    if host_header is None:
        return True
    if not host_header.strip():
        return False
    name = host_name(host_header)
    allowed = {n.strip().lower() for n in (extra or "").split(",") if n.strip()}
    if name in LOOPBACK_NAMES or name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refuse_foreign_hosts() -> None:
    """Stop the script before anything renders when the Host is not allowed."""
    host = st.context.headers.get("Host")
    if host_allowed(host, os.environ.get(ALLOWED_HOSTS_ENV)):
        return
    st.error(
        plain(
            f"Tuning Lab answers only on this machine's loopback names, not {host or 'no host'}. "
            f"To serve it under another name, list that name in ${ALLOWED_HOSTS_ENV}."
        )
    )
    st.stop()


def _origin_key(origin: str) -> tuple[str, int] | None:
    """(host, port) of an Origin such as ``http://127.0.0.1:8501``, or None if it is not one
    (``null`` from a sandboxed frame or a file, a path, another scheme)."""
    try:
        parts = urllib.parse.urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def websocket_origin_allowed(
    origin: str | None, host_header: str | None, listed: list[str] | None = None
) -> bool:
    """Whether a WebSocket handshake may reach Streamlit: from the dashboard's own origin only.

    The dashboard's own page opens its WebSocket to the host and port it was loaded from, so
    its Origin names the Host the handshake carries (a Host without a port: the Origin
    scheme's default, as behind a TLS proxy). Any other origin is another site's page, another
    loopback port included (any local server, e.g. a notebook or a downloaded page served by
    ``python -m http.server``); those get in only if listed (``listed``: Streamlit's
    ``server.corsAllowedOrigins``). No Origin at all means no browser page (a local program,
    which could drive the app anyway), so it is let through as Streamlit does.
    """
    if origin is None:
        return True
    wanted = _origin_key(origin)
    if wanted is None or not host_header:
        return False
    scheme = origin.strip().lower().split(":", 1)[0]
    own = _origin_key(f"{scheme}://{host_header.strip()}")
    return wanted == own or wanted in {_origin_key(o) for o in listed or []}


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FrameGuard:
    """ASGI middleware in front of Streamlit (app.py serves the app through it, as st.App's
    public ``middleware``): frame headers on every HTTP response, and WebSockets from the
    dashboard's own origin only, each marked as guarded."""

    def __init__(self, app: ASGIApp, listed: list[str] | None = None) -> None:
        self.app = app
        self.listed = listed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.app(scope, receive, _with_frame_headers(send))
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:  # lifespan
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = list(scope.get("headers", []))
        listed = self.listed if self.listed is not None else _listed_origins()
        origin, host = _header(headers, b"origin"), _header(headers, b"host")
        if not websocket_origin_allowed(origin, host, listed):
            # Closing before accepting answers the handshake with HTTP 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        mark = GUARD_MARK_HEADER.encode()
        marked = [(k, v) for k, v in headers if k.lower() != mark]
        marked.append((mark, _GUARD_MARK_VALUE.encode()))
        await self.app({**scope, "headers": marked}, receive, send)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of a raw ASGI header, or None."""
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)


def _with_frame_headers(send: Send) -> Send:
    async def send_framed(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = set(dict(FRAME_HEADERS))
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
            message = {**message, "headers": [*kept, *FRAME_HEADERS]}
        await send(message)

    return send_framed


def _listed_origins() -> list[str]:
    """Streamlit's ``server.corsAllowedOrigins``: origins the user chose to let in."""
    return list(st.get_option("server.corsAllowedOrigins") or [])


def frame_guard_middleware() -> list[Any]:
    """The middleware list for ``st.App``: the frame guard, outermost."""
    from starlette.middleware import Middleware  # noqa: PLC0415 - only the server needs it

    return [Middleware(FrameGuard)]


def served_through_guard(headers: Mapping[str, str]) -> bool:
    """Whether a session's handshake headers carry the guard's mark, or come from no server.

    A script run with no Host header at all (AppTest, no server) has no browser to guard.
    """
    return headers.get("Host") is None or headers.get(GUARD_MARK_HEADER) == _GUARD_MARK_VALUE


def refuse_unusable_store() -> None:
    """Stop the page with one sentence when the store cannot be opened: a crafted schema, a
    damaged or foreign file. A store is untrusted input; no page reaches its tables first."""
    try:
        check_store()
    except SpecError as error:
        # Beside its only use: dashboard.sentences needs nothing of this module, nor it of that.
        from dashboard.sentences import in_page_words  # noqa: PLC0415

        st.error(plain(in_page_words(error)))
        st.stop()


def refuse_unguarded_server() -> None:
    """Stop the script when a browser reached it through a server without the frame guard.

    Only app.py's server has the guard; ``streamlit run pages/studies.py`` (or a Streamlit that
    stops honouring st.App) would serve the page framable by any site, so it renders nothing.
    """
    if served_through_guard(st.context.headers):
        return
    st.error(
        "Tuning Lab must be started with `streamlit run app.py`: this server does not stop "
        "other sites from framing the dashboard."
    )
    st.stop()


def plain(text: str) -> str:
    """``text`` escaped so that Markdown shows it as typed: no bold, links or images.

    Study names, stored messages and errors that echo a spec are user text; st.error,
    st.markdown and captions would otherwise render ``**x**`` or ``![](http://…)``.
    """
    escaped = _MARKDOWN_SYNTAX.sub(r"\\\1", str(text))
    # GitHub-flavoured Markdown links bare URLs, www. names and e-mail addresses even when
    # escaped; an invisible zero-width space breaks each pattern without changing the text.
    for pattern in ("://", "www", "@"):
        escaped = escaped.replace(pattern, pattern[0] + _ZERO_WIDTH_SPACE + pattern[1:])
    return escaped


def begin_page() -> None:
    """What every page does first: refuse a foreign Host or a server without the frame guard,
    then apply presenter mode.

    app.py calls it, and so does each page, so a page run on its own (AppTest.from_file of a
    page) keeps the guards. (A deep link opened first on a fresh server used to run its page
    without app.py; app.py now turns off Streamlit's pages-folder mode that did it.)
    """
    # Wide, as app.py sets it: a page run on its own would otherwise get the centred layout,
    # too narrow at 1366 px for side-by-side charts (set_page_config may run twice).
    st.set_page_config(layout="wide")
    refuse_foreign_hosts()
    refuse_unguarded_server()
    refuse_unusable_store()
    apply_presenter_mode()
