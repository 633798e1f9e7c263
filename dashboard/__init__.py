"""Streamlit-side helpers for the pages (the pages themselves live in pages/).

They sit outside pages/ because Streamlit lists every script in pages/ as a page until
app.py's st.navigation has run once, as on the first deep link after a server start.
"""
