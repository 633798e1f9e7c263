"""The layers' import rules, read from the source: what each package may import.

- ``tuning_core`` never imports streamlit.
- ``engine/``: no TensorFlow/Keras, pandas, Altair; nothing from the other layers.
- ``training/``: the only package that imports Keras, and only through
  ``training/keras_runtime.py`` (which keeps TensorFlow's start-up chatter off the terminal).
- ``reports/`` (read side) and ``views/`` (page logic): no Keras; views may read data files
  through ``training.datasets``, which never loads Keras at import.
- ``workers.py`` (the dashboard's launcher of worker processes): only the engine, no Dask.
- ``pages/`` and ``dashboard/`` (the UI process): never Keras or the Keras modules of training.
- No import cycles between tuning_core modules, lazy imports included.
- SQL only in the ``engine/storage/`` package: nothing else writes a statement or reaches a
  store's connection; everything else calls the named methods that ``StudyStore`` lists.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env
from tuning_core.engine import hyperparams

KERAS = {"keras", "tensorflow"}
# Modules of the training package that load Keras when imported.
KERAS_MODULES = {
    "tuning_core.training.keras_runtime",
    "tuning_core.training.keras_objective",
    "tuning_core.training.keras_fit",
    "tuning_core.training.lr_find",
    "tuning_core.training.user_model",
    "tuning_core.training.table_objective",
}

# package -> (third-party roots it must not import, tuning_core modules it may import)
RULES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "tuning_core.engine": (KERAS | {"pandas", "altair", "streamlit"}, ("tuning_core.engine",)),
    "tuning_core.training": (
        {"pandas", "altair", "streamlit"},
        ("tuning_core.engine", "tuning_core.training"),
    ),
    "tuning_core.reports": (
        KERAS | {"streamlit"},
        (
            "tuning_core.engine",
            "tuning_core.reports",
            "tuning_core.training.keras_runtime",
            # The exported Keras scripts copy the loader and the split from their source.
            "tuning_core.training.datasets",
            "tuning_core.training.tables",
        ),
    ),
    "tuning_core.views": (
        KERAS | {"streamlit"},
        (
            "tuning_core.engine",
            "tuning_core.reports",
            "tuning_core.views",
            "tuning_core.training.datasets",
            # The New-study form reads an uploaded table as the worker will (no Keras).
            "tuning_core.training.tables",
            # The form checks a Dask address and a table's folder as the launcher will.
            "tuning_core.workers",
        ),
    ),
    # Starts `python -m tuning_core` processes; the dashboard imports it, so it stays light.
    "tuning_core.workers": (
        KERAS | {"pandas", "altair", "streamlit", "dask", "distributed"},
        ("tuning_core.engine",),
    ),
    "tuning_core.cli": ({"streamlit"} | KERAS, ("tuning_core",)),
    # The public API: a client of the engine; Keras only through training's modules.
    "tuning_core.api": ({"streamlit"} | KERAS, ("tuning_core",)),
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # "from tuning_core.training import datasets" imports a module, not a name.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _internal(imported: set[str], modules: set[str]) -> set[str]:
    return {name for name in imported if name in modules}


ALL_MODULES = {module_name(path) for path in _sources("tuning_core")}


def test_every_module_follows_its_package_rules() -> None:
    broken = []
    for path in _sources("tuning_core"):
        name = module_name(path)
        rule = next((RULES[p] for p in RULES if name == p or name.startswith(p + ".")), None)
        if rule is None:
            continue
        forbidden, allowed = rule
        imported = imports_of(path)
        for module in imported:
            root = module.split(".")[0]
            if root in forbidden:
                broken.append(f"{name} imports {module}")
        for module in _internal(imported, ALL_MODULES) - {name}:
            # Importing an allowed module's parent package (its __init__) is allowed too.
            if not any(
                module == a or module.startswith(a + ".") or a.startswith(module + ".")
                for a in allowed
            ):
                broken.append(f"{name} imports {module}")
    assert not broken, "\n".join(sorted(broken))


def test_only_keras_runtime_imports_keras() -> None:
    importers = [
        module_name(path)
        for path in _sources("tuning_core")
        if any(module.split(".")[0] in KERAS for module in imports_of(path))
    ]
    assert importers == ["tuning_core.training.keras_runtime"]


def test_nothing_outside_tuning_core_imports_streamlit_into_it() -> None:
    streamlit_users = [
        module_name(path)
        for path in _sources("tuning_core")
        if any(module.split(".")[0] == "streamlit" for module in imports_of(path))
    ]
    assert streamlit_users == []


def test_the_ui_process_never_reaches_keras() -> None:
    broken = []
    for path in [ROOT / "app.py", *_sources("pages", "dashboard")]:
        for module in imports_of(path):
            if module.split(".")[0] in KERAS or module in KERAS_MODULES:
                broken.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not broken, "\n".join(broken)


def test_no_import_cycles() -> None:
    graph = {
        module_name(path): _internal(imports_of(path), ALL_MODULES) - {module_name(path)}
        for path in _sources("tuning_core")
    }
    # A package's __init__ is imported with its modules; that edge is not a cycle of ours.
    graph = {
        name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()
    }
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for dependency in graph.get(node, ()):
            if dependency in trail:
                cycles.append(" -> ".join([*trail[trail.index(dependency) :], dependency]))
            elif dependency not in done:
                visit(dependency, [*trail, dependency])
        done.add(node)

    done: set[str] = set()
    for start in graph:
        if start not in done:
            visit(start, [start])
    assert not cycles, "\n".join(sorted(set(cycles)))


@pytest.mark.parametrize(
    "module",
    [
        "tuning_core.training.datasets",
        "tuning_core.training.tables",
        "tuning_core.views.forms",
        "tuning_core.reports.keras_script",
        "tuning_core.cli",
        "tuning_core.workers",
    ],
)
@pytest.mark.subprocess
def test_light_modules_load_no_keras_when_imported(module: str) -> None:
    probe = f"import sys, {module}; print(sorted(KERAS & set(sys.modules)))".replace(
        "KERAS", "{'keras', 'tensorflow'}"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=cli_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# A page's logic and charts in files that say what they hold: charts.py had grown to 1,359
# lines of 25 charts for four pages before it was split by page. The largest today are
# forms.py and why_charts.py, just over 600.
VIEWS_MAX_LINES = 650


def test_no_views_module_grows_past_its_limit() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in _sources("tuning_core/views")
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > VIEWS_MAX_LINES}
    assert not too_long, f"over {VIEWS_MAX_LINES} lines, split by what they hold: {too_long}"


def test_the_new_study_form_never_opens_a_store() -> None:
    """views/forms.py is page logic: what the store says against a start is read by the page
    (reports/start_check.py) and passed in."""
    forms = ROOT / "tuning_core" / "views" / "forms.py"
    assert "tuning_core.engine.storage" not in imports_of(forms)
    assert "Store(" not in forms.read_text(encoding="utf-8")


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    # The checker itself must see lazy imports and "from package import module" forms.
    source = tmp_path / "sample.py"
    source.write_text(
        "def f():\n    import keras\n\nfrom tuning_core.training import keras_objective\n"
    )
    found = imports_of(source)
    assert "keras" in found and "tuning_core.training.keras_objective" in found
    assert hyperparams.REGISTRY  # the engine package imports cleanly in the test process


def _outside_pruners() -> list[Path]:
    """The sources that must not hold a pruner's rule or words: everything but its package."""
    pruners = ROOT / "tuning_core" / "engine" / "pruners"
    return [
        path
        for path in [ROOT / "app.py", *_sources("tuning_core", "pages", "dashboard")]
        if pruners not in path.parents
    ]


def test_each_pruner_is_defined_once() -> None:
    """A rule's label, help and race words, its rungs and its median live in its class
    (engine/pruners/): no table keyed by rule, no copy of its words, no second cut-off."""
    from tuning_core.engine.pruners import PRUNERS, Pruner

    words = {
        text
        for kind in PRUNERS
        if kind != "none"
        for text in (Pruner.types[kind].label, Pruner.types[kind].help)
    }
    broken = []
    for path in _outside_pruners():
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys & set(PRUNERS)) >= 2:
                    broken.append(f"{where}:{node.lineno} a table keyed by pruner type")
            elif isinstance(node, ast.Constant) and node.value in words:
                broken.append(f"{where}:{node.lineno} repeats {node.value!r}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                part in node.name for part in ("rung", "median", "cutoff")
            ):
                broken.append(f"{where}:{node.lineno} defines {node.name}")
    assert not broken, "\n".join(broken)


# The Keras constructors of the built-in models (layers, input, optimizers, regularizer,
# metrics): only the model plan names them; training calls them and the scripts print them
# from the plan, so the layer sequence is written once.
PLAN_CONSTRUCTORS = (
    "Dense|Conv2D|Dropout|MaxPooling2D|AveragePooling2D|Flatten|Input|SGD|Adam|RMSprop|L2"
    "|AUC|BinaryAccuracy|MeanAbsoluteError|RootMeanSquaredError"
)


def test_the_built_in_models_layers_are_written_once() -> None:
    plan = ROOT / "tuning_core" / "engine" / "model_plan.py"
    spelled = re.compile(
        rf"\b(keras\.|layers\.|optimizers\.|regularizers\.|metrics\.)({PLAN_CONSTRUCTORS})\b"
    )
    broken = []
    for path in _sources("tuning_core"):
        if path == plan:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and re.fullmatch(PLAN_CONSTRUCTORS, node.attr):
                broken.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {node.attr}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and (match := spelled.search(node.value))
            ):
                broken.append(f"{path.relative_to(ROOT)}:{node.lineno} spells {match[0]}")
    assert not broken, "\n".join(broken)
    # The scripts print the plan through one renderer; training builds it through another.
    source = "tuning_core.reports.model_source"
    for script in ("keras_script.py", "table_script.py"):
        assert source in imports_of(ROOT / "tuning_core" / "reports" / script), script
    objective = ROOT / "tuning_core" / "training" / "keras_objective.py"
    assert "tuning_core.engine.model_plan" in imports_of(objective)


# SQL that reads or changes a store's tables (not a word such as "update" in a sentence).
STORE_SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s(OR\s\w+\s)?INTO|UPDATE\s\w+\sSET|DELETE\sFROM"
    r"|CREATE\s(TABLE|INDEX|TRIGGER|VIEW)|PRAGMA\s)",
    re.S,
)
# A store's SQLite connection and its raw statements; only Store itself reaches them.
STORE_INTERNALS = {"connection", "_write", "_read", "execute", "executemany", "executescript"}


def _store_sql(source: str) -> list[str]:
    """Where ``source`` writes SQL or reaches a store's connection: "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in STORE_INTERNALS:
            own = isinstance(node.value, ast.Name) and node.value.id == "self"
            if not (node.attr == "_read" and own):  # a class's own _read (api.Study's)
                found.append(f"{node.lineno}: reaches .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (match := STORE_SQL.search(node.value))
        ):
            found.append(f"{node.lineno}: writes SQL {match[0][:40]!r}")
    return found


STORAGE = ROOT / "tuning_core" / "engine" / "storage"


def _sql_outside_the_store(sources: dict[Path, str]) -> list[str]:
    """Each statement written or connection reached outside engine/storage/, as
    "path:line: what", given each file's path and text."""
    return [
        f"{path.relative_to(ROOT)}:{found}"
        for path, source in sources.items()
        if STORAGE not in path.parents
        for found in _store_sql(source)
    ]


def test_only_the_store_speaks_sql() -> None:
    """Every statement lives in the engine/storage/ package, behind a named Store method
    (StudyStore lists them): no other module of the library, the dashboard or the pages writes
    SQL or reaches a store's connection. Tests and benchmarks may."""
    paths = [*_sources("tuning_core", "dashboard", "pages"), ROOT / "app.py"]
    assert any(STORAGE in path.parents for path in paths)  # the package is where it says
    broken = _sql_outside_the_store({path: path.read_text(encoding="utf-8") for path in paths})
    assert not broken, "\n".join(broken)
    # What the rule catches: the race module's old writes and the race page's own query.
    old = (
        'store._write("UPDATE races SET stop_requested = 1 WHERE id = ?", (race_id,))\n'
        "row = store.connection.execute(\n"
        '    f"""SELECT count(*), max(t.finished_at)\n FROM studies s WHERE s.name IN ({m})"""\n'
        ").fetchone()\n"
        'note = "update the study when the run ends"\n'
    )
    found = _store_sql(old)
    assert {line.split(":")[0] for line in found} == {"1", "2", "3"}, found  # not line 5
    assert sum("writes SQL" in line for line in found) == 2, found
    # Only the package's own modules may: not a module beside it that merely starts alike.
    where = {
        STORAGE / "races.py": old,
        ROOT / "tuning_core" / "engine" / "storage_extra.py": old,
        ROOT / "dashboard" / "races.py": old,
    }
    flagged = {line.split(":")[0] for line in _sql_outside_the_store(where)}
    assert flagged == {"tuning_core/engine/storage_extra.py", "dashboard/races.py"}, flagged


# The UI process reaches the store through one read model (issue 24 §3): a page or a fragment
# makes one ReadModel a run and asks it everything, so the store is opened once a run instead
# of once a helper, and no page walks storage and frames itself.
READ_MODEL = ROOT / "dashboard" / "read_model.py"
# What opens, types or takes a store: the storage package and its protocol, and the read
# side's functions that are handed an open store or open one themselves.
STORE_DOORS = (
    "tuning_core.engine.storage",
    "tuning_core.engine.store_protocol",
    "tuning_core.engine.records",
    "tuning_core.engine.audit",
    "tuning_core.engine.race",
    "tuning_core.engine.explain.explain",
    "tuning_core.reports.export",
    "tuning_core.reports.start_check",
    "tuning_core.reports.keras_script.keras_script",
    "tuning_core.reports.recording.replay",
    "tuning_core.reports.recording.delete_replayed",
)


def _store_access(path: Path) -> list[str]:
    """Where ``path`` opens or names a Store, or imports a way into one: "path:line what"."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"imports {module}"
        for module in imports_of(path)
        if any(module == door or module.startswith(door + ".") for door in STORE_DOORS)
    ]
    found += [
        f"{node.lineno} names Store"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "Store")
        or (isinstance(node, ast.Attribute) and node.attr == "Store")
    ]
    return [f"{path.name}: {what}" for what in found]


def _ui_sources() -> list[Path]:
    return [ROOT / "app.py", *_sources("pages", "dashboard")]


def test_pages_and_the_dashboard_reach_the_store_only_through_the_read_model(
    tmp_path: Path,
) -> None:
    broken = [
        found for path in _ui_sources() if path != READ_MODEL for found in _store_access(path)
    ]
    assert not broken, "\n".join(broken)
    assert _store_access(READ_MODEL), "the read model is where the store is opened"
    # What the rule catches: the old helpers' own opens and the Studies page's exports.
    old = tmp_path / "old_data.py"
    old.write_text(
        "from tuning_core.engine.storage import Store, StudyRecord\n"
        "from tuning_core.reports import export\n"
        "from tuning_core.reports.keras_script import keras_script\n"
        "def study_asks(path, study_id):\n"
        "    with Store(path) as store:\n"
        "        return store.asks(study_id)\n"
    )
    found = _store_access(old)
    assert {
        "old_data.py: imports tuning_core.engine.storage",
        "old_data.py: imports tuning_core.reports.export",
        "old_data.py: imports tuning_core.reports.keras_script.keras_script",
        "old_data.py: 5 names Store",
    } <= set(found), found


def _engine_imports(path: Path) -> set[str]:
    """The tuning_core.engine modules ``path`` imports (a name imported from a module counts
    as its module; the bare package, which holds no names, is left out)."""
    modules = set()
    for name in imports_of(path):
        if not name.startswith("tuning_core.engine."):
            continue
        while name not in ALL_MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        modules.add(name)
    return modules


def test_pages_import_nothing_from_the_engine(tmp_path: Path) -> None:
    """Pages hold layout: what they name of the engine comes through dashboard/ (vocabulary.py,
    the read model), so the engine's modules can move without touching a page."""
    broken = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in [ROOT / "app.py", *_sources("pages")]
        for module in _engine_imports(path)
    }
    assert not broken, "\n".join(sorted(broken))
    page = tmp_path / "page.py"
    page.write_text(
        "def view():\n    from tuning_core.engine.states import StudyStatus\n"
        "from tuning_core.engine import hyperparams\n"
    )
    assert _engine_imports(page) == {
        "tuning_core.engine.states",
        "tuning_core.engine.hyperparams",
    }


# The engine modules dashboard/ may import, and why each is public enough for the UI:
DASHBOARD_ENGINE_MODULES = {
    # SpecError and friends: the one sentence a page shows for bad input.
    "tuning_core.engine.errors",
    # TrialState, StudyStatus: the words every page compares trials and studies by.
    "tuning_core.engine.states",
    # StudySpec and the choices a spec offers (strategies, surrogates, limits) for the forms.
    "tuning_core.engine.spec",
    # The hyperparameter registry the New-study form and the lab are drawn from.
    "tuning_core.engine.hyperparams",
    # The pruner classes' list, labels and help, for the New-study form.
    "tuning_core.engine.pruners",
    # A race spec's parse and its seed limit, checked before Start.
    "tuning_core.engine.race_spec",
    # The table tasks a CSV can be trained for.
    "tuning_core.engine.tasks",
    # Why this point? for a lesson's recorded asks, built ahead (why_data.py, lazily: both
    # load scikit-optimize).
    "tuning_core.engine.explain",
    "tuning_core.engine.strategies",
}
# The read model alone adds the store and the engine's readers of a store.
READ_MODEL_ENGINE_MODULES = DASHBOARD_ENGINE_MODULES | {
    "tuning_core.engine.storage",
    "tuning_core.engine.records",
    "tuning_core.engine.audit",
    "tuning_core.engine.race",
}


def _outside_the_list(path: Path) -> set[str]:
    """The engine modules ``path`` imports beyond its list, as "name imports module"."""
    allowed = READ_MODEL_ENGINE_MODULES if path == READ_MODEL else DASHBOARD_ENGINE_MODULES
    return {f"{path.name} imports {m}" for m in _engine_imports(path) - allowed}


def test_the_dashboard_imports_only_the_listed_engine_modules(tmp_path: Path) -> None:
    broken = set().union(*(_outside_the_list(path) for path in _sources("dashboard")))
    assert not broken, "\n".join(sorted(broken))
    # Every listed module is in use: a list that outgrew its code would allow too much.
    used = set().union(*(_engine_imports(path) for path in _sources("dashboard")))
    assert used == READ_MODEL_ENGINE_MODULES, READ_MODEL_ENGINE_MODULES ^ used
    # What the rule catches: a helper beside the read model asking the engine's readers itself.
    helper = tmp_path / "helper.py"
    helper.write_text(
        "from tuning_core.engine.records import worker_running\n"
        "from tuning_core.engine.errors import SpecError\n"
    )
    assert _outside_the_list(helper) == {"helper.py imports tuning_core.engine.records"}


# One idea a module: dashboard/data.py had grown to 616 lines of reads, live rows and charts.
DASHBOARD_MAX_LINES = 400


def test_no_dashboard_module_grows_past_its_limit() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in _sources("dashboard")
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > DASHBOARD_MAX_LINES}
    assert not too_long, f"over {DASHBOARD_MAX_LINES} lines, split by what they hold: {too_long}"
