"""Every hyperparameter registry entry reaches each place that uses it: validation, the form,
the New-study page, the run-time estimate and the Keras-script export. (The model builder's
side is tests/test_training.py::test_build_model_reads_every_registry_entry.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import digits_spec
from tests.test_pages import open_page
from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.hyperparams import REGISTRY, HyperParameter
from tuning_core.engine.space import NumericDimension
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports.keras_script import keras_script
from tuning_core.views import forms

CASES = [(entry, model) for entry in REGISTRY.values() for model in entry.models]
IDS = [f"{entry.name}-{model}" for entry, model in CASES]


def spec_with(model: str, space: dict) -> dict:
    raw = digits_spec(space=space, model=model)
    raw["objective"].pop("train_limit")
    return raw


def tuned_control(entry: HyperParameter) -> forms.Control:
    if entry.kind == "choice":
        return forms.Control(entry.name, True, values=list(entry.tuned_choices))
    low, high = entry.tuned_range
    return forms.Control(entry.name, True, low=low, high=high)


def other_value(entry: HyperParameter) -> object:
    """A valid value that is not the default."""
    if entry.kind == "choice":
        return next(choice for choice in entry.choices if choice != entry.default)
    candidates = entry.ladder or (entry.slider[0], entry.slider[1])
    return next(value for value in candidates if value != entry.default)


def test_the_registry_covers_exactly_the_known_names() -> None:
    for model in hyperparams.MODELS:
        names = hyperparams.names_for(model)
        assert names[-1] == "epochs" and len(set(names)) == len(names)
        assert set(hyperparams.defaults_for(model)) == set(names) - {"epochs"}
    assert hyperparams.defaults_for("mlp") | {"epochs": 10} == {
        **{e.name: e.default for e in REGISTRY.values() if e.applies_to("mlp")}
    }


@pytest.mark.parametrize(("entry", "model"), CASES, ids=IDS)
def test_validation_takes_its_bounds_from_the_registry(entry: HyperParameter, model: str) -> None:
    parse_spec(spec_with(model, {entry.name: entry.default}))  # the default is valid
    wrong: list[object] = []
    if entry.kind == "choice":
        wrong.append("not-a-" + entry.name)
    else:
        if entry.lowest is not None:
            wrong.append(entry.lowest - 1)
        if entry.highest is not None:
            wrong.append(entry.highest + 1)
        if entry.kind == "int":
            wrong.append(entry.default + 0.5)
    for value in wrong:
        with pytest.raises(SpecError, match=rf"^space\.{entry.name} must be"):
            parse_spec(spec_with(model, {entry.name: value}))
    for other in set(hyperparams.MODELS) - set(entry.models):
        with pytest.raises(SpecError, match=rf"space\.{entry.name} is not a hyperparameter"):
            parse_spec(spec_with(other, {entry.name: entry.default}))


@pytest.mark.parametrize(("entry", "model"), CASES, ids=IDS)
def test_the_form_builds_a_valid_spec_and_an_estimate(entry: HyperParameter, model: str) -> None:
    if entry.kind != "choice":
        offered = entry.ladder or entry.slider[:2]
        low, high = min(offered), max(offered)
        assert low <= entry.default <= high, "the default must be on the slider"
        assert low <= entry.tuned_range[0] < entry.tuned_range[1] <= high
    else:
        assert entry.default in entry.choices and set(entry.tuned_choices) <= set(entry.choices)
    control = tuned_control(entry)
    if entry.name == "epochs":
        controls = [control]
    else:
        controls = [control, forms.Control("epochs", False, value=2)]
    strategy = {"type": "random", "seed": 0}
    raw = forms.build_spec("walk", "digits", model, controls, strategy, 3, None, 200)
    spec = parse_spec(raw)
    dimension = spec.space.dimension(entry.name)
    assert dimension is not None
    if isinstance(dimension, NumericDimension):
        assert dimension.log == (entry.log and dimension.low > 0)
        assert dimension.kind == ("int" if entry.kind == "int" else "float")
    seconds = forms.estimate_seconds(raw)
    assert seconds is not None and seconds > 0


@pytest.mark.parametrize(("entry", "model"), CASES, ids=IDS)
def test_the_script_export_carries_the_value(
    entry: HyperParameter, model: str, tmp_path: Path
) -> None:
    value = other_value(entry)
    spec = parse_spec(spec_with(model, {entry.name: value}))
    with Store(tmp_path / "store.db") as store:
        study_id = store.create_study(spec)
        trial_id = store.start_trial(study_id, 0, spec.space.full_params({}))
        store.finish_trial(trial_id, TrialState.COMPLETE, 0.5)
        script = keras_script(store, store.get_study(spec.name))
    assert f"  {entry.name} = {value!r}\n" in script


@pytest.mark.parametrize("model", hyperparams.MODELS)
def test_the_page_draws_a_control_for_every_entry(storage: Path, model: str) -> None:
    at = open_page("pages/new_study.py")
    at.radio(key="model").set_value(model).run()
    assert not at.exception
    toggles = {toggle.key for toggle in at.toggle}
    for entry in hyperparams.entries_for(model):
        if entry.name == "optimizer":
            assert at.multiselect(key="optimizer").options == list(entry.choices)
            continue
        assert f"tune_{entry.name}" in toggles, entry.name
    labels = {
        widget.label for kind in ("slider", "select_slider", "selectbox") for widget in at.get(kind)
    }
    for entry in hyperparams.entries_for(model):
        if entry.name != "optimizer":
            assert entry.label in labels, entry.label
