"""The attack registry: named attacks over ART, their norms and what they need from a model.

Cheap to import (no ART); :mod:`pytest_mlguard.attacks.run` builds the ART objects.

Example:
    >>> parse_attack_id("pgd-linf-8/255").eps
    0.03137254901960784
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

__all__ = ["ATTACKS", "AttackDef", "AttackId", "parse_attack_id"]

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class AttackDef:
    """An attack: its norms, and whether it needs the model's gradients."""

    name: str
    norms: tuple[Norm, ...]
    gradients: bool
    doc: str


ATTACKS: dict[str, AttackDef] = {
    a.name: a
    for a in (
        AttackDef("fgsm", ("linf", "l2"), True, "Fast Gradient Sign Method (Goodfellow et al., 2015), one step"),
        AttackDef("pgd", ("linf", "l2"), True, "Projected Gradient Descent (Madry et al., 2018)"),
    )
}


@dataclass(frozen=True)
class AttackId:
    """A parsed check name ``<attack>-<norm>-<eps>``; ``eps_text`` keeps the spelling (``8/255``)."""

    attack: str
    norm: Norm
    eps: float
    eps_text: str

    @property
    def name(self) -> str:
        return f"{self.attack}-{self.norm}-{self.eps_text}"


_ID = re.compile(r"(?P<attack>[a-z0-9_]+)-(?P<norm>linf|l2)-(?P<eps>[0-9.eE+-]+(?:/[0-9.]+)?)")


def parse_attack_id(text: str) -> AttackId:
    """Parse ``pgd-linf-0.1`` or ``fgsm-l2-8/255``; raise ``ValueError`` with what was expected."""
    match = _ID.fullmatch(text.strip())
    if not match:
        raise ValueError("an attack check such as 'pgd-linf-0.1' or 'fgsm-linf-8/255' (<attack>-<norm>-<eps>)")
    attack, norm, eps_text = match.group("attack"), match.group("norm"), match.group("eps")
    if attack not in ATTACKS:
        raise ValueError(f"an attack name, one of {', '.join(sorted(ATTACKS))}")
    if norm not in ATTACKS[attack].norms:
        raise ValueError(f"a norm of {attack!r}, one of {', '.join(ATTACKS[attack].norms)}")
    try:
        eps = float(Fraction(eps_text)) if "/" in eps_text else float(eps_text)
    except (ValueError, ZeroDivisionError):
        raise ValueError("a positive epsilon such as 0.1 or 8/255") from None
    if not eps > 0:
        raise ValueError("a positive epsilon such as 0.1 or 8/255")
    return AttackId(attack, norm, eps, eps_text)  # type: ignore[arg-type]
