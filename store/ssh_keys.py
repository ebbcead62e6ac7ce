"""SSH public keys on users (for the shared console): parsing and fingerprints, as OpenSSH shows them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from store.errors import ValidationError

KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})
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
        raise ValidationError(f"{field}: the key says {parts[0]} but its data is {embedded_type!r}", field)
    return PublicKey(parts[0], blob, parts[2].strip() if len(parts) > 2 else "")
