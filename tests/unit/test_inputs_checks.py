"""The inputs checks on an Evaluation, without pytester: planning, corpora, replay, the example
database, compression, what does not apply. (The zoo's broken pipelines against a whole session:
tests/plugin/test_inputs_suite.py.)"""

from __future__ import annotations

import io
import json
import re
import time

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard import CallableModel, EvalData, Pipeline, check_model
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import CheckError, ConfigError, NotApplicable
from pytest_mlguard.inputs import files as F

INPUTS = family("inputs")


class Unreadable(ValueError):
    pass


def open_image(raw: bytes | str) -> Image.Image:
    return Image.open(raw if isinstance(raw, str) else io.BytesIO(raw))


def decode_or_reject(raw: bytes | str) -> list[float]:
    """A light image pipeline (Pillow only, file bytes or a path): uniform probabilities, or a clean rejection."""
    try:
        with open_image(raw) as image:
            image.load()
    except Exception as exc:  # every decoder error is a clean rejection here
        raise Unreadable(f"cannot decode: {exc}") from exc
    return [0.5, 0.5]


def fails_on_32bit(raw: bytes | str) -> list[float]:
    """Like decode_or_reject, but a KeyError on 32-bit integer images (a lookup table by mode)."""
    probabilities = decode_or_reject(raw)
    if open_image(raw).mode == "I":
        raise KeyError("I")
    return probabilities


def tiny_model() -> CallableModel:
    return CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(1, 4, 4), n_classes=2, name="tiny")


def tiny_data() -> EvalData:
    rng = np.random.default_rng(0)
    return EvalData(rng.random((6, 1, 4, 4)).astype(np.float32), np.array([0, 1] * 3))


def run(check: str, pipeline: Pipeline | None, tmp_path, model=None, data=None, **overrides):
    cli = {"output": str(tmp_path / "out"), "inputs.isolation": "none", **overrides}
    return check_model(model or tiny_model(), data or tiny_data(), f"inputs[{check}]", settings=cli, pipeline=pipeline)[0]


def settings_of(**values):
    return resolve(cli=values, environ={}, keys=all_keys())


def test_plan_corpora_first_then_each_check_with_its_budget():
    settings = settings_of(**{"inputs.corpora": "a/uploads,b/uploads,logs", "inputs.budgets.odd-modes": "7", "inputs.max_examples": "30"})
    specs = INPUTS.plan(settings)
    assert [s.name for s in specs] == [
        "corpus-uploads",
        "corpus-uploads-2",
        "corpus-logs",
        "corrupt-files",
        "odd-modes",
        "odd-resolutions",
        "dtypes",
        "missing-fields",
        "same-content",
        "compression",
    ]
    budgets = {s.name: s.param("examples") for s in specs if s.param("kind") == "fuzz"}
    assert budgets == {"corrupt-files": 30, "odd-modes": 7, "odd-resolutions": 30, "dtypes": 30, "missing-fields": 30}
    assert specs[0].param("path").endswith("uploads") and specs[-1].metric == "accuracy"
    assert INPUTS.spec("corpus-logs", settings).param("path").endswith("logs")
    with pytest.raises(KeyError, match=r"no check inputs\[melt\]; expected one of .*corpus-logs"):
        INPUTS.spec("melt", settings)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("inputs.checks", "corrupt-files,melt", "expected an inputs check, one of corrupt-files, odd-modes"),
        ("inputs.budgets.melt", "3", "expected an inputs check"),
        ("inputs.budgets.odd-modes", "0", "expected an integer in [1, 100000]"),
        ("inputs.timeout", "0", "expected a number in (0, 3600]"),
        ("inputs.isolation", "thread", "expected one of 'process', 'none'"),
        ("inputs.memory_mb", "-1", "expected an integer in [0, 1048576]"),
        ("inputs.compression.formats", "png", "expected 'jpeg' or 'webp'"),
        ("inputs.compression.qualities", "0", "expected an integer in [1, 100]"),
        ("inputs.compression.floor", "2", "expected a number in [0, 1]"),
    ],
)
def test_invalid_settings_name_key_value_and_place(key, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        settings_of(**{key: value})
    assert "command line (--mlguard-set" in str(error.value)


def test_what_does_not_apply_is_skipped_with_a_reason(tmp_path):
    image = Pipeline(decode_or_reject, rejects=Unreadable, input="image-bytes")
    record = Pipeline(lambda r: 0, rejects=Unreadable, input="record", examples=[{"a": 1.0}])
    cases = [
        ("corrupt-files", None, "no production pipeline: define an mlguard_pipeline fixture"),
        ("odd-modes", record, "odd-modes applies to image pipelines; this pipeline takes records"),
        ("missing-fields", image, "missing-fields applies to record pipelines; this pipeline takes image files"),
    ]
    for check, pipeline, reason in cases:
        with pytest.raises(NotApplicable, match=re.escape(reason)):
            run(check, pipeline, tmp_path)
    flat = CallableModel(lambda x: np.full((len(x), 2), 0.5), input_shape=(16,), n_classes=2)
    with pytest.raises(NotApplicable, match=re.escape("compression applies to image models with input (1 or 3, H, W); this model takes (16,)")):
        run("compression", image, tmp_path, model=flat, data=EvalData(np.zeros((2, 16)), [0, 1]))


def test_light_pipeline_passes_every_image_check_in_process(tmp_path):
    pipeline = Pipeline(decode_or_reject, rejects=Unreadable, input="image-bytes")
    for check in ("corrupt-files", "odd-modes", "odd-resolutions", "dtypes"):
        result = run(check, pipeline, tmp_path, **{"inputs.max_examples": "20", "inputs.max_side": "64"})
        assert result.passed and result.value == 1.0, result.message
        assert result.details["isolation"] == "none (inputs.isolation = none)" and result.details["budget"] == 20
        assert result.n == len(result.details["inputs"]) >= 4  # the 3 valid examples, then Hypothesis' inputs
        assert result.details["inputs"][0]["input"] == "example0-valid"


def test_corpus_of_thousands_of_files_gives_every_file_a_verdict(tmp_path):
    corpus = tmp_path / "uploads"
    png = F.encode_file(np.zeros((2, 2)), "PNG", "L")
    unreadable = 0
    for index in range(2000):
        folder = corpus / f"day{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        data = png if index % 3 else F.truncate_at(png, index % len(png))  # a third of them truncated
        (folder / f"upload{index:04d}.png").write_bytes(data)
        try:
            decode_or_reject(data)
        except Unreadable:
            unreadable += 1
    (corpus / ".hidden").write_bytes(b"not an upload")
    pipeline = Pipeline(fails_on_32bit, rejects=Unreadable, input="image-path")
    start = time.perf_counter()
    result = run("corpus-uploads", pipeline, tmp_path, **{"inputs.corpora": str(corpus), "inputs.isolation": "process"})
    elapsed = time.perf_counter() - start
    verdicts = result.details["inputs"]
    assert result.passed and result.n == 2000 == len(verdicts) == result.details["files"]
    assert {v["outcome"] for v in verdicts} == {"prediction", "rejection"} and sum(v["outcome"] == "rejection" for v in verdicts) == unreadable > 400
    assert verdicts[0]["input"] == "day0/upload0000.png" and result.details["isolation"].startswith("process")
    assert elapsed < 120, elapsed


def test_corpus_failures_name_the_files_and_a_missing_directory_is_an_error(tmp_path):
    corpus = tmp_path / "logged"
    corpus.mkdir()
    (corpus / "ok.png").write_bytes(F.encode_file(np.zeros((2, 2)), "PNG", "L"))
    (corpus / "wide.tif").write_bytes(F.encode_file(np.zeros((2, 2)), "TIFF", "I"))
    pipeline = Pipeline(fails_on_32bit, rejects=Unreadable, input="image-bytes")
    result = run("corpus-logged", pipeline, tmp_path, **{"inputs.corpora": str(corpus)})
    assert not result.passed and result.value == 0.5
    assert "  wide.tif\n    raised undeclared KeyError: 'I'\n    saved as " + str(corpus / "wide.tif") in result.message
    assert result.details["replay"] == ["--mlguard-set", f"inputs.replay={corpus / 'wide.tif'}"]
    with pytest.raises(CheckError, match=r"corpus directory .*missing .inputs\.corpora. does not exist"):
        run("corpus-missing", pipeline, tmp_path, **{"inputs.corpora": str(tmp_path / "missing")})


def rejects_lab(raw: bytes | str) -> list[float]:
    """Like decode_or_reject, but rejects L*a*b* pictures (as Pillow's convert("L") does)."""
    probabilities = decode_or_reject(raw)
    if open_image(raw).mode == "LAB":
        raise Unreadable("conversion from LAB to L not supported")
    return probabilities


def lab_corpus(directory, manifest=None, beside=False):
    from pytest_mlguard.inputs.structures import STRUCTURES

    directory.mkdir()
    (directory / "lab.tif").write_bytes(STRUCTURES["tiff-lab"].encode(np.zeros((4, 4, 3))))
    (directory / "cut.png").write_bytes(F.truncate_at(F.encode_file(np.zeros((2, 2)), "PNG", "L"), 20))
    if manifest is not None:
        (directory.parent / "manifest.json" if beside else directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_corpus_manifest_a_valid_picture_rejected_fails(tmp_path):
    pipeline = Pipeline(rejects_lab, rejects=Unreadable, input="image-bytes", name="rejects-lab")
    listed = {"files": [{"file": "lab.tif", "kind": "odd"}, {"file": "cut.png", "kind": "corrupt"}, {"file": "gone.png", "expect": "prediction"}]}
    # without a manifest: a clean rejection of any file is graceful (today's behaviour)
    plain = run("corpus-plain", pipeline, tmp_path, **{"inputs.corpora": str(lab_corpus(tmp_path / "plain"))})
    assert plain.passed and plain.value == 1.0 and "manifest" not in plain.details
    # with one: the valid LAB TIFF must get a prediction; the truncated PNG may be rejected
    result = run("corpus-labelled", pipeline, tmp_path, **{"inputs.corpora": str(lab_corpus(tmp_path / "labelled", listed))})
    assert not result.passed and result.value == 0.5 and result.n == 2  # the manifest itself is not an input
    assert "  lab.tif\n    rejected a valid input: Unreadable: conversion from LAB to L not supported" in result.message
    assert result.details["manifest"] == {"path": str(tmp_path / "labelled" / "manifest.json"), "must_predict": 1, "missing": ["gone.png"]}
    # the project's layout: corpora/manifest.json beside corpora/images/
    (tmp_path / "beside").mkdir()
    beside = run("corpus-images", pipeline, tmp_path, **{"inputs.corpora": str(lab_corpus(tmp_path / "beside" / "images", listed, beside=True))})
    assert not beside.passed and beside.details["manifest"]["path"] == str(tmp_path / "beside" / "manifest.json")
    # a manifest.json beside the corpus that is something else (a web app's) is not the corpus's
    (tmp_path / "app").mkdir()
    other = run("corpus-images", pipeline, tmp_path, **{"inputs.corpora": str(lab_corpus(tmp_path / "app" / "images", {"name": "my app"}, beside=True))})
    assert other.passed and "manifest" not in other.details


def test_corpus_manifest_errors_name_the_file_and_what_was_expected(tmp_path):
    pipeline = Pipeline(rejects_lab, rejects=Unreadable, input="image-bytes")
    unreadable = lab_corpus(tmp_path / "broken")
    (unreadable / "manifest.json").write_text("{not json")
    with pytest.raises(CheckError, match=r"corpus manifest .*broken/manifest.json: expected a JSON object with a list 'files'"):
        run("corpus-broken", pipeline, tmp_path, **{"inputs.corpora": str(unreadable)})
    wrong = lab_corpus(tmp_path / "wrong", {"files": [{"file": "lab.tif", "expect": "maybe"}]})
    with pytest.raises(CheckError, match=r"file 'lab.tif': expected 'expect' to be one of \['prediction', 'prediction-or-rejection'\].* got expect='maybe'"):
        run("corpus-wrong", pipeline, tmp_path, **{"inputs.corpora": str(wrong)})


def test_record_corpus_reads_json_and_gives_unreadable_files_a_verdict(tmp_path):
    corpus = tmp_path / "records"
    corpus.mkdir()
    (corpus / "one.json").write_text(json.dumps({"a": 1.0}))
    (corpus / "batch.json").write_text(json.dumps([{"a": 2.0}, {"b": 1.0}]))
    (corpus / "cut.json").write_text('{"a": 1.')

    def predict(record):
        return [record["a"], 1 - record["a"]] if record["a"] <= 1 else 0

    pipeline = Pipeline(predict, rejects=Unreadable, input="record", examples=[{"a": 1.0}])
    result = run("corpus-records", pipeline, tmp_path, **{"inputs.corpora": str(corpus)})
    outcomes = {v["input"]: v["outcome"] for v in result.details["inputs"]}
    assert outcomes == {"batch.json[0]": "prediction", "batch.json[1]": "failure", "cut.json": "unreadable", "one.json": "prediction"}
    assert result.n == 3 and result.value == pytest.approx(2 / 3)


def test_failing_input_is_shrunk_saved_and_replayed(tmp_path):
    pipeline = Pipeline(fails_on_32bit, rejects=Unreadable, input="image-bytes", name="lookup")
    result = run("dtypes", pipeline, tmp_path, **{"inputs.max_examples": "100"})
    assert not result.passed
    shrunk = next(f for f in result.details["failures"] if f["input"] == "shrunk")
    assert shrunk["what"] == "TIFF 1x1 I" and shrunk["detail"] == "raised undeclared KeyError: 'I'"
    saved = tmp_path / "out" / "artifacts" / "tiny-inputs_dtypes_" / "lookup" / "shrunk.tif"
    assert shrunk["saved"] == str(saved) and Image.open(saved).mode == "I"
    assert np.load(saved.with_name("shrunk.pixels.npy")).shape == (1, 1, 3)
    assert f"  shrunk by Hypothesis: TIFF 1x1 I\n    raised undeclared KeyError: 'I'\n    saved as {saved}" in result.message
    assert result.details["replay"] == ["--mlguard-set", f"inputs.replay={saved}"]

    replayed = run("dtypes", pipeline, tmp_path, **{"inputs.replay": str(saved)})
    assert replayed.n == 1 and replayed.value == 0.0 and replayed.details["replayed"] == str(saved)

    # Hypothesis' example database replays the failure first: one example, another seed, still found
    again = run("dtypes", pipeline, tmp_path, seed="7", **{"inputs.budgets.dtypes": "1"})
    assert not again.passed and again.details["failures"][-1]["what"] == "TIFF 1x1 I"
    import shutil

    shutil.rmtree(tmp_path / "out" / "hypothesis")
    assert run("dtypes", pipeline, tmp_path, seed="7", **{"inputs.budgets.dtypes": "1"}).passed


def test_time_budget_ends_the_search(tmp_path):
    def slow(raw: bytes) -> list[float]:
        time.sleep(0.05)
        return decode_or_reject(raw)

    pipeline = Pipeline(slow, rejects=Unreadable, input="image-bytes")
    start = time.perf_counter()
    result = run("odd-modes", pipeline, tmp_path, **{"inputs.max_examples": "1000", "inputs.time_budget": "0.5"})
    assert result.passed and result.details["out_of_time"] and time.perf_counter() - start < 10


def test_valid_examples_must_get_a_prediction(tmp_path):
    def rejects_everything(raw: bytes) -> list[float]:
        raise Unreadable("no")

    result = run("dtypes", Pipeline(rejects_everything, rejects=Unreadable, input="image-bytes"), tmp_path, **{"inputs.max_examples": "5"})
    assert not result.passed and "rejected a valid input: Unreadable: no" in result.message


def test_compression_curve_fails_a_model_that_reads_fine_detail(tmp_path):
    import zoo

    good = run("compression", None, tmp_path, model=zoo.good_model(), data=zoo.digits(), samples="100")
    fragile = run("compression", None, tmp_path, model=zoo.fine_edges_model(), data=zoo.digits(), samples="100")
    assert good.passed and not fragile.passed, (good.verdict(), fragile.verdict())
    curve = fragile.details["curve"]
    assert [(p["format"], p["quality"]) for p in curve] == [(f, q) for f in ("jpeg", "webp") for q in (90, 75, 50, 30, 10)]
    assert fragile.details["worst"] == "jpeg-10" and fragile.value == min(p["accuracy"] for p in curve)
    assert fragile.threshold == pytest.approx(0.8 * fragile.details["clean_accuracy"])
    assert "worst: jpeg quality 10: accuracy" in fragile.message
