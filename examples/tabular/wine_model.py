"""A classifier of scikit-learn's wine table (13 chemical measurements, 3 cultivars), and its data.

The data ships with scikit-learn (nothing is downloaded). The model is a standardising logistic
regression, fitted in a few milliseconds, deterministically, when the tests start.
"""

from __future__ import annotations

import numpy as np

FEATURES: tuple[str, ...] = (
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
)
CLASS_NAMES: tuple[str, ...] = ("cultivar_0", "cultivar_1", "cultivar_2")


def load_wine_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the ``"train"`` or ``"test"`` split: x float32 (N, 13), y int64."""
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    wine = load_wine()
    assert tuple(wine.feature_names) == FEATURES
    x = wine.data.astype(np.float32)
    y = wine.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return (x_train, y_train) if split == "train" else (x_test, y_test)


def train_model():
    """The fitted scikit-learn pipeline: standardisation, then multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_wine_split("train")
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000)).fit(x, y)


def as_records(x: np.ndarray) -> list[dict[str, float]]:
    """Rows as the JSON records the service receives."""
    return [{name: float(value) for name, value in zip(FEATURES, row)} for row in x]


#: the cellar's colour label of a wine, from its colour intensity (a categorical column derived from the table)
COLOURS: tuple[str, ...] = ("pale", "ruby", "deep")


def colour_of(color_intensity: np.ndarray) -> np.ndarray:
    """The colour label of each wine: pale below an intensity of 3.5, deep from 7, ruby between."""
    bands = np.digitize(np.asarray(color_intensity, dtype=np.float64), [3.5, 7.0])
    return np.asarray(COLOURS, dtype=object)[bands]


def load_wine_table(split: str):
    """``(frame, y)`` of the ``"train"`` or ``"test"`` split: a pandas DataFrame of the 13 measurements
    and the derived ``colour`` label, and the int64 labels."""
    import pandas as pd

    x, y = load_wine_split(split)
    frame = pd.DataFrame({name: x[:, i].astype(np.float64) for i, name in enumerate(FEATURES)})
    frame["colour"] = colour_of(frame["color_intensity"].to_numpy())
    return frame, y


def held_out_table():
    """The record suites' ``mlguard_data``: the held-out split's :func:`load_wine_table` as a
    :class:`~pytest_mlguard.TableData` (the 13 measurements and the colour label, by column name)."""
    from pytest_mlguard import TableData

    frame, y = load_wine_table("test")
    return TableData(frame, y, name="wine-test-table")


def train_record_model():
    """The record model: a random forest behind a ColumnTransformer over the DataFrame; missing
    measurements are imputed with the training median, the colour is one-hot encoded after imputing
    the most frequent one (an unseen colour is all zeros). Fitted deterministically in about a second."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, y = load_wine_table("train")
    columns = ColumnTransformer(
        [
            ("measurements", SimpleImputer(strategy="median"), list(FEATURES)),
            ("colour", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), ["colour"]),
        ]
    )
    return make_pipeline(columns, RandomForestClassifier(n_estimators=100, random_state=0)).fit(frame, y)
