"""Folders the service makes for what only it may read (the database, the signing keys)."""

from __future__ import annotations

import os
from pathlib import Path


def make_private_dirs(directory: Path) -> None:
    """Make ``directory`` and each missing folder above it readable by its owner alone (0700, whatever the
    umask). Folders that already exist are left as they are: the service never narrows one it did not make."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process: not ours to change
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
