"""Key material kept outside the database: files under ``var/keys`` (mode 0600) or environment
variables (base64), created on first use. Losing these loses what they protect; the operations
guide says how to back them up, apart from the database."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

__all__ = ["KeyFileError", "load_or_create_key", "owner_only"]


class KeyFileError(RuntimeError):
    """A key file or variable is unreadable or of the wrong size."""


def owner_only(path: Path) -> None:
    """Narrow an existing key file that others may read (an older installation, a restored
    copy) to mode 0600. New key files are created so."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o600)


def load_or_create_key(path: Path, *, size: int = 32, env: str | None = None) -> bytes:
    """The ``size``-byte key in ``env`` (base64) if set, else in ``path``, created if missing."""
    if env and os.environ.get(env):
        try:
            key = base64.b64decode(os.environ[env], validate=True)
        except ValueError as exc:
            raise KeyFileError(f"{env} is not base64") from exc
        if len(key) != size:
            raise KeyFileError(f"{env} must hold {size} bytes")
        return key
    if path.exists():
        owner_only(path)
        key = path.read_bytes()
        if len(key) != size:
            raise KeyFileError(f"{path} must hold {size} bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return load_or_create_key(path, size=size)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key
