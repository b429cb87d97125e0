"""Files that hold residents' phone and ID numbers are the owner's alone, whatever the umask.

The database, its backups and every ledger export are created ``0600`` and the folders made for
them ``0700``. SQLite creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the
database file's own permission bits, so creating the database file first is enough for them.
Existing files and folders are not changed: a database that others may read is reported in the
log, with the command that fixes it. Blocking calls: run them in a worker thread.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each ``0700``; existing ones stay as they are."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, FOLDER_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs
        os.chmod(path, FOLDER_MODE)  # mkdir's mode passes through the umask


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and ``0600`` (with its folders) unless it exists; True if created."""
    make_private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits from FILE_MODE
    finally:
        os.close(fd)
    return True


def open_private(path: Path) -> BinaryIO:
    """``path`` opened for writing from scratch, made ``0600`` whatever it was before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def prepare_database_file(path: Path) -> None:
    """Before SQLite opens ``path``: create it ``0600`` if new, else warn if others may read it
    or the files SQLite keeps beside it."""
    if create_private_file(path):
        return
    for file in (path, *(path.with_name(path.name + side) for side in SQLITE_SIDE_FILES)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            logger.warning(
                "%s holds residents' phone numbers but others may read it (mode %s): "
                "run `chmod 600 %s`",
                file,
                oct(mode),
                file,
            )


def prepare_backup_file(path: Path) -> None:
    """Before a backup is written over ``path``: ``0600``, new or not."""
    if not create_private_file(path):
        os.chmod(path, FILE_MODE)
