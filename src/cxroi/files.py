"""Files written whole or not at all: a temporary file beside the target, flushed to disk and
renamed over it, so a reader never sees half a file and a failed write leaves the old one.

The file gets the permissions a plain ``open`` would give (``0o666`` less the umask), not the
owner-only ``0o600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cxroi.errors import CxroiError, first_line

__all__ = ["atomic_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(
    path: str | Path, mode: str = "w", *, what: str = "--out", **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file for ``path``; on a clean exit it replaces ``path``.

    Raises
    ------
    CxroiError
        ``path`` is a folder, its folder does not exist, or the write fails (``what`` names
        the option or file in the message); nothing is left behind.
    """
    target = Path(path)
    if target.is_dir():
        raise CxroiError(f"{what} {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise CxroiError(f"{what} {target}: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CxroiError(f"cannot write {what} {target}: {first_line(e)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
