"""Sharded runs: the shard setting, the split of the samples, and per-sample computations that do not
depend on which other samples share a shard (docs/scale.md)."""

from __future__ import annotations

import numpy as np
import pytest
import zoo

from pytest_mlguard._shard.split import Shard, from_environment, owner, parse_shard, shard_of
from pytest_mlguard.checks._evaluation import Evaluation
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import ConfigError


def make_settings(**cli: str):
    return resolve(cli={"output": "/tmp/mlguard-unit-shard", **cli}, environ={}, keys=all_keys())


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("0/4", {}, Shard(0, 4)),
        (" 3 / 4 ", {}, Shard(3, 4)),
        ("auto", {"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "5"}, Shard(2, 5)),
        ("auto/3", {"JOB_COMPLETION_INDEX": "1"}, Shard(1, 3)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard(2, 3)),
        ("", {}, None),
    ],
)
def test_shard_values(value, environ, expected):
    assert parse_shard(value, "shard", "the command line", environ) == expected


@pytest.mark.parametrize(
    ("value", "environ", "message"),
    [
        ("4/4", {}, "got index 4 of 4 shards"),
        ("1", {}, "expected I/N with 0 <= I < N"),
        ("a/b", {}, "expected I/N with 0 <= I < N"),
        ("0/0", {}, "got index 0 of 0 shards"),
        ("auto", {}, "neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID"),
        ("auto", {"JOB_COMPLETION_INDEX": "2"}, "set JOB_COMPLETIONS or write auto/N"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "2"}, "SLURM_ARRAY_TASK_COUNT is not set"),
    ],
)
def test_invalid_shard_values_say_what_was_expected(value, environ, message):
    with pytest.raises(ConfigError, match=r"invalid value .* for 'shard' in the command line") as caught:
        parse_shard(value, "shard", "the command line", environ)
    assert message in str(caught.value)


def test_slurm_index_counts_from_the_array_minimum():
    assert from_environment(None, {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}) == (1, 4)


def test_split_is_stable_disjoint_and_balanced():
    index = np.arange(10_000)
    shards = shard_of(index, seed=3, count=7)
    assert shards.min() == 0 and shards.max() == 6
    assert np.bincount(shards).min() > 10_000 / 7 * 0.9  # about even
    assert (shard_of(index[::-1], seed=3, count=7) == shards[::-1]).all()  # a sample's shard is its own
    assert (shard_of(index, seed=4, count=7) != shards).mean() > 0.8  # another seed, another split
    assert {owner(f"check{i}", "m", 0, 3) for i in range(30)} == {0, 1, 2}


@pytest.mark.parametrize("count", [2, 3, 7])
def test_shards_partition_the_unsharded_samples_in_order(count):
    s = make_settings(samples="200")
    whole = Evaluation(zoo.good_model(), zoo.digits(), s)
    parts = [Evaluation(zoo.good_model(), zoo.digits(), s, shard=Shard(i, count)) for i in range(count)]
    positions = np.concatenate([part.positions for part in parts])
    assert sorted(positions.tolist()) == list(range(200))
    for part in parts:
        assert part.unsharded_n == 200 and (np.diff(part.positions) > 0).all()
        np.testing.assert_array_equal(part.data_index, whole.data_index[part.positions])
        np.testing.assert_array_equal(part.data.y, whole.data.y[part.positions])


def test_a_shard_draws_no_more_samples():
    s = make_settings(samples="100")
    assert len(Evaluation(zoo.good_model(), zoo.digits(), s).more_index()) == zoo.digits().n - 100
    assert len(Evaluation(zoo.good_model(), zoo.digits(), s, shard=Shard(0, 2)).more_index()) == 0


def test_a_corrupted_sample_is_the_same_on_any_shard():
    """Image i was corrupted with a generator seeded by its place in the shard's data: on a shard, the
    same sample got other noise than in the unsharded run."""
    from pytest_mlguard._verdicts.paired import kept_outcomes

    corruption = family("corruption")
    s = make_settings(samples="150", **{"verdict.early_stop": "off", "verdict.more_samples": "off", "corruption.workers": "0"})
    spec = corruption.spec("gaussian_noise-5", s)
    whole = Evaluation(zoo.good_model(), zoo.digits(), s)
    whole.run(corruption, spec)
    expected = kept_outcomes(whole, spec.id)[1]
    assert 0.2 < expected.mean() < 0.95  # noise that flips some predictions, not all
    for index in range(3):
        part = Evaluation(zoo.good_model(), zoo.digits(), s, shard=Shard(index, 3))
        part.run(corruption, spec)
        np.testing.assert_array_equal(kept_outcomes(part, spec.id)[1], expected[part.positions])


def test_the_product_confidence_sequence_of_disagreeing_shards_is_the_estimate():
    """brentq raised 'f(a) and f(b) must have different signs' where no common proportion fit every
    shard (the product of martingales exceeds 1/alpha even at the pooled estimate)."""
    from pytest_mlguard._verdicts.sequential import product_confidence_sequence

    assert product_confidence_sequence([(20, 20), (8, 20), (20, 20), (19, 20)], 0.95) == (67 / 80, 67 / 80)
    low, high = product_confidence_sequence([(18, 20), (17, 20)], 0.95)
    assert low < 35 / 40 < high


@pytest.mark.parametrize("check", ["fgsm-linf-0.1", "pgd-linf-0.1"])
def test_an_attack_on_a_shard_attacks_the_unsharded_run_s_samples_alike(check):
    """``attack.samples`` was drawn from the shard's samples (a subset of each shard's share, not the
    shards' share of the run's subset), and the outcomes were kept at their places in that subset."""
    from pytest_mlguard._verdicts.paired import kept_outcomes

    attack = family("attack")
    options = {"verdict.early_stop": "off", "verdict.more_samples": "off", "attack.samples": "40", "attack.steps": "3"}
    s = make_settings(samples="150", **options)
    spec = attack.spec(check, s)
    whole = Evaluation(zoo.good_model(), zoo.digits(), s)
    whole.run(attack, spec)
    places, expected = kept_outcomes(whole, spec.id)
    assert len(places) == 40 and 0.2 < expected.mean() < 0.95  # an attack that breaks some samples, not all
    found: dict[int, bool] = {}
    for index in range(3):
        part = Evaluation(zoo.good_model(), zoo.digits(), s, shard=Shard(index, 3))
        part.run(attack, spec)
        local, outcomes = kept_outcomes(part, spec.id)
        found.update(zip(part.positions[local].tolist(), outcomes.tolist()))
    assert found == dict(zip(places.tolist(), expected.tolist()))


def test_a_merge_with_other_settings_names_the_configuration_files_and_shows_values_as_written(tmp_path):
    """It named no file, and showed ``accuracy.floor="Threshold('0.95')" where "Threshold('0.5*above_chance')"``."""
    from pytest_mlguard._shard.merge import MergeError, ShardFile, check_shards
    from pytest_mlguard._shard.statistics import compared_settings
    from pytest_mlguard.checks._registry import all_keys
    from pytest_mlguard.config import resolve

    def settings(floor: str) -> dict[str, str]:
        return compared_settings(resolve(keys=all_keys(), environ={}, cli={"accuracy.floor": floor, "attack.floors": {"pgd-linf-sweep": floor}}))

    header = {"plugin": "1", "shard": {"index": 0, "count": 1}, "seed": 0, "settings": settings("0.95"), "models": {}, "config_files": ["/shards/pyproject.toml"]}
    with pytest.raises(MergeError) as info:
        check_shards([ShardFile(tmp_path / "mlguard-shard.npz", header)], settings("0.5*above_chance"), ["/merge/pyproject.toml"])
    message = str(info.value)
    assert "other settings than this merge: accuracy.floor=0.95 where 0.5*above_chance was expected; " in message, message
    assert 'attack.floors={"pgd-linf-sweep": "0.95"} where {"pgd-linf-sweep": "0.5*above_chance"} was expected; ' in message, message
    assert "this merge read /merge/pyproject.toml, the shard read /shards/pyproject.toml;" in message, message
    del header["config_files"]  # a shard file of an earlier version
    with pytest.raises(MergeError, match=r"this merge read no configuration file, the shard's are not recorded;"):
        check_shards([ShardFile(tmp_path / "mlguard-shard.npz", header)], settings("0.5*above_chance"), [])
