"""Writing a set of files, or a whole directory, whole or not at all, with the permissions the umask gives."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path


def file_mode() -> int:
    """The mode a new file gets from ``open()``: ``0o666`` less the process's umask (``0o644`` under
    the usual umask 022).

    :func:`tempfile.mkstemp` creates its files ``0o600`` whatever the umask, which would leave
    reports, badges and cache entries unreadable to CI uploaders and web servers running as another user.
    """
    return 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write every file to a temporary sibling first, then rename them into place.

    If any write fails, no file is replaced and the temporaries are removed; each file is replaced
    by an atomic rename, so a reader never sees half a report. Files get the mode the umask gives
    (:func:`file_mode`), as files written with ``open()`` would.
    """
    staged: list[tuple[str, Path]] = []
    mode = file_mode()
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((temporary, path))
            with os.fdopen(handle, "wb") as stream:
                if hasattr(os, "fchmod"):  # POSIX; Windows has no such modes
                    os.fchmod(stream.fileno(), mode)
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


def replace_directory(directory: Path, files: Mapping[str, bytes], carry: Iterable[str] = ()) -> None:
    """Give ``directory`` new content as a whole: ``files`` (relative path -> bytes) and the entries
    ``carry`` names (relative paths of files or folders moved over from the old directory).

    The new content is built in a temporary sibling (``.<name>.new-*``) and swapped in with two
    renames, so old and new files never mix: a file of the old directory that is neither rewritten
    nor carried is gone. If writing fails, the old directory is left as it was and the error raised.
    """
    directory = Path(os.path.realpath(directory))  # through a symlink: replace what it points to
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a directory")
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=parent))
    moved: list[tuple[Path, Path]] = []
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it 0o700
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
        for name in carry:
            source, target = directory / name, staging / name
            if source.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                moved.append((target, source))
    except BaseException:
        for target, source in reversed(moved):  # put back what was moved over
            try:
                os.replace(target, source)
            except OSError:
                pass
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=parent))
        os.replace(directory, old / directory.name)
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, directory)


def probe_directory(directory: Path) -> None:
    """Raise ``OSError`` unless :func:`replace_directory` can replace ``directory`` and files can be
    written into it meanwhile; creates its parent folders if they are missing (as the write would).

    Checked at start-up, so that a run that cannot write its report says so before it measures for
    minutes, not after.
    """
    directory = Path(os.path.realpath(directory))
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file is in the way, not a directory", str(directory))
    directory.parent.mkdir(parents=True, exist_ok=True)
    os.rmdir(tempfile.mkdtemp(prefix=f".{directory.name}.probe-", dir=directory.parent))
    if directory.is_dir():
        handle, temporary = tempfile.mkstemp(prefix=".report.probe-", dir=directory)
        os.close(handle)
        os.unlink(temporary)
