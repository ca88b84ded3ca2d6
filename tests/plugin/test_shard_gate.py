"""The gate's reruns on a sharded run (docs/scale.md): ``gate[robustness]`` reruns the attack checks on the
candidate and the baseline over the whole data, and used to write those reruns' artefacts over the attack
check's own (the same ``artifacts/<model>-<check>`` folder): the merge then read a shard's flipped samples
against another run's places (``IndexError`` in ``merged_examples``, the digits example's default suite)."""

from __future__ import annotations

import shutil

import numpy as np
from test_shard_suite import SHARDED

GATED = SHARDED.replace('checks = ["fgsm-linf-0.1", "pgd-linf-0.1"]', 'checks = ["fgsm-linf-0.1"]') + """
[tool.mlguard.gate]
checks = ["robustness"]
compare = ["attack[fgsm-linf-0.1]"]
"""
BASELINE = """
@pytest.fixture(scope="session")
def mlguard_baseline_model():
    return zoo.degraded_model()
"""
FGSM = "attack[fgsm-linf-0.1]"


def flipped_saved(project, output: str) -> list[int]:
    """The places of the flipped samples the attack check saved in ``output``'s artefacts."""
    with np.load(project.pytester.path / output / "artifacts" / "digits-attack_fgsm-linf-0.1_" / "adversarial.npz") as saved:
        return saved["index"].tolist()


def test_the_gate_reruns_keep_the_attack_checks_artefacts_and_shards_merge(project):
    project.write(pipeline=None, pyproject=GATED)
    project.pytester.path.joinpath("conftest.py").write_text(project.pytester.path.joinpath("conftest.py").read_text() + BASELINE)
    whole = project.run("--mlguard", "-k", "fgsm or gate", "--mlguard-output", "whole")
    assert whole.ret == 0, whole.stdout.str()
    attack = {c["id"]: c for c in project.report("whole")["checks"]}[FGSM]
    assert flipped_saved(project, "whole") == [row["index"] for row in attack["details"]["flipped"]]  # the candidate's, not the baseline's rerun
    for index in range(2):
        shard = project.run("--mlguard", "--mlguard-shard", f"{index}/2", "-k", "fgsm or gate", "--mlguard-output", f"shards/{index}")
        assert shard.ret == 0, shard.stdout.str()
    merged = project.run("--mlguard-merge", "shards/0", "shards/1", "--mlguard-output", "merged")
    assert merged.ret == 0, merged.stdout.str()
    got = {c["id"]: c for c in project.report("merged")["checks"]}
    assert got[FGSM]["value"] == attack["value"] and got[FGSM]["n"] == attack["n"]
    assert flipped_saved(project, "merged") == flipped_saved(project, "whole")
    # a shard directory written before the fix (the rerun's file over the shard's): no thumbnails rather than a crash
    folder = "artifacts/digits-attack_fgsm-linf-0.1_/adversarial.npz"
    shutil.copyfile(project.pytester.path / "whole" / folder, project.pytester.path / "shards/0" / folder)
    stale = project.run("--mlguard-merge", "shards/0", "shards/1", "--mlguard-output", "stale")
    assert stale.ret == 0, stale.stdout.str()
    stale_attack = {c["id"]: c for c in project.report("stale")["checks"]}[FGSM]
    assert stale_attack["value"] == attack["value"] and "artifacts" not in stale_attack["details"]
