"""Generated secrets that are shown once and stored only as SHA-256.

An unsalted SHA-256 is enough for these (unlike passwords) because each is a long random value: there is no
dictionary to try. Entropy of each:

- access key secret / session secret: 40 characters of a 64-symbol alphabet = 240 bits;
- session token: 48 random bytes = 384 bits (64 url-safe characters);
- portal token: 32 random bytes = 256 bits (43 url-safe characters);
- SCIM provisioning token: 32 random bytes = 256 bits (``tuiscim_`` + 43 url-safe characters);
- recovery code: 10 characters of a 32-symbol alphabet = 50 bits, written ``xxxxx-xxxxx``; enough for a
  single-use code checked behind sign-in throttling, and short enough to type from paper.

Key ids (``AKIA``/``ASIA`` + 16 characters of ``A-Z2-7``, 80 bits) follow AWS's shape so tools that parse AWS
credentials accept them; they are identifiers, not secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"  # base32, as AWS key ids use
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"  # AWS secret access keys' alphabet
# Crockford's base32, lower case: no i, l, o or u, so nothing reads as 1, 0 or another letter.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_CONFUSABLE = str.maketrans({"i": "1", "l": "1", "o": "0"})

KEY_ID_SUFFIX_LENGTH = 16
SECRET_LENGTH = 40
SESSION_TOKEN_BYTES = 48
PORTAL_TOKEN_BYTES = 32
SCIM_TOKEN_BYTES = 32
RECOVERY_CODE_GROUPS = 2
RECOVERY_CODE_GROUP_LENGTH = 5
RECOVERY_CODE_BITS = 5 * RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_LENGTH  # 50
DEFAULT_RECOVERY_CODES = 10


def _random_string(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _new_key_id(prefix: str) -> str:
    return prefix + _random_string(_KEY_ID_ALPHABET, KEY_ID_SUFFIX_LENGTH)


@dataclass(frozen=True)
class AccessKeyPair:
    """A new long-term access key. Unpacks as ``key_id, secret = new_access_key()``; the
    repr hides the secret."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    def __iter__(self) -> Iterator[str]:
        return iter((self.access_key_id, self.secret_access_key))


@dataclass(frozen=True)
class SessionCredentials:
    """New temporary credentials. Unpacks as ``key_id, secret, token``; the repr hides secret and token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)

    def __iter__(self) -> Iterator[str]:
        return iter((self.access_key_id, self.secret_access_key, self.session_token))


def new_access_key() -> AccessKeyPair:
    """``AKIA`` + 16 base32 characters, and a 40-character secret (240 bits)."""
    return AccessKeyPair(_new_key_id("AKIA"), _random_string(_SECRET_ALPHABET, SECRET_LENGTH))


def new_session_credentials() -> SessionCredentials:
    """``ASIA`` + 16 base32 characters, a 40-character secret, and a url-safe 384-bit session token."""
    return SessionCredentials(
        _new_key_id("ASIA"),
        _random_string(_SECRET_ALPHABET, SECRET_LENGTH),
        secrets.token_urlsafe(SESSION_TOKEN_BYTES),
    )


def new_portal_token() -> str:
    """A url-safe 256-bit bearer token for a signed-in portal (``tui login``) session."""
    return secrets.token_urlsafe(PORTAL_TOKEN_BYTES)


def new_scim_token() -> str:
    """A SCIM provisioning bearer token: ``tuiscim_`` (so secret scanners can spot a leaked one) and 256
    random bits, url-safe."""
    return "tuiscim_" + secrets.token_urlsafe(SCIM_TOKEN_BYTES)


def new_recovery_codes(n: int = DEFAULT_RECOVERY_CODES) -> list[str]:
    """``n`` distinct single-use codes like ``7kq2m-x9d4a`` (50 bits each)."""
    if n < 1:
        raise ValueError("at least one recovery code")
    codes: list[str] = []
    while len(codes) < n:
        groups = [
            _random_string(_RECOVERY_ALPHABET, RECOVERY_CODE_GROUP_LENGTH)
            for _ in range(RECOVERY_CODE_GROUPS)
        ]
        code = "-".join(groups)
        if code not in codes:  # a repeat is astronomically unlikely, but two equal codes would be one code
            codes.append(code)
    return codes


def normalize_recovery_code(text: str) -> str:
    """A typed recovery code in the form it was issued: case, spaces and hyphens ignored, and the letters
    Crockford's base32 leaves out read as the digits they look like. Hash this, not the raw input."""
    compact = "".join(ch for ch in text.lower() if ch not in " -\t").translate(_RECOVERY_CONFUSABLE)
    size = RECOVERY_CODE_GROUP_LENGTH
    if len(compact) != size * RECOVERY_CODE_GROUPS or any(ch not in _RECOVERY_ALPHABET for ch in compact):
        return compact  # not a code; hashing it simply matches nothing
    return "-".join(compact[i : i + size] for i in range(0, len(compact), size))


def hash_secret(secret: str) -> str:
    """SHA-256 of the UTF-8 text, as 64 lower-case hex digits: what is stored instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_recovery_code(text: str) -> str:
    """The stored form of a recovery code as issued or as typed."""
    return hash_secret(normalize_recovery_code(text))


def secret_matches(candidate: str, stored_hash: str) -> bool:
    """True when ``candidate`` hashes to ``stored_hash`` (compared in constant time)."""
    return secrets_equal(hash_secret(candidate), stored_hash)


def secrets_equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality (for hashes or tokens), so a comparison's timing reveals no prefix."""
    left = a.encode("utf-8") if isinstance(a, str) else a
    right = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
