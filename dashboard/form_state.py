"""The New-study form's widget state: spec documents in, widget defaults out.

Other pages hand the form a spec (:func:`open_in_new_study`), never its widget keys; the
mapping from a spec to widget values is ``tuning_core.views.forms.form_values``.

Widget keys carry the form's version: loading a spec bumps it, so every widget is re-created
with the loaded values as its defaults (no Session State writes to existing widgets).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard import user_code
from tuning_core.engine.errors import SpecError
from tuning_core.views.forms import form_values, spec_from_upload

_PENDING = "spec_for_new_study"
NEW_STUDY_PAGE = "pages/new_study.py"


def open_in_new_study(raw_spec: dict[str, Any]) -> None:
    """Switch to New study with ``raw_spec`` loaded into its form."""
    st.session_state[_PENDING] = raw_spec
    st.switch_page(NEW_STUDY_PAGE)


def take_spec(raw_spec: dict[str, Any]) -> None:
    """Load a spec into the form, or hold one that runs the user's code (objective type
    python) for New study's confirm step, which shows the file it would import first."""
    if raw_spec["objective"]["type"] == "python":
        user_code.hold(raw_spec)
        return
    user_code.release()
    load_spec_into_form(raw_spec)


def load_spec_into_form(raw_spec: dict[str, Any]) -> None:
    """Make the spec's values the form's widget defaults from the next run on."""
    st.session_state["form_defaults"] = form_values(raw_spec)
    st.session_state["form_version"] = st.session_state.get("form_version", 0) + 1


SPEC_PARAMETER = "spec"


def load_pending_spec() -> str | None:
    """Load a spec another page handed over, or one a link carries in ``?spec=`` (New study
    calls this before drawing); returns the link's one-sentence problem, if any."""
    raw_spec = st.session_state.pop(_PENDING, None)
    if raw_spec is not None:
        take_spec(raw_spec)
        return None
    linked = st.query_params.get(SPEC_PARAMETER)
    if linked is None or linked == st.session_state.get("spec_in_url"):
        return None
    st.session_state["spec_in_url"] = linked
    try:
        # A link never runs code: a python spec waits for the confirm step like an upload.
        take_spec(spec_from_upload(linked.encode()))
    except SpecError as error:
        return str(error).replace("The uploaded file", "The link's spec")
    return None


def keep_spec_in_url(raw_spec: dict[str, Any]) -> None:
    """Write the form's spec into the URL, so the address bar is a link to this setup."""
    text = json.dumps(raw_spec, separators=(",", ":"))
    st.session_state["spec_in_url"] = text
    if st.query_params.get(SPEC_PARAMETER) != text:
        st.query_params[SPEC_PARAMETER] = text


def form_key(name: str) -> str:
    version = st.session_state.get("form_version", 0)
    return name if version == 0 else f"{name}@{version}"


def initial(name: str, **default: object) -> dict[str, Any]:
    """Keyword arguments for a widget: its key, and its default (the loaded spec's value
    when there is one); ``default`` is one ``argument=fallback`` pair such as value=0."""
    loaded = st.session_state.get("form_defaults", {})
    ((argument, fallback),) = default.items()
    if name not in loaded:
        return {argument: fallback, "key": form_key(name)}
    value = loaded[name]
    if isinstance(value, list) and isinstance(fallback, tuple):
        value = tuple(value)
    return {argument: value, "key": form_key(name)}


def initial_choice(name: str, options: list[Any], fallback: object) -> dict[str, Any]:
    """index and key for a selectbox or radio, honouring a loaded spec."""
    value = st.session_state.get("form_defaults", {}).get(name, fallback)
    index = options.index(value) if value in options else options.index(fallback)
    return {"index": index, "key": form_key(name)}


def loaded(name: str, default: Any = None) -> Any:
    """The loaded spec's value for widget ``name`` (see ``forms.form_values``), or default."""
    return st.session_state.get("form_defaults", {}).get(name, default)
