"""Why this point?: what the Bayesian search knew when it chose each trial. Layout only."""

from __future__ import annotations

import streamlit as st

from dashboard.common import selected_study
from dashboard.lessons import run_live_button
from dashboard.read_model import ReadModel, StudyRecord, read_model
from dashboard.refresh import Drawn, redraw_while_active, study_drawn, study_now
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words
from dashboard.vocabulary import SpecError
from dashboard.why_data import draw_why_chart, lesson_trial, study_identity, why_explanation
from tuning_core.views import why_sentences

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Why this point?")
name = selected_study()


def _trial_slider(study_name: str, numbers: list[int], default: int) -> int:
    """A slider over the proposed trials that opens on ``default`` and follows it as it moves
    (while the study runs), unless the user has moved the slider elsewhere."""
    if st.session_state.get("why_for") != study_name:  # another study: open it afresh
        st.session_state.pop("why_trial", None)
        st.session_state["why_for"] = study_name
    previous_default = st.session_state.get("why_default")
    current = st.session_state.get("why_trial")
    if current not in numbers or current == previous_default:
        st.session_state["why_trial"] = default
    st.session_state["why_default"] = default
    if len(numbers) == 1:
        st.caption(f"Trial {default} is the only proposal so far.")
        return default
    return int(
        st.select_slider(
            "Trial",
            options=numbers,
            key="why_trial",
            help="What the search knew just before it chose this trial; it opens on the latest "
            "trial whose acquisition is not flat, and follows it while the study runs.",
        )
    )


def why_view(study_name: str) -> Drawn:
    with read_model() as reads:  # the store opened once a run, for every read below
        study = reads.study(study_name)
        draw_why(reads, study_name, study)
        return study_drawn(study)


def draw_why(reads: ReadModel, study_name: str, study: StudyRecord | None) -> None:
    if study is None:
        st.warning(plain(f"The study {study_name!r} no longer exists."))
        return
    spec = study.spec
    if spec.strategy["type"] != "bayesian":
        st.info(
            plain(
                f"{study_name!r} uses {spec.strategy['type']} search, which follows no model: "
                "pick a Bayesian study to see why it chose each trial."
            )
        )
        return
    asks = reads.asks(study.id)
    if not asks:
        st.info("No proposal recorded yet (studies run before this page existed have none).")
        return
    numbers = list(asks)
    initial = [n for n, (is_initial, _) in asks.items() if is_initial]
    if initial:
        st.caption(
            f"Trials {initial[0]}–{initial[-1]} were initial random points"
            if len(initial) > 1
            else f"Trial {initial[0]} was an initial random point"
        )
    names = spec.space.names
    # ?dims=a,b presets the pickers (a link for a lesson); a study without them resets them.
    kept = [d for d in st.session_state.get("why_dims", []) if d in names]
    if not kept:
        wanted = [d for d in st.query_params.get("dims", "").split(",") if d in names]
        kept = list(dict.fromkeys(wanted))[:2] or names[:2]
    st.session_state["why_dims"] = kept
    lesson = lesson_trial(reads, study_name, asks, tuple(kept), study_identity(study))
    trial = _trial_slider(study_name, numbers, numbers[-1] if lesson is None else lesson)
    if lesson is not None and lesson != numbers[-1]:
        later = [n for n in numbers if n > lesson]
        span = f"s {later[0]}–{later[-1]}" if len(later) > 1 else f" {later[0]}"
        st.caption(
            f"Opened on trial {lesson}, the latest whose acquisition is not flat: after it, "
            f"trial{span} had a flat one (no spot looked more promising than another)."
        )
    dims = st.multiselect(
        "Hyperparameters to draw (one or two; the others are held at the trial's values)",
        names,
        max_selections=2,
        key="why_dims",
    )
    st.query_params["dims"] = ",".join(dims)
    if not dims:
        st.info("Pick one or two hyperparameters.")
        return
    try:
        explanation = why_explanation(reads, study_name, trial, tuple(dims), study_identity(study))
    except SpecError as error:  # a record that cannot be read or trusted: one sentence
        st.warning(plain(in_page_words(error)))
        return
    st.markdown(plain(why_sentences.summary_sentence(explanation)))
    if explanation["initial"]:
        return
    if spec.strategy.get("acquisition") == "gp_hedge":
        hedge = [a for _, a in asks.values() if a]
        shares = ", ".join(f"{a} {hedge.count(a)}" for a in ("EI", "LCB", "PI") if a in hedge)
        st.caption(
            f"gp_hedge chose {explanation['acquisition']} here; over the whole study: {shares}."
        )
    for caption in draw_why_chart(explanation):
        st.caption(caption)


if name:
    run_live_button(name)
    # Redrawn every second while the study runs; a finished study's page rests.
    redraw_while_active(f"why:{name}", lambda: why_view(name), lambda: study_now(name))
