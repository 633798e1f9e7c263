"""New study: pick the data, the model, each hyperparameter's value or range, the strategy, the budget."""

from __future__ import annotations

import json

import streamlit as st

from dashboard.common import load_into_form, open_study_in, storage_path
from tuning_core.engine import hyperparams
from tuning_core.engine.workers import launch_study
from tuning_core.training.datasets import REPOSITORY_MNIST
from tuning_core.views import forms
from tuning_core.views.forms import Control, format_number

DATASETS = {
    "digits": "digits (bundled 8×8, offline)",
    "mnist": "MNIST (Keras download)",
    "fashion_mnist": "Fashion-MNIST (Keras download)",
    "folder": "a folder of IDX / npz files",
}

# name: (ladder or (min, max, step), fixed default, tuned default range)
NUMERIC_CONTROLS = {
    "learning_rate": (forms.LEARNING_RATES, 0.01, (0.0001, 1.0)),
    "batch_size": (forms.BATCH_SIZES, 32, (16, 256)),
    "epochs": ((1, 50, 1), 10, (2, 10)),
    "dropout": ((0.0, 0.9, 0.05), 0.2, (0.0, 0.5)),
    "units": (forms.UNIT_COUNTS, 512, (64, 1024)),
    "hidden_layers": ((1, 5, 1), 1, (1, 3)),
    "momentum": ((0.0, 0.99, 0.01), 0.0, (0.0, 0.9)),
    "l2": (forms.L2_VALUES, 0.0, (1e-6, 1e-2)),
    "filters": (forms.FILTER_COUNTS, 32, (16, 64)),
    "kernel_size": ([3, 5, 7], 3, (3, 5)),
    "conv_blocks": ((1, 3, 1), 2, (1, 3)),
    "dense_units": (forms.UNIT_COUNTS, 128, (64, 256)),
}


def form_key(name: str) -> str:
    """Widget keys carry the form's version: loading a spec bumps it, so every widget is
    re-created with the loaded values as its defaults (no Session State writes to widgets)."""
    version = st.session_state.get("form_version", 0)
    return name if version == 0 else f"{name}@{version}"


def initial(name: str, **default: object) -> dict:
    """The widget's default: the loaded spec's value when there is one."""
    loaded = st.session_state.get("form_defaults", {})
    ((argument, fallback),) = default.items()
    if name not in loaded:
        return {argument: fallback, "key": form_key(name)}
    value = loaded[name]
    return {
        argument: tuple(value)
        if isinstance(value, list) and isinstance(fallback, tuple)
        else value,
        "key": form_key(name),
    }


def initial_choice(name: str, options: list, fallback: object) -> dict:
    """index and key for a selectbox or radio, honouring a loaded spec."""
    value = st.session_state.get("form_defaults", {}).get(name, fallback)
    return {
        "index": options.index(value) if value in options else options.index(fallback),
        "key": form_key(name),
    }


def apply_loaded_spec(raw: dict) -> None:
    """Put a loaded spec's values into the widgets' state before they are drawn."""
    objective = raw.get("objective", {})
    state: dict = {}
    state["name"] = raw.get("name", "")
    dataset = objective.get("dataset", "digits")
    state["dataset"] = dataset if dataset in DATASETS else "folder"
    if state["dataset"] == "folder":
        state["folder"] = dataset
    state["model"] = objective.get("model", "mlp")
    state["train_limit"] = int(objective.get("train_limit") or 0)
    for name, control in forms.spec_to_controls(raw).items():
        if name == "optimizer":
            state["optimizer"] = control.values if control.tuned else [control.value]
            continue
        state[f"tune_{name}"] = control.tuned
        if name in forms.CHOICES:
            state[f"{name}_set" if control.tuned else name] = (
                control.values if control.tuned else control.value
            )
        elif control.tuned:
            state[f"{name}_range"] = (control.low, control.high)
        else:
            state[name] = control.value
    strategy = raw.get("strategy", {})
    state["strategy"] = strategy.get("type", "bayesian")
    for key in ("levels", "surrogate", "acquisition", "initial_points", "seed"):
        if key in strategy:
            state[key] = strategy[key]
    budget = raw.get("budget", {})
    state["trials"] = int(budget.get("trials", 10))
    state["minutes"] = float(budget.get("seconds") or 0) / 60
    load_into_form(state)


def numeric_control(name: str) -> Control:
    ladder, fixed_default, range_default = NUMERIC_CONTROLS[name]
    help_text = hyperparams.HELP.get(name)
    # The learning rate is tuned by default: it is the hyperparameter that matters most.
    tuned = st.toggle(
        "tune",
        help=f"Search over a range of {name} instead of fixing it.",
        **initial(f"tune_{name}", value=name == "learning_rate"),
    )
    label = name.replace("_", " ")
    if isinstance(ladder, list):
        if tuned:
            low, high = st.select_slider(
                label,
                ladder,
                format_func=format_number,
                help=help_text,
                **initial(f"{name}_range", value=range_default),
            )
            return Control(name, True, low=low, high=high)
        value = st.select_slider(
            label,
            ladder,
            format_func=format_number,
            help=help_text,
            **initial(name, value=fixed_default),
        )
        return Control(name, False, value=value)
    low_bound, high_bound, step = ladder
    if tuned:
        low, high = st.slider(
            label,
            low_bound,
            high_bound,
            step=step,
            help=help_text,
            **initial(f"{name}_range", value=range_default),
        )
        return Control(name, True, low=low, high=high)
    return Control(
        name,
        False,
        value=st.slider(
            label,
            low_bound,
            high_bound,
            step=step,
            help=help_text,
            **initial(name, value=fixed_default),
        ),
    )


def choice_control(name: str) -> Control:
    options = list(forms.CHOICES[name])
    default = hyperparams.defaults_for("cnn" if name == "pooling" else "mlp")[name]
    tuned = st.toggle(
        "tune",
        help=f"Try several {name} values instead of one.",
        **initial(f"tune_{name}", value=False),
    )
    if tuned:
        values = st.multiselect(
            name,
            options,
            help=hyperparams.HELP.get(name),
            **initial(f"{name}_set", default=options[:2]),
        )
        return Control(name, True, values=values)
    return Control(
        name,
        False,
        value=st.selectbox(
            name, options, help=hyperparams.HELP.get(name), **initial_choice(name, options, default)
        ),
    )


def optimizer_control() -> Control:
    chosen = st.multiselect(
        "optimizers",
        list(hyperparams.OPTIMIZERS),
        **initial("optimizer", default=["sgd"]),
        help=hyperparams.HELP["optimizer"] + " Pick one to fix it, several to tune over them.",
    )
    if len(chosen) == 1:
        return Control("optimizer", False, value=chosen[0])
    return Control("optimizer", True, values=chosen)


st.title("New study")
st.caption(
    "Choose the data and the model, fix or tune each hyperparameter, pick a search strategy, then start."
)

uploaded = st.file_uploader(
    "Load a spec JSON",
    type=["json"],
    help="A study spec, as the CLI runs it and this page downloads it.",
)
if uploaded is not None and st.session_state.get("loaded_spec") != uploaded.file_id:
    try:
        apply_loaded_spec(json.loads(uploaded.getvalue().decode("utf-8")))
        st.session_state["loaded_spec"] = uploaded.file_id
        st.rerun()
    except (ValueError, AttributeError, TypeError) as error:
        st.error(f"The uploaded file is not a study spec JSON ({error}).")

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
        ["bayesian", "random", "grid"],
        **initial_choice("strategy", ["bayesian", "random", "grid"], "bayesian"),
        horizontal=True,
        help="Grid tries every combination; random samples; Bayesian fits a model of the score and samples where it looks promising.",
    )
    strategy: dict = {
        "type": strategy_type,
        "seed": int(
            st.number_input(
                "Seed",
                min_value=0,
                step=1,
                **initial("seed", value=0),
                help="The same seed gives the same sequence of trials and the same initial weights.",
            )
        ),
    }
    if strategy_type == "grid":
        strategy["levels"] = st.slider(
            "Levels per numeric range",
            1,
            7,
            **initial("levels", value=3),
            help="Points per tuned number range (log-spaced for log ranges).",
        )
    if strategy_type == "bayesian":
        strategy["surrogate"] = st.selectbox(
            "Surrogate",
            ["GP", "RF", "ET", "GBRT"],
            **initial_choice("surrogate", ["GP", "RF", "ET", "GBRT"], "GP"),
            help="The model of score against hyperparameters: Gaussian process, random forest, extra trees or gradient-boosted trees.",
        )
        strategy["acquisition"] = st.selectbox(
            "Acquisition",
            ["EI", "PI", "LCB", "gp_hedge"],
            **initial_choice("acquisition", ["EI", "PI", "LCB", "gp_hedge"], "EI"),
            help="How the next point is chosen: expected improvement, probability of improvement, lower confidence bound, or a mix.",
        )
        strategy["initial_points"] = int(
            st.number_input(
                "Initial random points",
                min_value=1,
                **initial("initial_points", value=5),
                help="Random trials before the surrogate takes over.",
            )
        )
    trials = st.number_input("Trials", min_value=1, max_value=1000, **initial("trials", value=10))
    minutes = st.number_input(
        "Time limit (minutes, 0 = none)", min_value=0.0, step=1.0, **initial("minutes", value=0.0)
    )

st.subheader("Hyperparameters")
names = [n for n in hyperparams.names_for(model) if n != "optimizer"]
controls = [optimizer_control()]
columns = st.columns(3)
for index, hyperparameter in enumerate(names):
    with columns[index % 3], st.container(border=True):
        controls.append(
            choice_control(hyperparameter)
            if hyperparameter in forms.CHOICES
            else numeric_control(hyperparameter)
        )

raw_spec = forms.build_spec(
    name, dataset, model, controls, strategy, int(trials), minutes or None, int(train_limit) or None
)
problems = forms.form_problems(raw_spec, controls, storage_path())

st.subheader("Before you start")
size_column, time_column = st.columns(2)
size_column.metric("Search space", forms.space_size(raw_spec))
time_column.metric(
    "Estimated run time",
    forms.format_duration(forms.estimate_seconds(raw_spec)),
    help="A rough estimate from the data size, model size and budget on a 2-core CPU.",
)
for problem in problems:
    st.error(problem)

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
        launch_study(storage_path(), raw_spec)
        st.session_state["launched"] = raw_spec["name"]
        open_study_in("pages/live.py", raw_spec["name"])
