"""benchmarks/bench_sharding.py checks that the merged report is the unsharded one before it prints a figure."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sharding.py"


def test_the_merged_report_is_compared_with_a_check_whose_value_is_nan(tmp_path):
    """report.json writes a NaN value (an unsound attack check, a model's NaN outputs) as null: the comparison
    raised TypeError on round(None, 8) instead of counting the check, or naming a difference."""
    checks = [{"id": "accuracy", "family": "accuracy", "value": 0.9, "verdict": "passed", "n": 60}, {"id": "attack[pgd-linf-0.1]", "family": "attack", "value": None, "verdict": "failed", "n": 48}]
    for name, value in (("whole", None), ("merged", None), ("other", 0.5)):
        (tmp_path / name).mkdir()
        report = {"checks": [*checks[:1], {**checks[1], "value": value}]}
        (tmp_path / name / "report.json").write_text(json.dumps(report))
    compare = runpy.run_path(str(BENCH), run_name="bench_sharding")["compare"]  # the module, not its main()
    assert compare(tmp_path / "whole", tmp_path / "merged") == 2
    with pytest.raises(SystemExit, match="the merged report differs from the unsharded one"):
        compare(tmp_path / "whole", tmp_path / "other")
