"""The result cache: keys stable for an unchanged check and new for any change to what decides the
result; entries that give back the same result, restore its artefacts and evaluate no model."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import zoo

from pytest_mlguard import CallableModel, Pipeline, TorchModel
from pytest_mlguard._cache import ResultCache, cache_key, cached_result, fingerprint_model, run_cached
from pytest_mlguard._cache.pipelines import _project_sources
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.contract import EvalData

ACCURACY = family("accuracy")


def evaluation(model, data=None, **cli):
    settings = resolve(cli=cli, environ={}, keys=all_keys())
    return Evaluation(model, data or zoo.digits(), settings)


def key(model, data=None, **cli):
    ev = evaluation(model, data, **cli)
    return cache_key(ev, ACCURACY.plan(ev.settings)[0], ACCURACY)


def test_unchanged_check_has_a_stable_key():
    assert key(zoo.good_model()) == key(zoo.good_model()) is not None


def test_any_weight_change_changes_the_key():
    model = zoo.good_model()
    before = key(model)
    with torch.no_grad():
        next(model.module.parameters()).view(-1)[0] += 1e-6
    assert key(model) != before


def test_plain_attributes_and_buffers_of_the_module_change_the_key():
    good = zoo.good_model()
    model = TorchModel(zoo.Scaled(good.module, 20.0), input_shape=(1, 8, 8), n_classes=10)  # the factor is no parameter
    before = key(model)
    model.module.factor = 1.0
    assert key(model) != before
    model.module.register_buffer("offset", torch.zeros(1), persistent=False)  # not in the state dict
    with_buffer = key(model)
    model.module.offset += 1
    assert key(model) != with_buffer


def test_data_settings_and_threshold_change_the_key():
    base = key(zoo.good_model())
    data = zoo.digits()
    assert key(zoo.good_model(), EvalData(data.x[:-1], data.y[:-1])) != base
    changed = data.x.copy()
    changed[0, 0, 0, 0] += 0.5
    assert key(zoo.good_model(), EvalData(changed, data.y)) != base
    assert key(zoo.good_model(), seed="1") != base
    assert key(zoo.good_model(), samples="100") != base
    assert key(zoo.good_model(), **{"accuracy.floor": "0.9"}) != base
    assert key(zoo.good_model(), **{"corruption.floor": "0.5"}) != base  # a setting of another family: kept, to be safe


def test_where_results_go_does_not_change_the_key(tmp_path):
    base = key(zoo.good_model())
    assert key(zoo.good_model(), output=str(tmp_path)) == base
    assert key(zoo.good_model(), cache="true") == base
    assert key(zoo.good_model(), **{"report.html": "false", "progress.after": "1"}) == base


def test_files_named_by_settings_change_the_key(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.png").write_bytes(b"a")
    before = key(zoo.good_model(), **{"inputs.corpora": str(corpus)})
    (corpus / "b.png").write_bytes(b"b")
    assert key(zoo.good_model(), **{"inputs.corpora": str(corpus)}) != before


def test_the_baseline_model_of_the_gate_is_in_the_key():
    ev = evaluation(zoo.good_model())
    spec = ACCURACY.plan(ev.settings)[0]
    other = zoo.good_model()
    with torch.no_grad():
        next(other.module.parameters()).view(-1)[0] += 1e-3
    keys = {cache_key(ev.with_extras({"baseline_model": baseline}), spec, ACCURACY) for baseline in (other, zoo.good_model())}
    assert len(keys) == 2 and None not in keys
    assert cache_key(ev.with_extras({"baseline_model": zoo.black_box_model()}), spec, ACCURACY) is None


def test_black_boxes_are_cached_only_under_a_version():
    assert fingerprint_model(zoo.black_box_model()) is None
    assert key(zoo.black_box_model()) is None
    versioned = zoo.black_box_model()
    versioned.version = "2024-05-01"  # a black box that names its version is cached under it
    assert key(versioned) is not None
    assert all(family(name).cacheable for name in ("accuracy", "corruption", "attack", "calibration", "drift", "gate", "inputs", "resources", "determinism"))


def pipeline_key(pipeline):
    ev = evaluation(zoo.good_model())
    ev.pipeline = pipeline
    inputs = family("inputs")
    return cache_key(ev, inputs.plan(ev.settings)[0], inputs)


def test_pipeline_checks_are_keyed_by_the_pipelines_code_and_state():
    pipeline = zoo.good_pipeline()
    before = pipeline_key(pipeline)
    assert before is not None and before == pipeline_key(zoo.good_pipeline())
    assert before != pipeline_key(None)  # the key of the check without a pipeline is another
    with torch.no_grad():  # the service's own model (a bound method's object): its weights count
        next(pipeline.fn.__self__.model.parameters()).view(-1)[0] += 1e-6
    assert pipeline_key(pipeline) != before
    # another class (its module's source), other declared rejections, a closure's state
    assert pipeline_key(Pipeline(zoo.IndexErrorOnTruncated().predict, rejects=zoo.InvalidImage)) != before
    assert pipeline_key(Pipeline(zoo.DigitsService().predict, rejects=(zoo.InvalidImage, KeyError))) != before
    services = [zoo.DigitsService(), zoo.DigitsService()]
    with torch.no_grad():
        next(services[1].model.parameters()).view(-1)[0] += 1e-3
    closures = {pipeline_key(Pipeline(lambda data, s=service: s.predict(data), name="x")) for service in services}
    closures |= {pipeline_key(Pipeline(functools.partial(lambda s, data: s.predict(data), service))) for service in services}
    assert len(closures) == 4 and None not in closures


def test_pipeline_code_outside_the_project_is_not_cached_unless_versioned():
    pipeline = Pipeline(len, name="builtin")  # no project source: nothing tells that it changed
    assert pipeline_key(pipeline) is None
    pipeline.version = "3"
    assert pipeline_key(pipeline) is not None


def test_project_sources_follow_the_imports_of_the_pipelines_module(tmp_path, monkeypatch):
    (tmp_path / "helper_mod.py").write_text("SCALE = 1.0\ndef scale(x):\n    return x * SCALE\n")
    (tmp_path / "service_mod.py").write_text("from helper_mod import scale\ndef predict(data):\n    return scale(len(data))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import service_mod

    names = [Path(path).name for path, _ in _project_sources(service_mod)]
    assert names == ["helper_mod.py", "service_mod.py"]
    before = pipeline_key(Pipeline(service_mod.predict))
    (tmp_path / "helper_mod.py").write_text("SCALE = 2.0\ndef scale(x):\n    return x * SCALE\n")  # code predict imports
    assert pipeline_key(Pipeline(service_mod.predict)) != before


@pytest.mark.parametrize("name", ["resources", "determinism", "drift"])
def test_machine_dependent_checks_are_keyed_by_the_machine_and_threads(name, monkeypatch):
    from pytest_mlguard._cache import keys as keys

    checks = family(name)
    assert checks.machine
    ev = evaluation(zoo.good_model())
    spec = checks.plan(ev.settings)[0] if checks.plan(ev.settings) else ACCURACY.plan(ev.settings)[0]
    here = cache_key(ev, spec, checks)
    assert here is not None and here == cache_key(ev, spec, checks)
    monkeypatch.setattr(keys, "machine_identity", lambda: '{"host": "another"}')
    assert cache_key(ev, spec, checks) != here
    monkeypatch.undo()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert cache_key(ev, spec, checks) != here
    finally:
        torch.set_num_threads(threads)
    assert not ACCURACY.machine and cache_key(ev, ACCURACY.plan(ev.settings)[0], ACCURACY) == key(zoo.good_model())


def counting_model() -> tuple[CallableModel, list[int]]:
    net = zoo.good_model()
    calls: list[int] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return net.predict_proba(batch)

    model = CallableModel(predict, input_shape=(1, 8, 8), n_classes=10, name="counted")
    model.version = "1"
    return model, calls


def test_a_hit_gives_the_same_result_without_evaluating_the_model(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    model, calls = counting_model()
    ev = evaluation(model, output=str(tmp_path / "out"))
    first = run_cached(cache, ev, ACCURACY, ACCURACY.plan(ev.settings)[0])
    assert sum(calls) == zoo.digits().n
    calls.clear()
    ev = evaluation(model, output=str(tmp_path / "out"))
    second = run_cached(cache, ev, ACCURACY, ACCURACY.plan(ev.settings)[0])
    assert calls == [] and "clean_proba" not in vars(ev)  # not even the clean predictions
    assert second.details["cached"]["duration_s"] == first.duration_s
    strip = lambda result: {**result.to_dict(), "duration_s": 0, "details": {k: v for k, v in result.details.items() if k != "cached"}}  # noqa: E731
    assert strip(second) == strip(first)
    assert json.loads(json.dumps(second.to_dict()))["details"]["cached"]["key"] == second.details["cached"]["key"]
    assert run_cached(None, ev, ACCURACY, ACCURACY.plan(ev.settings)[0]).details.get("cached") is None  # cache off


def test_a_check_that_does_not_apply_is_remembered_and_skipped_again(tmp_path):
    from pytest_mlguard.errors import NotApplicable

    cache = ResultCache(tmp_path / "cache")
    inputs = family("inputs")
    ev = evaluation(zoo.good_model(), output=str(tmp_path / "out"))
    ev.pipeline = zoo.good_pipeline()  # image files: missing-fields is for records
    spec = inputs.spec("missing-fields", ev.settings)
    with pytest.raises(NotApplicable, match="record pipelines") as first:
        run_cached(cache, ev, inputs, spec)
    ran = []
    ev.run = lambda *args: ran.append(args)  # a hit must not run the check
    with pytest.raises(NotApplicable) as second:
        run_cached(cache, ev, inputs, spec)
    assert ran == [] and str(second.value) == str(first.value)


def test_artefacts_are_restored_into_this_runs_report_and_paths_follow(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    before = evaluation(zoo.good_model(), output=str(tmp_path / "first"))
    spec = ACCURACY.plan(before.settings)[0]
    started = time.time()
    directory = before.artifact_dir(spec)
    (directory / "worst.npy").write_bytes(b"\x93NUMPY example")
    measurement, duration = before.measure(ACCURACY, spec)
    measurement = dataclasses.replace(
        measurement, details={"artifact": str(directory / "worst.npy")}, message=f"the worst input is saved as {directory / 'worst.npy'}"
    )
    cache.store("k", measurement, duration, before, spec, started=started)

    after = evaluation(zoo.good_model(), output=str(tmp_path / "second"))
    hit = cache.lookup("k", after, spec)
    restored = after.settings.output / "artifacts" / directory.name / "worst.npy"
    assert restored.read_bytes() == b"\x93NUMPY example"
    assert hit.details["artifact"] == str(restored) and str(restored) in hit.message
    assert hit.details["cached"]["artifacts"] == "restored"


def test_unreadable_or_foreign_entries_are_misses(tmp_path):
    cache = ResultCache(tmp_path)
    ev = evaluation(zoo.good_model())
    spec = ACCURACY.plan(ev.settings)[0]
    assert cache.lookup("absent", ev, spec) is None
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "broken.json").write_text("{not json")
    (tmp_path / "results" / "old.json").write_text(json.dumps({"format": 0, "result": {}}))
    (tmp_path / "results" / "odd.json").write_text(json.dumps({"format": 1, "result": {"id": "x"}}))
    assert [cache.lookup(name, ev, spec) for name in ("broken", "old", "odd")] == [None, None, None]


def test_clear_removes_results_and_artefacts(tmp_path):
    cache = ResultCache(tmp_path / "mlguard")
    assert cache.clear() == 0
    ev = evaluation(zoo.good_model())
    cache.put("k", {"not_applicable": "for record pipelines"}, ev, ACCURACY.plan(ev.settings)[0])
    (tmp_path / "mlguard" / "artifacts" / "k").mkdir(parents=True)
    assert cache.read("k")["not_applicable"] == "for record pipelines"
    assert cache.clear() == 1
    assert cache.read("k") is None and not (tmp_path / "mlguard" / "artifacts").exists()


def test_a_cache_that_cannot_be_written_warns_and_keeps_the_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    ev = evaluation(zoo.good_model())
    with pytest.warns(RuntimeWarning, match="could not cache the result of accuracy"):
        result = run_cached(ResultCache(blocker), ev, ACCURACY, ACCURACY.plan(ev.settings)[0])
    assert result.value == pytest.approx(ev.clean_accuracy())


def test_budget_limits_are_in_the_key_and_a_full_result_serves_a_limited_run(tmp_path):
    model, calls = counting_model()
    ev = evaluation(model)
    spec = ACCURACY.plan(ev.settings)[0]
    full = cache_key(ev, spec, ACCURACY)
    limited = ev.with_limits(SimpleNamespace(samples=50))  # what --mlguard-budget gives a check it shortens
    assert cache_key(limited, spec, ACCURACY) != full
    assert cache_key(limited, spec, ACCURACY, limited=False) == full
    assert ev.limits is None and cache_key(ev, spec, ACCURACY) == full  # the evaluation itself keeps no limits
    cache = ResultCache(tmp_path)
    run_cached(cache, ev, ACCURACY, spec)
    calls.clear()
    ev = evaluation(model).with_limits(SimpleNamespace(samples=50))
    assert run_cached(cache, ev, ACCURACY, spec).details["cached"]["key"] == full and calls == []


# -- the key holds everything that changes the function a module computes (issue 12) -------------


def test_a_forward_hook_is_not_served_a_stale_pass(tmp_path):
    cache = ResultCache(tmp_path)
    model = zoo.good_model()
    ev = evaluation(model)
    spec = ACCURACY.plan(ev.settings)[0]
    assert run_cached(cache, ev, ACCURACY, spec).passed
    model.module.register_forward_hook(lambda m, i, o: -o)  # the same weights, the opposite answers
    result = run_cached(cache, evaluation(model), ACCURACY, spec)
    assert "cached" not in result.details and not result.passed


def negate(module, args, output):
    return -output


def shift_input(module, args):
    return (args[0] + 1.0,)


def hooked(register) -> str:
    model = zoo.good_model()
    register(model.module)
    return key(model)


def test_hooks_of_every_submodule_their_code_and_closure_state_change_the_key():
    plain = key(zoo.good_model())
    first = lambda module: next(iter(module.children()))  # noqa: E731
    variants = {
        "forward hook": hooked(lambda m: m.register_forward_hook(negate)),
        "forward hook of a submodule": hooked(lambda m: first(m).register_forward_hook(negate)),
        "forward hook with kwargs": hooked(lambda m: m.register_forward_hook(lambda mod, a, k, o: -o, with_kwargs=True)),
        "forward pre-hook": hooked(lambda m: first(m).register_forward_pre_hook(shift_input)),
        "backward hook": hooked(lambda m: m.register_full_backward_hook(lambda mod, gi, go: gi)),
        "backward pre-hook": hooked(lambda m: m.register_full_backward_pre_hook(lambda mod, go: go)),
    }
    scales = {}
    for factor in (2.0, 3.0):  # one hook code, two closure states
        scales[factor] = hooked(lambda m, factor=factor: m.register_forward_hook(lambda mod, i, o: o * factor))
    assert len({plain, *variants.values(), *scales.values()}) == 1 + len(variants) + len(scales), variants
    assert hooked(lambda m: m.register_forward_hook(negate)) == variants["forward hook"]  # stable
    handle_model = zoo.good_model()
    handle = handle_model.module.register_forward_hook(negate)
    handle.remove()
    assert key(handle_model) == plain


def test_a_global_module_hook_changes_the_key():
    plain = key(zoo.good_model())
    handle = torch.nn.modules.module.register_module_forward_hook(negate)
    try:
        assert key(zoo.good_model()) != plain
    finally:
        handle.remove()
    assert key(zoo.good_model()) == plain


class Negate(torch.nn.Module):
    def forward(self, weight):
        return -weight


class Scale(torch.nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = torch.tensor(factor)  # a plain tensor attribute: neither parameter nor buffer

    def forward(self, weight):
        return weight * self.factor


def parametrized(parametrization) -> str:
    from torch.nn.utils import parametrize

    model = zoo.good_model()
    layer = next(m for m in model.module.modules() if isinstance(m, torch.nn.Linear))
    parametrize.register_parametrization(layer, "weight", parametrization)
    return key(model)


def test_parametrizations_and_their_state_change_the_key():
    keys = [key(zoo.good_model()), parametrized(Negate()), parametrized(Scale(2.0)), parametrized(Scale(3.0))]
    assert len(set(keys)) == 4 and parametrized(Scale(2.0)) == keys[2]


def test_attributes_forward_reads_change_the_key():
    """A forward replaced on the instance, a tensor or private attribute: none is a parameter or buffer."""
    plain = key(zoo.good_model())
    model = zoo.good_model()
    original = model.module.forward
    model.module.forward = lambda x: -original(x)
    assert key(model) != plain
    tensors = []
    for value in (1.0, 2.0):
        model = TorchModel(zoo.Scaled(zoo.good_model().module, 1.0), input_shape=(1, 8, 8), n_classes=10)
        model.module.offset = torch.tensor(value)
        model.module._temperature = value
        tensors.append(key(model))
    assert tensors[0] != tensors[1]


def test_torch_jit_and_compile_wrappers_are_in_the_key():
    net = zoo.good_model().module
    scripted = TorchModel(torch.jit.script(zoo.Scaled(net, 1.0)), input_shape=(1, 8, 8), n_classes=10)
    traced = TorchModel(torch.jit.trace(zoo.Scaled(net, 1.0).eval(), torch.zeros(2, 1, 8, 8)), input_shape=(1, 8, 8), n_classes=10)
    keys = {key(scripted), key(traced)}
    for backend in ("eager", "aot_eager"):
        keys.add(key(TorchModel(torch.compile(zoo.Scaled(net, 1.0), backend=backend), input_shape=(1, 8, 8), n_classes=10)))
    assert len(keys) == 4 and None not in keys
    again = TorchModel(torch.compile(zoo.Scaled(net, 1.0), backend="eager"), input_shape=(1, 8, 8), n_classes=10)
    assert key(again) in keys  # stable across wrappers of one configuration
    compiled_forward = zoo.good_model()
    compiled_forward.module.forward = torch.compile(compiled_forward.module.forward, backend="eager")
    assert key(compiled_forward) not in keys | {key(zoo.good_model())}


def test_an_opaque_hook_is_not_cached_and_says_why(tmp_path):
    import ctypes

    # a C function pointer: no code to read, and an address for a name
    opaque = ctypes.CFUNCTYPE(ctypes.py_object, ctypes.py_object, ctypes.py_object)(lambda module, args: None)
    model = zoo.good_model()
    model.module.register_forward_pre_hook(opaque)
    assert key(model) is None and fingerprint_model(model) is None
    cache = ResultCache(tmp_path)
    ev = evaluation(model)
    result = run_cached(cache, ev, ACCURACY, ACCURACY.plan(ev.settings)[0])
    assert result.passed and "cached" not in result.details
    assert "forward pre-hook" in result.details["cache_miss"] and "CFunctionType" in result.details["cache_miss"]
    assert not (tmp_path / "results").exists()  # nothing stored


def test_the_budget_setting_is_not_in_the_key_and_a_full_result_serves_a_budgeted_run(tmp_path):
    plain = key(zoo.good_model())
    assert key(zoo.good_model(), budget="60s") == key(zoo.good_model(), budget="2m") == plain
    model, calls = counting_model()
    cache = ResultCache(tmp_path)
    ev = evaluation(model)
    spec = ACCURACY.plan(ev.settings)[0]
    run_cached(cache, ev, ACCURACY, spec)  # a full run stores the full result
    calls.clear()
    budgeted = evaluation(model, budget="60s")
    assert cached_result(cache, budgeted, ACCURACY, spec).details["cached"]["key"] == cache_key(ev, spec, ACCURACY)
    assert "cached" in run_cached(cache, budgeted.with_limits(SimpleNamespace(samples=50)), ACCURACY, spec).details and calls == []
    other = evaluation(model, budget="2m")  # another budget: the same entries
    assert "cached" in run_cached(cache, other, ACCURACY, spec).details and calls == []


def standard_layers() -> torch.nn.Module:
    """torch's layers that keep more than parameters: weak references (LSTM), hook objects
    (spectral norm), parametrizations (weight norm), attention's flags."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.utils.spectral_norm(torch.nn.Linear(64, 32)),
        torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(32, 32)),
        torch.nn.BatchNorm1d(32),
        torch.nn.Unflatten(1, (4, 8)),
        torch.nn.LSTM(8, 8, batch_first=True),
    )


def test_standard_layers_have_a_stable_key():
    keys = set()
    for _ in range(2):  # two copies with the same weights: one key
        net = standard_layers()
        net.append(torch.nn.MultiheadAttention(8, 2, batch_first=True))
        keys.add(key(TorchModel(net, input_shape=(1, 8, 8), n_classes=10)))
    assert len(keys) == 1 and None not in keys


FAMILY_MODULE = """
from pytest_mlguard.checks import CheckSpec, Family, Measurement
from pytest_mlguard.config import Threshold

SHARE = {share}


def run_even(spec, evaluation):
    even = evaluation.data.y % 2 == 0
    return Measurement(value=float(even.mean() * SHARE), n=evaluation.data.n)


FAMILY = Family("even", (), lambda settings: [CheckSpec("even", None, "share", Threshold(0.1))], run_even)
"""


def test_a_conftest_familys_own_code_is_in_the_key(tmp_path, monkeypatch):
    """docs/extending.md: editing a family's check function (or what it reads) gives its checks new keys."""
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "even_family.py"

    def key_with(code: str) -> str | None:
        source.write_text(code)
        sys.modules.pop("even_family", None)
        importlib.invalidate_caches()
        module = importlib.import_module("even_family")
        ev = evaluation(zoo.good_model())
        return cache_key(ev, module.FAMILY.plan(ev.settings)[0], module.FAMILY)

    try:
        before = key_with(FAMILY_MODULE.format(share=1.0))
        assert before is not None and key_with(FAMILY_MODULE.format(share=1.0)) == before
        assert key_with(FAMILY_MODULE.format(share=0.5)) != before  # a global its check reads
        edited = FAMILY_MODULE.format(share=1.0).replace("y % 2 == 0", "y % 2 == 1")
        assert key_with(edited) != before  # the check's own code
    finally:
        sys.modules.pop("even_family", None)
    assert key(zoo.good_model()) == key(zoo.good_model())  # a built-in family: pytest-mlguard's source is keyed already
