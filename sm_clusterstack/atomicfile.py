"""Replacing a file whole: write a temporary file beside it, then rename it over the old one.

A reader sees the old content or the new, never a part: ``rename`` within
one directory is atomic.  The temporary file is ``<path><suffix>`` (the
caller picks a suffix per writer where several processes write one file,
and one it can recognise as a leftover); any leftover there is removed
first and the file is made afresh (``O_EXCL``: never through a link someone
left in its place).  ``sync`` flushes the file to disk before the rename,
``sync_dir`` the directory after it (the rename itself is then durable).
"""

import os
import typing

SUFFIX = ".tmp"


def write(path: str, data: typing.Union[bytes, str], mode: typing.Optional[int] = None, suffix: str = SUFFIX,
          sync: bool = False, sync_dir: bool = False) -> None:
    """Replace ``path`` with ``data`` (str is written as UTF-8).

    ``mode`` is set exactly (the umask does not narrow it); None gives what
    ``open(path, "w")`` would (0666 less the umask).  On failure the
    temporary file is removed and the OSError raised.
    """
    tmp = path + suffix
    _remove(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            if sync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        _remove(tmp)
        raise
    _rename(tmp, path, sync_dir)


def symlink(target: str, link: str, suffix: str = SUFFIX, sync_dir: bool = False) -> None:
    """Make ``link`` a symbolic link to ``target``, replacing whatever ``link`` was in one step."""
    tmp = link + suffix
    _remove(tmp)
    os.symlink(target, tmp)
    _rename(tmp, link, sync_dir)


def fsync_path(path: str) -> None:
    """Flush the file or directory ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rename(tmp: str, path: str, sync_dir: bool) -> None:
    try:
        os.rename(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    if sync_dir:
        fsync_path(os.path.dirname(os.path.abspath(path)))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
