"""Presenter mode: ``?present=1`` on any page, for a projector.

Hides the controls (sidebar, inputs, buttons), Streamlit's toolbar, header and Deploy button,
and enlarges the text, so the room sees the charts and what they say. Set a page up first
(its state lives in the URL, e.g. ``/lr_lab?rates=0.001,0.1,10&present=1``), then present it.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

PRESENT_PARAMETER = "present"

# Streamlit's own test ids: the app's chrome and every input widget. Charts, tables, text,
# metrics, progress and alerts stay.
_HIDDEN = [
    "header[data-testid='stHeader']",
    "[data-testid='stToolbar']",
    "[data-testid='stDecoration']",
    "[data-testid='stAppDeployButton']",
    ".stDeployButton",
    "[data-testid='stMainMenu']",
    "[data-testid='stSidebar']",
    "[data-testid='stSidebarCollapsedControl']",
    "[data-testid='stExpandSidebarButton']",
    ".stButton",
    ".stDownloadButton",
    ".stTextInput",
    ".stNumberInput",
    ".stSelectbox",
    ".stMultiSelect",
    ".stSlider",
    ".stRadio",
    ".stCheckbox",
    ".stToggle",
    ".stFileUploader",
    "[data-testid='stExpander']",
]

PRESENTER_CSS = (
    "<style>\n"
    + ",\n".join(_HIDDEN)
    + " { display: none !important; }\n"
    # zoom rather than a larger root font: Streamlit sizes charts in pixels, and zoom scales
    # text and charts together while the layout still fits the window's width.
    + "[data-testid='stMainBlockContainer'] { zoom: 1.25; padding-top: 1rem !important; }\n"
    + "</style>"
)


def is_presenting(query: Mapping[str, str]) -> bool:
    """Whether the URL asks for presenter mode: ``present=1`` (or true, yes, on)."""
    return str(query.get(PRESENT_PARAMETER, "")).strip().lower() in {"1", "true", "yes", "on"}


def apply_presenter_mode() -> bool:
    """Call once, right after ``st.set_page_config``; returns whether presenter mode is on."""
    presenting = is_presenting(st.query_params)
    if presenting:
        st.html(PRESENTER_CSS)
    return presenting
