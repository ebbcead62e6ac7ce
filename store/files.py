"""Files and folders we create for people (databases, keys, exports, caches): owner-only from the first byte.

A file is written to a temporary file beside its target and renamed over it, so a reader sees the old file or
the new one, never half of either. The temporary name is unpredictable and created with ``O_EXCL|O_NOFOLLOW``:
in a shared folder (``/tmp``) a file or symlink planted where we would write is never opened, never followed,
and never lends us its mode. The rename replaces a symlink at the target itself, never the file it points to.
A target that is not a regular file (``/dev/null``, a FIFO, a socket, or a link to one, as ``/dev/stdout``
is) is refused before anything is written: the rename would put our file in place of the device.

Files that hold secrets are checked before use as OpenSSH's StrictModes checks them: a database or key file
that group or others may read or write, or that another user owns, is refused with the command that fixes it.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import shlex
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from store.errors import StoreError

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC


class NotAFile(StoreError):
    """A file we would write is already something else than a regular file (a device, a FIFO, a socket)."""


class NotPrivate(StoreError):
    """A file that must be its owner's alone (database, key) can be reached by others,
    or is someone else's."""


def private_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents, each 0700 (``mkdir(parents=True)`` gives parents the umask's
    mode). Folders that exist are left as they are. Returns the folders this call created, outermost first."""
    missing = [each for each in (folder, *folder.parents) if not each.exists()]
    created: list[Path] = []
    for each in reversed(missing):
        try:
            each.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to chmod or to remove
        os.chmod(each, 0o700)  # mkdir's mode passes through the umask
        created.append(each)
    return created


def create_private(path: Path, data: bytes = b"") -> None:
    """Create ``path``, which must not exist (not even as a symlink), 0600 whatever the umask, holding
    ``data`` flushed to disk. Raises ``FileExistsError`` when something is already there."""
    fd = os.open(path, _NEW_FILE, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits, but an odd one (0o200) could remove ours
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_new(finished: Path, target: Path) -> None:
    """Give the finished file ``finished`` (in a folder of ours) the new name ``target``: a hard link, which
    never replaces a file nor goes through a symlink at ``target`` (``FileExistsError`` when something is
    there). Where the file system has no hard links, ``target`` is created as :func:`create_private` does and
    the bytes copied into it."""
    try:
        os.link(finished, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        fd = os.open(target, _NEW_FILE, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with open(finished, "rb") as source, os.fdopen(fd, "wb", closefd=False) as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
                copy.flush()
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            target.unlink(missing_ok=True)
            raise
        os.close(fd)
    fsync_folder(target.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new name in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_beside(path: Path) -> Path:
    """A name beside ``path`` that nobody can guess ahead of us (a predictable one can be planted)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def _open_temporary(path: Path) -> tuple[int, Path]:
    for _ in range(16):
        temporary = temporary_beside(path)
        try:
            fd = os.open(temporary, _NEW_FILE, 0o600)
        except FileExistsError:
            continue  # somebody is there (by chance, or planted): never use it, pick another name
        except FileNotFoundError:
            # Named by the folder the person gave, not by our temporary file's name.
            raise FileNotFoundError(errno.ENOENT, "no such folder", str(path.parent)) from None
        try:
            os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        return fd, temporary
    raise FileExistsError(f"no free temporary name beside {path}")


_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _replaceable(path: Path) -> None:
    """Raise :class:`NotAFile` unless ``path`` is absent, a regular file, or a symlink to one or to nothing
    (a planted link is replaced itself, never written through)."""
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            mode = os.stat(path).st_mode
    except OSError:
        return  # absent, dangling, or unreachable: the write itself says so if it cannot be done
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise NotAFile(f"{path} is {kind}, not a file: tui writes only files of its own; choose a file name")


def _entry(path: Path) -> tuple[str, str]:
    """The folder entry ``path`` names: its folder with every link resolved, and its own name (a link at the
    name is what a rename replaces, not the file it leads to)."""
    return os.path.realpath(path.parent), path.name


def refuse_own_files(path: Path, database: Path, key: Path) -> None:
    """Raise :class:`NotAFile` when ``path`` names the directory's own database (or its -wal, -shm or -journal
    file) or its key file: an export written there replaced the directory itself, and the key file cannot
    be made again (it seals the authenticators and keys the audit log)."""
    own = {_entry(Path(f"{database}{suffix}")): "database" for suffix in ("", "-wal", "-shm", "-journal")}
    own[_entry(Path(key))] = "key file"
    what = own.get(_entry(Path(path)))
    if what is not None:
        raise NotAFile(f"{path} is the directory's own {what}: choose another file name")


@contextmanager
def private_writer(path: Path) -> Iterator[IO[bytes]]:
    """A binary file to stream into; on a clean exit its content replaces ``path`` (0600, flushed, renamed
    atomically, the folder flushed); on an exception ``path`` is left as it was and the temporary removed.
    Raises :class:`NotAFile` before writing anything when ``path`` is a device, FIFO or socket (or a link to
    one)."""
    path = Path(path)
    _replaceable(path)
    fd, temporary = _open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _replaceable(path)  # again: a long write leaves time for the target to change
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


@contextmanager
def private_text_writer(path: Path) -> Iterator[IO[str]]:
    """:func:`private_writer` as UTF-8 text, line endings written as given (``newline=""``, as csv wants)."""
    with private_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
        finally:
            text.detach()  # flushes; private_writer fsyncs and closes the file itself


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) through an unguessable temporary file and an atomic rename."""
    with private_writer(path) as handle:
        handle.write(data)


def _user_name(uid: int) -> str:
    import pwd  # POSIX only; imported here so that store.files loads anywhere

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def private_problem(path: Path, info: os.stat_result, what: str) -> str | None:
    """Why ``path`` (with ``info`` from ``fstat``/``stat``) is not private to the user running tui, with the
    command that fixes it; None when it is. Root-owned files are accepted, as OpenSSH accepts them."""
    mode = stat.S_IMODE(info.st_mode)
    quoted = shlex.quote(str(path))
    me = os.getuid()
    if info.st_uid not in (me, 0):
        return (
            f"{path} belongs to another user ({_user_name(info.st_uid)}); the {what} must be owned by the "
            f"user running tui: chown {shlex.quote(_user_name(me))} {quoted}"
        )
    if mode & 0o077:
        return (
            f"{path} is accessible by group or others (mode {mode:04o}); the {what} must be private to its "
            f"owner: chmod 600 {quoted}"
        )
    return None
