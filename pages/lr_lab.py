"""Learning-rate lab: compare learning rates side by side, run an LR range test, play with
descent.
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import streamlit as st

from dashboard.chart_views import curves_view, playground_ladder, playground_surface
from dashboard.form_state import open_in_new_study
from dashboard.lessons import run_live_button
from dashboard.presenter import for_room, is_presenting
from dashboard.read_model import ReadModel, read_model, start_conflict, storage_path
from dashboard.refresh import Drawn, redraw_while_active, studies_drawn
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words
from dashboard.study_frames import study_frames
from dashboard.vocabulary import hyperparams
from tuning_core.reports import frames
from tuning_core.views import forms, lab, lab_charts, live, playground
from tuning_core.views.forms import format_number
from tuning_core.workers import launch_lr_find, launch_study, lr_find_output, worker_log_tail

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

DATASETS = ["digits", "mnist", "fashion_mnist"]

st.title("Learning-rate lab")
st.markdown(
    "The learning rate α sets how far each step moves the weights. Too small and training crawls; "
    "too large and each step overshoots the minimum, so the loss oscillates or blows up."
)

with st.expander("Model and data for the comparison and the range test", expanded=True):
    columns = st.columns(5)
    dataset = columns[0].selectbox(
        "Dataset", DATASETS, key="lr_dataset", help="digits is bundled and works offline."
    )
    model = columns[1].selectbox("Model", list(hyperparams.MODELS), key="lr_model")
    optimizer = columns[2].selectbox(
        "Optimizer",
        list(hyperparams.OPTIMIZERS),
        key="lr_optimizer",
        help=hyperparams.HELP["optimizer"],
    )
    batch_size = columns[3].select_slider(
        "Batch size",
        hyperparams.REGISTRY["batch_size"].ladder,
        value=32,
        key="lr_batch_size",
        help=hyperparams.HELP["batch_size"],
    )
    epochs = columns[4].slider(
        "Epochs", 1, 30, 10, key="lr_epochs", help=hyperparams.HELP["epochs"]
    )
    train_limit = st.number_input(
        "Training examples (0 = all)", min_value=0, value=0, step=100, key="lr_train_limit"
    )

PLAYGROUND_TAB = "Gradient-descent playground"
# A link with the playground's function= or preset= opens on the playground; the tab knows
# whether it is open, so only the open playground writes them into the address.
compare_tab, range_tab, playground_tab = st.tabs(
    ["Compare learning rates", "LR range test", PLAYGROUND_TAB],
    default=PLAYGROUND_TAB if {"function", "preset"} & set(st.query_params) else None,
    key="lr_tab",
    on_change="rerun",
)

with compare_tab:
    if "lr_rates_from_link" not in st.session_state:
        # Read once: the URL is then kept in step with the widget, not the other way round.
        linked_rates, _ = lab.parse_learning_rates(st.query_params.get("rates", ""))
        st.session_state["lr_rates_from_link"] = [
            format_number(rate) for rate in (linked_rates or lab.DEFAULT_RATES)
        ]
    initial_rates = st.session_state["lr_rates_from_link"]
    picked = st.multiselect(
        "Learning rates",
        lab.rate_ladder(extra=initial_rates),
        default=initial_rates,
        accept_new_options=True,
        key="lr_rates",
        help="Pick from the ladder (1, 2, 5 per decade) or type an exact rate such as 0.0003 "
        "and press Enter. " + hyperparams.HELP["learning_rate"],
    )
    learning_rates, rates_problem = lab.parse_learning_rates(picked)
    if learning_rates:
        # The rates live in the URL, so a link reproduces this comparison on another machine.
        st.query_params["rates"] = lab.rates_query(learning_rates)
    typed_name = st.text_input(
        "Study name (optional)",
        value="",
        key="lr_name",
        placeholder="automatic: a fresh name for each new set of rates",
    )
    raw = forms.learning_rate_comparison_spec(
        typed_name.strip() or f"lr-{dataset}-{model}-{optimizer}",
        dataset,
        model,
        optimizer,
        learning_rates or list(lab.DEFAULT_RATES),
        epochs,
        batch_size,
        train_limit or None,
    )
    with read_model() as reads:
        existing = {study.name: study.spec for study in reads.studies()}
    if not typed_name.strip():
        raw["name"] = lab.comparison_name(raw, existing)
    runs_at_once = lab.comparison_parallel(
        len(raw["space"]["learning_rate"]["values"]), os.cpu_count()
    )
    if runs_at_once > 1:  # spare cores: the rates train side by side, not one after another
        raw["parallel"] = runs_at_once
    problem = rates_problem or forms.learning_rate_comparison_problem(raw)
    if not problem:
        problem = start_conflict(raw)
    if problem:
        st.error(plain(in_page_words(problem)))
    elif not is_presenting(st.query_params):  # about the hidden form: no use to the room
        at_once = raw.get("parallel", 1)
        st.caption(
            f"Saved as study {raw['name']!r}"
            + (" (it exists: Train resumes or shows it)" if raw["name"] in existing else "")
            + (
                f"; {at_once} rates train at once, on this machine's spare cores."
                if at_once > 1
                else "."
            )
        )
    if st.button(
        "Train one model per learning rate", type="primary", disabled=bool(problem), key="lr_start"
    ):
        launch_study(storage_path(), raw)
        st.session_state["lr_study"] = raw["name"]

    def comparison_panel() -> Drawn:
        """Redrawn while a comparison trains, so one the worker has just created shows up by
        itself (see redraw_while_active below)."""
        with read_model() as reads:  # the store opened once a run, for every read below
            draw_comparison(reads)
            return comparisons_drawn(reads)

    def comparisons_drawn(reads: ReadModel) -> Drawn:
        awaited = st.session_state.get("lr_study")
        return studies_drawn(reads, lambda r: forms.is_learning_rate_comparison(r.spec), awaited)

    def comparisons_now() -> Drawn:
        with read_model() as reads:
            return comparisons_drawn(reads)

    def draw_comparison(reads: ReadModel) -> None:
        comparisons = [
            study.name for study in reads.studies() if forms.is_learning_rate_comparison(study.spec)
        ]
        # Before any Train click, a link's rates pick their own comparison if it exists (a
        # presenter cannot use the hidden selectbox).
        linked = raw["name"] if raw["name"] in comparisons else None
        current = st.session_state.get("lr_study") or linked
        if current and current not in comparisons:
            st.info(plain(f"Starting the worker for {current!r}…"))
            error = live.last_error_line(worker_log_tail(storage_path(), current, lines=200))
            if error:
                shown = in_page_words(error.removeprefix("error: "))
                st.error(plain(f"The worker could not start: {shown}"))
            return
        if not comparisons:
            return
        index = comparisons.index(current) if current in comparisons else len(comparisons) - 1
        shown = st.selectbox(
            "Comparison to show", comparisons, index=index, key=f"lr_shown_{current}"
        )
        study, trials, curves, _ = study_frames(reads, shown)
        if study is None or (curves.empty and trials.empty):
            st.info("Waiting for the first epoch…")
            return
        progress = live.live_summary(study, trials, time.time()).progress_text
        st.caption(plain(f"{shown} · {progress}"))
        ended = lab.finished_sentence(
            study.status.value, trials, study.spec.metric, study.spec.direction
        )
        if ended:
            st.success(plain(ended))
        run_live_button(shown)
        finals = frames.final_metrics(curves, trials)
        # On a projector the verdict (the bars) comes first, above the fold.
        presenting = is_presenting(st.query_params)
        if presenting:
            final_bars(finals)
        colouring = live.curve_colouring(study.spec)
        grid = st.columns(2)
        for index, metric in enumerate(["loss", "val_loss", "accuracy", "val_accuracy"]):
            with grid[index % 2]:
                curves_view(curves, metric, colouring, metric, f"lab_{metric}")
        st.caption(
            "Each line is named by its learning rate at its end; epochs counted from 1. Small "
            "rates fall slowly; large ones jump around or diverge: a diverged run is dashed up to "
            "where it blew up, marked with a red × and its loss there."
        )
        if not presenting:
            final_bars(finals)
        for line in lab.outcome_notes(trials):
            st.warning(line)

    def final_bars(finals: pd.DataFrame) -> None:
        if finals.empty:
            return
        # On the projector it must fit above the fold with the verdict, yet leave the rotated
        # 18 px axis title room (at 240 px it squeezed the bars to 80).
        bars = lab_charts.final_accuracy_bars(finals)
        st.altair_chart(for_room(bars, min_height=290), width="stretch")
        st.caption(
            "The final validation accuracy of each run: the best learning rate sits between "
            "too slow and unstable."
        )

    redraw_while_active("lr_comparison", comparison_panel, comparisons_now)

with range_tab:
    st.markdown(
        "Raise the learning rate exponentially from 1e-7 to 10 over about 100 batches and watch "
        "the loss "
        "(smoothed, β = 0.98). Where it falls fastest is a good learning rate; the test stops "
        "once the loss exceeds 4× its minimum."
    )
    finder_name = f"lr-find-{dataset}-{model}-{optimizer}"
    finder_spec = forms.learning_rate_comparison_spec(
        finder_name, dataset, model, optimizer, [1e-3, 1e-2], 1, batch_size, train_limit or None
    )

    def start_range_test() -> None:
        launch_lr_find(storage_path(), finder_spec)
        st.session_state["lr_find"] = {"name": finder_name, "started": time.time()}

    # A callback, run before the page: the comparison panel above may rerun the page (its
    # comparison just finished), which would drop a click handled in the script.
    st.button("Run the LR range test", key="lr_find_start", on_click=start_range_test)

    def started_here() -> dict | None:
        """This test's start in this session (another dataset's, model's or optimizer's is
        not this one's)."""
        started = st.session_state.get("lr_find")
        return started if started and started["name"] == finder_name else None

    def range_test() -> Drawn:
        draw_range_test()
        return range_test_now()

    def range_test_now() -> Drawn:
        """Active while a test this session started has no result yet."""
        output = lr_find_output(storage_path(), finder_name)
        stamp = output.stat().st_mtime if output.is_file() else None
        return Drawn(started_here() is not None and stamp is None, stamp)

    def draw_range_test() -> None:
        started = started_here()
        output = lr_find_output(storage_path(), finder_name)
        if not started and not output.is_file():
            st.info("Run the test to see the loss against the learning rate.")
            return
        if not output.is_file():
            st.info(f"Testing… ({time.time() - started['started']:.0f} s)")
            error = live.last_error_line(
                worker_log_tail(storage_path(), finder_name, "lr_find.log", 200)
            )
            if error:
                shown = in_page_words(error.removeprefix("error: "))
                st.error(plain(f"The range test failed: {shown}"))
            return
        # The result is kept beside the store (<store>.artifacts/<name>/lr_find.json), so it
        # survives a reload: it is read back for the current dataset, model and optimizer.
        result = json.loads(output.read_text())
        suggestions = lab.explain_suggestions(result)
        st.altair_chart(
            for_room(
                lab_charts.lr_range_chart(
                    pd.DataFrame(result["curve"]),
                    {s.title: s.learning_rate for s in suggestions},
                )
            ),
            width="stretch",
        )
        st.markdown(
            "\n".join(
                f"- **{s.title}: {format_number(float(format(s.learning_rate, '.2g')))}**: "
                f"{s.explanation}"
                for s in suggestions
            )
        )
        st.caption(
            f"Tested {finder_name} · {result['stop_reason']} · the y-axis shows the dip; the "
            "final blow-up runs off the top."
        )
        choice = st.radio(
            "Suggestion",
            [s.key for s in suggestions],
            format_func=lambda key: lab.SUGGESTION_TEXT[key][0],
            horizontal=True,
            key="lr_suggestion",
        )
        if st.button(
            "Tune around it in a new study",
            key="lr_to_study",
            help="Opens New study with the learning rate tuned from suggestion/10 to "
            "suggestion×10.",
        ):
            open_in_new_study(
                forms.tune_around_spec(
                    float(result[choice]),
                    dataset,
                    model,
                    optimizer,
                    epochs,
                )
            )

    redraw_while_active(f"lr_range_test:{finder_name}", range_test, range_test_now)


@st.fragment
def playground_panel(open_now: bool) -> None:
    """A fragment: moving a playground control reruns only this, not the comparison's charts
    above it (see benchmarks/playground_redraw.py). ``open_now``: its tab is the one shown."""
    momentum_on = st.toggle("Momentum", key="pg_momentum_on", help=hyperparams.HELP["momentum"])
    if momentum_on:
        st.latex(
            r"v_{t+1} = \beta v_t - \alpha \nabla f(\theta_t), \qquad "
            r"\theta_{t+1} = \theta_t + v_{t+1}"
        )
    else:
        st.latex(r"\theta_{t+1} = \theta_t - \alpha \nabla f(\theta_t)")
    # The function and preset live in the URL (?function=rosenbrock&preset=oscillating), so a
    # link opens the playground as the teacher set it up.
    function_names = list(playground.FUNCTIONS)
    wanted_function = st.query_params.get("function")
    function_name = st.selectbox(
        "Function",
        function_names,
        index=function_names.index(wanted_function) if wanted_function in function_names else 0,
        format_func=lambda n: playground.FUNCTIONS[n].label,
        key="pg_function",
    )
    function = playground.FUNCTIONS[function_name]
    preset_options = ["custom", *playground.PRESET_NAMES]
    wanted_preset = st.query_params.get("preset")
    preset = st.radio(
        "Preset",
        preset_options,
        index=preset_options.index(wanted_preset) if wanted_preset in preset_options else 0,
        horizontal=True,
        key="pg_preset",
    )
    if open_now:
        st.query_params["function"] = function_name
        st.query_params["preset"] = preset
    else:  # a link copied from another tab opens that tab, not the playground
        for name in ("function", "preset"):
            st.query_params.pop(name, None)
    chosen = playground.preset_for(function_name, preset)
    alpha_ladder = playground_ladder(function_name)
    default_alpha = chosen.learning_rate if chosen else forms.nearest(0.1, alpha_ladder)
    alpha = st.select_slider(
        "Learning rate α",
        alpha_ladder,
        value=forms.nearest(default_alpha, alpha_ladder),
        format_func=format_number,
        key=f"pg_alpha_{function_name}_{preset}",
        help=hyperparams.HELP["learning_rate"],
    )
    controls = st.columns(function.dimensions + 2)
    start = tuple(
        controls[i].slider(
            f"start θ{i + 1}",
            float(function.view[i][0]),
            float(function.view[i][1]),
            float(function.default_start[i]),
            key=f"pg_start_{function_name}_{i}",
        )
        for i in range(function.dimensions)
    )
    steps = controls[-2].slider(
        "Steps", 1, 300, chosen.steps if chosen else 30, key=f"pg_steps_{function_name}_{preset}"
    )
    momentum = (
        controls[-1].slider("β (momentum)", 0.0, 0.99, 0.9, key="pg_beta", disabled=not momentum_on)
        if momentum_on
        else 0.0
    )
    path = playground.gradient_descent(function, start, alpha, steps, momentum)
    limit = playground.stability_limit(function)
    if chosen:
        st.info(chosen.explanation)
    verdict = playground.describe(path)
    (st.error if path.diverged else st.success)(verdict)
    if limit is not None:
        st.caption(
            f"For this function plain descent converges when α < 2/L = {limit:.3g} (L = its "
            "largest curvature)."
        )
    frame = playground.path_frame(path)
    left, right = st.columns(2)
    surface = playground_surface(function_name)
    if function.dimensions == 1:
        left.altair_chart(for_room(lab_charts.descent_curve_chart(surface, frame)), width="stretch")
    else:
        left.altair_chart(
            for_room(lab_charts.descent_contour_chart(surface, frame)), width="stretch"
        )
    right.altair_chart(for_room(lab_charts.loss_per_step_chart(frame)), width="stretch")
    st.caption(
        "Left: where each step lands (a path that leaves the window is diverging). Right: the "
        "loss per step (symlog scale): a straight fall is fast convergence."
    )


with playground_tab:
    playground_panel(bool(playground_tab.open))
