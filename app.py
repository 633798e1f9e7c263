"""Tuning Lab: `streamlit run app.py`. Pages are listed here; each lives in pages/.

This file is both the server and the app's first script. `streamlit run app.py` finds `app`
(an st.App) below and serves it with uvicorn through the frame guard (dashboard/security.py):
no page on another origin may frame the dashboard or open its WebSocket. That server then runs
this same file as the app's script, under the name `__main__`, for every page view.

The favicon is a bundled file: a Material icon as page_icon is fetched from fonts.gstatic.com,
which fails offline.
"""

from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

import dashboard
from dashboard.form_state import SPEC_PARAMETER
from dashboard.lessons import open_linked_lesson
from dashboard.security import begin_page, frame_guard_middleware


def show_pages() -> None:
    """The app's script: page set-up, the guards, then the page that navigation picks."""
    st.set_page_config(
        page_title="Tuning Lab",
        page_icon=str(Path(dashboard.__file__).parent / "assets" / "favicon.png"),
        layout="wide",
    )
    begin_page()  # before anything renders: no rebinding page or unguarded server may drive it

    # A newcomer lands on the lessons; a link carrying a spec (?spec=) still opens its form.
    form_link = SPEC_PARAMETER in st.query_params
    navigation = st.navigation(
        [
            st.Page(
                "pages/home.py", title="Lessons", icon=":material/school:", default=not form_link
            ),
            st.Page(
                "pages/new_study.py",
                title="New study",
                icon=":material/add_circle:",
                default=form_link,
            ),
            st.Page("pages/live.py", title="Live study", icon=":material/monitoring:"),
            st.Page("pages/compare.py", title="Compare trials", icon=":material/compare_arrows:"),
            st.Page("pages/why.py", title="Why this point?", icon=":material/lightbulb:"),
            st.Page("pages/race.py", title="Strategy race", icon=":material/sports_score:"),
            st.Page("pages/lr_lab.py", title="Learning-rate lab", icon=":material/tune:"),
            st.Page("pages/studies.py", title="Studies", icon=":material/folder_open:"),
        ]
    )
    open_linked_lesson()  # a landing page link's ?lesson= starts it before its page draws
    navigation.run()


if __name__ == "__main__":
    # Streamlit runs the app's script as __main__ (AppTest too).
    show_pages()
else:
    # uvicorn imports this module as `app` to serve it, in the process that runs the sessions.
    # Streamlit sees the pages/ folder beside this file and, until some script has called
    # st.navigation, runs each session in its old multipage mode: a deep link opened first on
    # a fresh server (/new_study) ran pages/new_study.py without this script and listed the
    # folder's file names (app, compare, home, ...) in the sidebar. Navigation here is always
    # st.navigation's, so the old mode is off from the start.
    PagesManager.uses_pages_directory = False
    app = st.App(__file__, middleware=frame_guard_middleware())
