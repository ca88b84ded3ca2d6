"""The files a run writes: badges and shields.io endpoints, report.html (escaping, plots, thumbnails,
graceful gaps), the terminal summary, and the progress lines of long checks."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import time

import numpy as np
import pytest
from PIL import Image

from pytest_mlguard.reporting import build_report, write_outputs
from pytest_mlguard.reporting._badge import badge_files, endpoint_json, family_scores
from pytest_mlguard.reporting._examples import artifact_dir_name, failing_examples, thumbnail
from pytest_mlguard.reporting._html import render_html
from pytest_mlguard.reporting._progress import Progress, check_label
from pytest_mlguard.reporting._terminal import slowest_lines, summary_lines

EVIL = "<script>alert(1)</script>"


def check(check_id, value, *, model="digits", metric="accuracy", kind="floor", passed=True, details=None, threshold=0.5):
    return {
        "id": check_id,
        "model": model,
        "family": check_id.partition("[")[0],
        "metric": metric,
        "value": value,
        kind: threshold,
        "threshold": f"{threshold:g}",
        "n": 100,
        "passed": passed,
        "seed": 0,
        "duration_s": 0.1,
        "details": details or {},
    }


def reliability(n_bins=10):
    rng = np.random.default_rng(0)
    confidence = np.linspace(0.05, 0.95, n_bins)
    return {
        "edges": np.linspace(0, 1, n_bins + 1).tolist(),
        "count": [0.0, 0.0, *rng.integers(1, 50, n_bins - 2).astype(float).tolist()],
        "accuracy": [0.0, 0.0, *(confidence[2:] - 0.1).tolist()],
        "confidence": [0.0, 0.0, *confidence[2:].tolist()],
    }


def full_checks():
    """A run with every kind of plot data, as the families write it."""
    checks = [check("accuracy", 0.97, details={"per_class": {"0": 1.0}})]
    for severity, value in ((1, 0.95), (3, 0.9), (5, 0.6)):
        checks.append(
            check(f"corruption[gaussian_noise-{severity}]", value, passed=value > 0.7,
                  details={"corruption": "gaussian_noise", "severity": severity, "clean_accuracy": 0.97, "ece": 0.02 * severity})
        )
    for eps, value in ((0.05, 0.8), (0.1, 0.5)):
        checks.append(
            check(f"attack[pgd-linf-{eps}]", value, metric="robust_accuracy",
                  details={"attack": "pgd", "norm": "linf", "eps": eps, "clean_accuracy": 0.97, "ece": eps})
        )
    checks.append(check("calibration[ece]", 0.03, metric="ece", kind="ceiling", details={"reliability": reliability()}))
    return checks


def report_of(checks, models=None):
    models = models or {"digits": {"name": "digits", "kind": "torch", "input_shape": [1, 8, 8], "value_range": [0.0, 1.0], "class_names": [str(i) for i in range(10)]}}
    return build_report(checks, seed=0, samples=None, models=models)


def images_in(page):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


# -- badges ---------------------------------------------------------------------------------------
def test_family_badges_and_shields_endpoints():
    checks = [check("accuracy", 0.9), check("accuracy", 0.7, model="other"), check("attack[fgsm-linf-0.1]", 0.4, details={"clean_accuracy": 0.8})]
    report = report_of(checks, models={"digits": {}, "other": {}})
    assert family_scores(report) == {"accuracy": 80.0, "attack": 50.0}
    files = badge_files(report)
    assert sorted(files) == ["badge-accuracy.json", "badge-accuracy.svg", "badge-attack.json", "badge-attack.svg", "badge.json", "badge.svg"]
    endpoint = json.loads(files["badge.json"])
    assert endpoint == {"schemaVersion": 1, "label": "robustness", "message": f"{report['score']:.1f}", "color": "yellow"}
    assert json.loads(files["badge-attack.json"]) == {"schemaVersion": 1, "label": "robustness: attack", "message": "50.0", "color": "orange"}
    assert ">robustness: attack<" in files["badge-attack.svg"] and ">50.0<" in files["badge-attack.svg"]
    assert json.loads(endpoint_json(99.96))["message"] == "100.0"


def test_write_outputs_writes_every_file_and_returns_their_paths(tmp_path):
    report = report_of(full_checks())
    paths = write_outputs(report, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "report.json", "report.html", "badge.svg", "badge.json",
        *(f"badge-{f}.{s}" for f in ("accuracy", "attack", "calibration", "corruption") for s in ("svg", "json")),
    }
    assert paths["report"] == tmp_path / "report.json" and paths["html"] == tmp_path / "report.html"
    assert paths["endpoint"] == tmp_path / "badge.json" and paths["badge-attack"] == tmp_path / "badge-attack.svg"
    without_html = write_outputs(report, tmp_path / "no-html", html=False)
    assert "html" not in without_html and not (tmp_path / "no-html" / "report.html").exists()


def test_a_plotting_bug_still_writes_the_json_and_says_so_in_the_page(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {EVIL}")

    monkeypatch.setattr("pytest_mlguard.reporting._html.render_html", broken)
    write_outputs(report_of(full_checks()), tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["total"] == 7
    page = (tmp_path / "report.html").read_text()
    assert "report.html could not be drawn" in page and "boom &lt;script&gt;" in page and EVIL not in page


# -- report.html ----------------------------------------------------------------------------------
def test_page_escapes_every_user_string(tmp_path):
    evil_model = f'model"><img src=x onerror=alert(2)>{EVIL}'
    checks = [check("accuracy", 0.2, model=evil_model, passed=False)]
    directory = tmp_path / "artifacts" / artifact_dir_name(evil_model, "accuracy")
    directory.mkdir(parents=True)
    (directory / "<b>evil.bin").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    models = {evil_model: {"name": evil_model, "kind": "torch", "class_names": [EVIL, "<i>cat</i>"], "input_shape": [3, 8, 8]}}
    page = render_html(report_of(checks, models), tmp_path)
    assert "<script" not in page and "<img src=x" not in page and "<b>evil" not in page and "<i>cat" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;evil.bin" in page
    assert "default-src 'none'" in page  # and nothing may run or load even if escaping were missed


def test_plots_drawn_before_are_reused_and_redrawn_when_what_they_show_changes(tmp_path, monkeypatch):
    from pytest_mlguard.reporting import plots

    figures = tmp_path / "figures"
    checks = full_checks()
    first = render_html(report_of(checks), tmp_path, figures=figures)
    drawn = sorted(p.name for p in figures.iterdir())
    assert len(drawn) >= 5  # score, reliability, corruption, attack, calibration-shift

    calls = []
    for name in ("score_figure", "reliability_figures", "corruption_figure", "attack_figure", "shift_calibration_figure"):
        original = getattr(plots, name)
        monkeypatch.setattr(plots, name, lambda *args, _f=original, _n=name: calls.append(_n) or _f(*args))
        monkeypatch.setattr(getattr(plots, name), "__qualname__", original.__qualname__, raising=False)
    # a cached re-run: the same results, other durations, marked as cached
    rerun = [{**c, "duration_s": 0.001, "details": {**c["details"], "cached": {"key": "k"}}} for c in checks]
    assert images_in(render_html(report_of(rerun), tmp_path, figures=figures)) == images_in(first) and calls == []
    changed = [{**c, "value": 0.05} if c["family"] == "corruption" else c for c in checks]
    render_html(report_of(changed), tmp_path, figures=figures)
    assert "corruption_figure" in calls and "attack_figure" not in calls
    assert render_html(report_of(checks), tmp_path) == first  # without a cache directory: drawn, the same page


def test_page_says_which_checks_stopped_early_and_which_came_from_the_cache(tmp_path):
    stopped = {**check("corruption[fog-3]", 0.9), "evaluations_saved": 300}
    cached = check("accuracy", 0.95, details={"cached": {"key": "k", "stored_at": "2026-11-26T01:00:00+0000"}})
    page = render_html(report_of([stopped, cached, check("calibration[ece]", 0.02, metric="ece", kind="ceiling")]), tmp_path)
    assert re.search(r'<th class="num saved" title="[^"]*">evaluations saved by stopping early</th>', page)
    assert '<td class="num saved">300</td>' in page and page.count("stopped early") == 0
    assert "from the cache, measured 2026-11-26T01:00:00+0000" in page and page.count("from the cache") == 1


def test_page_has_every_plot_when_the_checks_carry_their_data(tmp_path):
    page = render_html(report_of(full_checks()), tmp_path)
    kinds = re.findall(r'data-plot="([a-z-]+)"', page)
    assert kinds == ["reliability", "corruption", "attack", "calibration-shift"]
    assert "No reliability diagram" not in page and "no corruption check" not in page
    for encoded in images_in(page):
        image = Image.open(io.BytesIO(base64.b64decode(encoded)))
        assert image.format == "PNG" and image.width >= 300
    assert "failed" in page and "corruption[gaussian_noise-5]" in page


def test_page_degrades_gracefully_without_plot_data_or_results(tmp_path):
    page = render_html(report_of([check("accuracy", 0.9), check("calibration[ece]", 0.1, metric="ece", kind="ceiling", details={"reliability": {"count": "junk"}})]), tmp_path)
    assert re.findall(r'data-plot="([a-z-]+)"', page) == []
    for line in ("No reliability diagram", "No accuracy-against-severity plot", "No robust-accuracy-against-epsilon plot", "No check failed."):
        assert line in page
    empty = render_html(build_report([], seed=0, samples=None, models={}), tmp_path)
    assert "No checks ran." in empty


def test_page_shows_intervals_and_inconclusive_verdicts_where_checks_carry_them(tmp_path):
    checks = [dict(check("accuracy", 0.9), interval=[0.85, 0.93], verdict="inconclusive"), check("attack[fgsm-linf-0.1]", 0.5, details={"interval": {"low": 0.4, "high": 0.6}})]
    page = render_html(report_of(checks), tmp_path)
    assert "[0.8500, 0.9300]" in page and "[0.4000, 0.6000]" in page
    assert 'class="verdict verdict-inconclusive">inconclusive</td>' in page


def test_page_shows_the_baseline_comparison(tmp_path):
    from pytest_mlguard._baseline import Tolerance
    from pytest_mlguard._baseline.compare import compare_runs

    base = report_of([check("accuracy", 0.97)])
    report = report_of([check("accuracy", 0.90)])
    report["comparison"] = compare_runs(report, dict(base, name="main"), [Tolerance.parse("accuracy:1pp")])
    page = render_html(report, tmp_path)
    assert "Comparison with baseline main" in page
    assert re.search(r'<tr class="regressed">\s*<td>digits</td><td><code>accuracy</code></td>', page)
    assert "Regressed beyond tolerance: digits::accuracy accuracy" in page


def test_page_lists_the_checks_not_measured_with_their_reason(tmp_path):
    report = report_of([check("accuracy", 0.9), check("attack[fgsm-linf-0.1]", 0.5)])
    report["skipped"] = [
        {"id": "inputs[missing-fields]", "model": "digits", "nodeid": "conftest.py::mlguard::inputs[missing-fields]", "kind": "not-applicable", "reason": f"the pipeline takes image-bytes {EVIL}"},
        {"id": "attack[pgd-linf-0.1]", "model": "digits", "nodeid": "conftest.py::mlguard::attack[pgd-linf-0.1]", "kind": "cut", "reason": "needs 40 s, 3 s left"},
        {"nodeid": "test_x.py::test_custom", "kind": "skipped", "reason": "no GPU"},
    ]
    report["budget"] = {"seconds": 30, "spent_s": 29.0, "throughput": 1.0, "shortened": [], "cut": [
        {"check": "attack[pgd-linf-0.1]", "node": "conftest.py::mlguard::attack[pgd-linf-0.1]", "reason": "needs 40 s, 3 s left"},
        {"check": "calibration[ece]", "node": "conftest.py::mlguard::calibration[ece]", "reason": "needs 2 s, 0 s left"},
    ]}
    page = render_html(report, tmp_path)
    assert "2 of 2 checks passed; not measured: 1 not applicable, 2 cut, 1 skipped" in page
    rows = re.findall(r'<tr class="not-measured [a-z-]+">\s*<td>(.*?)</td>\s*<td><code>(.*?)</code>(.*?)</td>\s*<td class="status">(.*?)</td>\s*<td>(.*?)</td>', page)
    assert [(model, check_id, status, reason) for model, check_id, _, status, reason in rows] == [
        ("digits", "inputs[missing-fields]", "not applicable", "the pipeline takes image-bytes &lt;script&gt;alert(1)&lt;/script&gt;"),
        ("digits", "attack[pgd-linf-0.1]", "cut", "needs 40 s, 3 s left"),
        ("–", "test_custom", "skipped", "no GPU"),
        ("–", "calibration[ece]", "cut", "needs 2 s, 0 s left"),  # from the budget, which the list did not name
    ]
    assert "test_x.py::test_custom" in rows[2][2]
    assert "Not measured" not in render_html(report_of([check("accuracy", 0.9)]), tmp_path)


def test_page_warns_when_the_run_was_interrupted_or_partial(tmp_path):
    plain = render_html(report_of([check("accuracy", 0.9)]), tmp_path)
    assert 'id="interrupted"' not in plain and 'id="partial"' not in plain
    report = {**report_of([check("accuracy", 0.9)]), "interrupted": True, "partial": True, "selection": {"-k": "fgsm", "deselected": 30}}
    page = render_html(report, tmp_path)
    assert re.search(r'<div class="banner bad" id="interrupted"><strong>Interrupted</strong>: the report holds only', page)
    assert re.search(r'<div class="banner note" id="partial"><strong>Partial run</strong>: only a selection of the checks ran \(<code>-k fgsm, deselected 30</code>\)', page)
    assert "(<code>fgsm</code>)" in render_html({**report, "selection": ["fgsm"]}, tmp_path)


def test_inconclusive_checks_are_counted_in_the_summary_the_terminal_and_the_page(tmp_path):
    undecided = {**check("accuracy", 0.9), "verdict": "inconclusive", "policy": "lenient", "required_n": 1234, "interval": {"low": 0.85, "high": 0.93}}
    never = {**check("calibration[mce]", 0.3, metric="mce", kind="ceiling"), "verdict": "inconclusive", "policy": "lenient", "required_n": None}
    decided = {**check("attack[fgsm-linf-0.1]", 0.5), "verdict": "passed"}
    rules = {"procedure": "bonferroni", "checks": 3, "confidence": 0.95, "check_confidence": 1 - 0.05 / 3}
    report = report_of([{**c, "error_control": rules} for c in (undecided, never, decided)])
    assert "any wrong decided label in at most 5.0%; 2 inconclusive." in render_html(report, tmp_path)
    assert report["summary"]["inconclusive"] == 2 and report["summary"]["passed"] == 3  # before: no count
    lines = [(line, style) for line, style in summary_lines(report, {})]
    heading = next(i for i, (line, _) in enumerate(lines) if "inconclusive (" in line)
    assert lines[heading] == ("2 of 3 checks inconclusive (passed by policy lenient): the samples did not decide them", {"bold": True, "yellow": True})
    assert [line for line, _ in lines[heading + 1 : heading + 3]] == [
        "  inconclusive digits::accuracy: n=100, n=1234 would decide",
        "  inconclusive digits::calibration[mce]: n=100, no sample size would decide",
    ]
    assert not any("inconclusive (" in line for line, _ in summary_lines(report_of([decided]), {}))


def test_custom_results_name_the_test_that_made_them(tmp_path):
    suite = {**check("accuracy", 0.97), "nodeid": "examples/digits/conftest.py::mlguard::accuracy"}
    custom = {**check("accuracy", 0.97, threshold=0.5), "nodeid": "tests/test_robust.py::test_subset"}
    old = check("attack[fgsm-linf-0.1]", 0.5)  # a report written before checks carried their node id
    report = report_of([suite, custom, old])
    page = render_html(report, tmp_path)
    assert page.count('<div class="meta test">from <code>tests/test_robust.py::test_subset</code></div>') == 1
    assert page.count('class="meta test"') == 1
    lines = [line for line, _ in summary_lines(report, {})]
    assert [line.endswith("  (tests/test_robust.py::test_subset)") for line in lines[:3]] == [False, True, False]


def test_slowest_checks_with_their_cost_slowest_first():
    checks = [
        {**check("accuracy", 0.9), "duration_s": 0.5, "evaluations": 360},
        {**check("attack[square-linf-0.1]", 0.7), "duration_s": 12.25, "evaluations": 15169, "nodeid": "test_a.py::test_square"},
        {**check("calibration[ece]", 0.02), "duration_s": 1.0, "evaluations": None, "details": {"cached": {"key": "k"}}},
    ]
    assert list(slowest_lines(checks, 2)) == [
        "slowest 2 checks (--mlguard-durations N to list more or fewer):",
        "   12.25 s      15169 evaluations  digits::attack[square-linf-0.1]  (test_a.py::test_square)",
        "    1.00 s                         digits::calibration[ece] (cached)",
    ]
    assert list(slowest_lines(checks, 0)) == [] and len(list(slowest_lines(checks, 10))) == 4
    lines = [line for line, _ in summary_lines(report_of(checks), {}, slowest=1)]
    assert lines[3:5] == ["slowest check (--mlguard-durations N to list more or fewer):", "   12.25 s      15169 evaluations  digits::attack[square-linf-0.1]  (test_a.py::test_square)"]


# -- plots ----------------------------------------------------------------------------------------
def test_reliability_bars_never_overlap_and_each_looks_like_its_legend_entry():
    from matplotlib.patches import Rectangle

    from pytest_mlguard.reporting.plots import reliability_diagram

    # one bin underconfident (accuracy 1.0 at confidence 0.56, a single sample), one overconfident, one calibrated
    bins = {"edges": [0.0, 0.5, 0.6, 0.9, 1.0], "count": [0, 1, 6, 345], "accuracy": [0.0, 1.0, 0.67, 0.99], "confidence": [0.0, 0.56, 0.9, 0.99]}
    figure = reliability_diagram(check("calibration[ece]", 0.02, metric="ece", kind="ceiling"), bins)
    top = figure.axes[0]
    shown = top.get_legend()  # what the legend draws: its patches and their texts
    legend = {t.get_text(): (tuple(h.get_facecolor()), h.get_hatch()) for h, t in zip(shown.legend_handles, shown.get_texts()) if isinstance(h, Rectangle)}
    assert sorted(legend) == ["accuracy", "accuracy above confidence", "confidence above accuracy"]
    bars = [p for p in top.patches if isinstance(p, Rectangle) and p.get_height() > 0]
    assert all(p.get_facecolor()[3] == 1.0 for p in bars), "bars are opaque: no colour mixes into one the legend does not show"
    assert all((tuple(p.get_facecolor()), p.get_hatch()) in legend.values() for p in bars)
    by_bin: dict = {}
    for p in bars:
        by_bin.setdefault(round(p.get_x(), 6), []).append((p.get_y(), p.get_y() + p.get_height()))
    for spans in by_bin.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(spans)), spans  # stacked, never drawn over each other
    assert max(top for spans in by_bin.values() for _, top in spans) == pytest.approx(1.0)  # the bin at 0.56 reaches its accuracy


def test_minimal_attacks_are_named_as_such_not_as_sweeps():
    from pytest_mlguard.reporting.plots import attack_series

    sweep = check("attack[pgd-linf-sweep]", 0.6, details={"attack": "pgd", "norm": "linf", "curve": {"eps": [0.05, 0.1], "robust_accuracy": [0.8, 0.5]}})
    deepfool = check("attack[deepfool-l2]", 0.5, metric="median_perturbation",
                     details={"attack": "deepfool", "norm": "l2", "perturbation": {"norm": "l2"}, "curve": {"eps": [0.5, 1.0], "robust_accuracy": [0.6, 0.1]}})
    assert sorted(attack_series([sweep, deepfool])) == ["deepfool-l2 (minimal perturbation)", "pgd-linf (sweep)"]
    page = render_html(report_of([sweep, deepfool]), ".")
    assert 'alt="robust accuracy against epsilon of digits: deepfool-l2 (minimal perturbation), pgd-linf (sweep)"' in page


def test_calibration_under_shift_draws_single_points_as_bars_beside_their_own_clean_ece():
    from pytest_mlguard.reporting.plots import (
        shift_calibration_figure,
        shift_layout,
        shift_points,
    )

    def attack(name, eps, ece, clean, n):
        return {**check(f"attack[{name}-{eps}]", 0.5, details={"attack": name.split("-")[0], "norm": "linf", "eps": eps, "ece_adversarial": ece, "clean_ece": clean}), "n": n}

    noise = check("corruption[gaussian_noise-3]", 0.9, details={"corruption": "gaussian_noise", "severity": 3, "ece": 0.09, "clean_ece": 0.016})
    fgsm, square = attack("fgsm-linf", 0.1, 0.29, 0.05, 60), attack("square-linf", 0.1, 0.22, 0.06, 30)
    lines, bars = shift_layout(shift_points([noise], [fgsm, square]))
    assert lines == {}  # no series has two measured points: no line from a clean value to a single point
    assert [(b["label"], b["ece"], b["clean"]) for b in bars] == [("gaussian_noise-3", 0.09, 0.016), ("fgsm-linf-0.1", 0.29, 0.05), ("square-linf-0.1", 0.22, 0.06)]
    image = Image.open(io.BytesIO(base64.b64decode(shift_calibration_figure("digits", [noise], [fgsm, square]))))
    assert image.width < 600  # one panel of bars, not one panel per severity and norm

    severities = [check(f"corruption[gaussian_noise-{s}]", 0.9, details={"corruption": "gaussian_noise", "severity": s, "ece": 0.02 * s, "clean_ece": 0.016}) for s in (1, 3, 5)]
    lines, bars = shift_layout(shift_points(severities, [fgsm, square]))
    assert [p["x"] for p in lines["severity"]["gaussian_noise"]] == [1.0, 3.0, 5.0] and [b["label"] for b in bars] == ["fgsm-linf-0.1", "square-linf-0.1"]
    image = Image.open(io.BytesIO(base64.b64decode(shift_calibration_figure("digits", severities, [fgsm, square]))))
    assert image.width >= 1000  # a panel of lines against severity, and the bars


# -- thumbnails of failing examples ---------------------------------------------------------------
def test_thumbnails_from_arrays_images_and_undecodable_files(tmp_path):
    batch = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "adversarial.npy", batch)
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "truncated.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    shown = thumbnail(tmp_path / "adversarial.npy", limit=2)
    assert [e["file"] for e in shown] == ["adversarial.npy [0]", "adversarial.npy [1]"]
    assert Image.open(io.BytesIO(base64.b64decode(shown[0]["png"]))).size == (96, 96)  # 8x8 enlarged pixel for pixel
    assert thumbnail(tmp_path / "photo.png")[0]["size"] == [30, 20]  # the original size, shown under the thumbnail
    card = thumbnail(tmp_path / "truncated.bin")[0]
    assert "png" not in card and card["head"] == "89 50 4e 47 0d 0a 1a 0a 00 00" and card["error"]
    hwc = np.zeros((8, 8, 3), np.float32)
    assert len(thumbnail(_saved(tmp_path / "hwc.npy", hwc))) == 1
    assert "not an image" in thumbnail(_saved(tmp_path / "flat.npy", np.zeros(5)))[0]["error"]


def _saved(path, array):
    np.save(path, array)
    return path


def test_failing_examples_come_from_details_and_artifact_dirs_of_failing_checks_only(tmp_path):
    directory = tmp_path / "artifacts" / artifact_dir_name("digits", "attack[pgd-linf-0.1]")
    directory.mkdir(parents=True)
    np.save(directory / "adversarial.npy", np.zeros((10, 1, 8, 8)))
    (directory / "verdicts.json").write_text("{}")
    np.save(tmp_path / "garbage.npy", np.ones((1, 1, 8, 8)))
    checks = [
        check("attack[pgd-linf-0.1]", 0.1, passed=False),
        check("calibration[garbage-noise]", 0.99, passed=False, details={"artifact": str(tmp_path / "garbage.npy"), "examples": [{"file": "garbage.npy", "caption": "said 99% '0'"}]}),
        check("accuracy", 0.99, details={"artifact": str(tmp_path / "garbage.npy")}),
    ]
    groups = failing_examples({"checks": checks}, tmp_path, per_check=4)
    assert [(g["check"], len(g["examples"])) for g in groups] == [("attack[pgd-linf-0.1]", 4), ("calibration[garbage-noise]", 1)]
    assert groups[1]["examples"][0]["caption"] == "said 99% '0'"  # named twice, shown once
    assert failing_examples({"checks": checks}, tmp_path, per_check=0) == []


def test_batches_saved_side_by_side_show_as_pairs_with_each_caption_once(tmp_path):
    np.save(tmp_path / "clean.npy", np.zeros((5, 1, 8, 8)))
    np.save(tmp_path / "corrupted.npy", np.ones((5, 1, 8, 8)))
    details = {"examples": [{"file": "clean.npy", "caption": "clean inputs"}, {"file": "corrupted.npy", "caption": "under noise"}]}
    groups = failing_examples({"checks": [check("corruption[gaussian_noise-5]", 0.1, passed=False, details=details)]}, tmp_path, per_check=5)
    shown = groups[0]["examples"]
    assert [e["file"] for e in shown] == ["clean.npy [0]", "corrupted.npy [0]", "clean.npy [1]", "corrupted.npy [1]", "clean.npy [2]"]
    assert [e.get("caption") for e in shown] == ["clean inputs", "under noise", None, None, None]


# -- terminal -------------------------------------------------------------------------------------
def test_terminal_summary_names_the_files_and_the_comparison(tmp_path):
    from pytest_mlguard._baseline.compare import compare_runs

    report = report_of([check("accuracy", 0.9)])
    report["comparison"] = compare_runs(report, dict(report, name="main"))
    written = {"report": tmp_path / "report.json", "badge": tmp_path / "badge.svg", "html": tmp_path / "report.html", "baseline": tmp_path / "b.json", "endpoint": tmp_path / "badge.json"}
    lines = [line for line, _ in summary_lines(report, written)]
    assert lines[-4].startswith("no metric regressed beyond tolerance against baseline 'main'")
    assert re.fullmatch(r"written: report \S+report\.json, badge \S+badge\.svg", lines[-3])
    assert lines[-2].startswith("plots and failing examples: ") and lines[-2].endswith("report.html")
    assert lines[-1].startswith("baseline saved: ")


# -- progress -------------------------------------------------------------------------------------
class Log:
    """A display that is not a terminal (a CI log): lines only."""

    live = False

    def __init__(self):
        self.lines: list[str] = []

    def line(self, text):
        self.lines.append(text)


class Screen(Log):
    """A terminal: a status rewritten in place."""

    live = True

    def __init__(self):
        super().__init__()
        self.statuses: list[str] = []

    def status(self, text):
        self.statuses.append(text)


def wait_for(condition, timeout=60.0):
    """Until ``condition()`` holds (the timer thread is late on a loaded machine; no time is asserted)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the progress timer never wrote"
        time.sleep(0.01)


def test_progress_lines_in_a_log_name_the_check_its_place_and_how_far_then_done():
    log = Log()
    progress = Progress(log, after=0.0, every=0.01)
    progress.position(3, 6)
    with progress.running("digits", "attack[pgd-linf-0.1]"):
        progress.update("digits", 120, 360)
        wait_for(lambda: any("120/360" in line for line in log.lines))
    *running, done = log.lines
    assert running and all(re.fullmatch(r"mlguard \[3/6\] attack\[pgd-linf-0\.1\] on digits: (120/360 samples, )?\d+ s", line) for line in running)
    assert "120/360 samples" in running[-1]
    assert re.fullmatch(r"mlguard \[3/6\] attack\[pgd-linf-0\.1\] on digits: done in \d+ s", done)


def test_progress_on_a_terminal_is_a_status_rewritten_then_erased():
    screen = Screen()
    progress = Progress(screen, after=0.0, every=3600.0, refresh=0.01)
    with progress.running("digits", "attack[pgd-linf-0.1]"):
        progress.update("digits", 120, 360)
        wait_for(lambda: any("120/360" in status for status in screen.statuses))
    *running, erased = screen.statuses
    assert re.fullmatch(r"mlguard attack\[pgd-linf-0\.1\] on digits: 120/360 samples, \d+ s", running[-1])
    assert erased == "" and "" not in running and screen.lines == []  # erased when done; `every` is for logs only


def test_fast_checks_quiet_runs_and_disabled_progress_show_nothing():
    screen, log = Screen(), Log()
    with Progress(screen, after=3600.0, every=0.01).running("m", "accuracy"):
        pass
    with Progress(log, after=0.0, every=3600.0).running("m", "accuracy"):  # a log shows checks longer than `every`
        pass
    with Progress(None, after=0.0, every=0.01).running("m", "accuracy"):  # -q or an xdist worker
        pass
    with Progress(screen, after=None, every=0.01).running("m", "accuracy"):  # progress.after = none
        pass
    assert screen.statuses == screen.lines == log.lines == []


@pytest.mark.parametrize(
    ("nodeid", "label"),
    [
        ("examples/digits/conftest.py::mlguard::attack[pgd-linf-0.1]", "attack[pgd-linf-0.1]"),
        ("conftest.py::mlguard::accuracy", "accuracy"),
        ("tests/test_robust.py::test_noise[a::b]", "b]"),
        ("tests/test_robust.py::TestX::test_noise", "test_noise"),
    ],
)
def test_check_labels(nodeid, label):
    assert check_label(nodeid) == label


def test_npz_archives_of_attacks_show_adversarial_inputs_with_label_and_predicted_class(tmp_path):
    x = np.zeros((2, 1, 8, 8), np.float32)
    np.savez_compressed(tmp_path / "adversarial.npz", index=[3, 7], x=x, x_adv=x + 0.5, y=[1, 2], adversarial_class=[7, 0])
    shown = thumbnail(tmp_path / "adversarial.npz", limit=5, class_names=["zero", "one", "two"])
    assert [e["label"] for e in shown] == ["original: one", "adversarial: one → 7", "original: two", "adversarial: two → zero"]  # each beside its original
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    assert "no image array" in thumbnail(tmp_path / "other.npz")[0]["error"]


def test_sweeps_draw_their_whole_curve_one_panel_per_norm(tmp_path):
    sweep = check("attack[pgd-linf-sweep]", 0.6, metric="mean_robust_accuracy",
                  details={"attack": "pgd", "norm": "linf", "clean_accuracy": 0.97, "curve": {"eps": [0.01, 0.02, 0.05], "robust_accuracy": [0.9, 0.7, 0.2]}})
    l2 = check("attack[deepfool-l2]", 0.3, metric="median_norm", details={"attack": "deepfool", "norm": "l2", "curve": {"eps": [0.5, 1.0], "robust_accuracy": [0.6, 0.1]}})
    from pytest_mlguard.reporting.plots import attack_figure

    image = Image.open(io.BytesIO(base64.b64decode(attack_figure("digits", [sweep, l2]))))
    assert image.width >= 2 * 500  # two panels: L-inf and L2 epsilons are not on one axis
    assert attack_figure("digits", [check("attack[pgd-linf-sweep]", 0.5, details={"curve": {"eps": [1], "robust_accuracy": [1, 2]}})]) is None


@pytest.mark.parametrize(
    ("result", "goodness"),
    [
        (check("resources[latency-p95]", 4.0, metric="latency_p95_ms", kind="ceiling", threshold=10.0), 1.0),
        (check("resources[latency-p95]", 20.0, metric="latency_p95_ms", kind="ceiling", threshold=10.0), 0.5),
        (check("resources[throughput]", 150.0, metric="samples_per_s", threshold=200.0), 0.75),
        (check("resources[memory]", 0.0, metric="peak_mb", kind="ceiling", threshold=512.0), 1.0),
        (check("calibration[garbage-noise]", 0.76, metric="mean_confidence", kind="ceiling", threshold=0.85), 0.24),
        (check("corruption[x-3]", 0.45, details={"clean_accuracy": 0.9}), 0.5),
        (check("accuracy", None), 0.0),
    ],
)
def test_score_goodness_of_each_kind_of_check(result, goodness):
    from pytest_mlguard.reporting._score import check_goodness

    assert check_goodness(result) == pytest.approx(goodness)


def test_a_check_that_runs_other_checks_is_reported_as_itself():
    log = Log()
    progress = Progress(log, after=0.0, every=0.01)
    with progress.running("digits", "gate[robustness]"):
        with progress.running("digits", "attack[pgd-linf-0.1]"):
            wait_for(lambda: len(log.lines) >= 2)
        wait_for(lambda: len(log.lines) >= 3)
    assert all("gate[robustness] on digits" in line for line in log.lines)
    assert "done in" in log.lines[-1] and sum("done in" in line for line in log.lines) == 1


def test_linf_epsilons_are_fractions_of_255_and_their_tick_labels_never_overlap():
    from pytest_mlguard.reporting import _robustness_plots as robustness

    epsilons = [1, 2, 3, 4, 8, 16]  # in 255ths: 1/255 and 2/255 sit 1.5 px apart at this width
    linf = [check(f"attack[pgd-linf-{e}/255]", 0.9 - e / 40, passed=e < 8, details={"attack": "pgd", "norm": "linf", "eps": e / 255, "clean_accuracy": 0.97}) for e in epsilons]
    sweep = check("attack[fgsm-linf-sweep]", 0.5, details={"attack": "fgsm", "norm": "linf", "curve": {"eps": [e / 255 for e in range(1, 13)], "robust_accuracy": [0.9 - e / 20 for e in range(12)]}})
    l2 = [check(f"attack[pgd-l2-{e}]", 0.7, details={"attack": "pgd", "norm": "l2", "eps": e, "clean_accuracy": 0.97}) for e in (0.25, 0.5, 1.0)]
    figure = robustness.attack_plot("digits", [*linf, sweep, *l2])
    figure.draw_without_rendering()
    axes_linf, axes_l2 = figure.axes
    def labels(axes):  # (text, shown) of the ticks in view, hidden ones too
        low, high = sorted(axes.get_xlim())
        return [(t.label1, t.label1.get_visible()) for x, t in zip(axes.get_xticks(), axes.xaxis.get_major_ticks()) if low <= x <= high]

    texts = [label.get_text() for label, _ in labels(axes_linf)]
    assert texts == ["0", *(f"{e}/255" for e in range(1, 13)), "16/255"]  # every epsilon, none as 0.0039
    shown = [label.get_text() for label, visible in labels(axes_linf) if visible]
    assert {"1/255", "3/255", "8/255", "16/255"} <= set(shown), shown  # the single checks' epsilons before 0 and the sweep's
    for axes in (axes_linf, axes_l2):
        boxes = sorted((label.get_window_extent() for label, visible in labels(axes) if visible), key=lambda box: box.x0)
        assert len(boxes) >= 3 and all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes)), [(b.x0, b.x1) for b in boxes]
    assert all("/" not in label.get_text() for label, _ in labels(axes_l2))  # L2 epsilons stay decimals
    assert robustness.epsilon_label(0.5 / 255, "linf") == "0.5/255" and robustness.epsilon_label(0.3, "linf") == "0.3"  # not a whole 255th
    assert robustness.epsilon_label(8.0, "linf") == "8" and robustness.epsilon_label(0.5, "l2") == "0.5"  # inputs in 0..255: raw units


def test_an_linf_panel_labels_its_epsilons_in_one_unit():
    """The digits example's panel read 0, 0.025, 0.05, 0.1 and 51/255 (0.2 is a whole 255th, 0.1 is not)."""
    from pytest_mlguard.reporting import _robustness_plots as robustness

    linf = [check(f"attack[pgd-linf-{e}]", 0.9 - e, details={"attack": "pgd", "norm": "linf", "eps": e, "clean_accuracy": 0.97}) for e in (0.025, 0.05, 0.1, 0.2)]
    (axes,) = robustness.attack_plot("digits", linf).axes
    assert [label.get_text() for label in axes.get_xticklabels()] == ["0", "0.025", "0.05", "0.1", "0.2"]
