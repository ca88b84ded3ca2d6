"""An attack whose adversarial examples make the model return NaN names the samples of ``mlguard_data``
that were attacked (as the clean predictions do: tests/unit/test_contract.py), not rows of the batch."""

from __future__ import annotations

import pytest
import zoo

from pytest_mlguard.checks._evaluation import Evaluation, stable_seed
from pytest_mlguard.checks._registry import all_keys, family
from pytest_mlguard.config import resolve
from pytest_mlguard.errors import NonFiniteOutput


@pytest.mark.parametrize(
    ("check", "early_stop"),
    [("fgsm-linf-0.02", "off"), ("fgsm-linf-0.02", "sequential"), ("pgd-linf-sweep", "off")],  # one call, looks, chunks
)
def test_an_attack_names_the_mlguard_data_samples_whose_adversarial_outputs_are_nan(check, early_stop):
    """It named ``rows 3, 17, ...`` of the batch it predicted (the check's samples, a look, a chunk)."""
    options = {"samples": "120", "attack.samples": "80", "attack.steps": "2", "attack.sweep": "0.01,0.02", "attack.batch_size": "16", "verdict.early_stop": early_stop}
    settings = resolve(keys=all_keys(), environ={}, cli=options)
    evaluation = Evaluation(zoo.nan_adversarial_model(), zoo.digits(), settings)
    result = evaluation.run(family("attack"), family("attack").spec(check, settings))
    found = result.details["non_finite"]
    assert found["samples"] and len(found["samples"]) == found["count"], found
    assert f"mlguard_data samples {', '.join(map(str, found['samples'][:10]))}" in result.message, result.message
    assert "probabilities of adversarial examples" in result.message, result.message
    # a look's or a chunk's batch says it is one of the check's 80 samples (it said "for 1 of 16 samples" alone)
    of = f"for {found['count']} of {found['of']} samples"
    assert (found["of"], found["within"]) == ((80, None) if early_stop == "off" and check.startswith("fgsm") else (16, 80)), found
    assert (of + " (a batch of the check's 80 samples, where it stopped)" if found["within"] else of + ":") in result.message, result.message
    x = zoo.digits().x
    with pytest.raises(NonFiniteOutput) as info:  # the samples NaN on bright images names, clean
        zoo.nan_model().predict_proba(x[found["samples"]])
    assert len(info.value.rows) == len(found["samples"]), found
    attacked = evaluation.unsharded_index[evaluation.unsharded_subset(80, stable_seed(settings.seed, "attack-samples"))]
    assert set(found["samples"]) <= set(attacked.tolist())
    if check.startswith("fgsm") and early_stop == "off":  # one call on the check's 80 samples: all its bright ones
        with pytest.raises(NonFiniteOutput) as every:
            zoo.nan_model().predict_proba(x[attacked])
        assert found["samples"] == sorted(attacked[every.value.rows].tolist())
