"""File writes that never leave half a file behind."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

# Read once at import, while no other thread can be creating files: os.umask
# can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
NEW_FILE_MODE = 0o666 & ~_UMASK


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half.

    The bytes go to a temporary file in the same folder (dot-named, so folder
    watchers skip it), are synced, keep the old file's permissions (a config
    file may hold a token) and are renamed over the target.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = NEW_FILE_MODE  # mkstemp's 0600 would hide the file from other readers
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    # The rename itself is only durable once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_away(path: Path, folder: Path, note: str | None = None,
              only: os.stat_result | None = None) -> Path | None:
    """Move ``path`` into ``folder``, its ``note`` (why it was refused) beside it first.

    For inbox scanners: a processed file goes to ``done/`` or ``error/``. The
    note (``NAME.error.txt``) is written before the file moves, so whoever
    watches ``error/`` never finds a file without its reason. A name already
    taken there gets a random suffix. None, and no note, when the file had
    gone (another scanner took it), or when ``only`` (the ``os.lstat`` of the file
    that was read) is given and the name is now another file: its producer dropped
    a new one under the same name, which is left for the next scan, unread yet.
    """
    # An operator may have cleared done/ or error/ away; without it the move would
    # fail as if another scanner had taken the file, and it would be read every scan.
    folder.mkdir(parents=True, exist_ok=True)
    if only is not None:
        try:
            now = os.lstat(path)
        except FileNotFoundError:
            return None
        if (now.st_dev, now.st_ino) != (only.st_dev, only.st_ino):
            return None
    target = folder / path.name
    if target.exists():
        target = target.with_name(f"{target.stem}-{os.urandom(4).hex()}{target.suffix}")
    reason = target.with_name(target.name + ".error.txt")
    if note is not None:
        write_atomically(reason, note.encode())
    try:
        os.replace(path, target)
    except FileNotFoundError:
        # Another scanner of the folder (another gateway instance) moved it first. When
        # it moved it to this same target, the note written here is its note too.
        if note is not None and not target.exists():
            reason.unlink(missing_ok=True)
        return None
    return target


class NotAnInboxFile(ValueError):
    """A name in an inbox that is no regular file of its own: a link, a device, too big."""


def read_inbox_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file that is itself in the inbox, at most ``limit``.

    Whoever may drop files into an inbox seldom may read the gateway's own
    files; following a symbolic link would have the gateway store its token or
    its key as a document, so a link is refused, not followed. A device is not
    even opened, and a file over ``limit`` is refused before it is read.
    Raises FileNotFoundError when another scanner took it first.
    """
    found = os.lstat(path)
    if stat.S_ISLNK(found.st_mode):
        raise NotAnInboxFile(f"{path.name} is a symbolic link, not a regular file; links "
                             "are not followed")
    if not stat.S_ISREG(found.st_mode):
        raise NotAnInboxFile(f"{path.name} is not a regular file")
    if found.st_size > limit:
        raise NotAnInboxFile(f"{path.name} has {found.st_size} bytes; the limit is {limit}")
    try:
        # O_NOFOLLOW: the name may have become a link since the lstat.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAnInboxFile(f"{path.name} is a symbolic link, not a regular file; links "
                                 "are not followed") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if (opened.st_dev, opened.st_ino) != (found.st_dev, found.st_ino):
            raise NotAnInboxFile(f"{path.name} was replaced while it was opened")
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew meanwhile
        raise NotAnInboxFile(f"{path.name} has more than {limit} bytes; the limit is {limit}")
    return data
