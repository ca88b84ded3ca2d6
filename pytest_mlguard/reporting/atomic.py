"""Writing a set of files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_files"]


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write every file to a temporary sibling first, then rename them into place.

    If any write fails, no file is replaced and the temporaries are removed; each file is replaced
    by an atomic rename, so a reader never sees half a report.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((temporary, path))
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
    except BaseException:
        for temporary, _ in staged:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        raise
    for temporary, path in staged:
        os.replace(temporary, path)
