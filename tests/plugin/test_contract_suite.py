"""The model contract as a user meets it: bad model output never passes, and every bad declaration
is one usage error that names the fixture, reported once, without a traceback."""

from __future__ import annotations

import textwrap

import pytest
from conftest import FAST, TESTS, run_pytest

USAGE_ERROR = 4


def write_conftest(pytester: pytest.Pytester, body: str, pyproject: str = FAST) -> None:
    """A conftest.py that imports the zoo, with ``body`` (fixtures) after it."""
    head = f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nimport numpy as np\nimport pytest\nimport zoo\nfrom pytest_mlguard import EvalData, TorchModel\n"
    pytester.makeconftest(head + textwrap.dedent(body))
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n" + pyproject)


def test_nan_outputs_fail_every_check_naming_the_samples(project):
    """The NaN model passed accuracy and corruption (NaN rows count as class 0) before."""
    result = project.write(model="nan_model", pipeline=None).run("--mlguard", "-p", "no:randomly", "-k", "accuracy or corruption or calibration")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 3 and not outcomes.get("passed"), result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [
            f"FAILED conftest.py::mlguard::{check} - *"
            for check in ("accuracy", "corruption[[]gaussian_noise-3[]]", "calibration[[]ece[]]")
        ]
    )
    # how many and which: 20 of the 360 digits are bright; the seeded subset of 120 holds some of them
    result.stdout.fnmatch_lines(["*model 'nan-on-bright' returned NaN or inf probabilities for * of 120 samples: mlguard_data samples 188, 202, 243, 258, 344; *"])
    report = project.report()
    assert [check["passed"] for check in report["checks"]] == [False, False, False]
    assert all(check["details"]["non_finite"]["count"] > 0 for check in report["checks"])


@pytest.mark.parametrize(
    "model, message",
    [
        ("list_model", "mlguard_model: model 'returns-list' returned a list of 2 items (Tensor (*, 10), Tensor (*, 64)) for a batch of * samples: expected an array of shape (*, 10) of logits*"),
        ("wrong_batch_model", "mlguard_model: model 'fixed-batch' returned outputs of shape (16, 10) for a batch of * samples: expected (*, 10) (one row per sample)*"),
    ],
)
def test_malformed_output_is_one_usage_error(project, model, message):
    """Before: AttributeError ('list' object has no attribute 'float') in every check, or a silent pass
    of the wrong batch's rows."""
    result = project.write(model=model, pipeline=None).run("--mlguard", "-p", "no:randomly")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 1 and not outcomes.get("passed"), result.stdout.str()
    result.stdout.fnmatch_lines([f"*{message}"])
    assert "Traceback" not in result.stdout.str() and "AttributeError" not in result.stdout.str()


def test_wrong_input_shape_is_named_before_mean(pytester):
    """A 1-channel input_shape for 3-channel data blamed mean=(...) in a traceback, for every check."""
    write_conftest(
        pytester,
        """
        @pytest.fixture(scope="session")
        def mlguard_model():
            import torch
            net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
            return TorchModel(net, input_shape=(1, 8, 8), n_classes=10, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

        @pytest.fixture(scope="session")
        def mlguard_data():
            rng = np.random.default_rng(0)
            return EvalData(rng.random((40, 3, 8, 8), dtype=np.float32), np.arange(40) % 10)
        """,
    )
    result = run_pytest(pytester, "--mlguard", "-p", "no:randomly")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    text = result.stdout.str()
    result.stdout.fnmatch_lines(["*Expected evaluation samples of the model's input shape (1, 8, 8) but mlguard_data holds samples of shape (3, 8, 8)*"])
    assert "mean=" not in text and "def mlguard_model" not in text, text
    # the error, and its line in the short summary (whole where CI is set: pytest truncates it to the terminal elsewhere)
    assert text.count("Expected evaluation samples") <= 2


def test_a_bad_declaration_inside_a_fixture_is_one_usage_error_naming_it(pytester):
    write_conftest(
        pytester,
        """
        @pytest.fixture(scope="session")
        def mlguard_model():
            return zoo.good_model()

        @pytest.fixture(scope="session")
        def mlguard_data():
            return EvalData(np.zeros((10, 1, 8, 8)), np.linspace(0, 1, 10))
        """,
    )
    result = run_pytest(pytester, "--mlguard", "-p", "no:randomly")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(["*mlguard_data (conftest.py:*): Expected integer class labels in y but got dtype float64*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") == 1 and not outcomes.get("passed"), result.stdout.str()
    assert "Traceback" not in result.stdout.str() and "def mlguard_data" not in result.stdout.str()


def test_a_missing_data_fixture_is_reported_once_and_stops_the_suite(pytester):
    write_conftest(
        pytester,
        """
        @pytest.fixture(scope="session")
        def mlguard_model():
            return zoo.good_model()
        """,
    )
    result = run_pytest(pytester, "--mlguard", "-p", "no:randomly")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors") == 1 and not outcomes.get("passed"), result.stdout.str()
    result.stdout.fnmatch_lines(["*no mlguard_data fixture: define one in conftest.py*"])


def test_inputs_far_outside_the_value_range_warn_once(pytester):
    write_conftest(
        pytester,
        """
        @pytest.fixture(scope="session")
        def mlguard_model():
            return zoo.good_model()

        @pytest.fixture(scope="session")
        def mlguard_data():
            data = zoo.digits()
            return EvalData(data.x * 16, data.y, name="digits-x16")
        """,
    )
    result = run_pytest(pytester, "--mlguard", "-p", "no:randomly", "-k", "accuracy or calibration")
    result.stdout.fnmatch_lines(
        ["*ContractWarning: mlguard_data 'digits-x16' holds values in [[]0, 16[]], outside the value_range (0, 1) of mlguard_model 'digits': attacks clip their inputs to value_range*"]
    )
    assert result.stdout.str().count("holds values in [0, 16]") == 1, result.stdout.str()


def test_settings_are_checked_before_conftest_imports_anything(pytester):
    """Configuration errors took 19-23 s to print one line: conftest.py imported torch first."""
    pytester.makeconftest("raise RuntimeError('conftest.py imported before the settings were checked')\n")
    result = run_pytest(pytester, "--mlguard", "--mlguard-seed", "-1")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid value '-1' (type=str) for 'seed' in command line (--mlguard-seed)*"])
    assert "imported before the settings" not in result.stdout.str() + result.stderr.str()


SHARD_DIRS = ("shards/0", "shards/1")


@pytest.mark.parametrize(
    ("pyproject", "args", "error"),
    [
        ("[tool.mlguard]\nsead = 1\n", ["--mlguard"], "ERROR: unknown mlguard setting 'sead' in pyproject.toml [[]tool.mlguard[]]; did you mean 'seed'?"),
        (
            "[tool.mlguard.accuracy]\nflor = 0.9\n",
            ["--mlguard"],
            "ERROR: unknown mlguard setting 'accuracy.flor' in pyproject.toml [[]tool.mlguard[]]; did you mean 'accuracy.floor'?",
        ),
        (
            "",
            ["--mlguard-merge", *SHARD_DIRS, "project"],
            "ERROR: --mlguard-merge project: */project holds no mlguard-shard.npz, nor do its direct subdirectories: expected the report directory of a "
            "--mlguard-shard run; project looks like a project path: --mlguard-merge takes every argument after it for a shard directory, "
            "so give the paths to test before it (pytest project --mlguard-merge DIR ...)",
        ),
    ],
    ids=["unknown-key", "unknown-family-key", "project-after-merge"],
)
def test_usage_errors_are_raised_before_conftest_imports_anything(pytester, pyproject, args, error):
    """An unknown key of [tool.mlguard] took 8 s, a project path after --mlguard-merge's directories 28 s, to
    print one line: the project's conftest.py files imported torch first (and the merge collected the rootdir)."""
    pytester.makepyprojecttoml(pyproject)
    pytester.makeconftest("raise RuntimeError('conftest.py imported before the usage error')\n")
    for directory in SHARD_DIRS:
        (pytester.path / directory).mkdir(parents=True)
        (pytester.path / directory / "mlguard-shard.npz").write_bytes(b"")  # found by name; read once the run collects
    (pytester.path / "project").mkdir()
    (pytester.path / "project" / "conftest.py").write_text("raise RuntimeError('project/conftest.py imported before the usage error')\n")
    result = run_pytest(pytester, *args)
    assert result.ret == USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([error])
    assert "imported before the usage error" not in result.stdout.str() + result.stderr.str()


def test_a_contract_error_on_xdist_workers_is_a_usage_error(project):
    result = project.write(model="list_model", pipeline=None).run("--mlguard", "-p", "no:randomly", "-n", "2")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert 1 <= outcomes.get("failed", 0) <= 2 and not outcomes.get("passed"), result.stdout.str()  # once per worker at most
    result.stdout.fnmatch_lines(["*mlguard_model: model 'returns-list' returned a list of 2 items*"])


MALFORMED_BASELINE = """
@pytest.fixture(scope="session")
def mlguard_model():
    return zoo.good_model()

@pytest.fixture(scope="session")
def mlguard_data():
    return zoo.digits()

@pytest.fixture(scope="session")
def mlguard_baseline_model():
    return zoo.{baseline}()
"""


@pytest.mark.parametrize(
    "baseline, message",
    [
        ("list_model", "mlguard_baseline_model: model 'returns-list' returned a list of 2 items (Tensor (*, 10), Tensor (*, 64)) for a batch of * samples: expected an array of shape (*, 10) of logits*"),
        ("wrong_batch_model", "mlguard_baseline_model: model 'fixed-batch' returned outputs of shape (16, 10) for a batch of * samples: expected (*, 10) (one row per sample)*"),
        ("digits", "mlguard_baseline_model: Expected a pytest_mlguard.TorchModel, CallableModel or SklearnModel, * but got mlguard_baseline_model=*EvalData*"),
    ],
)
def test_a_malformed_baseline_model_is_one_usage_error_naming_its_fixture(pytester, baseline, message):
    """The gate's baseline model is checked as the main model is: a malformed output or a value that is
    no model is a contract error that names ``mlguard_baseline_model`` (before: no fixture, or
    ``mlguard_model``, the candidate, which is well-formed)."""
    write_conftest(pytester, MALFORMED_BASELINE.format(baseline=baseline), FAST + '[tool.mlguard.gate]\nchecks = ["agreement"]\n')
    result = run_pytest(pytester, "--mlguard", "-p", "no:randomly", "-k", "gate")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines([f"*{message}"])
    assert "mlguard_model:" not in result.stdout.str() and "Traceback" not in result.stdout.str()


def test_a_malformed_output_of_the_model_as_deployed_names_the_fixture_and_the_variant(project):
    """The drift checks deploy ``mlguard_model`` another way (traced, exported, quantised); a malformed
    output of that copy is the model's, named with how it was deployed (before: no fixture)."""
    project.write(model="traced_tuple_model", pipeline=None, pyproject=FAST + '[tool.mlguard.drift]\nchecks = ["torchscript"]\n')
    result = project.run("--mlguard", "-p", "no:randomly", "-k", "drift or accuracy")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*mlguard_model (deployed with torchscript): model 'traced-tuple' returned a tuple of 2 items (Tensor (*, 10), Tensor (*, 64)) for a batch of * samples*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_contract_error_is_reported_as_what_stopped_the_run_not_as_a_ctrl_c(project):
    """Before: pytest's exit status for session.shouldstop is INTERRUPTED, which the report took for a
    Ctrl-C: 'INTERRUPTED (KeyboardInterrupt (Ctrl-C))' in the terminal and in report.json."""
    result = project.write(model="wrong_batch_model", pipeline=None).run("--mlguard", "-p", "no:randomly")
    assert result.ret == USAGE_ERROR, result.stdout.str()
    report = project.report()
    assert report["interrupted"] is True
    assert report["interrupted_by"].startswith("contract error: mlguard_model: model 'fixed-batch' returned outputs of shape (16, 10)")
    assert "Ctrl-C" not in result.stdout.str()
    result.stdout.fnmatch_lines(["STOPPED by the contract error above: the report holds the 0 checks measured before*"])
    assert result.stdout.str().count("returned outputs of shape (16, 10)") <= 2  # the error, and its short-summary line
