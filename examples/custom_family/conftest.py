"""A project that adds its own family of checks: ``text_length``, the accuracy of a toy sentiment model
on reviews cut to their first N tokens (docs/extending.md).

The family is declared here, in one place, and handed to pytest-mlguard by the
``pytest_mlguard_families`` hook; ``pytest --mlguard examples/custom_family`` plans and runs its checks
beside the built-in ones, and report.json, report.html, the score and the badges show them.
An installed package would declare the same ``Family`` in the entry-point group
``pytest_mlguard.families`` instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlguard import CallableModel, EvalData
from pytest_mlguard.checks import CheckSpec, Family, Measurement
from pytest_mlguard.config import Key, Settings, Threshold
from pytest_mlguard.config.parse import parse_int, parse_list, parse_threshold

LENGTH = 16  # tokens per review, 0-padded
POSITIVE = 51  # token ids from here up are positive words, below it negative ones


def sentiment(tokens: np.ndarray) -> np.ndarray:
    """The toy model: probabilities of (negative, positive) from the count of positive and negative words."""
    words = tokens > 0
    score = ((tokens >= POSITIVE) & words).sum(axis=1) - ((tokens < POSITIVE) & words).sum(axis=1)
    positive = 1.0 / (1.0 + np.exp(-1.5 * score))
    return np.stack([1.0 - positive, positive], axis=1)


def reviews(n: int = 400, seed: int = 0) -> EvalData:
    """Labelled reviews: random words, labelled by the majority of the whole review (ties: negative)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 101, size=(n, LENGTH)).astype(np.float32)
    labels = (sentiment(tokens)[:, 1] > 0.5).astype(int)
    return EvalData(tokens, labels, name="reviews")


# -- the text_length family: its settings, plan and measurement ------------------------------------------
def _plan(settings: Settings) -> list[CheckSpec]:
    floor = settings.get("text_length.floor")
    return [CheckSpec("text_length", f"first-{n}", "accuracy", floor, params=(("tokens", n),)) for n in settings.get("text_length.tokens")]


def _run(spec: CheckSpec, evaluation) -> Measurement:
    """Accuracy on the evaluation's reviews cut to their first ``tokens`` tokens."""
    cut = evaluation.data.x.copy()
    cut[:, spec.param("tokens") :] = 0
    correct = evaluation.model.predict_proba(cut).argmax(axis=1) == evaluation.data.y
    return Measurement(
        value=float(correct.mean()), n=len(correct), clean=evaluation.clean_accuracy(), successes=int(correct.sum()), details={"tokens": spec.param("tokens")}
    )


def _plots(model: str, checks: list[dict]) -> list[dict]:
    """report.html's figure of the family: accuracy against the tokens kept (matplotlib, imported here)."""
    from matplotlib.figure import Figure

    from pytest_mlguard.reporting.plots import png_base64

    points = sorted((check["details"]["tokens"], check["value"]) for check in checks)
    figure = Figure(figsize=(5, 3), layout="constrained")
    axes = figure.subplots()
    axes.plot([n for n, _ in points], [v for _, v in points], marker="o")
    axes.set(xlabel="tokens kept", ylabel="accuracy", title=f"{model}: accuracy on cut reviews")
    return [{"png": png_base64(figure), "alt": f"accuracy against review length of {model}", "caption": "Accuracy on reviews cut to their first N tokens."}]


TEXT_LENGTH = Family(
    name="text_length",
    keys=(
        Key("text_length.tokens", parse_list(parse_int(1, LENGTH)), (8, 4), "lengths, in tokens, the reviews are cut to"),
        Key("text_length.floor", parse_threshold, Threshold(0.5, "clean"), "floor of accuracy on the cut reviews"),
    ),
    plan=_plan,
    run=_run,
    plots=_plots,
    doc="accuracy on reviews cut to their first N tokens",
)


def pytest_mlguard_families(config):
    return [TEXT_LENGTH]


# -- the model contract ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mlguard_model():
    return CallableModel(sentiment, input_shape=(LENGTH,), n_classes=2, value_range=(0.0, 100.0), class_names=("negative", "positive"), name="sentiment")


@pytest.fixture(scope="session")
def mlguard_data():
    return reviews()
