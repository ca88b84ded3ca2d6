"""Which inputs checks the suite plans for which pipeline: ``inputs.pipeline``, the kind read from the
fixture's source, and the usage error when the fixture returns the other kind."""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap

import numpy as np
import pytest

from pytest_mlguard import CallableModel, EvalData, Pipeline, check_model
from pytest_mlguard.checks._registry import all_keys
from pytest_mlguard.config._settings import resolve
from pytest_mlguard.errors import ConfigError, ContractError, NotApplicable
from pytest_mlguard.inputs import FAMILY as INPUTS
from pytest_mlguard.inputs._kinds import declared_kind

HEADER = """
import pytest
import pytest_mlguard
from pytest_mlguard import Pipeline
from pytest_mlguard import Pipeline as Served

class Other:  # another library's Pipeline (scikit-learn's, say)
    def __init__(self, *args, **kwargs): ...

def predict(raw):
    return 0

def make_records():
    return Pipeline(predict, input="record", examples=[{"a": 1}])
"""

FIXTURES = [
    # (body of mlguard_pipeline, the kind its source tells)
    ('return Pipeline(predict, input="record", examples=[{"a": 1}])', "record"),
    ("return Pipeline(predict)", "image"),  # the default input, "image-bytes"
    ('return pytest_mlguard.Pipeline(predict, input="image-path")', "image"),
    ('return Served(predict, input="record", examples=[{"a": 1}])', "record"),  # an alias
    ("return make_records()", "record"),  # built by a function it calls
    ('Other(steps=[])\n    return Pipeline(predict, input="image-bytes")', "image"),  # another class named otherwise
    ("return Pipeline(predict, input=request.param)", None),  # not a literal
    ("return Pipeline(predict, **{'input': 'record'})", None),
    ('return Pipeline(predict) if request.param else Pipeline(predict, input="record", examples=[{}])', None),  # both kinds
    ("return Other(predict)", None),  # no pytest_mlguard Pipeline at all
    ("return getattr(sys.modules[__name__], request.param)()", None),
]


def _module(tmp_path, body: str, name: str):
    source = HEADER + f"\n@pytest.fixture\ndef mlguard_pipeline(request):\n    {body}\n"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.parametrize("body, kind", FIXTURES)
def test_the_kind_is_read_from_the_fixture_source(tmp_path, body, kind):
    module = _module(tmp_path, body, f"fixture_source_{abs(hash(body))}")
    assert declared_kind(module.mlguard_pipeline) == kind


def settings_of(**values):
    return resolve(cli=values, environ={}, keys=all_keys())


def test_a_declared_kind_plans_only_the_checks_that_apply():
    def names(**values):
        return [spec.name for spec in INPUTS.plan(settings_of(**values))]

    assert "missing-fields" in names()  # auto: the suite reads the kind from the fixture (tests/plugin/test_inputs_plan.py)
    assert names(**{"inputs.pipeline": "image"}) == ["corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "same-content", "compression"]
    assert names(**{"inputs.pipeline": "record", "inputs.corpora": "logs"}) == ["corpus-logs", "dtypes", "missing-fields", "same-content"]
    # a check asked for by name stays planned, and skips saying why
    assert names(**{"inputs.pipeline": "image", "inputs.checks": "missing-fields,dtypes"}) == ["missing-fields", "dtypes"]


def test_an_unknown_pipeline_kind_is_a_config_error():
    with pytest.raises(ConfigError) as error:
        settings_of(**{"inputs.pipeline": "records"})
    assert str(error.value) == (
        "invalid value 'records' (type=str) for 'inputs.pipeline' in command line (--mlguard-set inputs.pipeline=...): "
        "expected one of 'auto', 'image', 'record'"
    )


def _model_and_data():
    model = CallableModel(lambda x: np.tile([0.9, 0.1], (len(x), 1)), input_shape=(1, 4, 4), n_classes=2)
    return model, EvalData(np.zeros((4, 1, 4, 4)), [0, 1, 0, 1])


def test_a_pipeline_of_the_other_kind_is_a_usage_error_naming_both_places(tmp_path):
    model, data = _model_and_data()
    records = Pipeline(lambda r: 0, input="record", examples=[{"a": 1.0}])
    settings = {"inputs.pipeline": "image", "inputs.isolation": "none", "output": str(tmp_path)}
    with pytest.raises(ContractError) as error:
        check_model(model, data, "inputs[dtypes]", settings=settings, pipeline=records)
    message = str(error.value)
    assert message.startswith("mlguard_pipeline: returned a record pipeline (Pipeline(..., input='record'))")
    assert "inputs checks of an image pipeline from inputs.pipeline = 'image' (from check_model(settings={'inputs.pipeline': ...}))" in message
    assert message.endswith('set inputs.pipeline = "record" (or "auto"), or return an image pipeline')


def test_a_check_that_does_not_apply_says_which_setting_removes_it(tmp_path):
    model, data = _model_and_data()
    image = Pipeline(lambda raw: 0, input="image-bytes")
    settings = {"inputs.isolation": "none", "output": str(tmp_path)}
    with pytest.raises(NotApplicable) as error:
        check_model(model, data, "inputs[missing-fields]", settings=settings, pipeline=image)
    assert str(error.value) == (
        "missing-fields applies to record pipelines; this pipeline takes image files (the suite could not tell the pipeline's "
        'kind from the mlguard_pipeline fixture\'s source: set inputs.pipeline = "image" in [tool.mlguard.inputs] '
        "(or --mlguard-set inputs.pipeline=image) to plan only the checks that apply)"
    )
    with pytest.raises(NotApplicable, match=re.escape("compression applies to image pipelines; this pipeline takes records (inputs.checks (from")):
        check_model(model, data, "inputs[compression]", settings={**settings, "inputs.checks": "compression"}, pipeline=Pipeline(lambda r: 0, input="record", examples=[{}]))
