"""The repository stands on its own: tests and benchmarks read nothing outside it."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

from tests.conftest import MNIST_DIR, ROOT
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.spec import parse_spec

# Published with the MNIST distribution (see tests/data/mnist/README.md).
MNIST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}
# Anything that would reach the team's folder beside the checkout: its relative path, or a
# path built from ROOT.parent / parents[2] and its name. Samples below are assembled from
# parts, so that this file does not itself read as such a path.
BESIDE = "sha" + "red"
OUTSIDE_THE_REPOSITORY = re.compile(
    r"\.\./shared|parent\S*\s*/\s*[\"']shared[\"']|[\"']shared[\"']\s*/"
)


def test_no_test_or_benchmark_reads_outside_the_repository() -> None:
    offenders = []
    for folder in ("tests", "benchmarks", "pages", "dashboard", "tuning_core"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "test_repository.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if OUTSIDE_THE_REPOSITORY.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "reads outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_the_ways_a_path_reaches_shared() -> None:
    for line in (
        f'MNIST = "../{BESIDE}/data/mnist"',
        f'MNIST_DIR = ROOT.parent / "{BESIDE}" / "data" / "mnist"',
        f'Path(__file__).resolve().parents[2] / "{BESIDE}" / "data"',
    ):
        assert OUTSIDE_THE_REPOSITORY.search(line), line
    assert not OUTSIDE_THE_REPOSITORY.search('MNIST_DIR = ROOT / "tests" / "data" / "mnist"')


def test_the_carried_mnist_copy_is_the_real_test_split() -> None:
    for name, expected in MNIST_MD5.items():
        with gzip.open(MNIST_DIR / name, "rb") as handle:
            assert hashlib.md5(handle.read()).hexdigest() == expected, name
    readme = (MNIST_DIR / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_commands = [block for block in blocks if "pytest" in block]
    assert len(test_commands) == 1, "the README has one command that installs and runs every test"
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_commands[0] in ci_lines
    assert (
        "requirements-dev.txt" in test_commands[0]
        and "apt-get install -y -qq chromium" in test_commands[0]
    )


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documented_spec_examples_are_accepted() -> None:
    """A reader copies the JSON of the README and docs/: every study and race spec must parse."""
    kinds = set()
    for document in _documents():
        text = document.read_text(encoding="utf-8")
        for block in re.findall(r"```json\n(.*?)\n```", text, re.S):
            example = json.loads(block)
            if "strategies" in example:
                kinds.add(type(parse_race_spec(example)).__name__)
            elif "name" in example:
                kinds.add(type(parse_spec(example)).__name__)
    assert kinds == {"RaceSpec", "StudySpec"}


def test_the_readme_quick_start_is_the_example_the_tests_run() -> None:
    """The README's "Tune your own model" code is examples/own_model_api.py, which
    tests/test_examples.py runs: every line of it but the imports is there as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)\n```", readme, re.S)
    example = (ROOT / "examples" / "own_model_api.py").read_text(encoding="utf-8").splitlines()
    body = [
        line
        for line in code.splitlines()
        if line.strip() and not line.startswith(("import", "from"))
    ]
    assert len(body) >= 10
    missing = [line for line in body if line not in example]
    assert not missing, missing
    assert len([line for line in code.splitlines() if line.strip()]) <= 15


def test_the_readme_links_resolve() -> None:
    for document in _documents():
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (document.parent / target).exists(), f"{document.name} links {target}"
