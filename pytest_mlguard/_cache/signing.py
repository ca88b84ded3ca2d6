"""The integrity option of shared caches: an HMAC-SHA256 tag, keyed by ``MLGUARD_CACHE_KEY``, of what
the cache keeps (result entries, report.html's plots); without a valid one a kept file is not used.

Example:
    >>> secret = b"a secret of the CI system"
    >>> kept = {"key": "0f3a", "figure": None}
    >>> verified(secret, {**kept, "tag": tag(secret, kept)}), verified(secret, {**kept, "figure": "x", "tag": tag(secret, kept)})
    (True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ..config._settings import CACHE_KEY_VARIABLE

#: the environment variable that holds the secret of signed entries
ENV_KEY = CACHE_KEY_VARIABLE
MIN_SECRET = 16


def secret_from(environ: Mapping[str, str]) -> bytes | None:
    """The secret in ``environ`` (``None``: unset, nothing signed); ``ConfigError`` if too short to be one."""
    from ..errors import ConfigError

    value = environ.get(ENV_KEY)
    if value is None:
        return None
    if len(value) < MIN_SECRET:  # the value is a secret: its length is said, never the value
        raise ConfigError(
            f"Expected a secret of at least {MIN_SECRET} characters in {ENV_KEY} (from the environment) but got "
            f"{len(value)} characters: set a long random value there (`python -c 'import secrets; print(secrets.token_hex(32))'`), or unset it"
        )
    return value.encode()


def tag(secret: bytes, content: Mapping[str, Any]) -> str:
    """The HMAC of ``content`` (a JSON object; its own ``tag`` field left out)."""
    body = json.dumps({k: v for k, v in content.items() if k != "tag"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def verified(secret: bytes, content: Mapping[str, Any]) -> bool:
    """Whether ``content`` carries a valid ``tag`` of the rest of it under ``secret``."""
    stored = content.get("tag")
    return isinstance(stored, str) and hmac.compare_digest(stored, tag(secret, content))
