"""Strategy race: start a race of search strategies on one budget, watch the bands, read the
verdict."""

from __future__ import annotations

import streamlit as st

from dashboard.common import rerun_once
from dashboard.lessons import run_live_button
from dashboard.presenter import for_room
from dashboard.races import RaceView, follow_suggestion, race_view_of
from dashboard.read_model import read_model, storage_path
from dashboard.refresh import (
    Drawn,
    race_drawn,
    race_now,
    redraw_while_active,
)
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words
from dashboard.vocabulary import MAX_SEEDS, SpecError, parse_race_spec
from tuning_core.views import forms, race_charts
from tuning_core.views import race as race_view
from tuning_core.workers import launch_race, race_log_path, request_race_stop

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Strategy race")
st.caption(
    "The same objective, search space and trial budget for every strategy, each run with "
    "several seeds: the bands show the median and the middle half of the seeds."
)

with read_model() as reads:
    names = reads.race_names()
launched = st.session_state.get("launched_race")
# Another label once a race exists (or one is starting: its worker has not written it yet): a
# new expander, closed, leaves the bands the room.
with st.expander(
    "Start another race" if names or launched else "Start a race",
    expanded=not names and not launched,
):
    objective = st.selectbox(
        "Objective",
        list(race_view.OBJECTIVES),
        format_func=race_view.OBJECTIVES.get,
        key="race_objective",
    )
    strategies = st.multiselect(
        "Strategies",
        list(race_view.STRATEGY_CHOICES),
        default=race_view.DEFAULT_STRATEGIES,
        key="race_strategies",
        help="Grid is deterministic, so it runs once; every other strategy runs once per seed.",
    )
    seeds_column, trials_column, parallel_column, name_column = st.columns(4)
    seeds = seeds_column.number_input(
        "Seeds", min_value=1, max_value=MAX_SEEDS, value=3, step=1, key="race_seeds"
    )
    trials = trials_column.number_input(
        "Trials per study",
        min_value=2,
        max_value=1000,
        value=race_view.DEFAULT_TRIALS[objective],
        step=1,
        key=f"race_trials_{objective}",
    )
    parallel = parallel_column.number_input(
        "Parallel trials",
        min_value=1,
        max_value=forms.parallel_limit(),
        value=1,
        step=1,
        key="race_parallel",
        help=forms.PARALLEL_HELP.removesuffix(", or on the Dask scheduler below.") + ".",
    )
    # The suggested name follows the objective (and skips the race just started).
    taken = [*names, st.session_state.get("launched_race", "")]
    follow_suggestion("race_name", race_view.default_race_name(objective, taken))
    race_name = name_column.text_input("Race name", key="race_name")
    if st.button("Start race", type="primary", key="start_race"):
        raw = race_view.race_document(
            race_name.strip(), objective, strategies, int(seeds), int(trials), int(parallel)
        )
        try:
            parse_race_spec(raw)
            if raw["name"] in names:
                raise SpecError(
                    f"Race name: a race called {raw['name']!r} already exists; choose another name."
                )
        except SpecError as error:
            st.error(plain(in_page_words(error)))
        else:
            launch_race(storage_path(), raw)
            st.session_state["launched_race"] = raw["name"]
            # The picker below keeps its own state: point it at the new race, or it would go
            # on showing the one it showed until the worker has written the new one.
            st.session_state["race_choice"] = raw["name"]
            st.query_params["race"] = raw["name"]
            st.rerun()

wanted = st.query_params.get("race") or launched
if not names and not launched:
    st.info("No races yet: start one above, or run `python -m tuning_core race SPEC.json`.")
    rerun_once(lambda reads: bool(reads.race_names()))
    st.stop()
choices = names if wanted in names or not wanted else [*names, wanted]
chosen = st.selectbox(
    "Race",
    choices,
    index=choices.index(wanted) if wanted in choices else len(choices) - 1,
    key="race_choice",
)
st.query_params["race"] = chosen
run_live_button(chosen)


def race_panel(name: str) -> Drawn:
    with read_model() as reads:  # the store opened once a run
        view = race_view_of(reads, name)
    draw_race(name, view)
    return race_drawn(view.record, view.running) if view else race_drawn(None, False)


def draw_race(name: str, view: RaceView | None) -> None:
    if view is None:
        st.info(plain(f"Starting the worker for the race {name!r}…"))
        log = race_log_path(storage_path(), name)
        if log.is_file() and "error" in (text := log.read_text(errors="replace")):
            st.code(text[-2000:], language=None)
        return
    record = view.record
    head, action = st.columns([5, 1])
    studies_done = int((view.members["status"] == "finished").sum())
    status = record.status.value
    if status == "running" and not view.running:
        status = "interrupted"  # its worker died (killed, or the machine restarted)
    head.markdown(
        plain(
            f"{name} · {status} · {studies_done}/{len(view.members)} studies "
            f"finished · {view.trials_done}/{view.trials_total} trials"
        )
    )
    if view.running:
        if action.button("Stop race", key="stop_race"):
            request_race_stop(storage_path(), name)
            st.toast("Stop requested")
    elif status != "finished" and action.button(
        "Resume race",
        key="resume_race",
        help="Start a worker that keeps the finished studies and carries on from there.",
    ):
        launch_race(storage_path(), record.spec.raw)
        st.toast("Resuming")
    st.progress(min(1.0, view.trials_done / max(1, view.trials_total)))
    if view.bands.empty:
        st.info("Waiting for the first trial to finish…")
        return
    # Green only for a finished race with a clear winner: "no clear winner" is no success.
    finished = record.status.value == "finished"
    (st.success if finished and view.clear_winner else st.info)(plain(view.verdict))
    strategies = list(record.spec.titles().values())
    y_title = race_view.measure_title(view.measure, view.log_y)
    st.altair_chart(
        for_room(
            race_charts.convergence_by_trial(
                view.bands,
                strategies,
                y_title,
                view.log_y,
                title=race_view.trial_chart_title(view.measure),
            )
        ),
        width="stretch",
    )
    better = (
        "Lower is better: regret is how far the best point found so far is from the true optimum."
        if view.log_y
        else ("Lower is better." if view.lower_is_better else "Higher is better.")
    )
    st.caption(
        f"{better} A line that improves early found good points with fewer trials; a wide band "
        "means the seeds disagreed." + (f" {view.note}" if view.note else "")
    )
    st.altair_chart(
        for_room(
            race_charts.convergence_by_time(
                view.time_bands, strategies, y_title, view.log_y, title=view.time_title
            )
        ),
        width="stretch",
    )
    if view.seconds_per_trial:
        each = ", ".join(f"{title} {s:.2g} s" for title, s in view.seconds_per_trial.items())
        st.caption(f"A trial took (median wall time, proposing it included): {each}.")
    with st.expander("Studies in this race"):
        st.dataframe(view.members, hide_index=True, width="stretch")
    if record.status.value == "failed" and record.message:
        st.error(plain(f"The race failed: {record.message}"))


# Redrawn every second while the race's worker starts or runs; a finished race rests.
redraw_while_active(f"race:{chosen}", lambda: race_panel(chosen), lambda: race_now(chosen))
