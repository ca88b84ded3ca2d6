"""A family is one folder: the budget and report.html read what a family declares and name none, so a
family written in a folder of its own (here a temporary one) is budgeted and drawn without a change
anywhere else."""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import pytest

import pytest_mlguard
from pytest_mlguard.checks._registry import FAMILIES, all_keys, families, use_families
from pytest_mlguard.config._settings import resolve

PACKAGE = Path(pytest_mlguard.__file__).parent
#: the modules that read what families declare (their costs, their figures)
READERS = ("pytest_mlguard/_budget.py", "pytest_mlguard/reporting/_html.py")


def string_constants(path: Path) -> set[str]:
    """The string literals of the module at ``path``, its docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings}


@pytest.mark.parametrize("module", READERS)
def test_the_modules_that_read_families_name_none(module):
    named = {family.name for family in FAMILIES} & string_constants(PACKAGE.parent / module)
    assert not named, f"{module} names the families {sorted(named)}: declare what it needs on the Family (checks/_family.py)"


#: a family in a folder of its own: a cheap check, a search that applies to record pipelines only, a
#: check that reruns the corruption checks on two models, a kind timed on its own, and a figure
SLOW_FAMILY = """
from pytest_mlguard.checks import CheckSpec, Family, Measurement, Plot
from pytest_mlguard.config import Key, Threshold
from pytest_mlguard.config.parse import parse_number

CHECKS = ("quick", "search", "both", "file")


def plan(settings):
    return [CheckSpec("slow", name, "accuracy", Threshold(0.5), params=(("kind", name),)) for name in CHECKS]


FAMILY = Family(
    name="slow",
    keys=(Key("slow.search_seconds", parse_number(0.0, 1000.0), 40.0, "how long a search runs"),),
    plan=plan,
    run=lambda spec, evaluation: Measurement(value=1.0, n=1),
    rank=1,
    rank_of=lambda spec: 9 if spec.name == "search" else None,
    prior_seconds=2.0,
    timed_as=lambda spec: "file" if spec.name == "file" else None,
    searches=lambda spec: spec.name == "search",
    search_seconds=lambda settings: settings.get("slow.search_seconds"),
    applies=lambda spec, pipeline_input: spec.name != "search" or pipeline_input == "record",
    reruns=lambda spec: ("corruption",) if spec.name == "both" else None,
    plots=Plot("slow_family.figures:draw", kind="slow-curve", absent="No slow curve: no slow check ran.", order=0),
)
"""

FIGURES = """
def draw(model, checks):
    return [{"png": "iVBORw0KGgo=", "alt": f"slow checks of {model}: {len(checks)}", "caption": "the slow checks"}]
"""


@pytest.fixture
def slow_family(tmp_path, monkeypatch):
    folder = tmp_path / "slow_family"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent(SLOW_FAMILY))
    (folder / "figures.py").write_text(textwrap.dedent(FIGURES))
    monkeypatch.syspath_prepend(str(tmp_path))
    from slow_family import FAMILY

    use_families([FAMILY])
    families()  # registers the run's families, as the plugin's pytest_configure does
    yield FAMILY
    use_families(())
    families()
    for name in ("slow_family", "slow_family.figures"):
        sys.modules.pop(name, None)


def test_a_family_in_its_own_folder_is_budgeted_by_what_it_declares(slow_family):
    from pytest_mlguard._budget import Budget, rank
    from pytest_mlguard.checks._registry import family

    settings = resolve(cli={"budget": "100s", "slow.search_seconds": "30"}, environ={}, keys=all_keys())
    quick, search, both, file = slow_family.plan(settings)
    accuracy, noise = family("accuracy").plan(settings)[0], family("corruption").plan(settings)[0]
    assert sorted([search, quick, accuracy], key=rank) == [accuracy, quick, search]  # rank, rank_of
    plan = Budget.from_settings(settings, start=0.0)
    plan.clock = lambda: 0.0
    assert plan.search_seconds == {"inputs": 120.0, "slow": 30.0}  # search_seconds, from the family's own key
    plan.pending = plan.planned = {f"node::{spec.id}": spec for spec in (accuracy, noise, quick, search, both, file)}
    assert plan.searches(search) and plan.estimate(search, 100) == 2.0  # prior_seconds, under the cap
    plan.pipeline_input = "image-bytes"
    assert not plan.searches(search) and plan.estimate(search, 100) == 0.0  # applies: record pipelines only
    plan.pipeline_input = "record"
    assert plan.limits(f"node::{search.id}", search, 100).seconds == 30.0  # the others fit: the search takes its cap
    plan.measure(forwards=1000, seconds=1.0)
    assert plan.estimate(noise, 100) == pytest.approx(0.8)  # 8 forward passes a sample, 1 ms each
    assert plan.estimate(both, 100) == pytest.approx(2 * 0.8)  # reruns the corruption check on both models
    plan.done(f"node::{file.id}", file, None, 0.0, None, 100)
    from pytest_mlguard.checks._base import CheckResult

    done = CheckResult(file.id, "m", "slow", "accuracy", 1.0, 0.5, "0.5", "floor", 1, True, 0, 0.0)
    plan.done(f"node::{file.id}", file, done, 7.0, None, 100)
    assert plan.estimate(file, 100) == 7.0 and plan.estimate(quick, 100) == 2.0  # timed_as: the file kind apart


def test_a_family_in_its_own_folder_is_drawn_in_report_html_by_what_it_declares(slow_family, tmp_path):
    from pytest_mlguard.reporting import build_report
    from pytest_mlguard.reporting._html import render_html

    check = {"id": "slow[quick]", "model": "m", "family": "slow", "metric": "accuracy", "value": 1.0, "floor": 0.5,
             "threshold": "0.5", "n": 1, "passed": True, "seed": 0, "duration_s": 0.1, "details": {}}
    report = build_report([check], seed=0, samples=None, models={})
    page = render_html(report, tmp_path)
    assert page.index('data-plot="slow-curve"') < page.index("No reliability diagram")  # order 0: first
    assert 'alt="slow checks of m: 1"' in page and "No slow curve" not in page
    other = build_report([{**check, "id": "accuracy", "family": "accuracy"}], seed=0, samples=None, models={})
    assert "slow-curve" not in (page := render_html(other, tmp_path)) and "No slow curve: no slow check ran." in page


#: the modules outside the families' folders allowed to name a built-in family, and why
NAMING_ALLOWED = {
    "pytest_mlguard/fixture.py": {"attack"},  # the public `mlguard.attack(...)` of the fixture (importing from the family lazily)
    "pytest_mlguard/reporting/plots.py": {"accuracy", "attack", "corruption"},  # the public figures of those families' checks, which read their details
    "pytest_mlguard/reporting/_robustness_plots.py": {"accuracy", "attack", "corruption"},  # plots.py's corruption and attack figures, split from it
    "pytest_mlguard/_verdicts/simulation.py": {"accuracy", "calibration", "corruption"},  # simulates named built-in checks, through the registry
    "pytest_mlguard/_names.py": {"contract"},  # report.json's error kind of a broken declaration, not the family
    "pytest_mlguard/config/_settings.py": {"detection"},  # the `task` setting's value, not the family
    "pytest_mlguard/detection/_run.py": {"attack", "corruption"},  # a detector's runs of those families' checks: their params and details
    "pytest_mlguard/detection/_ece.py": {"accuracy"},  # the reliability bins' key that the calibration figure reads
}


def family_folders() -> set[str]:
    """The top-level folders of the package that hold a built-in family (where its ``run`` lives)."""
    return {family.run.split(":")[0].split(".")[1] for family in FAMILIES if isinstance(family.run, str)}


def test_no_module_outside_the_families_folders_names_a_built_in_family():
    names, folders = {family.name for family in FAMILIES}, family_folders()
    assert len(folders) > 5 and all((PACKAGE / folder / "__init__.py").is_file() for folder in folders)
    named = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        found = names & string_constants(path)
        if relative.parts[1] not in folders and found - NAMING_ALLOWED.get(relative.as_posix(), set()):
            named[relative.as_posix()] = sorted(found)
    assert not named, f"modules outside the families' folders name families: {named}; declare it on the Family (checks/_family.py)"


REFERENCE_FAMILY = """
from pytest_mlguard.checks import Family, Measurement

clean = Family(name="clean", keys=(), plan=lambda settings: [], run=lambda spec, evaluation: Measurement(value=1.0, n=1), clean_reference=True)
precondition = Family(name="precondition", keys=(), plan=lambda settings: [], run=lambda spec, evaluation: Measurement(value=1.0, n=1), scored=False)
"""


@pytest.fixture
def score_families(tmp_path, monkeypatch):
    folder = tmp_path / "score_families"
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent(REFERENCE_FAMILY))
    monkeypatch.syspath_prepend(str(tmp_path))
    from score_families import clean, precondition

    from pytest_mlguard.checks._registry import families

    use_families([clean, precondition])
    families()
    yield clean, precondition
    use_families(())
    families()
    sys.modules.pop("score_families", None)


def test_a_family_in_its_own_folder_is_scored_by_what_it_declares(score_families):
    """A family declared ``clean_reference`` is scored as measured (not relative to the clean accuracy its
    checks carry), one declared not ``scored`` counts only where ``score.weights`` names it, and
    ``score.weights`` says so in its help."""
    from pytest_mlguard.reporting._score import robustness_score

    def check(family, value):
        return {"model": "m", "family": family, "metric": "accuracy", "value": value, "floor": 0.5, "details": {"clean_accuracy": 0.5}}

    components = robustness_score([check("clean", 0.8), check("precondition", 0.0), check("corruption", 0.4)])["models"]["m"]["components"]
    assert components == {"clean": 0.8, "corruption": 0.8}  # corruption: 0.4 relative to 0.5
    weighted = robustness_score([check("clean", 0.8), check("precondition", 0.0)], {"precondition": 1.0})
    assert weighted["models"]["m"]["components"] == {"clean": 0.8, "precondition": 0.0}
    (weights,) = [key for key in all_keys() if key.name == "score.weights"]
    assert "contract and precondition count only when named here" in weights.help


def test_reports_outside_a_run_order_and_score_by_the_built_in_families():
    """A report built where no registry was loaded (a script rendering report.json) orders checks and
    scores them as the built-in families declare."""
    import subprocess

    code = (
        "import sys, json\n"
        "from pytest_mlguard.reporting._order import sort_key\n"
        "from pytest_mlguard.reporting._score import robustness_score\n"
        "checks = [{'model': 'm', 'family': f, 'id': f, 'metric': 'accuracy', 'value': 0.4, 'floor': 0.5, 'details': {'clean_accuracy': 0.5}}\n"
        "          for f in ('zeta', 'gate', 'corruption', 'contract', 'accuracy')]\n"
        "print(json.dumps([[c['family'] for c in sorted(checks, key=sort_key)], robustness_score(checks)['models']['m']['components'],\n"
        "                  'pytest_mlguard.checks._registry' in sys.modules]))\n"
    )
    order, components, registry = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent).stdout)
    assert order == ["contract", "accuracy", "corruption", "gate", "zeta"] and not registry
    assert components == {"accuracy": 0.4, "corruption": 0.8, "gate": 0.8, "zeta": 0.8}
