"""Learning-rate lab: compare learning rates side by side, run an LR range test, play with
descent.
"""

from __future__ import annotations

import json
import time

import pandas as pd
import streamlit as st

from dashboard.common import REFRESH_SECONDS, storage_path, study_records
from dashboard.data import curves_view, study_frames
from dashboard.form_state import open_in_new_study
from dashboard.security import refuse_foreign_hosts
from tuning_core.engine import hyperparams
from tuning_core.engine.workers import launch_lr_find, launch_study, lr_find_output, worker_log_tail
from tuning_core.reports import frames
from tuning_core.views import charts, forms, live, playground
from tuning_core.views.forms import format_number

# A deep link runs this page without app.py, so each page checks the Host itself.
refuse_foreign_hosts()

DATASETS = ["digits", "mnist", "fashion_mnist"]
SGD_DEFAULTS = (0.0001, 1.0)

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

compare_tab, range_tab, playground_tab = st.tabs(
    ["Compare learning rates", "LR range test", "Gradient-descent playground"]
)

with compare_tab:
    low, high = st.select_slider(
        "Learning-rate range",
        hyperparams.REGISTRY["learning_rate"].ladder,
        value=SGD_DEFAULTS,
        format_func=format_number,
        key="lr_range",
        help=hyperparams.HELP["learning_rate"],
    )
    count = st.slider("How many learning rates", 2, 6, 5, key="lr_count")
    learning_rates = forms.log_spaced(low, high, count) if high > low else [low]
    st.write("Learning rates: " + ", ".join(format_number(lr) for lr in learning_rates))
    name = st.text_input("Study name", value=f"lr-{dataset}-{model}-{optimizer}", key="lr_name")
    raw = forms.learning_rate_comparison_spec(
        name, dataset, model, optimizer, learning_rates, epochs, batch_size, train_limit or None
    )
    problem = forms.learning_rate_comparison_problem(raw)
    if problem:
        st.error(problem)
    if st.button(
        "Train one model per learning rate", type="primary", disabled=bool(problem), key="lr_start"
    ):
        launch_study(storage_path(), raw)
        st.session_state["lr_study"] = name

    @st.fragment(run_every=REFRESH_SECONDS)
    def comparison_panel() -> None:
        """Inside the fragment, so a comparison the worker has just created shows up by itself."""
        comparisons = [
            study.name for study in study_records() if forms.is_learning_rate_comparison(study.spec)
        ]
        current = st.session_state.get("lr_study")
        if current and current not in comparisons:
            st.info(f"Starting the worker for {current!r}…")
            return
        if not comparisons:
            return
        index = comparisons.index(current) if current in comparisons else len(comparisons) - 1
        shown = st.selectbox(
            "Comparison to show", comparisons, index=index, key=f"lr_shown_{current}"
        )
        study, trials, curves, _ = study_frames(shown)
        if study is None or curves.empty:
            st.info("Waiting for the first epoch…")
            return
        st.caption(f"{shown} · {live.live_summary(study, trials, time.time()).progress_text}")
        grid = st.columns(2)
        for index, metric in enumerate(["loss", "val_loss", "accuracy", "val_accuracy"]):
            with grid[index % 2]:
                curves_view(curves, metric, "learning_rate", True, metric)
        st.caption(
            "One colour per learning rate (log scale). Small rates fall slowly; large ones jump "
            "around or diverge (dashed, ×)."
        )
        finals = frames.final_metrics(curves, trials)
        if not finals.empty:
            st.altair_chart(charts.final_accuracy_bars(finals), width="stretch")
            st.caption(
                "The final validation accuracy of each run: the best learning rate sits between "
                "too slow and unstable."
            )

    comparison_panel()

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
    if st.button("Run the LR range test", key="lr_find_start"):
        launch_lr_find(storage_path(), finder_spec)
        st.session_state["lr_find"] = {
            "name": finder_name,
            "started": time.time(),
            "optimizer": optimizer,
            "dataset": dataset,
            "model": model,
            "epochs": epochs,
        }

    @st.fragment(run_every=REFRESH_SECONDS)
    def range_test() -> None:
        started = st.session_state.get("lr_find")
        if not started:
            st.info("Run the test to see the loss against the learning rate.")
            return
        output = lr_find_output(storage_path(), started["name"])
        if not output.is_file():
            st.info(f"Testing… ({time.time() - started['started']:.0f} s)")
            log = worker_log_tail(storage_path(), started["name"], "lr_find.log", 2)
            if "error" in log:
                st.error(log)
            return
        result = json.loads(output.read_text())
        suggestions = {key: result[key] for key in ("valley", "steep", "minimum_div10")}
        st.altair_chart(
            charts.lr_range_chart(pd.DataFrame(result["curve"]), suggestions), width="stretch"
        )
        shown = ", ".join(
            f"{key} {format_number(float(format(value, '.2g')))}"
            for key, value in suggestions.items()
        )
        st.caption(f"Suggestions: {shown}; {result['stop_reason']}.")
        choice = st.radio("Suggestion", list(suggestions), horizontal=True, key="lr_suggestion")
        if st.button(
            "Tune around it in a new study",
            key="lr_to_study",
            help="Opens New study with the learning rate tuned from suggestion/10 to "
            "suggestion×10.",
        ):
            open_in_new_study(
                forms.tune_around_spec(
                    suggestions[choice],
                    started["dataset"],
                    started["model"],
                    started["optimizer"],
                    started.get("epochs", hyperparams.REGISTRY["epochs"].default),
                )
            )

    range_test()

with playground_tab:
    momentum_on = st.toggle("Momentum", key="pg_momentum_on", help=hyperparams.HELP["momentum"])
    if momentum_on:
        st.latex(
            r"v_{t+1} = \beta v_t - \alpha \nabla f(\theta_t), \qquad "
            r"\theta_{t+1} = \theta_t + v_{t+1}"
        )
    else:
        st.latex(r"\theta_{t+1} = \theta_t - \alpha \nabla f(\theta_t)")
    function_name = st.selectbox(
        "Function",
        list(playground.FUNCTIONS),
        format_func=lambda n: playground.FUNCTIONS[n].label,
        key="pg_function",
    )
    function = playground.FUNCTIONS[function_name]
    preset_names = list(playground.PRESETS)
    preset = st.radio(
        "Preset (for the 1-D quadratic)",
        ["custom", *preset_names],
        horizontal=True,
        key="pg_preset",
    )
    ladder = sorted(
        {
            *forms.log_spaced(1e-4, 2.0, 40),
            *(p.learning_rate for p in playground.PRESETS.values()),
            0.19,
            0.21,
        }
    )
    default_alpha = playground.PRESETS[preset].learning_rate if preset != "custom" else 0.1
    alpha = st.select_slider(
        "Learning rate α",
        ladder,
        value=forms.nearest(default_alpha, ladder),
        format_func=format_number,
        key=f"pg_alpha_{preset}",
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
    steps = controls[-2].slider("Steps", 1, 300, 30, key="pg_steps")
    momentum = (
        controls[-1].slider("β (momentum)", 0.0, 0.99, 0.9, key="pg_beta", disabled=not momentum_on)
        if momentum_on
        else 0.0
    )
    path = playground.gradient_descent(function, start, alpha, steps, momentum)
    limit = playground.stability_limit(function)
    if preset != "custom":
        st.info(playground.PRESETS[preset].explanation)
    verdict = playground.describe(path)
    (st.error if path.diverged else st.success)(verdict)
    if limit is not None:
        st.caption(
            f"For this function plain descent converges when α < 2/L = {limit:.3g} (L = its "
            "largest curvature)."
        )
    frame = playground.path_frame(path)
    left, right = st.columns(2)
    if function.dimensions == 1:
        left.altair_chart(
            charts.descent_curve_chart(playground.surface_frame(function), frame), width="stretch"
        )
    else:
        left.altair_chart(
            charts.descent_contour_chart(playground.surface_frame(function), frame), width="stretch"
        )
    right.altair_chart(charts.loss_per_step_chart(frame), width="stretch")
    st.caption(
        "Left: where each step lands. Right: the loss per step (symlog scale): a straight fall is "
        "fast convergence."
    )
