"""Who may drive the dashboard: a Host allow-list against DNS rebinding, and user text shown
as text.

The dashboard starts and deletes studies, so a web page elsewhere must not drive it. With
DNS rebinding, a page at ``attacker.example`` re-points its name to 127.0.0.1 and talks to the
local server as a same-origin page would, with its own name in the Host header. Like
Jupyter's ``allow_remote_access``, the app renders only for loopback names and addresses,
plus any names in ``$TUNING_LAB_ALLOWED_HOSTS`` (comma-separated).
"""

from __future__ import annotations

import ipaddress
import os
import re

import streamlit as st

from dashboard.presenter import apply_presenter_mode

ALLOWED_HOSTS_ENV = "TUNING_LAB_ALLOWED_HOSTS"
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
    """What every page does first: refuse a foreign Host, then apply presenter mode.

    app.py calls it, and so does each page, because a deep link (a preset link) opened first
    on a freshly started server runs the page without app.py.
    """
    # Wide, as app.py sets it: a deep link that skips app.py would otherwise get the centred
    # layout, too narrow at 1366 px for side-by-side charts (set_page_config may run twice).
    st.set_page_config(layout="wide")
    refuse_foreign_hosts()
    apply_presenter_mode()
