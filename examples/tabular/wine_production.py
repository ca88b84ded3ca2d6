"""A logged production sample for the tabular example, written deterministically (docs/drift.md).

``logged_table("in-distribution")``: 200 requests drawn (with replacement, seeded) from the held-out
split, as the columns of a table by feature name. ``logged_table("shifted")``: the same draw after an
upstream change of unit: ``proline`` logged in g/l instead of mg/l. ``logged_table("sensor-fault")``: the
same draw on a day the spectrophotometer was down and the lab's system filled four of its readings
(``SPECTROPHOTOMETER``) with reference values, the training medians, logged as measured. Unlabelled: the
labels are returned apart. ``logged_records(kind)``: the same requests as records (dicts) with their
colour, as the record suite reads them; its shifted day also logs a new colour and leaves a field out,
and on its sensor-fault day every colour is the one of the stuck ``color_intensity``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from wine_model import FEATURES, load_wine_split

Kind = Literal["in-distribution", "shifted", "sensor-fault"]
KINDS: tuple[Kind, ...] = ("in-distribution", "shifted", "sensor-fault")
SEED = 2026
#: four readings of the lab's spectrophotometer, which the ``sensor-fault`` day logs at one reference value each
SPECTROPHOTOMETER: tuple[str, ...] = ("color_intensity", "total_phenols", "flavanoids", "od280/od315_of_diluted_wines")


def logged_table(kind: Kind = "in-distribution", n: int = 200, seed: int = SEED) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``(columns, y)``: ``n`` logged requests of ``kind`` as ``{feature: values}`` in the model's input
    order, and their labels, which production does not have."""
    if kind not in KINDS:
        raise ValueError(f"expected a production sample kind in {KINDS}, got {kind!r}")
    x, y = load_wine_split("test")
    index = np.random.default_rng(seed).integers(0, len(x), size=n)
    columns = {name: x[index, i].copy() for i, name in enumerate(FEATURES)}
    if kind == "shifted":
        columns["proline"] = columns["proline"] / 1000.0  # mg/l -> g/l
    elif kind == "sensor-fault":
        x_train, _ = load_wine_split("train")
        for name in SPECTROPHOTOMETER:  # the same reference value in every request: no information left
            columns[name] = np.full(n, np.median(x_train[:, FEATURES.index(name)]), dtype=x.dtype)
    return columns, y[index]


def logged_records(kind: Kind = "in-distribution") -> list[dict[str, object]]:
    """The same requests as the record service logs them, for the record suite: one dict each, the 13
    measurements and the cellar's ``colour``. The shifted day adds, to the unit change of ``proline``,
    a colour the cellar's schema lacks (``"rosé"``, every tenth request) and a field left out upstream
    (``magnesium`` missing from every tenth request, from the fifth)."""
    from wine_model import colour_of

    columns, _ = logged_table(kind)
    colours = colour_of(columns["color_intensity"])
    records: list[dict[str, object]] = [
        {**{name: float(values[i]) for name, values in columns.items()}, "colour": str(colours[i])} for i in range(len(colours))
    ]
    if kind == "shifted":
        for record in records[::10]:
            record["colour"] = "rosé"
        for record in records[5::10]:
            del record["magnesium"]
    return records


def estimates(kind: Kind) -> dict[str, float]:
    """What the shift checks cannot measure and the example can, knowing the labels: the true accuracy
    of the wine classifier on the logged day, beside ATC's estimates (both scores) and BBSE's, each
    calibrated on the held-out split as ``shift[accuracy]`` is (docs/drift.md)."""
    from wine_model import train_model

    from pytest_mlguard.production._shift.statistics import atc_estimate, atc_threshold, bbse, confidence_scores

    model = train_model()
    x, y = load_wine_split("test")
    proba = model.predict_proba(x)
    correct = proba.argmax(axis=1) == y
    columns, labels = logged_table(kind)
    logged = model.predict_proba(np.stack([columns[name] for name in FEATURES], axis=1))
    wrong = logged.argmax(axis=1) != labels
    out = {"evaluation accuracy": float(correct.mean()), "true accuracy": float(1 - wrong.mean())}
    for score in ("max-probability", "negative-entropy"):
        scores = confidence_scores(proba, score)
        out[f"ATC ({score})"] = atc_estimate(scores, correct, confidence_scores(logged, score))
        out[f"ATC threshold ({score})"] = atc_threshold(scores, correct)[0]
    out["BBSE"] = bbse(proba.argmax(axis=1), y, logged.argmax(axis=1), proba.shape[1])[1]
    out["lowest evaluation top probability"] = float(proba.max(axis=1).min())
    out["median top probability of the mistakes"] = float(np.median(logged.max(axis=1)[wrong])) if wrong.any() else float("nan")
    return out


if __name__ == "__main__":  # python examples/tabular/wine_production.py: the figures of docs/drift.md
    for day in KINDS:
        print(day + ": " + ", ".join(f"{name} {value:.3f}" for name, value in estimates(day).items()))
