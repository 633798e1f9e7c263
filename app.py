"""Tuning Lab: `streamlit run app.py`. Pages are listed here; each lives in pages/.

The favicon is a bundled file: a Material icon as page_icon is fetched from fonts.gstatic.com,
which fails offline.
"""

from pathlib import Path

import streamlit as st

from dashboard.security import begin_page

st.set_page_config(
    page_title="Tuning Lab",
    page_icon=str(Path(__file__).parent / "dashboard" / "assets" / "favicon.png"),
    layout="wide",
)
begin_page()  # before anything renders: no DNS-rebinding page may drive this

navigation = st.navigation(
    [
        st.Page(
            "pages/new_study.py", title="New study", icon=":material/add_circle:", default=True
        ),
        st.Page("pages/live.py", title="Live study", icon=":material/monitoring:"),
        st.Page("pages/compare.py", title="Compare trials", icon=":material/compare_arrows:"),
        st.Page("pages/why.py", title="Why this point?", icon=":material/lightbulb:"),
        st.Page("pages/race.py", title="Strategy race", icon=":material/sports_score:"),
        st.Page("pages/lr_lab.py", title="Learning-rate lab", icon=":material/tune:"),
        st.Page("pages/studies.py", title="Studies", icon=":material/folder_open:"),
    ]
)
navigation.run()
