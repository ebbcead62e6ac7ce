"""The directory key file, and sealing (AES-256-GCM) of the few secrets that must be read back (TOTP secrets).

Key file: a small text file, mode 0600, kept beside the database or wherever ``--key`` says, never inside it::

    # tui directory key: keep it secret, and keep a copy apart from database backups.
    tui-key-v1 <32 random bytes, base64url>

Each ``tui-key-v1`` line is one key; the last is the current one, earlier ones are kept so values sealed with
them still open after a rotation (``rotate_key_file``). Keys are never used directly: HKDF-SHA256 derives a
sealing key, an audit-chain MAC key and a public key id from each, so the uses cannot be confused.

Sealed value: ``tui1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`` with a random 96-bit nonce. The version
and key id say how to open it; the caller's associated data (for example ``b"totp:user:42"``) binds the value
to its row, so a sealed secret copied to another row does not open there.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from store.errors import StoreError
from store.files import create_private, fsync_folder, private_problem, temporary_beside, write_private

KEY_BYTES = 32
NONCE_BYTES = 12
SEAL_VERSION = "tui1"
_KEY_LINE_TAG = "tui-key-v1"
_KEY_FILE_HEADER = "# tui directory key: keep it secret, and keep a copy apart from database backups.\n"
_MAX_KEY_FILE_BYTES = 64 * 1024  # a key file is a few hundred bytes; anything big is the wrong file

_INFO_SEAL = b"tui seal v1"
_INFO_AUDIT = b"tui audit chain v1"
_INFO_KEY_ID = b"tui key id v1"


class KeyFileError(StoreError):
    """The key file is missing, unsafe or unreadable. The message names the file, never its contents."""


class UnsealError(StoreError):
    """A sealed value could not be opened (wrong key, altered value, or wrong associated data)."""


def _hkdf(material: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(material)


@dataclass(frozen=True)
class DirectoryKey:
    """One 256-bit key. ``key_id`` is public (derived one-way); the material never shows in a repr."""

    material: bytes = field(repr=False)
    key_id: str = field(init=False)
    _aead: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise KeyFileError(f"A directory key is {KEY_BYTES} bytes.")
        object.__setattr__(self, "key_id", _hkdf(self.material, _INFO_KEY_ID, 4).hex())
        object.__setattr__(self, "_aead", AESGCM(_hkdf(self.material, _INFO_SEAL, KEY_BYTES)))

    @classmethod
    def generate(cls) -> DirectoryKey:
        return cls(secrets.token_bytes(KEY_BYTES))


@dataclass(frozen=True)
class KeyRing:
    """The keys of one key file, oldest first; ``current`` (the last) seals, any of them unseals."""

    keys: tuple[DirectoryKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyFileError("A key ring needs at least one key.")

    @property
    def current(self) -> DirectoryKey:
        return self.keys[-1]

    def get(self, key_id: str) -> DirectoryKey | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None

    def __iter__(self) -> Iterator[DirectoryKey]:
        return iter(self.keys)


def _as_ring(key: KeyRing | DirectoryKey) -> KeyRing:
    return key if isinstance(key, KeyRing) else KeyRing((key,))


# --- sealing ----------------------------------------------------------------------------------------------


def _aad(key_id: str, associated_data: bytes) -> bytes:
    # The header is authenticated too, so neither version nor key id can be swapped without detection.
    return f"{SEAL_VERSION}.{key_id}.".encode("ascii") + associated_data


def seal(key: KeyRing | DirectoryKey, plaintext: bytes, associated_data: bytes) -> str:
    """``plaintext`` encrypted and authenticated under the current key, as ASCII text."""
    current = _as_ring(key).current
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = current._aead.encrypt(nonce, plaintext, _aad(current.key_id, associated_data))
    encoded = base64.urlsafe_b64encode(nonce + body).decode("ascii").rstrip("=")
    return f"{SEAL_VERSION}.{current.key_id}.{encoded}"


def sealed_key_id(sealed: str) -> str:
    """The id of the key that sealed ``sealed``; raises UnsealError when it is not a sealed value."""
    return _split(sealed)[0]


def _split(sealed: str) -> tuple[str, bytes]:
    parts = sealed.split(".")
    if len(parts) != 3 or not parts[0].startswith("tui"):
        raise UnsealError("The sealed value is malformed.")
    version, key_id, encoded = parts
    if version != SEAL_VERSION:
        raise UnsealError("The sealed value has an unknown format version.")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise UnsealError("The sealed value is malformed.") from None
    if len(raw) < NONCE_BYTES + 16:
        raise UnsealError("The sealed value is malformed.")
    return key_id, raw


def unseal(key: KeyRing | DirectoryKey, sealed: str, associated_data: bytes) -> bytes:
    """The plaintext of ``sealed``; raises UnsealError on a wrong key, altered value
    or wrong associated data."""
    key_id, raw = _split(sealed)
    found = _as_ring(key).get(key_id)
    if found is None:
        raise UnsealError(f"The value was sealed with key {key_id}, which is not in this key file.")
    try:
        return found._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(key_id, associated_data))
    except InvalidTag:
        raise UnsealError(
            "The sealed value could not be opened: wrong key file, or the value or its context was changed."
        ) from None


def needs_reseal(key: KeyRing, sealed: str) -> bool:
    """True when ``sealed`` was sealed with an older key than the ring's current one."""
    return sealed_key_id(sealed) != key.current.key_id


def reseal(key: KeyRing, sealed: str, associated_data: bytes) -> str:
    """``sealed`` opened with whichever key sealed it and sealed again with the
    current key (after rotation)."""
    return seal(key, unseal(key, sealed, associated_data), associated_data)


def audit_mac_key(key: KeyRing | DirectoryKey) -> bytes:
    """A 256-bit HMAC key for the audit hash chain, derived from (and independent of) the sealing key.

    A KeyRing gives the current key's; record ``key_id`` with the chain so it can be verified after rotation.
    """
    return _hkdf(_as_ring(key).current.material, _INFO_AUDIT, KEY_BYTES)


# --- the key file -----------------------------------------------------------------------------------------


def _render(ring: KeyRing) -> bytes:
    lines = [_KEY_FILE_HEADER]
    for key in ring.keys:
        lines.append(f"{_KEY_LINE_TAG} {base64.urlsafe_b64encode(key.material).decode('ascii')}\n")
    return "".join(lines).encode("ascii")


def _parse(path: Path, data: bytes) -> KeyRing:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path} is not a tui key file.") from None
    keys: list[DirectoryKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag, _, encoded = line.partition(" ")
        if tag != _KEY_LINE_TAG:
            raise KeyFileError(f"{path} is not a tui key file (line {number}).")
        try:
            material = base64.urlsafe_b64decode(encoded.strip())
        except (binascii.Error, ValueError):
            raise KeyFileError(f"{path} has a damaged key (line {number}).") from None
        if len(material) != KEY_BYTES:
            raise KeyFileError(f"{path} has a damaged key (line {number}).")
        keys.append(DirectoryKey(material))
    if not keys:
        raise KeyFileError(f"{path} holds no key.")
    return KeyRing(tuple(keys))


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# A FIFO at the key file's path (mkfifo) blocked open() until a writer came: every command hung. Opened
# without blocking, it is found not to be a regular file by fstat before anything reads it (a regular
# file reads the same with the flag).
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _publish_new(path: Path, data: bytes) -> None:
    """Make ``path`` appear complete or not at all, and never over an existing file."""
    temp = temporary_beside(path)
    create_private(temp, data)
    try:
        os.link(temp, path)  # atomic, and fails if ``path`` exists (even as a dangling symlink)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; a key file is never overwritten.") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        # No hard links on this file system: O_EXCL still refuses to overwrite.
        try:
            create_private(path, data)
        except FileExistsError:
            raise KeyFileError(f"{path} already exists; a key file is never overwritten.") from None
    finally:
        os.unlink(temp)
    fsync_folder(path.parent)


def create_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Create a key file holding one new random key (mode 0600). Refuses to overwrite an existing file."""
    target = Path(path)
    if target.exists() or target.is_symlink():
        raise KeyFileError(f"{target} already exists; a key file is never overwritten.")
    if not target.parent.is_dir():
        raise KeyFileError(f"Cannot create the key file: the directory {target.parent} does not exist.")
    ring = KeyRing((DirectoryKey.generate(),))
    _publish_new(target, _render(ring))
    return ring


def _open_key_file(path: Path) -> int:
    """``path`` opened for reading, without blocking on a FIFO; refused unless it is a regular file."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NONBLOCK)
    try:
        _check_regular(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path} is not a regular file.")


def _read_checked(path: Path, fd: int) -> bytes:
    info = os.fstat(fd)
    _check_regular(path, info)
    if os.name == "posix":
        problem = private_problem(path, info, "key file")
        if problem:
            raise KeyFileError(problem)
    if info.st_size > _MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a tui key file.")
    chunks = []
    while chunk := os.read(fd, _MAX_KEY_FILE_BYTES + 1):
        chunks.append(chunk)
    return b"".join(chunks)


def load_key(path: str | os.PathLike[str]) -> KeyRing:
    """The keys in ``path``. Refuses a file that group or others may access, or that another user owns."""
    source = Path(path)
    try:
        fd = _open_key_file(source)
    except FileNotFoundError:
        raise KeyFileError(f"The key file {source} does not exist.") from None
    except PermissionError:
        raise KeyFileError(f"The key file {source} cannot be read (permission denied).") from None
    try:
        data = _read_checked(source, fd)
    finally:
        os.close(fd)
    return _parse(source, data)


def rotate_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Add a new current key to the key file (older keys stay, to open what they sealed) and return the ring.

    The file is replaced atomically; concurrent rotations are serialised with an exclusive lock, so neither
    loses the other's key. Values sealed before stay readable; ``reseal`` moves them to the new key.
    """
    import fcntl  # POSIX only, like the rest of the console; imported here so loading keys works anywhere

    target = Path(path)
    while True:
        try:
            fd = _open_key_file(target)  # before the lock: flock waits on no FIFO
        except FileNotFoundError:
            raise KeyFileError(f"The key file {target} does not exist.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(target)
            except FileNotFoundError:
                current = None
            opened = os.fstat(fd)
            if current is None or (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
                continue  # another rotation replaced the file while we waited: read the new one
            ring = _parse(target, _read_checked(target, fd))
            rotated = KeyRing(ring.keys + (DirectoryKey.generate(),))
            write_private(target, _render(rotated))
            return rotated
        finally:
            os.close(fd)  # also releases the lock
