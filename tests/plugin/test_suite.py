"""The built-in suite as a user runs it: collection, node ids, -k, report, reproducibility."""

from __future__ import annotations

import pytest


def test_collects_one_item_per_check_with_readable_ids(project):
    result = project.write().run("--mlguard", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "conftest.py::mlguard::accuracy",
            "conftest.py::mlguard::corruption[[]gaussian_noise-3[]]",
            "conftest.py::mlguard::attack[[]fgsm-linf-0.1[]]",
            "conftest.py::mlguard::attack[[]pgd-linf-0.1[]]",
            "conftest.py::mlguard::calibration[[]ece[]]",
            "conftest.py::mlguard::inputs[[]corrupt-files[]]",
            "6 tests collected*",
        ]
    )


def test_without_flag_suite_is_not_collected_and_marked_tests_skip(project):
    project.write()
    project.pytester.makepyfile(
        test_unit="""
        import pytest
        def test_fast():
            assert True
        @pytest.mark.mlguard
        def test_robust(mlguard):
            assert False, "must not run without --mlguard"
        """
    )
    result = project.run("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*mlguard tests run only with --mlguard: run `pytest --mlguard`*"])
    assert not (project.pytester.path / "mlguard-report").exists()


@pytest.mark.slow
def test_full_run_writes_report_badge_and_summary_and_xdist_reports_the_same(project):
    result = project.write().run("--mlguard")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*= mlguard =*",
            "digits::accuracy *accuracy 0.9* >= floor 0.8500  n=120 * PASSED",
            "digits::calibration[[]ece[]] *ece 0.0* <= ceiling 0.0800 *PASSED",
            "robustness score of digits: *.*/100 (accuracy *",
            "written: report mlguard-report/report.json, badge mlguard-report/badge.svg",
        ]
    )
    report = project.report()
    assert report["schema"] == "pytest-mlguard/report/1" and report["seed"] == 0
    assert {c["family"] for c in report["checks"]} == {"accuracy", "corruption", "attack", "calibration", "inputs"}
    for check in report["checks"]:
        assert {"id", "model", "family", "metric", "value", "n", "passed"} <= set(check)
        assert ("floor" in check) != ("ceiling" in check)
    assert 0 <= report["score"] <= 100
    assert (project.pytester.path / "mlguard-report" / "badge.svg").read_text().startswith("<?xml")

    # the same run on two xdist workers reports the same
    project.run("--mlguard", "-n", "2", "--mlguard-output", "parallel").assert_outcomes(passed=6)
    parallel = project.report("parallel")
    # details hold the pipeline's own messages, which name object addresses: compare the metrics
    strip = lambda report: [{k: v for k, v in c.items() if k not in ("duration_s", "details")} for c in report["checks"]]  # noqa: E731
    assert strip(report) == strip(parallel)
    assert report["score"] == parallel["score"]


def test_k_selects_a_family_group(project):
    result = project.write().run("--mlguard", "-k", "noise or pgd")
    result.assert_outcomes(passed=2, deselected=4)
    assert {c["id"] for c in project.report()["checks"]} == {"corruption[gaussian_noise-3]", "attack[pgd-linf-0.1]"}


def test_same_seed_gives_identical_values_and_seed_changes_them(project):
    project.write()
    values = []
    for seed in ("0", "0", "1"):
        # ImageNet-C's noise flips some digits (CIFAR-10-C's, the default at 8 px, none at severity 3), so the seed shows
        args = ("--mlguard-seed", seed, "--mlguard-samples", "200", "--mlguard-set", "corruption.reference=imagenet-c")
        project.run("--mlguard", "-k", "corruption", *args).assert_outcomes(passed=1)
        values.append([c["value"] for c in project.report()["checks"]])
    assert values[0] == values[1]
    assert values[0] != values[2]


def test_failing_check_says_value_floor_n_seed_and_how_to_rerun(project):
    result = project.write().run("--mlguard", "-k", "accuracy", "--mlguard-set", "accuracy.floor=0.999")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "accuracy on model 'digits': accuracy 0.9* < floor 0.9990",
            "  measured on n=120 samples with seed=0; 99.*% clopper-pearson interval [[]0.9*, *[]]",
            "  rerun alone: pytest --mlguard conftest.py::mlguard::accuracy --mlguard-seed 0 --mlguard-set accuracy.floor=0.999",
        ]
    )
    rerun = project.run("--mlguard", "conftest.py::mlguard::accuracy", "--mlguard-set", "accuracy.floor=0.999")
    rerun.assert_outcomes(failed=1)


def test_parametrised_model_fixture_tests_each_model(project):
    project.write(params=["good_model", "linear_model"], pipeline=None)
    result = project.run("--mlguard", "-k", "pgd")
    result.assert_outcomes(passed=1, failed=1, deselected=8)
    result.stdout.fnmatch_lines(["FAILED conftest.py::mlguard::attack[[]pgd-linf-0.1-linear_model[]]*"])
    assert {c["model"] for c in project.report()["checks"]} == {"digits", "linear"}


def test_no_pipeline_means_no_inputs_item(project):
    result = project.write(pipeline=None).run("--mlguard", "--collect-only", "-q")
    assert "inputs" not in result.stdout.str()
    result.stdout.fnmatch_lines(["5 tests collected*"])
