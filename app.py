"""Tuning Lab: `streamlit run app.py`. Pages are listed here; each lives in pages/."""
import streamlit as st

st.set_page_config(page_title="Tuning Lab", page_icon="🎛️", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/new_study.py", title="New study", icon="➕", default=True),
        st.Page("pages/live.py", title="Live study", icon="📈"),
        st.Page("pages/compare.py", title="Compare trials", icon="🔍"),
        st.Page("pages/lr_lab.py", title="Learning-rate lab", icon="🎚️"),
        st.Page("pages/studies.py", title="Studies", icon="🗂️"),
    ]
)
navigation.run()
