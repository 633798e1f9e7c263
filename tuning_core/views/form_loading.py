"""A spec loaded into the New-study form: the controls and widget values that reproduce it,
and an uploaded spec file validated as the CLI validates one. Pure; no Streamlit.
"""

from __future__ import annotations

from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import BUILTIN_DATASETS, MAX_SPEC_BYTES, parse_spec_text
from tuning_core.engine.spec_parts import FunctionObjectiveSpec
from tuning_core.views.form_controls import Control


def spec_to_controls(raw: dict[str, Any]) -> dict[str, Control]:
    """Controls that reproduce a loaded spec's space (for the form's "load spec" button)."""
    controls: dict[str, Control] = {}
    for name, entry in raw.get("space", {}).items():
        if isinstance(entry, dict) and entry.get("type") == "choice":
            controls[name] = Control(name, True, values=list(entry.get("values", [])))
        elif isinstance(entry, dict):
            controls[name] = Control(
                name, True, low=entry.get("low"), high=entry.get("high"), log=entry.get("log")
            )
        else:
            controls[name] = Control(name, False, value=entry)
    objective = raw.get("objective", {})
    if "epochs" not in controls and "epochs" in objective:
        controls["epochs"] = Control("epochs", False, value=objective["epochs"])
    return controls


def form_values(raw: dict[str, Any]) -> dict[str, Any]:
    """The New-study widgets' values (by widget name) that reproduce a spec document.

    Pages hand the form a spec, never widget names: this is the one place that knows how a
    spec maps onto the form's widgets. Names absent from the spec keep the form's defaults.
    """
    objective = raw.get("objective", {})
    values: dict[str, Any] = {"name": raw.get("name", "")}
    dataset = objective.get("dataset", "digits")
    values["dataset"] = dataset if dataset in BUILTIN_DATASETS else "folder"
    if values["dataset"] == "folder":
        values["folder"] = dataset
    values["model"] = objective.get("model", "mlp")
    values["train_limit"] = int(objective.get("train_limit") or 0)
    # What the loaded spec does not name is fixed at its default (the form would otherwise
    # tune the learning rate, as it does for a new study).
    values.update({f"tune_{name}": False for name in hyperparams.REGISTRY})
    for name, control in spec_to_controls(raw).items():
        if name == "optimizer":  # one multiselect: one value fixes it, several tune it
            values["optimizer"] = control.values if control.tuned else [control.value]
            continue
        values[f"tune_{name}"] = control.tuned
        if control.tuned and control.values is not None:
            values[f"{name}_set"] = control.values
            if hyperparams.REGISTRY[name].kind != "choice":
                values[f"{name}_mode"] = "values"
        elif control.tuned:
            values[f"{name}_range"] = (control.low, control.high)
            values[f"{name}_log"] = bool(control.log)
        else:
            values[name] = control.value
    strategy = raw.get("strategy", {})
    values["strategy"] = strategy.get("type", "bayesian")
    for key in ("levels", "surrogate", "acquisition", "initial_points", "seed"):
        if key in strategy:
            values[key] = strategy[key]
    budget = raw.get("budget", {})
    values["trials"] = int(budget.get("trials", 10))
    values["minutes"] = float(budget.get("seconds") or 0) / 60
    values["budget_extras"] = {key: budget[key] for key in ("epochs",) if key in budget}
    parallel = raw.get("parallel", 1)
    values["parallel"] = parallel if isinstance(parallel, int) and parallel >= 1 else 1
    pruner = raw.get("pruner") if isinstance(raw.get("pruner"), dict) else {}
    values["pruner"] = pruner.get("type", "none")
    # Options with no widget (warm-ups, reduction factor...) ride along with the choice.
    values["pruner_options"] = {key: value for key, value in pruner.items() if key != "type"}
    extras = {key: objective[key] for key in OBJECTIVE_EXTRAS if key in objective}
    if isinstance(raw.get("space", {}).get("epochs"), dict) and "epochs" in objective:
        extras["epochs"] = objective["epochs"]  # the default a tuned range does not show
    values["objective_extras"] = extras
    values["loaded_names"] = list(raw.get("space", {}))
    return values


# Objective fields with no widget on the form, carried through from a loaded spec.
OBJECTIVE_EXTRAS = ("metric", "direction", "validation_split", "split")
# A table's fields ride along too (the form names the file in its folder field).
OBJECTIVE_EXTRAS += ("target", "task", "impute", "test_split")
UPLOAD_SOURCE = "The uploaded file"


def spec_from_upload(data: bytes) -> dict[str, Any]:
    """A spec file's bytes, validated exactly as the CLI validates a file, as the canonical
    spec document the form loads; raises :class:`SpecError` with one sentence."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{UPLOAD_SOURCE} is over {MAX_SPEC_BYTES // 1000:,} kB, too large for a spec."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{UPLOAD_SOURCE} is not UTF-8 text.") from None
    spec = parse_spec_text(text, UPLOAD_SOURCE)
    # A python objective (the user's own code) loads too, into New study's confirm step
    # (dashboard/user_code.py), never into the Keras form.
    if isinstance(spec.objective, FunctionObjectiveSpec):
        raise SpecError(
            f"objective.type: this page builds Keras studies and runs your own python ones; "
            f"run a {spec.objective.type} study with python -m tuning_core run."
        )
    return spec.to_json()
