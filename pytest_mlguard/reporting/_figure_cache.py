"""report.html's plots kept between runs: :class:`FigureCache`, in the result cache's directory.

A plot is kept as a file named by a hash of what it draws, so that a re-run whose results all came
from the cache draws nothing (and imports no matplotlib). The directory is read as untrusted input,
as the result cache's entries are: what is not a picture is drawn again, and with
``MLGUARD_CACHE_KEY`` set a kept plot needs a valid HMAC tag (:mod:`pytest_mlguard._cache.signing`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


#: the built-in plots' code: a change to it draws every kept plot again
_PLOTS = tuple(Path(__file__).with_name(name) for name in ("plots.py", "_robustness_plots.py", "_drawing.py"))


#: fields of a check that differ between a measured and a cached run of it and that no plot shows
_VOLATILE = ("duration_s", "cached")


def _drawn_from(value: Any) -> Any:
    """``value`` without :data:`_VOLATILE` fields, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): _drawn_from(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, (list, tuple)):
        return [_drawn_from(v) for v in value]
    return value


#: what a kept plot may hold: base64 text (report.html puts it in a ``data:`` URL)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_NO_SECRET = object()


def _picture(figure: Any) -> bool:
    """Whether ``figure`` is what a plotting function returns: ``None``, base64 text, or a list of base64
    text or of a family's figures (``{"png": base64, "alt": text, "caption": text}``: the page escapes the texts)."""
    if isinstance(figure, list):
        return all((one is not None and _picture(one)) or _family_figure(one) for one in figure)
    return figure is None or (isinstance(figure, str) and _BASE64.fullmatch(figure) is not None)


def _family_figure(figure: Any) -> bool:
    """Whether ``figure`` is one figure of a family's ``Plot``: base64 ``png``, text ``alt`` and ``caption``."""
    return (
        isinstance(figure, dict)
        and isinstance(figure.get("png"), str)
        and _BASE64.fullmatch(figure["png"]) is not None
        and all(isinstance(value, str) for value in figure.values())
    )


class FigureCache:
    """Plots already drawn, as files in ``directory`` named by a hash of the plotting function, its
    arguments (less the fields that only say how long a check took or that it came from the cache),
    the source of :mod:`~.plots` (and of the modules it draws with) and matplotlib's version. ``directory=None`` draws every time.

    The directory is the result cache's, as untrusted as its entries: a kept file that is not a
    picture (base64 text, or ``None``, or a list of them) is drawn again, and with ``secret`` (by
    default ``MLGUARD_CACHE_KEY`` from the environment) so is one without a valid HMAC tag of its
    name and picture (:mod:`pytest_mlguard._cache.signing`); the new drawing replaces it.

    Example:
        >>> FigureCache(None).draw(lambda components: None, {}) is None
        True
    """

    def __init__(self, directory: Path | None, *, secret: bytes | object | None = _NO_SECRET) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.secret: bytes | None = None
        if self.directory is not None:
            from .._cache.signing import secret_from

            self.secret = secret_from(os.environ) if secret is _NO_SECRET else secret  # type: ignore[assignment]

    def _key(self, function: Callable[..., Any], args: tuple[Any, ...]) -> str:
        from importlib import metadata

        digest = hashlib.sha256(function.__qualname__.encode())
        for source in _PLOTS:
            digest.update(source.read_bytes())
        try:
            digest.update(metadata.version("matplotlib").encode())
        except metadata.PackageNotFoundError:
            pass
        digest.update(json.dumps(_drawn_from(args), sort_keys=True, default=repr).encode())
        return digest.hexdigest()

    def _kept(self, path: Path, key: str) -> tuple[bool, Any]:
        """``(True, the picture)`` kept at ``path`` for ``key``, or ``(False, None)`` if there is none to trust."""
        from .._cache.signing import verified

        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            return False, None
        if not isinstance(kept, dict) or "figure" not in kept or not _picture(kept["figure"]):
            return False, None
        if self.secret is not None and not (kept.get("key") == key and verified(self.secret, kept)):
            return False, None
        return True, kept["figure"]

    def draw(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)``: a base64 PNG, a list of them or ``None``, from the directory if drawn before."""
        if self.directory is None:
            return function(*args)
        from .._cache.signing import tag
        from ._atomic import write_files

        key = self._key(function, args)
        path = self.directory / f"{key}.json"
        found, figure = self._kept(path, key)
        if found:
            return figure
        figure = function(*args)
        kept: dict[str, Any] = {"key": key, "figure": figure}
        if self.secret is not None:
            kept["tag"] = tag(self.secret, kept)
        try:
            write_files({path: json.dumps(kept).encode()})
        except OSError:  # a read-only cache: the page is drawn all the same
            pass
        return figure
