"""Settings: parsers, precedence (CLI > environment > files > marker > default) and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlguard.checks._registry import all_keys
from pytest_mlguard.config import Threshold, pyproject_source, resolve
from pytest_mlguard.config._settings import Source
from pytest_mlguard.errors import ConfigError

KEYS = all_keys()


def settings(**sources):
    return resolve(keys=KEYS, environ=sources.pop("environ", {}), **sources)


def test_defaults():
    s = settings()
    assert (s.seed, s.samples, s.output, s.device) == (0, None, Path("mlguard-report"), "cpu")
    assert s.get("accuracy.floor") == Threshold(0.5, "above_chance")
    assert s.source("seed") == "default"


def test_precedence_cli_over_env_over_file_over_marker():
    file = Source({"seed": 3, "samples": 30}, "pyproject.toml [tool.mlguard]")
    marker = {"seed": 4, "samples": 40, "device": "meta"}
    s = settings(cli={"seed": "1"}, environ={"MLGUARD_SEED": "2", "MLGUARD_SAMPLES": "20"}, files=[file], marker=marker)
    assert (s.seed, s.samples, s.device) == (1, 20, "meta")
    assert s.source("seed") == "command line (--mlguard-seed)"
    assert s.source("samples") == "environment variable MLGUARD_SAMPLES"
    assert s.source("device") == "the mlguard marker"


def test_earlier_file_source_wins():
    first = Source({"seed": 5}, "pytest.ini")
    second = Source({"seed": 6, "samples": 7}, "pyproject.toml")
    s = settings(files=[first, second])
    assert (s.seed, s.samples) == (5, 7)


def test_table_entries_merge_across_sources():
    file = Source({"corruption.floors": {"gaussian_noise": 0.5, "gaussian_noise-3": 0.6}}, "pyproject.toml")
    s = settings(cli={"corruption.floors.gaussian_noise-3": "0.7"}, files=[file])
    assert dict(s.get("corruption.floors")) == {"gaussian_noise": Threshold(0.5), "gaussian_noise-3": Threshold(0.7)}


def test_env_dotted_keys_use_double_underscores():
    s = settings(environ={"MLGUARD_ACCURACY__FLOOR": "0.9"})
    assert s.get("accuracy.floor") == Threshold(0.9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cli": {"seed": "-1"}}, "invalid value '-1' (type=str) for 'seed' in command line (--mlguard-seed)"),
        ({"cli": {"samples": "0"}}, "for 'samples' in command line (--mlguard-samples): expected an integer in [1, inf]"),
        (
            {"files": [Source({"accuracy.floor": 1.7}, "pyproject.toml [tool.mlguard]")]},
            "invalid value 1.7 (type=float) for 'accuracy.floor' in pyproject.toml [tool.mlguard]: expected a number in [0, 1]",
        ),
        ({"cli": {"accuracy.flor": "0.9"}}, "unknown mlguard setting 'accuracy.flor' in command line (--mlguard-set accuracy.flor=...); did you mean 'accuracy.floor'?"),
        ({"environ": {"MLGUARD_SEEED": "1"}}, "unknown mlguard setting 'MLGUARD_SEEED' in the environment; did you mean 'MLGUARD_SEED'?"),
        ({"cli": {"corruption.corruptions": "gaussian_nose"}}, "invalid value 'gaussian_nose' (type=str) for 'corruption.corruptions[0]'"),
        ({"cli": {"corruption.severities": "6"}}, "for 'corruption.severities[0]' in command line"),
        ({"cli": {"attack.checks": "pgd-l3-0.1"}}, "for 'attack.checks[0]' in command line (--mlguard-set attack.checks=...): expected an attack check"),
        ({"cli": {"attack.checks": "foo-linf-0.1"}}, "expected an attack name, one of fgsm, pgd"),
        ({"cli": {"attack.checks": "pgd-linf-0"}}, "expected a positive epsilon"),
        ({"cli": {"corruption.floor": "2*clean"}}, "expected a number in [0, 1], or a relative threshold such as '0.8*clean'"),
        ({"cli": {"corruption.floors.motion-3": "0.5"}}, "invalid value 'motion-3' (type=str) for 'corruption.floors'"),
        ({"cli": {"calibration.enabled": "maybe"}}, "expected a boolean"),
        ({"marker": {"samples": "many"}, "marker_where": "@pytest.mark.mlguard(...) on t.py::test"}, "for 'samples' in @pytest.mark.mlguard(...) on t.py::test"),
        ({"cli": {"attack.checks": "pgd-linf-0.1,pgd-linf-0.1"}}, "expected a list without repeated entries"),
        ({"cli": {"score.weights.bogus": "1"}}, "invalid value 'bogus' (type=str) for 'score.weights' in command line (--mlguard-set score.weights.bogus=...): expected a family name, one of contract, accuracy, corruption, attack"),
        ({"files": [Source({"score.weights": {"atack": 2}}, "pyproject.toml [tool.mlguard]")]}, "for 'score.weights' in pyproject.toml [tool.mlguard]: expected a family name"),
        ({"cli": {"budget": ""}}, "invalid value '' (type=str) for 'budget' in command line (--mlguard-budget): expected a duration such as 120, '120s', '2m' or '1m30s', or none"),
        ({"cli": {"samples": " "}}, "invalid value ' ' (type=str) for 'samples' in command line (--mlguard-samples): expected an integer in [1, inf], or none"),
        ({"cli": {"device": "gpu7"}}, "invalid value 'gpu7' (type=str) for 'device' in command line (--mlguard-device): expected a torch device such as cpu, cuda, cuda:0 or mps"),
        ({"environ": {"MLGUARD_DEVICE": "cuda:x"}}, "for 'device' in environment variable MLGUARD_DEVICE: expected a torch device"),
    ],
)
def test_invalid_settings_name_key_value_and_place(kwargs, message):
    with pytest.raises(ConfigError) as info:
        settings(**kwargs)
    assert message in str(info.value)


def test_fractions_and_relative_thresholds():
    s = settings(cli={"attack.checks": "pgd-linf-8/255", "corruption.floor": "0.8*clean"})
    assert s.get("attack.checks") == ("pgd-linf-8/255",)
    assert s.get("corruption.floor").resolve(clean=0.9) == pytest.approx(0.72)


def test_pyproject_source(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.mlguard]\nseed = 4\n[tool.mlguard.corruption]\nfloor = 0.6\nfloors = {gaussian_noise-3 = "0.9*clean"}\n')
    source = pyproject_source(path, KEYS, display="pyproject.toml")
    s = settings(files=[source])
    assert s.seed == 4 and s.get("corruption.floor") == Threshold(0.6)
    assert s.get("corruption.floors")["gaussian_noise-3"] == Threshold(0.9, "clean")
    assert s.source("seed") == "pyproject.toml [tool.mlguard]"


def test_pyproject_unknown_table_key(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.mlguard.corruption]\nflor = 0.6\n")
    with pytest.raises(ConfigError, match=r"unknown mlguard setting 'corruption.flor' in pyproject.toml \[tool.mlguard\]; did you mean"):
        pyproject_source(path, KEYS, display="pyproject.toml")


def test_pyproject_without_table_is_no_source(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n")
    assert pyproject_source(path, KEYS) is None


def test_settings_are_frozen():
    s = settings()
    with pytest.raises(TypeError):
        s.get("corruption.floors")["x"] = 1  # type: ignore[index]


def test_profiles_sit_above_the_project_files_and_below_the_command_line():
    from pytest_mlguard.config._profiles import BUILTIN_PROFILES

    file = Source({"samples": 30, "seed": 4}, "pyproject.toml [tool.mlguard]", profiles={"ci": {"attack.steps": 3}, "mine": {"seed": 9}})
    s = resolve(keys=KEYS, environ={}, cli={"profile": "ci"}, files=[file], profiles=BUILTIN_PROFILES)
    assert s.samples == 500 and s.source("samples").startswith("profile 'ci'")  # the run's profile beats the project's 30
    assert s.seed == 4  # what the profile leaves alone comes from the project
    assert resolve(keys=KEYS, environ={}, cli={"profile": "ci", "samples": "7"}, files=[file], profiles=BUILTIN_PROFILES).samples == 7
    assert s.get("attack.steps") == 3  # the project's [tool.mlguard.profiles.ci] extends the built-in
    assert s.get("corruption.severities") == (1, 3, 5)
    assert s.source("corruption.severities") == "profile 'ci' from pyproject.toml [tool.mlguard] (profiles.ci)"
    mine = resolve(keys=KEYS, environ={"MLGUARD_PROFILE": "mine"}, files=[file], profiles=BUILTIN_PROFILES)
    assert mine.seed == 9


def test_every_builtin_profile_resolves():
    from pytest_mlguard.config._profiles import BUILTIN_PROFILES

    for name in BUILTIN_PROFILES:
        assert resolve(keys=KEYS, environ={}, cli={"profile": name}, profiles=BUILTIN_PROFILES).get("profile") == name


def test_unknown_profile_names_the_choices(tmp_path):
    from pytest_mlguard.config._profiles import BUILTIN_PROFILES

    with pytest.raises(ConfigError, match=r"unknown profile 'fast' in command line \(--mlguard-profile\): expected one of ci, nightly, smoke"):
        resolve(keys=KEYS, environ={}, cli={"profile": "fast"}, profiles=BUILTIN_PROFILES)


def test_pyproject_profiles(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.mlguard]\nprofile = 'quick'\n[tool.mlguard.profiles.quick]\nsamples = 10\n")
    source = pyproject_source(path, KEYS, display="pyproject.toml")
    assert resolve(keys=KEYS, environ={}, files=[source]).samples == 10
    path.write_text("[tool.mlguard.profiles.quick]\nsampels = 10\n")
    with pytest.raises(ConfigError, match=r"unknown mlguard setting 'sampels' in pyproject.toml \[tool.mlguard.profiles.quick\]"):
        pyproject_source(path, KEYS, display="pyproject.toml")


def test_a_toml_string_is_not_a_list(tmp_path):
    """``severities = "1,3"`` was split as if typed on the command line; in TOML a list is a list."""
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.mlguard.corruption]\nseverities = "1,3"\n')
    with pytest.raises(ConfigError) as info:
        settings(files=[pyproject_source(path, KEYS, display="pyproject.toml")])
    assert str(info.value) == (
        "invalid value '1,3' (type=str) for 'corruption.severities' in pyproject.toml [tool.mlguard]: "
        "expected a list, such as [1, 3] (a comma-separated string is for the command line and the environment)"
    )
    path.write_text('[tool.mlguard.corruption]\nseverities = "all"\ncorruptions = "noise"\n')  # one entry stands for itself
    s = settings(files=[pyproject_source(path, KEYS, display="pyproject.toml")])
    assert s.get("corruption.severities") == (1, 2, 3, 4, 5) and s.get("corruption.corruptions") == ("noise",)
    assert settings(cli={"corruption.severities": "1,3"}).get("corruption.severities") == (1, 3)


def test_every_torch_device_string_is_accepted_without_torch():
    for device in ("cpu", "cuda", "cuda:1", "mps", "xpu:0", "meta"):
        assert settings(cli={"device": device}).device == device


def test_an_output_directory_given_apart_inside_the_project_s_configuration_is_not_misread(tmp_path):
    """It stopped ``pytest --mlguard-merge shards --mlguard-output mlguard-report --junitxml mlguard-report/junit.xml``
    in examples/digits: ``shards`` (a value of an option pytest does not know yet) made the base, and
    mlguard-report lay outside it, although pytest finds the project's pyproject.toml from either."""
    from pytest_mlguard._settings import output_read_as_path

    project = tmp_path / "project"
    for folder in ("shards/0", "mlguard-report"):
        (project / folder).mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    args = ["--mlguard-merge", "shards", "--mlguard-output", "mlguard-report", "--junitxml", "mlguard-report/junit.xml"]
    assert output_read_as_path(args, project) is None
    (tmp_path / "elsewhere").mkdir()  # outside the project: pytest would look for its configuration from tmp_path
    assert "--mlguard-output ../elsewhere (two arguments) names an existing directory outside" in str(output_read_as_path(["--mlguard-merge", "shards", "--mlguard-output", "../elsewhere"], project))


def test_a_folder_of_test_files_after_mlguard_merge_is_named_a_project_path_with_either_default_pattern(tmp_path):
    """pytest collects ``test_*.py`` and ``*_test.py`` by default: a folder of ``*_test.py`` files only, given after
    --mlguard-merge's directories, got the merge error without the hint that it is a project path."""
    from pytest_mlguard._settings import _looks_like_a_project

    for folder, name in (("prefixed", "test_model.py"), ("suffixed", "model_test.py"), ("neither", "model.py")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text("")
    assert [_looks_like_a_project(tmp_path / folder) for folder in ("prefixed", "suffixed", "neither")] == [True, True, False]
