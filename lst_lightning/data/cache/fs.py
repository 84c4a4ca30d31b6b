"""Filesystem mechanics of building a directory once, atomically: ``build_in_place``.

The sequence, for a result directory ``<root>/<name>``:

1. a complete result (its marker file present) is used as it is, without any lock, so read-only
   roots work;
2. otherwise the advisory lock ``<root>/.<name>.lock`` is taken: a second process asking for the
   same result waits there, then finds it complete and reuses it;
3. leftovers of killed builds (``<root>/.tmp-<name>-<pid>``) are removed;
4. the result is built in a fresh ``<root>/.tmp-<name>-<pid>``, every file in it is synced, and
   the directory is renamed into place (atomic: a result is complete or absent); on any
   exception the temporary directory is removed instead;
5. the lock file is removed again, so no build leaves one behind.

Removing a lock file that others may be waiting on is safe because the holder unlinks it
*while still holding it*, and a process that obtains a lock checks that the path still names the
file it locked; a waiter that wakes on an unlinked file takes the lock again on the path's
current file. At most one process is ever past step 2 for a given name.

A build killed outright (SIGKILL, power loss) leaves its ``.tmp-*`` directory and lock file; the
next build of the same name, or of a sibling of the same family, removes them.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator

from lst_lightning.errors import LSTError

log = logging.getLogger(__name__)

_TMP_NAME = re.compile(r"^\.tmp-(?P<name>.+)-\d+$")  # .tmp-<name>-<pid>


def lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


def tmp_path(final: Path) -> Path:
    """This process's temporary directory for ``final`` (dot-prefixed: scans skip it)."""
    return final.parent / f".tmp-{final.name}-{os.getpid()}"


@contextlib.contextmanager
def build_in_place(final: Path, *, marker: str, what: str, say: Callable[[str], None] = log.info,
                   family: re.Pattern | None = None) -> Iterator[Path | None]:
    """Build the directory ``final`` at most once; see the module docstring for the sequence.

    Yields None when ``final`` is already complete (holds ``marker``): nothing to build. Else
    yields an empty temporary directory beside it, which the block fills, writing ``marker``
    last; on a normal exit it becomes ``final``, on an exception it is removed. ``what`` names
    the result in the waiting message ("this cache"); ``family`` matches the names of siblings
    whose killed builds' leftovers may be removed too. The parent directory must exist.
    OSErrors propagate for the caller to word."""
    if (final / marker).is_file():  # complete results appear atomically: no lock needed
        yield None
        return
    lock = lock_path(final)
    with build_lock(lock, lambda: say(f"another process is preparing {what}; waiting ({lock})")):
        if (final / marker).is_file():  # built by the process we waited for
            yield None
            return
        remove_stale_tmp(final, family)
        tmp = tmp_path(final)
        try:
            if final.exists():  # no marker: never a usable result (e.g. a hand-deleted file)
                shutil.rmtree(final)
            tmp.mkdir()
            yield tmp
            if not (tmp / marker).is_file():
                raise RuntimeError(f"the build of {final} ended without writing {marker}")
            sync_tree(tmp)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable (best effort)
            sync(final.parent)


# ---------------------------------------------------------------- the lock

@contextlib.contextmanager
def build_lock(path: Path, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (created if needed, removed on release); calls
    ``on_wait`` once if it has to wait for another holder."""
    try:
        fd = _acquire(path, on_wait)
    except OSError as err:
        raise LSTError(f"cannot create the lock file {path}: {err.strerror or err}") from None
    try:
        yield
    finally:
        _release(path, fd)


def _acquire(path: Path, on_wait: Callable[[], None] | None) -> int | None:
    """The descriptor of a locked file that ``path`` names. ``on_wait`` None: do not wait,
    return None if another process holds the lock."""
    waited = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is None:
                    os.close(fd)
                    return None
                if not waited:
                    on_wait()
                    waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _path_names(path, fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the previous holder removed the file meanwhile: lock the current one


def _path_names(path: Path, fd: int) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _release(path: Path, fd: int) -> None:
    """Unlink while still holding the lock (see the module docstring), then unlock."""
    try:
        with contextlib.suppress(OSError):  # a lock file left behind is harmless
            os.unlink(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- leftovers of killed builds

def remove_stale_tmp(final: Path, family: re.Pattern | None = None) -> None:
    """Remove the temporary directories of killed builds: all of ``final``'s (the caller holds
    its lock, so nobody else is building it), and those of siblings whose names match
    ``family`` and whose lock is free (nobody is building them)."""
    root = final.parent
    for stale in root.glob(".tmp-*"):
        match = _TMP_NAME.match(stale.name)
        if not match or not stale.is_dir():
            continue
        name = match.group("name")
        if name == final.name:
            shutil.rmtree(stale, ignore_errors=True)
        elif family is not None and family.fullmatch(name):
            _remove_if_unlocked(stale, root / f".{name}.lock")


def _remove_if_unlocked(stale: Path, lock: Path) -> None:
    try:
        fd = _acquire(lock, None)
    except OSError:
        return
    if fd is None:
        return  # being built right now
    try:
        shutil.rmtree(stale, ignore_errors=True)
    finally:
        _release(lock, fd)


# ---------------------------------------------------------------- durability

def preallocate(fd: int) -> None:
    """Reserve the disk blocks of a freshly created file, so a full disk fails now (ENOSPC)
    rather than at a later write (or, through a memory map, with SIGBUS)."""
    size = os.fstat(fd).st_size
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise


def sync(path: Path) -> None:
    """fsync a file or a directory (a directory's entries: creations, renames)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_tree(top: Path) -> None:
    """fsync every file and directory under ``top``, then ``top``: all of a result is on disk
    before the rename publishes it (cheap for files their writer already synced)."""
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                sync(path)
    sync(top)
