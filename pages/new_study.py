"""New study: pick the data, the model, each hyperparameter's value or range, the strategy, the
budget.
"""

from __future__ import annotations

import functools
import json

import streamlit as st

from dashboard import user_code
from dashboard.common import open_study_in
from dashboard.form_state import (
    initial,
    initial_choice,
    keep_spec_in_url,
    load_pending_spec,
    loaded,
    take_spec,
)
from dashboard.presenter import for_room
from dashboard.read_model import start_conflict, storage_path
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words
from dashboard.table_upload import csv_section
from dashboard.vocabulary import (
    ACQUISITIONS,
    DEFAULT_BAYESIAN,
    MAX_GRID_LEVELS,
    MAX_TRIALS,
    PRUNERS,
    STRATEGIES,
    SURROGATES,
    HyperParameter,
    SpecError,
    hyperparams,
    pruner_class,
)
from tuning_core.training.datasets import REPOSITORY_MNIST
from tuning_core.views import eta, forms, pruning_plan
from tuning_core.views.forms import Control, format_number
from tuning_core.workers import DASK_FIELD, default_dask_address, launch_study

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

DATASETS = {
    "digits": "digits (bundled 8×8, offline)",
    "mnist": "MNIST (Keras download)",
    "fashion_mnist": "Fashion-MNIST (Keras download)",
    "folder": "a folder of IDX / npz files",
    "csv": "Your data (CSV)",
}


def numeric_control(entry: HyperParameter) -> Control:
    name, label = entry.name, entry.label
    # The learning rate is tuned by default: it is the hyperparameter that matters most.
    tuned = st.toggle(
        "tune",
        help=f"Search over a range of {label} instead of fixing it.",
        **initial(f"tune_{name}", value=name == "learning_rate"),
    )
    # A loaded spec's values join the slider even when they are off its ladder or range.
    loaded_values = [loaded(name), *(loaded(f"{name}_range") or ()), *(loaded(f"{name}_set") or ())]
    options = forms.slider_options(forms.value_ladder(entry), *loaded_values)
    if entry.ladder:
        slider = functools.partial(
            st.select_slider, label, options, format_func=format_number, help=entry.help
        )
    else:
        step = entry.slider[2]
        slider = functools.partial(
            st.slider, label, min(options), max(options), step=step, help=entry.help
        )
    if not tuned:
        return Control(name, False, value=slider(**initial(name, value=entry.default)))
    mode = st.radio(
        "tune over",
        ["range", "values"],
        horizontal=True,
        label_visibility="collapsed",
        help="A range is searched continuously; values are tried as a set of choices.",
        **initial_choice(f"{name}_mode", ["range", "values"], "range"),
    )
    if mode == "values":
        values = st.multiselect(
            f"{label} values",
            options,
            format_func=format_number,
            help=entry.help,
            **initial(f"{name}_set", default=list(entry.tuned_range or ())),
        )
        return Control(name, True, values=values)
    low, high = slider(**initial(f"{name}_range", value=entry.tuned_range))
    return Control(name, True, low=low, high=high, log=loaded(f"{name}_log"))


def choice_control(entry: HyperParameter) -> Control:
    name, options = entry.name, list(entry.choices)
    tuned = st.toggle(
        "tune",
        help=f"Try several {entry.label} values instead of one.",
        **initial(f"tune_{name}", value=False),
    )
    if tuned:
        default = list(entry.tuned_choices)
        values = st.multiselect(
            entry.label, options, help=entry.help, **initial(f"{name}_set", default=default)
        )
        return Control(name, True, values=values)
    chosen = st.selectbox(
        entry.label, options, help=entry.help, **initial_choice(name, options, entry.default)
    )
    return Control(name, False, value=chosen)


def optimizer_control() -> Control:
    entry = hyperparams.REGISTRY["optimizer"]
    chosen = st.multiselect(
        "optimizers",
        list(entry.choices),
        **initial("optimizer", default=[entry.default]),
        help=entry.help + " Pick one to fix it, several to tune over them.",
    )
    if len(chosen) == 1:
        return Control("optimizer", False, value=chosen[0])
    return Control("optimizer", True, values=chosen)


link_problem = load_pending_spec()
st.title("New study")
st.caption(
    "Choose the data and the model, fix or tune each hyperparameter, pick a search strategy, then "
    "start."
)

uploaded = st.file_uploader(
    "Load a spec JSON",
    type=["json"],
    help="A study spec, as the CLI runs it and this page downloads it.",
)
if uploaded is not None and st.session_state.get("loaded_spec") != uploaded.file_id:
    try:
        take_spec(forms.spec_from_upload(uploaded.getvalue()))
    except SpecError as error:
        st.error(plain(in_page_words(error)))
    else:
        st.session_state["loaded_spec"] = uploaded.file_id
        st.rerun()
if user_code.held() is not None:
    # A spec that runs the user's code: its file is shown and confirmed before anything runs.
    if link_problem:
        st.error(plain(in_page_words(link_problem)))
    user_code.confirm_and_start(storage_path())
    st.stop()

setup, budget_column = st.columns([2, 1])
with setup:
    st.subheader("Data and model")
    name = st.text_input(
        "Study name",
        **initial("name", value="my-study"),
        help="Letters, digits, dots, dashes or underscores. Re-using a name resumes that study.",
    )
    dataset_key = st.selectbox(
        "Dataset",
        list(DATASETS),
        format_func=DATASETS.get,
        **initial_choice("dataset", list(DATASETS), "digits"),
    )
    dataset = dataset_key
    if dataset_key == "folder":
        dataset = st.text_input(
            "Folder with MNIST-format IDX files or an .npz",
            **initial("folder", value=str(REPOSITORY_MNIST)),
            help="train-images-idx3-ubyte[.gz] and friends, or an .npz with x_train and y_train.",
        )
    table_extras: dict = {}
    if dataset_key == "csv":
        dataset, table_extras = csv_section(storage_path())
    model = st.radio(
        "Model",
        list(hyperparams.MODELS),
        horizontal=True,
        **initial_choice("model", list(hyperparams.MODELS), "mlp"),
        format_func=lambda m: {"mlp": "MLP (dense layers)", "cnn": "CNN (convolutions)"}[m],
    )
    train_limit = st.number_input(
        "Training examples (0 = all)",
        min_value=0,
        step=100,
        **initial("train_limit", value=0),
        help="Train on a stratified subset for fast demos; the validation set stays whole.",
    )

with budget_column:
    st.subheader("Search")
    strategy_type = st.radio(
        "Strategy",
        list(STRATEGIES),
        **initial_choice("strategy", list(STRATEGIES), "bayesian"),
        horizontal=True,
        help="Grid tries every combination; random samples; Bayesian fits a model of the "
        "score and samples where it looks promising.",
    )
    strategy: dict = {
        "type": strategy_type,
        "seed": int(
            st.number_input(
                "Seed",
                min_value=0,
                step=1,
                **initial("seed", value=0),
                help="The same seed gives the same sequence of trials and the same initial "
                "weights.",
            )
        ),
    }
    if strategy_type == "grid":
        strategy["levels"] = st.slider(
            "Levels per numeric range",
            1,
            min(max(7, int(loaded("levels", 0))), MAX_GRID_LEVELS),
            **initial("levels", value=3),
            help="Points per tuned number range (log-spaced for log ranges).",
        )
    if strategy_type == "bayesian":
        strategy["surrogate"] = st.selectbox(
            "Surrogate",
            list(SURROGATES),
            **initial_choice("surrogate", list(SURROGATES), DEFAULT_BAYESIAN["surrogate"]),
            help="The model of score against hyperparameters: Gaussian process, random "
            "forest, extra trees or gradient-boosted trees.",
        )
        strategy["acquisition"] = st.selectbox(
            "Acquisition",
            list(ACQUISITIONS),
            **initial_choice("acquisition", list(ACQUISITIONS), DEFAULT_BAYESIAN["acquisition"]),
            help="How the next point is chosen: expected improvement, probability of "
            "improvement, lower confidence bound, or a mix.",
        )
        strategy["initial_points"] = int(
            st.number_input(
                "Initial random points",
                min_value=1,
                **initial("initial_points", value=5),
                help="Random trials before the surrogate takes over.",
            )
        )
    pruner_type = st.selectbox(
        "Early stopping (pruner)",
        list(PRUNERS),
        **initial_choice("pruner", list(PRUNERS), "none"),
        format_func=lambda kind: pruner_class(kind).label,
        help=" ".join(f"{pruner_class(kind).label}: {pruner_class(kind).help}" for kind in PRUNERS),
    )
    st.caption(pruner_class(pruner_type).help)
    trials = st.number_input(
        "Trials", min_value=1, max_value=MAX_TRIALS, **initial("trials", value=10)
    )
    minutes = st.number_input(
        "Time limit (minutes, 0 = none)", min_value=0.0, step=1.0, **initial("minutes", value=0.0)
    )
    parallel = st.number_input(
        "Parallel trials",
        min_value=1,
        max_value=forms.parallel_limit(loaded("parallel", 1)),
        step=1,
        help=forms.PARALLEL_HELP,
        **initial("parallel", value=1),
    )
    # Not part of the spec (Start passes it as run --dask), so a loaded spec leaves it be.
    dask_address = st.text_input(
        f"{DASK_FIELD} (optional)",
        value=default_dask_address(),
        placeholder="tcp://10.0.0.5:8786",
        help=forms.DASK_HELP,
        key="dask_address",
    )

st.subheader("Hyperparameters")
entries = [entry for entry in hyperparams.entries_for(model) if entry.name != "optimizer"]
controls = [optimizer_control()]
columns = st.columns(3)
for index, entry in enumerate(entries):
    with columns[index % 3], st.container(border=True):
        control = choice_control(entry) if entry.kind == "choice" else numeric_control(entry)
        controls.append(control)

raw_spec = forms.build_spec(
    name,
    dataset,
    model,
    controls,
    strategy,
    int(trials),
    minutes or None,
    int(train_limit) or None,
    objective_extras={**(loaded("objective_extras") or {}), **table_extras},
    loaded_names=loaded("loaded_names"),
    pruner={"type": pruner_type, **(loaded("pruner_options") or {})},
    budget_extras=loaded("budget_extras"),
    parallel=int(parallel),
)
st.session_state["form_spec"] = raw_spec  # what Start would run (tests read it)
keep_spec_in_url(raw_spec)  # the address bar is a preset link to this very setup
if link_problem:
    st.error(plain(in_page_words(link_problem)))
problems = forms.form_problems(
    raw_spec,
    controls,
    storage_path(),
    dask_address,
    start_conflict(raw_spec),
)

st.subheader("Before you start")
size_column, time_column = st.columns(2)
# Plain text, not st.metric: a metric's large value is cut off at half of 1366 px.
size_column.markdown(f"**Search space**  \n{plain(forms.space_size(raw_spec))}")
time_column.metric(
    "Estimated run time",
    forms.format_duration(forms.estimate_seconds(raw_spec)),
    help="A rough estimate from the data size, model size and budget on a 2-core CPU, with "
    "parallel trials running that many at a time.",
)
assumed = eta.estimate_assumptions(raw_spec)
if assumed:  # an estimate that hides its assumptions ran 2-3x short on a loaded machine
    time_column.caption(assumed)
plan = pruning_plan.plan_for_spec(raw_spec)
if plan is not None:  # before Start: the rungs or brackets, who reaches each, the epochs
    st.caption(plan[0])
    st.altair_chart(for_room(pruning_plan.plan_chart(plan[1])), width="stretch")
for problem in problems:
    st.error(plain(in_page_words(problem)))

start_column, download_column = st.columns(2)
with download_column:
    st.download_button(
        "Download spec JSON",
        json.dumps(raw_spec, indent=2),
        file_name=f"{name or 'study'}.json",
        mime="application/json",
        key="download_spec",
    )
with start_column:
    if st.button("Start", type="primary", disabled=bool(problems), key="start"):
        launch_study(storage_path(), raw_spec, dask_address)
        st.session_state["launched"] = raw_spec["name"]
        open_study_in("pages/live.py", raw_spec["name"])
