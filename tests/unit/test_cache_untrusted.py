"""The result cache as untrusted input: a cache directory with crafted entries (traversal names,
forged values, truncated files, wrong types) never writes outside the output directory, never
changes a verdict, and every such entry is a miss, said in one line (issue 12)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import zoo

from pytest_mlguard._cache import ResultCache, cache_key, run_cached
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve

ACCURACY = family("accuracy")


def evaluation(model, **cli):
    settings = resolve(cli=cli, environ={}, keys=all_keys())
    return Evaluation(model, zoo.digits(), settings)


class Project:
    """A project directory (its conftest.py, its report directory) and a cache directory beside it,
    with one result measured and stored."""

    def __init__(self, root: Path, model=zoo.good_model) -> None:
        self.root = root / "project"
        self.root.mkdir()
        self.conftest = self.root / "conftest.py"
        self.conftest.write_text("# the project's own conftest.py\n")
        self.model = model
        self.cache = ResultCache(root / "cache")
        ev = self.evaluation()
        self.spec = ACCURACY.plan(ev.settings)[0]
        self.key = cache_key(ev, self.spec, ACCURACY)
        self.measured = run_cached(self.cache, ev, ACCURACY, self.spec)
        assert self.entry_path.is_file()

    def evaluation(self) -> Evaluation:
        return evaluation(self.model(), output=str(self.root / "mlguard-report"))

    @property
    def entry_path(self) -> Path:
        return self.cache.directory / "results" / f"{self.key}.json"

    def entry(self) -> dict:
        return json.loads(self.entry_path.read_text())

    def write(self, entry: object) -> None:
        self.entry_path.write_text(json.dumps(entry))

    def rerun(self):
        return run_cached(self.cache, self.evaluation(), ACCURACY, self.spec)


def with_artifact(entry: dict, name: str, content: bytes) -> dict:
    """``entry`` claiming one copied artefact ``name`` with ``content`` (whatever layout it lists its files in)."""
    artifacts = entry["artifacts"]
    files = artifacts["files"]
    artifacts["files"] = {name: hashlib.sha256(content).hexdigest()} if isinstance(files, dict) else [name]
    artifacts["copied"] = True
    return entry


def assert_measured_again(result, project: Project, reason: str) -> None:
    """``result`` was measured, not served from the cache, and says why the entry was not used."""
    assert "cached" not in result.details
    assert result.value == project.measured.value and result.passed == project.measured.passed
    assert reason in result.details.get("cache_miss", "")
    assert "\n" not in result.details["cache_miss"]


PAYLOAD = b"import os  # a crafted conftest.py\n"


def plant(project: Project, name: str, content: bytes = PAYLOAD) -> Path:
    """Put ``content`` where the cache's artefact ``name`` of the stored entry points, and list it in the entry."""
    (project.cache.directory / "artifacts" / project.key).mkdir(parents=True, exist_ok=True)
    stored = Path(os.path.normpath(project.cache.directory / "artifacts" / project.key / name))
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(content)
    project.write(with_artifact(project.entry(), name, content))
    return stored


@pytest.mark.parametrize("name", ["../../../conftest.py", "../../../tests/../conftest.py", "x/../../../../conftest.py"])
def test_an_artefact_name_that_leaves_the_artefact_directory_is_a_miss(tmp_path, name):
    project = Project(tmp_path)
    stored = plant(project, name)
    result = project.rerun()
    assert project.conftest.read_text() == "# the project's own conftest.py\n"
    assert not any(path.read_bytes() == PAYLOAD for path in tmp_path.rglob("*.py") if path != stored and path.is_file())
    assert_measured_again(result, project, f"artefact name {name!r}")


def test_an_absolute_artefact_name_is_a_miss(tmp_path):
    project = Project(tmp_path)
    target = tmp_path / "elsewhere" / "conftest.py"
    target.parent.mkdir()
    (project.cache.directory / "artifacts" / project.key).mkdir(parents=True, exist_ok=True)
    project.write(with_artifact(project.entry(), str(target), PAYLOAD))
    target.write_bytes(PAYLOAD)  # absent or present, it is never read into the report nor overwritten
    result = project.rerun()
    assert_measured_again(result, project, "artefact name")
    assert not list((project.root / "mlguard-report").rglob("conftest.py"))


def test_a_stored_artefact_that_is_a_symlink_is_not_followed(tmp_path):
    project = Project(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"a secret the report must not show")
    stored = project.cache.directory / "artifacts" / project.key
    stored.mkdir(parents=True, exist_ok=True)
    (stored / "worst.npy").symlink_to(secret)
    project.write(with_artifact(project.entry(), "worst.npy", secret.read_bytes()))
    result = project.rerun()
    assert_measured_again(result, project, "symlink")
    assert not any(p.is_file() and p.read_bytes() == secret.read_bytes() for p in (project.root / "mlguard-report").rglob("*"))


def test_a_symlink_in_the_report_directory_is_not_followed(tmp_path):
    project = Project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    stored = project.cache.directory / "artifacts" / project.key
    stored.mkdir(parents=True, exist_ok=True)
    (stored / "worst.npy").write_bytes(PAYLOAD)
    project.write(with_artifact(project.entry(), "worst.npy", PAYLOAD))
    artifacts = project.root / "mlguard-report" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    for directory in artifacts.iterdir():
        directory.rmdir()
    (artifacts / "digits-accuracy").symlink_to(outside)  # the check's artefact directory points out of the report
    result = project.rerun()
    assert list(outside.iterdir()) == []
    assert_measured_again(result, project, "symlink")


def forge(data, **fields):
    """``data`` with every key in ``fields`` set, at any depth."""
    if isinstance(data, dict):
        return {k: fields[k] if k in fields else forge(v, **fields) for k, v in data.items()}
    if isinstance(data, list):
        return [forge(v, **fields) for v in data]
    return data


def test_a_forged_verdict_does_not_pass_a_failing_check(tmp_path):
    project = Project(tmp_path, model=zoo.ignores_input_model)
    assert not project.measured.passed
    project.write(forge(project.entry(), passed=True, verdict="passed", label="passed"))
    result = project.rerun()
    assert result.details["cached"]["key"] == project.key  # the measurement is reused ...
    assert not result.passed and result.to_dict()["verdict"] == "failed"  # ... and its verdict decided again


def test_a_forged_value_is_a_miss(tmp_path):
    project = Project(tmp_path, model=zoo.ignores_input_model)
    project.write(forge(project.entry(), value=1.0))
    result = project.rerun()
    assert_measured_again(result, project, "value")
    assert not result.passed


def crafted_entries(entry: dict) -> dict[str, object]:
    """Entries that are not what the cache writes: wrong types, impossible values, other layouts."""
    measured = "measurement" if "measurement" in entry else "result"
    swap = lambda **fields: {**entry, measured: {**entry[measured], **fields}}  # noqa: E731
    return {
        "a list": [entry],
        "the format as text": {**entry, "format": str(entry["format"])},
        "n as text": swap(n="many"),
        "a negative n": swap(n=-5),
        "value as text": swap(value="high"),
        "value as a boolean": swap(value=True),
        "details as a list": swap(details=[1, 2]),
        "a reversed interval": swap(interval=[0.9, 0.1]),
        "artefacts as text": {**entry, "artifacts": "everything"},
        "no measurement": {k: v for k, v in entry.items() if k != measured},
        "escape sequences in the message": swap(message="\x1b[2J\x1b[32mPASSED"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a list",
        "the format as text",
        "n as text",
        "a negative n",
        "value as text",
        "value as a boolean",
        "details as a list",
        "a reversed interval",
        "artefacts as text",
        "no measurement",
        "escape sequences in the message",
    ],
)
def test_an_entry_of_wrong_types_is_a_miss(tmp_path, case):
    project = Project(tmp_path)
    project.write(crafted_entries(project.entry())[case])
    assert_measured_again(project.rerun(), project, "")


@pytest.mark.parametrize("size", [0.0, 0.5, 0.99])
def test_a_truncated_entry_is_a_miss(tmp_path, size):
    project = Project(tmp_path)
    content = project.entry_path.read_bytes()
    project.entry_path.write_bytes(content[: int(len(content) * size)])
    assert_measured_again(project.rerun(), project, "")


def test_a_truncated_artefact_is_a_miss(tmp_path):
    project = Project(tmp_path)
    stored = project.cache.directory / "artifacts" / project.key
    stored.mkdir(parents=True, exist_ok=True)
    (stored / "worst.npy").write_bytes(PAYLOAD[:5])
    project.write(with_artifact(project.entry(), "worst.npy", PAYLOAD))
    result = project.rerun()
    assert_measured_again(result, project, "worst.npy")
    assert not (project.root / "mlguard-report" / "artifacts" / "digits-accuracy" / "worst.npy").exists()


def test_an_example_path_outside_the_report_is_a_miss(tmp_path):
    """report.html shows the files a check's details name: a crafted path must not put another file in it."""
    project = Project(tmp_path)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"a secret")
    entry = project.entry()
    measured = "measurement" if "measurement" in entry else "result"
    entry[measured]["details"] = {**entry[measured]["details"], "artifact": str(secret)}
    project.write(entry)
    assert_measured_again(project.rerun(), project, "outside this check's artefact directory")


# -- the integrity option: MLGUARD_CACHE_KEY ------------------------------------------------------


def test_with_a_cache_key_entries_without_a_valid_tag_are_misses(tmp_path, monkeypatch):
    project = Project(tmp_path)  # stored without a key
    monkeypatch.setenv("MLGUARD_CACHE_KEY", "a secret of the CI system, 32 chars")
    project.cache = ResultCache(project.cache.directory)
    unsigned = project.rerun()
    assert_measured_again(unsigned, project, "MLGUARD_CACHE_KEY")
    assert project.rerun().details["cached"]["key"] == project.key  # stored again, signed: a hit

    signed = project.entry()
    measured = "measurement" if "measurement" in signed else "result"
    project.write({**signed, measured: {**signed[measured], "value": 0.5, "successes": round(0.5 * signed[measured]["n"])}})
    assert_measured_again(project.rerun(), project, "MLGUARD_CACHE_KEY")  # a consistent forgery, but not signed

    project.write(signed)
    monkeypatch.setenv("MLGUARD_CACHE_KEY", "another secret, of another system")
    project.cache = ResultCache(project.cache.directory)
    assert_measured_again(project.rerun(), project, "MLGUARD_CACHE_KEY")


def test_a_signed_entry_copied_under_another_key_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("MLGUARD_CACHE_KEY", "a secret of the CI system, 32 chars")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    failing = Project(tmp_path / "a", model=zoo.ignores_input_model)
    passing = Project(tmp_path / "b")
    passing.cache = failing.cache = ResultCache(tmp_path / "shared")
    passing.rerun(), failing.rerun()  # both stored in one cache
    failing.entry_path.write_bytes(passing.entry_path.read_bytes())  # the pass, under the failing check's key
    result = failing.rerun()
    assert not result.passed and "cached" not in result.details


@pytest.mark.parametrize("value", ["", "short"])
def test_a_cache_key_too_short_to_be_a_secret_is_an_error(tmp_path, monkeypatch, value):
    from pytest_mlguard.errors import ConfigError

    monkeypatch.setenv("MLGUARD_CACHE_KEY", value)
    with pytest.raises(ConfigError, match=r"at least 16 characters in MLGUARD_CACHE_KEY \(from the environment\) but got \d characters"):
        ResultCache(tmp_path)


def test_the_summary_says_in_one_line_why_an_entry_was_not_used(tmp_path):
    from pytest_mlguard._cache import cache_summary

    project = Project(tmp_path)
    project.write(with_artifact(project.entry(), "../../../conftest.py", PAYLOAD))
    result = project.rerun().to_dict()
    lines = cache_summary([result], project.cache.directory, tmp_path).splitlines()
    assert lines[0].startswith("mlguard cache: 0 of 1 results reused")
    assert len(lines) == 2 and lines[1].startswith("mlguard cache: 1 stored entry not used (measured again): accuracy of 'digits': ")
    assert "'../../../conftest.py'" in lines[1]


def test_nothing_is_written_outside_the_report_directory(tmp_path):
    """Traversal names to files that exist and to files that do not: the project stays as it was."""
    project = Project(tmp_path)

    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in project.root.rglob("*") if p.is_file() and "mlguard-report" not in p.parts}

    before = files()
    for name in ("../../../conftest.py", "../../../sitecustomize.py", "../../../tests/conftest.py"):
        plant(project, name)
        project.rerun()
    assert files() == before


# -- report.html's plots, kept in the cache directory ---------------------------------------------

PICTURE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
FORGED = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="


def drawing(drawn: list):
    def figure(model):
        drawn.append(model)
        return PICTURE

    return figure


def test_with_a_cache_key_a_plot_without_a_valid_tag_is_drawn_again(tmp_path, monkeypatch):
    from pytest_mlguard.reporting.plots import FigureCache

    drawn: list = []
    figure = drawing(drawn)
    FigureCache(tmp_path).draw(figure, "digits")  # kept without a key
    (path,) = tmp_path.glob("*.json")
    monkeypatch.setenv("MLGUARD_CACHE_KEY", "a secret of the CI system, 32 chars")
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 2  # unsigned: drawn again
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 2  # kept again, signed: reused

    signed = json.loads(path.read_text())
    path.write_text(json.dumps({**signed, "figure": FORGED}))  # another picture under the tag of the true one
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 3
    assert json.loads(path.read_text())["figure"] == PICTURE  # the forged file replaced

    other = FigureCache(tmp_path).draw(figure, "tabular")  # a signed plot of another model, copied under this one's name
    assert other == PICTURE and len(drawn) == 4
    (copied,) = set(tmp_path.glob("*.json")) - {path}
    path.write_bytes(copied.read_bytes())
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 5
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 5

    monkeypatch.setenv("MLGUARD_CACHE_KEY", "another secret, of another system")
    assert FigureCache(tmp_path).draw(figure, "digits") == PICTURE and len(drawn) == 6


@pytest.mark.parametrize("stored", [{"figure": 'x" onerror="alert(1)'}, {"figure": [PICTURE, 3]}, {"figure": {}}, [PICTURE], {}])
def test_a_plot_file_that_is_not_a_picture_is_drawn_again_without_a_key(tmp_path, monkeypatch, stored):
    from pytest_mlguard.reporting.plots import FigureCache

    monkeypatch.delenv("MLGUARD_CACHE_KEY", raising=False)
    drawn: list = []
    FigureCache(tmp_path).draw(drawing(drawn), "digits")
    (path,) = tmp_path.glob("*.json")
    path.write_text(json.dumps(stored))
    assert FigureCache(tmp_path).draw(drawing(drawn), "digits") == PICTURE and len(drawn) == 2


def test_a_kept_family_figure_is_reused_only_while_its_png_is_base64(tmp_path):
    """A family's figures (``Plot``) are kept as ``{"png", "alt", "caption"}``: reused as they are, and drawn
    again when the kept ``png`` could break out of report.html's ``data:`` URL."""
    from pytest_mlguard.reporting.plots import FigureCache

    drawn = []

    def figures(model):
        drawn.append(model)
        return [{"png": PICTURE, "alt": f"{model} <b>", "caption": "accuracy per token"}]

    cache = FigureCache(tmp_path, secret=None)
    first = cache.draw(figures, "digits")
    assert cache.draw(figures, "digits") == first and drawn == ["digits"]  # reused
    (kept,) = tmp_path.glob("*.json")
    entry = json.loads(kept.read_text())
    entry["figure"][0]["png"] = 'x" onerror="alert(1)'
    kept.write_text(json.dumps(entry))
    assert cache.draw(figures, "digits")[0]["png"] == PICTURE and drawn == ["digits", "digits"]  # drawn again
