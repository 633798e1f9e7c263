"""Any spec the CLI accepts loads into the New-study form exactly; anything else is refused
in one sentence (the upload path's parser is tested here, the upload itself in the browser)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, digits_spec
from tests.test_cli_bad_input import BAD_SPECS
from tests.test_pages import open_page
from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import parse_spec
from tuning_core.views import forms

APP = str(ROOT / "app.py")


def keras_spec(**changes: object) -> dict:
    raw = digits_spec(name="loaded")
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = raw
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return parse_spec(raw).to_json()


LOADABLE = {
    "off-ladder values": keras_spec(
        space__learning_rate=0.0003, space__batch_size=48, space__dropout=0.23
    ),
    "log range off the ladder": keras_spec(
        space__learning_rate={"type": "float", "low": 0.0003, "high": 0.7, "log": True}
    ),
    "linear learning-rate range": keras_spec(
        space__learning_rate={"type": "float", "low": 0.001, "high": 0.5, "log": False}
    ),
    "learning rates as a set": keras_spec(
        space__learning_rate={"type": "choice", "values": [0.001, 0.1, 10.0]},
        strategy={"type": "grid", "seed": 3},
    ),
    "tuned epochs, other extras": keras_spec(
        space__epochs={"type": "int", "low": 2, "high": 12, "log": False},
        objective__epochs=20,
        objective__metric="val_loss",
        objective__split="ordered",
        objective__validation_split=0.3,
        budget={"trials": 5000, "seconds": 100},
    ),
    "pruner with options and an epoch budget": keras_spec(
        objective__epochs=9,
        pruner={"type": "hyperband", "reduction_factor": 2, "min_epochs": 2, "tell": "worst"},
        budget={"trials": 50, "epochs": 120},
    ),
    "momentum and grid levels": keras_spec(
        space__momentum=0.995, space__optimizer="sgd", strategy={"type": "grid", "levels": 12}
    ),
    "cnn with choices": keras_spec(
        objective__model="cnn",
        space={
            "pooling": {"type": "choice", "values": ["max", "avg"]},
            "filters": 24,
            "kernel_size": 9,
            "optimizer": {"type": "choice", "values": ["adam", "rmsprop"]},
        },
        strategy={"type": "bayesian", "surrogate": "RF", "acquisition": "LCB", "seed": 5},
    ),
}


@pytest.mark.parametrize("case", list(LOADABLE), ids=list(LOADABLE))
def test_a_valid_spec_loads_into_the_form_exactly(storage: Path, case: str) -> None:
    spec = LOADABLE[case]
    at = open_page("pages/new_study.py")
    at.session_state["spec_for_new_study"] = copy.deepcopy(spec)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    built = parse_spec(at.session_state["form_spec"]).to_json()
    assert built == spec


@pytest.mark.parametrize(("case", "mutate", "field"), BAD_SPECS, ids=[c for c, _, _ in BAD_SPECS])
def test_the_cli_bad_input_matrix_is_refused_on_upload(case: str, mutate, field: str) -> None:
    from tests.conftest import branin_spec

    spec = copy.deepcopy(branin_spec(name="bad"))
    mutate(spec)
    with pytest.raises(SpecError) as refused:
        forms.spec_from_upload(json.dumps(spec).encode())
    assert field in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests objects too deeply"),
        ('{"name": "x", "budget": {"trials": Infinity}}', "Infinity"),
        ('{"name": "x", "budget": {"seconds": NaN}}', "NaN"),
        ('{"name": ', "not valid JSON"),
    ],
)
def test_malformed_uploads_get_one_sentence(text: str, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        forms.spec_from_upload(text.encode())
    with pytest.raises(SpecError, match="UTF-8"):
        forms.spec_from_upload(b"\xff\xfe{}")


def _linked(at) -> str:
    value = at.query_params["spec"]
    return value if isinstance(value, str) else value[0]


def test_a_link_carrying_a_spec_sets_the_form_up_and_the_form_keeps_its_link(
    storage: Path,
) -> None:
    spec = LOADABLE["learning rates as a set"]
    at = open_page("pages/new_study.py", spec=json.dumps(spec))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert parse_spec(at.session_state["form_spec"]).to_json() == spec
    assert json.loads(_linked(at)) == at.session_state["form_spec"]
    at.text_input(key="name@1").set_value("renamed").run()
    assert json.loads(_linked(at))["name"] == "renamed"  # the link follows the form
    broken = AppTest.from_file(APP, default_timeout=60)
    broken.query_params["spec"] = '{"name": "x", "budget": {"trials": NaN}}'
    broken.run()  # New study is the default page
    assert not broken.exception
    assert any("NaN" in e.value for e in broken.error)


def test_loaded_pruner_options_follow_the_pruner_and_the_epochs_chosen(storage: Path) -> None:
    # A spec as the Studies page exports it: the pruner's derived options written out.
    loaded = keras_spec(objective__epochs=10, pruner={"type": "successive_halving"})
    assert loaded["pruner"]["max_epochs"] == 10 and "min_epochs" in loaded["pruner"]
    at = open_page("pages/new_study.py")
    at.session_state["spec_for_new_study"] = copy.deepcopy(loaded)
    at.run()
    version = at.session_state["form_version"]  # a loaded spec gives the widgets fresh keys
    at.slider(key=f"epochs@{version}").set_value(5).run()  # max_epochs follows the slider
    assert parse_spec(at.session_state["form_spec"]).pruner["max_epochs"] == 5
    # No halving options on the median rule.
    at.selectbox(key=f"pruner@{version}").set_value("median").run()
    assert not at.error, [e.value for e in at.error]
    assert parse_spec(at.session_state["form_spec"]).pruner["type"] == "median"
    assert not at.button(key="start").disabled
