"""Presenter mode: ``?present=1`` on any page, for a projector.

Hides the controls (sidebar, inputs, buttons), Streamlit's toolbar, header and Deploy button,
and enlarges the text, so the room sees the charts and what they say. Set a page up first
(its state lives in the URL, e.g. ``/lr_lab?rates=0.001,0.1,10&present=1``), then present it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    # Larger text only: zooming the page also scaled the charts past the window's width,
    # and a larger root font unbalanced Streamlit's spacing.
    + "[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li, "
    + "[data-testid='stAlertContainer'] p { font-size: 1.35rem !important; }\n"
    + "[data-testid='stCaptionContainer'], [data-testid='stCaptionContainer'] p "
    + "{ font-size: 1.15rem !important; }\n"
    + "[data-testid='stTab'] p { font-size: 1.25rem !important; }\n"
    + "[data-testid='stMainBlockContainer'] { padding-top: 1.5rem !important; }\n"
    # One chart to a row, each the page's full width: side-by-side columns stack.
    + "[data-testid='stHorizontalBlock'] { flex-direction: column !important; }\n"
    + "[data-testid='stColumn'] { width: 100% !important; flex: 1 1 auto !important; }\n"
    # The key figure (best so far) is the largest text on the page, above the title.
    + "h1 { font-size: 1.6rem !important; }\n"
    # A verdict (an alert: the race's, the lab's finished line) outsizes the title too.
    + "[data-testid='stAlertContainer'] p { font-size: 1.7rem !important; }\n"
    + "[data-testid='stMetricValue'] [data-testid='stMarkdownContainer'] p, "
    + "[data-testid='stMetricValue'] { font-size: 3.6rem !important; line-height: 1.15 "
    + "!important; }\n"
    + "[data-testid='stMetricLabel'] p { font-size: 1.5rem !important; }\n"
    + "</style>"
)


def is_presenting(query: Mapping[str, str]) -> bool:
    """Whether the URL asks for presenter mode: ``present=1`` (or true, yes, on)."""
    return str(query.get(PRESENT_PARAMETER, "")).strip().lower() in {"1", "true", "yes", "on"}


def for_room(chart: Any, **options: Any) -> Any:
    """``chart`` sized for a projector in presenter mode (charts.for_projector, given
    ``options``), else as is."""
    if not is_presenting(st.query_params):
        return chart
    from tuning_core.views.chart_style import for_projector  # noqa: PLC0415 - Altair only if shown

    return for_projector(chart, **options)


def apply_presenter_mode() -> bool:
    """Call once, right after ``st.set_page_config``; returns whether presenter mode is on."""
    presenting = is_presenting(st.query_params)
    if presenting:
        st.html(PRESENTER_CSS)
    return presenting
