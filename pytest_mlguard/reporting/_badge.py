"""Score badges: SVG made with anybadge, and shields.io endpoint JSON.

``badge.svg`` shows the run's score, ``badge-<family>.svg`` each family's component (0-100, the mean
over models); each has a ``.json`` twin in shields.io's endpoint format, for teams that serve badges
from CI artefacts (``https://img.shields.io/endpoint?url=<where badge.json is served>``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any


#: upper bounds of each colour band (score < bound); the names are colours of both anybadge and shields.io
SCORE_COLORS = ((50.0, "red"), (70.0, "orange"), (85.0, "yellow"), (95.0, "yellowgreen"), (101.0, "green"))


def score_color(score: float) -> str:
    for bound, color in SCORE_COLORS:
        if score < bound:
            return color
    return "green"


def badge_svg(score: float, label: str = "robustness") -> str:
    """An SVG badge ``robustness | 87.5``, coloured by score.

    Example:
        >>> badge_svg(87.5).startswith("<?xml")
        True
    """
    import anybadge

    return anybadge.Badge(label, f"{score:.1f}", default_color=score_color(score)).badge_svg_text


def endpoint_json(score: float, label: str = "robustness") -> str:
    """shields.io's endpoint badge JSON for ``score``.

    Example:
        >>> json.loads(endpoint_json(87.5))
        {'schemaVersion': 1, 'label': 'robustness', 'message': '87.5', 'color': 'yellowgreen'}
    """
    return json.dumps({"schemaVersion": 1, "label": label, "message": f"{score:.1f}", "color": score_color(score)}) + "\n"


def family_scores(report: Mapping[str, Any]) -> dict[str, float]:
    """Each family's component on 0..100, the mean over the models that ran it.

    Example:
        >>> family_scores({"score_components": {"a": {"components": {"attack": 0.5}}, "b": {"components": {"attack": 0.7}}}})
        {'attack': 60.0}
    """
    values: dict[str, list[float]] = {}
    for entry in report.get("score_components", {}).values():
        for family, component in entry["components"].items():
            values.setdefault(family, []).append(float(component))
    return {family: round(100.0 * sum(v) / len(v), 1) for family, v in sorted(values.items())}


def _file_part(family: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", family)


def badge_files(report: Mapping[str, Any]) -> dict[str, str]:
    """File name -> content: ``badge.svg`` and ``badge.json`` for the score, and a pair per family.

    The badges of a partial run (``report["partial"]``: checks left out by ``-k`` and the like) say
    so in their label, ``robustness (partial)``, and a shard's name the shard, ``robustness (shard 3/4)``:
    the score of a few checks, or of a shard's share of the samples, is not the model's.
    """
    shard = report.get("shard")
    said = [shard["label"]] if shard else []
    said += ["partial"] if report.get("partial") and (not shard or report.get("selection")) else []
    partial = f" ({', '.join(said)})" if said else ""
    label = f"robustness{partial}"
    files = {"badge.svg": badge_svg(float(report["score"]), label), "badge.json": endpoint_json(float(report["score"]), label)}
    for family, score in family_scores(report).items():
        label = f"robustness{partial}: {family}"
        files[f"badge-{_file_part(family)}.svg"] = badge_svg(score, label)
        files[f"badge-{_file_part(family)}.json"] = endpoint_json(score, label)
    return files
