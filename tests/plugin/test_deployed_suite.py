"""The model as deployed, as a user runs it: each broken model of the zoo fails exactly the contract
(and determinism) check built to catch it; the other models raise no new alarm."""

from __future__ import annotations

import pytest
from conftest import FAST

# the contract checks on, beside the determinism checks and two drift variants, which run the module in
# the mode it was given as well as in eval mode; one attack is enough here
DEPLOYED = FAST.replace('checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]', 'checks = ["fgsm-linf-0.1"]').replace(
    "enabled = false  # the contract checks", "enabled = true  # the contract checks"
) + """
[tool.mlguard.determinism]
checks = ["repeat", "threads", "batch"]
[tool.mlguard.drift]
checks = ["bfloat16", "threads"]
"""

BROKEN = {
    # zoo function: (model name, the checks it fails)
    "good_model": ("digits", set()),
    "adaptive_model": ("adaptive", set()),
    "train_mode_model": ("train-mode", {"contract[eval-mode]", "determinism[batch]"}),
    "odd_size_nan_model": ("odd-size-nan", {"contract[input-sizes]"}),
    "crops_to_size_model": ("crops-to-size", {"contract[resized-copies]"}),
    "thread_unsafe_model": ("thread-unsafe", {"determinism[threads]"}),  # a wrapper never .eval()'d: no new alarm
    "batch_dependent_model": ("batch-dependent", {"determinism[batch]"}),
}


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
def test_each_broken_model_fails_exactly_its_check_and_says_why(project):
    project.write(params=list(BROKEN), pipeline=None, pyproject=DEPLOYED)
    result = project.run("--mlguard", "-rs", "-W", "always::UserWarning")
    report = project.report()
    names = {name: function for function, (name, _) in BROKEN.items()}
    failed = {(names[c["model"]], c["id"]) for c in report["checks"] if not c["passed"]}
    assert failed == {(function, check) for function, (_, checks) in BROKEN.items() for check in checks}, result.stdout.str()[-4000:]
    contract = {(c["model"], c["id"]) for c in report["checks"] if c["family"] == "contract"}
    assert ("digits", "contract[eval-mode]") in contract and ("digits", "contract[input-sizes]") not in contract  # 8x8 only: skipped
    assert {("adaptive", "contract[input-sizes]"), ("adaptive", "contract[resized-copies]")} <= contract
    result.stdout.fnmatch_lines(
        [
            "*contract[[]eval-mode[]] on model 'train-mode': train_mode_layers 1.0000 > ceiling 0.0000",
            "*norm (BatchNorm2d) is in train mode, where torch computes it otherwise (batch statistics, dropout)*",
            "*determinism[[]batch[]] on model 'train-mode': matching_fraction 0.* < floor 1.0000",
            "*in the mode given (train mode: norm (BatchNorm2d)): * samples changed between each sample alone against batches*",
            "*in eval mode: every sample matched*",
            "*contract[[]input-sizes[]] on model 'odd-size-nan': valid_fraction 0.4286 < floor 1.0000",
            "*returned NaN or inf at 1x1, 8x9, 9x8, 9x9 (120 of 120 samples each)*",
            "*contract[[]resized-copies[]] on model 'crops-to-size': agreement 0.* < floor 0.7000",
            "*a copy of the same picture at 16x16 got another class than at 8x8 for *",
        ]
    )
    result.stdout.fnmatch_lines(["*SKIPPED*contract[[]input-sizes[]]: model 'digits' takes only its declared size 8x8*"])
    result.stdout.fnmatch_lines(["*UserWarning: model 'train-mode': norm (BatchNorm2d) is in train mode*"])
    scored = {family for entry in report["score_components"].values() for family in entry["components"]}
    assert "contract" not in scored  # a precondition, not robustness: left out of the score
