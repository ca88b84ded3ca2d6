"""The docs describe every option that exists: each settings key (with its default and range), each
command-line option and ini key is in docs/configuration.md; the documents the README links to exist;
the report schema doc names every top-level field a report has."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def generator():
    spec = importlib.util.spec_from_file_location("generate_configuration", DOCS / "generate_configuration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIX = "docs/configuration.md is out of date: run `python docs/generate_configuration.py` and commit it"


def test_every_settings_key_is_in_the_configuration_reference_with_its_default_and_range():
    from pytest_mlguard.checks._registry import all_keys

    doc = (DOCS / "configuration.md").read_text()
    rows = [row for rows in generator().key_rows().values() for row in rows]
    assert len(rows) == len(all_keys())
    missing = [key.name for key in all_keys() if f"| `{key.name}` |" not in doc]
    assert not missing, f"{FIX}; missing keys: {missing}"
    stale = [row.split("|")[1].strip() for row in rows if row not in doc]
    assert not stale, f"{FIX}; keys whose default, range or help changed: {stale}"


def test_every_command_line_option_and_ini_key_is_in_the_configuration_reference():
    doc = (DOCS / "configuration.md").read_text()
    options, ini = generator().option_rows()
    assert any("--mlguard-compare-fail" in row for row in options)
    stale = [row for row in (*options, *ini) if row not in doc]
    assert not stale, f"{FIX}; options: {stale}"


def test_ranges_come_from_the_parsers():
    from pytest_mlguard.checks._registry import all_keys

    keys = {key.name: key for key in all_keys()}
    module = generator()
    assert module.value_range(keys["seed"]) == "an integer in [0, 4294967295]"
    assert module.value_range(keys["samples"]) == "none, or an integer in [1, inf]"
    assert module.value_range(keys["baseline.compare_fail"]).startswith("a list of METRIC:TOLERANCE")
    assert module.toml_value(keys["accuracy.floor"].default) == "0.5*above_chance"


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text()))))
def test_documents_the_readme_links_to_exist(link):
    assert (ROOT / link).exists(), f"README.md links to {link}, which does not exist"


@pytest.mark.parametrize("name", ["model-contract.md", "configuration.md", "report-schema.md", "score.md", "quickstart.md", "fixtures.md", "ci.md", "baselines.md"])
def test_core_documents_exist_and_are_linked_from_the_index(name):
    assert (DOCS / name).is_file()
    assert f"({name})" in (DOCS / "index.md").read_text()


def test_report_schema_documents_every_field_a_report_has(tmp_path):
    from pytest_mlguard._baseline.compare import compare_runs
    from pytest_mlguard.checks._base import CheckResult, CheckSpec, Measurement
    from pytest_mlguard.config import Threshold
    from pytest_mlguard.reporting import build_report

    result = CheckResult.from_measurement(CheckSpec("accuracy", None, "accuracy", Threshold(0.5)), "m", Measurement(0.9, 10), seed=0, duration_s=0.1)
    report = build_report([result.to_dict()], seed=0, samples=None, models={"m": {}})
    report["comparison"] = compare_runs(report, dict(report, name="main"))
    doc = (DOCS / "report-schema.md").read_text()
    fields = set(report) | set(report["checks"][0]) | set(report["comparison"]) | set(report["comparison"]["rows"][0]) | {"floor", "ceiling"}
    fields |= set(report["score_components"]["m"]) | set(report["summary"])
    missing = sorted(f for f in fields if f"`{f}`" not in doc)
    assert not missing, f"docs/report-schema.md does not describe {missing}"
