"""SSH public keys on users (for the shared console): parsing and fingerprints, as OpenSSH shows them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store import names
from store.errors import AlreadyExists, NotFound, ValidationError
from store.names import quoted

if TYPE_CHECKING:
    from store.directory import Directory

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
# A key's row, one definition for the service and the import.
INSERT = "INSERT INTO ssh_keys (user_id, public_key, fingerprint, comment, created_at) VALUES (?, ?, ?, ?, ?)"
MAX_KEY_CHARS = 16_384


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self) -> str:
        """``SHA256:…``, the form ``ssh-keygen -l`` prints."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    @property
    def text(self) -> str:
        """The key in one ``authorized_keys`` line, without options."""
        line = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{line} {self.comment}" if self.comment else line


def parse_public_key(text: object, field: str = "sshPublicKeys") -> PublicKey:
    if not isinstance(text, str):
        raise ValidationError(f"{field}: must be text (an OpenSSH public key line)", field)
    if len(text) > MAX_KEY_CHARS:
        raise ValidationError(f"{field}: longer than {MAX_KEY_CHARS} characters", field)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text.strip()):
        raise ValidationError(f"{field}: contains a control character", field)
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ValidationError(
            f"{field}: not an OpenSSH public key (expected a line like 'ssh-ed25519 AAAA… comment')", field
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded_type = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ValidationError(f"{field}: the key data is not valid base64 key material", field) from None
    if embedded_type != parts[0]:
        raise ValidationError(
            f"{field}: the key says {parts[0]} but its data is {quoted(embedded_type)}", field
        )
    # The comment is shown in the console and written into authorized_keys: no C1 or bidi controls either.
    comment = names.display_text(
        parts[2].strip() if len(parts) > 2 else "", field, MAX_KEY_CHARS, label=f"{field} comment"
    )
    return PublicKey(parts[0], blob, comment)


@dataclass(frozen=True)
class StoredKey:
    id: int
    user_id: int
    user_name: str
    public_key: str
    fingerprint: str
    comment: str
    created_at: str


_SELECT = (
    "SELECT k.id, k.user_id, u.user_name, k.public_key, k.fingerprint, k.comment, k.created_at "
    "FROM ssh_keys k JOIN users u ON u.id = k.user_id"
)


class SshKeyService:
    """Users' SSH public keys: what ``tui serve`` authenticates against."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def add(self, user_id: int, key_text: str) -> StoredKey:
        key = parse_public_key(key_text, "publicKey")
        with self.directory.change() as conn:
            user = conn.execute("SELECT user_name, is_root FROM users WHERE id = ?", (user_id,)).fetchone()
            if user is None:
                raise NotFound(f"user #{user_id} does not exist")
            owner = conn.execute(
                "SELECT u.user_name FROM ssh_keys k JOIN users u ON u.id = k.user_id WHERE k.fingerprint = ?",
                (key.fingerprint,),
            ).fetchone()
            if owner is not None:
                raise AlreadyExists(
                    f"publicKey: {key.fingerprint} already belongs to {quoted(owner[0])}", "publicKey"
                )
            now = self.directory.now_text()
            cursor = conn.execute(INSERT, (user_id, key.text, key.fingerprint, key.comment, now))
            self.directory.record(
                conn,
                at=now,
                action="user.add_ssh_key",
                target=f"user:{user['user_name']}",
                extra={"fingerprint": key.fingerprint},
            )
            row = conn.execute(f"{_SELECT} WHERE k.id = ?", (cursor.lastrowid,)).fetchone()
            return StoredKey(*row)

    def remove(self, key_id: int) -> None:
        with self.directory.change() as conn:
            row = conn.execute(f"{_SELECT} WHERE k.id = ?", (key_id,)).fetchone()
            if row is None:
                raise NotFound(f"SSH key #{key_id} does not exist (it may have been removed)")
            stored = StoredKey(*row)
            conn.execute("DELETE FROM ssh_keys WHERE id = ?", (key_id,))
            self.directory.record(
                conn,
                at=self.directory.now_text(),
                action="user.remove_ssh_key",
                target=f"user:{stored.user_name}",
                extra={"fingerprint": stored.fingerprint},
            )

    def of_user(self, user_id: int) -> list[StoredKey]:
        with self.db.read() as conn:
            return [
                StoredKey(*row)
                for row in conn.execute(f"{_SELECT} WHERE k.user_id = ? ORDER BY k.id", (user_id,))
            ]

    def owner_of(self, fingerprint: str) -> StoredKey | None:
        """The key with this fingerprint (``SHA256:…``) and its user, for public-key sign-in."""
        row = self.db.query_one(f"{_SELECT} WHERE k.fingerprint = ?", (fingerprint,))
        return None if row is None else StoredKey(*row)
