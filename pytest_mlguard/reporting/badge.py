"""The robustness-score badge, made with anybadge."""

from __future__ import annotations

__all__ = ["SCORE_COLORS", "badge_svg", "score_color"]

#: upper bounds of each colour band (score < bound)
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
