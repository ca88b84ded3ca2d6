"""Sharded runs merged into one report (docs/scale.md): the merge equals the unsharded run, and shards
that do not belong together are a usage error naming the shard."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Project

SHARDED = """
[tool.mlguard]
samples = 120
[tool.mlguard.verdict]
early_stop = "off"
more_samples = "off"
[tool.mlguard.accuracy]
floor = 0.85
[tool.mlguard.corruption]
floor = "0.7*clean"
corruptions = ["gaussian_noise", "fog"]
severities = [3]
[tool.mlguard.attack]
checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]
steps = 5
floor = 0.4
[tool.mlguard.calibration]
ece_ceiling = 0.08
[tool.mlguard.inputs]
enabled = false
[tool.mlguard.contract]
enabled = false
"""
#: what of a check the merge must reproduce (resources such as durations aside)
COMPARED = ("value", "n", "verdict", "passed", "interval", "required_n", "floor", "ceiling")


def checks(report: dict) -> dict:
    """The compared fields of each check. A proportion (accuracy) is exact; a metric of the model's
    probabilities (ECE) is rounded to 8 digits: a torch model's float outputs change in the last bits
    with the size of the batch a sample is predicted in (BLAS kernels), and 7 shards predict in smaller
    batches than one run."""

    def rounded(value):
        if isinstance(value, float):
            return round(value, 8)
        return {k: rounded(v) for k, v in value.items()} if isinstance(value, dict) else value

    return {check["id"]: {key: rounded(check.get(key)) for key in COMPARED} for check in report["checks"]}


def run_shards(project: Project, count: int, *extra: str) -> list[str]:
    directories = [f"shards/{index}" for index in range(count)]
    for index, directory in enumerate(directories):
        result = project.run("--mlguard", "--mlguard-shard", f"{index}/{count}", "--mlguard-output", directory, *extra)
        assert result.ret == 0, result.stdout.str()
    return directories


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_merge_equals_the_unsharded_run(project, count):
    project.write(pipeline=None, pyproject=SHARDED)
    whole = project.run("--mlguard", "--mlguard-output", "whole")
    assert whole.ret == 0, whole.stdout.str()
    run_shards(project, count)
    merged = project.run("--mlguard-merge", "shards", "--mlguard-output", "merged", "--junitxml", "merged.xml")
    assert merged.ret == 0, merged.stdout.str()
    expected, got = project.report("whole"), project.report("merged")
    assert checks(got) == checks(expected)
    assert len(expected["checks"]) == 6 and got["score"] == expected["score"] and got["summary"] == expected["summary"]
    accuracy = {c["id"]: c for c in got["checks"]}["accuracy"]
    assert accuracy["value"] == {c["id"]: c for c in expected["checks"]}["accuracy"]["value"]  # exact
    details = {c["id"]: c["details"] for c in got["checks"]}
    assert details["corruption[fog-3]"]["ece"] == pytest.approx({c["id"]: c["details"] for c in expected["checks"]}["corruption[fog-3]"]["ece"])
    properties = {p.get("name"): p.get("value") for p in ET.parse(project.pytester.path / "merged.xml").iter("property")}
    assert properties["mlguard_n"] == "120"  # JUnit XML properties of the merged checks


#: what of a check may differ between a merge and the run it reproduces: where, how long and in how many processes it ran
RESOURCES = ("duration_s", "details.artifacts", "details.shards", "details.workers")


def every_value(report: dict) -> dict:
    """Every field of each check, and the score and summary, resources (:data:`RESOURCES`) aside."""
    checks = {}
    for check in report["checks"]:
        check = {**check, "details": dict(check["details"])}
        for path in RESOURCES:
            head, _, tail = path.partition(".")
            (check[head] if tail else check).pop(tail or head, None)
        checks[check["id"]] = check
    return {"checks": checks, "score": report["score"], "summary": report["summary"]}


def differences(got, expected, path: str = "") -> list[str]:
    """Where ``got`` differs from ``expected``: each path, with both values."""
    if isinstance(got, dict) and isinstance(expected, dict):
        return [line for key in sorted(set(got) | set(expected), key=str) for line in differences(got.get(key), expected.get(key), f"{path}.{key}")]
    return [] if got == expected else [f"{path}: {got!r} where {expected!r}"]


def test_a_model_that_predicts_one_sample_at_a_time_is_merged_to_the_last_bit(project):
    """With outputs that do not depend on the batch (a batch of one, in the model and in the attacks), a
    merge of N shards reproduces every value of the unsharded run, continuous ones too, unrounded."""
    exact = SHARDED.replace("samples = 120", "samples = 60").replace("steps = 5", "steps = 3\nbatch_size = 1\nsamples = 20")
    project.write(model="per_sample_model", pipeline=None, pyproject=exact)
    quiet = ("--mlguard-set", "report.html=false")
    assert project.run("--mlguard", "--mlguard-output", "whole", *quiet).ret == 0
    expected = every_value(project.report("whole"))
    assert [check["n"] for check in expected["checks"].values()] == [60, 60, 60, 20, 20, 60]
    for count in (1, 2, 3, 7):
        shutil.rmtree(project.pytester.path / "shards", ignore_errors=True)
        run_shards(project, count, *quiet)
        merged = project.run("--mlguard-merge", "shards", "--mlguard-output", f"merged-{count}", *quiet)
        assert merged.ret == 0, merged.stdout.str()
        got = every_value(project.report(f"merged-{count}"))
        assert got == expected, (count, differences(got, expected))


#: test_attacks_suite's gradient-masked model, with a sweep at the fixed check's epsilon, the attacks only
def test_the_merge_shows_the_failing_inputs_the_unsharded_run_shows(project):
    """report.html's thumbnails of a failing attack check are the shards' flipped samples, put together in
    the unsharded order (the merge showed none: the shards' files stayed in their directories)."""
    from pytest_mlguard.reporting._examples import failing_examples

    project.write(pipeline=None, pyproject=SHARDED.replace("floor = 0.4", "floor = 0.9"))
    assert project.run("--mlguard", "-k", "attack", "--mlguard-output", "whole").ret == 1
    run_shards(project, 3, "-k", "attack")
    assert project.run("--mlguard-merge", "shards", "--mlguard-output", "merged").ret == 1

    def shown(output: str) -> list:
        groups = failing_examples(project.report(output), project.pytester.path / output)
        return [(group["check"], [(example.get("label"), example["png"]) for example in group["examples"]]) for group in groups]

    expected = shown("whole")
    assert [check for check, examples in expected if len(examples) == 6] == ["attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]"]
    assert shown("merged") == expected


def test_a_failing_check_fails_the_merge_not_the_shard(project):
    project.write(pipeline=None, pyproject=SHARDED.replace("floor = 0.85", "floor = 0.99").replace("floor = 0.4", "floor = 0.2"))
    strict = ("--mlguard-set", "verdict.policy=strict")
    run_shards(project, 2, *strict)  # a shard's verdicts are partial: it passes
    merged = project.run("--mlguard-merge", "shards/0", "shards/1", "--mlguard-output", "merged", *strict)
    assert merged.ret == 1
    merged.stdout.fnmatch_lines(["*accuracy on model 'digits': accuracy 0.9750 < floor 0.9900*"])
    assert project.report("merged")["summary"]["failed"] == 1


#: the three shards of SHARDED, run once for the tests that only merge them
_THREE: list[Path] = []


def three_shards(project: Project, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``shards/0`` to ``shards/2`` of SHARDED in the project: run by the first test, copied for the others."""
    if not _THREE:
        run_shards(project, 3)
        _THREE.append(tmp_path_factory.mktemp("three-shards") / "shards")
        shutil.copytree(project.pytester.path / "shards", _THREE[0])
    else:
        shutil.copytree(_THREE[0], project.pytester.path / "shards")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "shard 1/3 missing: given shard 0/3 (*shards/0/mlguard-shard.npz), shard 2/3 (*)"),
        ("duplicated", "shard 0/3 is given twice: */shards/0/mlguard-shard.npz and */shards/0/mlguard-shard.npz"),
        ("settings", "shard 2/3 (*) was run with other settings than this merge: samples=100 where 120 was expected; this merge read */pyproject.toml, the shard read */pyproject.toml (the same: *a profile);*"),
        ("profile", "shard 2/3 (*) was run with other settings than this merge: profile 'smoke' where this merge has profile (none); *(the same: *a profile)*"),
        ("seed", "shard 2/3 (*) was run with seed 5, shard 0/3 (*) with seed 0: every shard of a run needs one seed; rerun shard 2/3 with --mlguard-seed 0*"),
        ("model", "shard 2/3 (*) measured another model 'digits' than shard 0/3 (*): its fingerprint differs*; the model's weights, code or data differ between the shards: rerun every shard on one model"),
        ("model-name", "shard 2/3 (*) measured models ?'overconfident'?, shard 0/3 (*) models ?'digits'?"),
        ("count", "shard 1/2 (*) is one of 2 shards, shard 0/3 (*) one of 3"),
        ("nothing", "--mlguard-merge elsewhere: */elsewhere does not exist: expected the report directory of a --mlguard-shard run"),
        ("deeper", "--mlguard-merge .: * holds no mlguard-shard.npz, nor do its direct subdirectories (deeper ones hold shard statistics: under shards; give those directories to --mlguard-merge)*"),
    ],
)
def test_shards_that_do_not_belong_together_are_a_usage_error_naming_the_shard(project, tmp_path_factory, change, message):
    project.write(pipeline=None, pyproject=SHARDED)
    three_shards(project, tmp_path_factory)
    directories = ["shards/0", "shards/1", "shards/2"]
    if change == "missing":
        directories = ["shards/0", "shards/2"]
    elif change == "duplicated":
        directories = ["shards/0", "shards/0", "shards/1", "shards/2"]
    elif change == "nothing":
        directories = ["elsewhere"]
    elif change == "deeper":  # the shards' directories are two levels down
        directories = ["."]
    elif change == "count":
        directories.append("other")
        assert project.run("--mlguard", "--mlguard-shard", "1/2", "--mlguard-output", "other").ret == 0
    else:
        options = {"settings": ("--mlguard-samples", "100"), "seed": ("--mlguard-seed", "5"), "profile": ("--mlguard-profile", "smoke")}.get(change, ())
        if change.startswith("model"):  # another model, under the same name (retrained) or another
            project.write(model="degraded_model" if change == "model" else "overconfident_model", pipeline=None, pyproject=SHARDED)
        assert project.run("--mlguard", "--mlguard-shard", "2/3", "--mlguard-output", "shards/2", *options).ret == 0
        if change.startswith("model"):
            project.write(pipeline=None, pyproject=SHARDED)
    merged = project.run("--mlguard-merge", *directories, "--mlguard-output", "merged")
    assert merged.ret == pytest.ExitCode.USAGE_ERROR
    merged.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_the_shard_file_names_the_run(project):
    project.write(pipeline=None, pyproject=SHARDED)
    run_shards(project, 2)
    import numpy as np

    with np.load(project.pytester.path / "shards/1/mlguard-shard.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
    assert header["shard"] == {"index": 1, "count": 2} and header["seed"] == 0 and header["plugin"]
    assert header["config_files"] == [str(project.pytester.path / "pyproject.toml")]  # named by a merge run with other settings
    assert header["settings"]["samples"] == "120" and "shard" not in header["settings"]
    assert header["models"]["digits"]["fingerprint"] and header["models"]["digits"]["data"]["samples"] == 120
    assert {check["id"]: check["kind"] for check in header["checks"]} == {
        "accuracy": "clean", "corruption[gaussian_noise-3]": "outcomes", "corruption[fog-3]": "outcomes", "calibration[ece]": "clean",
        "attack[fgsm-linf-0.1]": "outcomes", "attack[pgd-linf-0.1]": "outcomes",
    }  # fmt: skip


def test_a_shards_report_and_badges_say_it_is_a_shard(project):
    """A shard's score is of its share of the samples, its verdicts pending: report.json says partial and
    why, the badges name the shard (before: "robustness" 92.3 and ``partial: false``, a number to publish)."""
    project.write(pipeline=None, pyproject=SHARDED)
    result = project.run("--mlguard", "--mlguard-shard", "1/2", "--mlguard-output", "shard", "-k", "accuracy")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["shard 1/2: a partial report, its verdicts pending; its score and badges (labelled 'shard 1/2') are not the model's*"])
    report = project.report("shard")
    assert report["partial"] is True and report["shard"]["index"] == 1 and report["shard"]["count"] == 2
    assert "shard 1/2 of --mlguard-shard" in report["shard"]["reason"] and "--mlguard-merge" in report["shard"]["reason"]
    badges = {path.name: path.read_text() for path in (project.pytester.path / "shard").glob("badge*.json")}
    assert json.loads(badges["badge.json"])["label"] == "robustness (shard 1/2, partial)"  # -k left out checks too
    assert json.loads(badges["badge-accuracy.json"])["label"] == "robustness (shard 1/2, partial): accuracy"
    assert project.run("--mlguard", "--mlguard-shard", "1/2", "--mlguard-output", "whole-shard").ret == 0
    assert json.loads((project.pytester.path / "whole-shard" / "badge.json").read_text())["label"] == "robustness (shard 1/2)"


def test_with_early_stopping_each_shard_stops_on_its_share_and_the_merge_multiplies_their_e_values(project):
    early = SHARDED.replace('early_stop = "off"', 'early_stop = "sequential"').replace("samples = 120", "samples = 360")
    chunked = "[tool.mlguard.attack.params.pgd]\nrestarts = 1\n"  # PGD with a random start: by chunks, each shard looking at its own
    project.write(pipeline=None, pyproject=early.replace("floor = 0.4", "floor = 0.2") + chunked)
    run_shards(project, 2)
    assert project.run("--mlguard-merge", "shards", "--mlguard-output", "merged").ret == 0
    merged = {c["id"]: c for c in project.report("merged")["checks"]}
    for check in ("corruption[gaussian_noise-3]", "attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]"):
        stopped = merged[check]
        stop = stopped["details"]["early_stop"]
        assert stop["shards_stopped"] >= 1 and stop["samples_used"] == stopped["n"] < 360 and stop["evaluations_saved"] > 0, check
        assert stop["samples_used"] + stop["samples_skipped"] == 360
        assert stopped["interval"]["method"] == "confidence-sequence-product" and stopped["verdict"] == "passed"
        assert stopped["interval"]["low"] > stopped["floor"]


def test_exact_early_stopping_is_no_shard_setting(project):
    project.write(pipeline=None, pyproject=SHARDED)
    result = project.run("--mlguard", "--mlguard-shard", "0/2", "--mlguard-set", "verdict.early_stop=exact")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*shard 0/2 (shard, from command line (--mlguard-shard)) with verdict.early_stop = exact*use sequential*or off"])


def github_recipe() -> dict:
    """The GitHub Actions workflow of docs/scale.md."""
    import re

    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "scale.md").read_text()
    block = re.search(r"### GitHub Actions.*?```yaml\n(.*?)```", text, re.S)
    assert block is not None, "docs/scale.md has no GitHub Actions recipe"
    return yaml.safe_load(block.group(1))


def test_the_github_recipe_runs_its_matrix_and_merges(project):
    """The matrix's shards with the variables the workflow sets, their artifacts downloaded as
    download-artifact lays them out, and the merge step, as docs/scale.md writes them."""
    import shlex

    workflow = github_recipe()
    shard_job, merge_job = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    assert merge_job["needs"] == "shard"

    def pytest_args(step: dict, matrix: dict) -> list[str]:
        command = step["run"]
        for name, value in matrix.items():
            command = command.replace("${{ matrix." + name + " }}", str(value))
        words = shlex.split(command)
        assert words[0] == "pytest" and "${{" not in command, command
        return words[1:]

    project.write(pipeline=None, pyproject=SHARDED)
    root = project.pytester.path
    for value in shard_job["strategy"]["matrix"]["shard"]:
        steps = {step.get("uses", step.get("run", "")).partition("@")[0]: step for step in shard_job["steps"]}
        run = next(step for key, step in steps.items() if key.startswith("pytest"))
        assert project.run(*pytest_args(run, {"shard": value})).ret == 0
        upload = steps["actions/upload-artifact"]["with"]
        name, path = (upload[key].replace("${{ matrix.shard }}", str(value)) for key in ("name", "path"))
        shutil.copytree(root / path, root / "artifacts" / name)  # what the upload keeps
    shutil.rmtree(root / "shards")
    download = next(step for step in merge_job["steps"] if step.get("uses", "").startswith("actions/download-artifact"))["with"]
    assert download["pattern"] == "shard-*"
    shutil.move(root / "artifacts", root / download["path"])  # download-artifact: <path>/<artifact name>/
    merge = next(step for step in merge_job["steps"] if step.get("run", "").startswith("pytest"))
    result = project.run(*pytest_args(merge, {}))
    assert result.ret == 0, result.stdout.str()
    report = project.report("mlguard-report")
    assert {check["id"] for check in report["checks"]} == {
        "accuracy", "corruption[gaussian_noise-3]", "corruption[fog-3]", "calibration[ece]", "attack[fgsm-linf-0.1]", "attack[pgd-linf-0.1]",
    }  # fmt: skip
    assert all(check["n"] == 120 for check in report["checks"])
    assert (root / "mlguard-report" / "junit.xml").is_file()


def test_shards_leave_the_baseline_to_the_merge(project):
    """A shard's results are partial: it neither saves a baseline nor compares with one; the merge does both."""
    project.write(pipeline=None, pyproject=SHARDED)
    run_shards(project, 2, "--mlguard-save-baseline", "main")
    assert not (project.pytester.path / "mlguard-baselines").exists()
    assert project.run("--mlguard-merge", "shards", "--mlguard-save-baseline", "main").ret == 0
    assert (project.pytester.path / "mlguard-baselines").is_dir()
    run_shards(project, 2, "--mlguard-compare", "main")
    assert "comparison" not in project.report("shards/0")
    assert project.run("--mlguard-merge", "shards", "--mlguard-compare", "main", "--mlguard-output", "merged").ret == 0
    comparison = project.report("merged")["comparison"]
    assert comparison["passed"]


def test_a_shard_that_holds_none_of_the_runs_samples_says_so(project):
    """With more shards than samples, an empty shard stopped every check with the data check's 'Expected x of shape
    (N, ...) with N >= 1 samples but got an array of shape (0, 1, 8, 8)', which named no shard. Of 5 shards of 3
    samples, 2 at least hold none."""
    project.write(pyproject=SHARDED.replace("samples = 120", "samples = 3"))
    empty = []
    for shard in range(5):
        result = project.run("--mlguard", "--mlguard-shard", f"{shard}/5", "--mlguard-output", f"shards/{shard}", "-k", "accuracy")
        text = result.stdout.str()
        assert "N >= 1 samples" not in text, text
        if "holds none of" in text:
            assert result.ret != 0, text
            result.stdout.fnmatch_lines([f"*shard {shard}/5 holds none of the run's 3 evaluation samples of model '*': run fewer shards than samples*"])
            empty.append(shard)
        else:
            assert result.ret == 0, text
    assert len(empty) >= 2, empty
