"""The SQLite database file, and the log and shared-memory files beside it, are the owner's
alone (mode 0600), as the key files are.

SQLite creates ``-wal`` and ``-shm`` with the mode of the database file, so the file is made
0600 before SQLite first opens it; a file found wider (an older installation, a copy) is
narrowed, with its companions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

__all__ = ["private_database_file"]

log = structlog.get_logger("madoguchi.db")

COMPANIONS = ("", "-wal", "-shm", "-journal", ".writers")


def private_database_file(path: str | os.PathLike[str]) -> None:
    """Create the SQLite file ``path`` (and its folder) mode 0600 unless it exists; narrow
    it and its companions to 0600 where they are wider."""
    database = Path(path)
    database.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in COMPANIONS:
        companion = database.with_name(database.name + suffix)
        try:
            mode = stat.S_IMODE(companion.stat().st_mode)
            if mode & 0o077:
                os.chmod(companion, 0o600)
                log.warning("database_file_narrowed", file=companion.name, mode=oct(mode))
        except FileNotFoundError:
            continue
