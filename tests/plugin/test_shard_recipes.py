"""The merge step of the Kubernetes recipe (docs/scale.md), run in the project with the shards' results outside
it: written ``--mlguard-merge /results``, pytest took ``/results`` for a test path and chose its rootdir there,
read no pyproject.toml, and the merge stopped on "other settings" (exit 4)."""

from __future__ import annotations

import pytest
from test_shard_suite import SHARDED


def test_the_kubernetes_merge_step_runs_in_the_project_with_the_results_outside_it(project, tmp_path_factory):
    project.write(pipeline=None, pyproject=SHARDED.replace("floor = 0.85", "floor = 0.91"))  # not the default floor
    results = tmp_path_factory.mktemp("results")  # /results: a volume outside the project
    for index in range(2):
        shard = project.run("--mlguard", "--mlguard-shard", f"{index}/2", "-k", "accuracy", f"--mlguard-output={results}/shard-{index}")
        assert shard.ret == 0, shard.stdout.str()
    merged = project.run(f"--mlguard-merge={results}", f"--mlguard-output={results}/merged")  # as the recipe writes it
    assert merged.ret == 0, merged.stdout.str()
    merged.stdout.fnmatch_lines([f"rootdir: {project.pytester.path}", "digits::accuracy * floor 0.9100 *"])  # the project's settings
    misled = project.run("--mlguard-merge", str(results), f"--mlguard-output={results}/merged")  # the recipe as it was
    assert misled.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--mlguard-merge {results} (separate arguments) names directories outside {project.pytester.path}" in misled.stderr.str()
    assert f"expected --mlguard-merge={results} (with '=')" in misled.stderr.str()
