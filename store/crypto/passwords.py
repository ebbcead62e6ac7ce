"""Password hashing (argon2id via passlib's CryptContext) and the password policy.

Hashes: new hashes are argon2id m=19456 KiB, t=2, p=1 (OWASP's first recommendation). Hashes made by other
systems (bcrypt, bcrypt_sha256, PBKDF2-SHA256/512 in passlib's modular-crypt form, argon2 with other
parameters) verify, and ``verify_password`` hands back an argon2id replacement so the caller can upgrade the
stored hash at sign-in.

Passwords are NFKC-normalised before hashing (NIST SP 800-63B 5.1.1.2), so the same password typed on
different keyboards or input methods matches.

The blocklist (``store/data/common_passwords.txt``, lower case, most common first) is Django's
``common-passwords.txt.gz`` (Django 5.2, BSD-3-Clause; itself Royce Williams' list of the 20,000 most common
passwords from public breach corpora) with mis-encoded entries removed, plus a few dozen
12-character-and-longer variants of the most common passwords, since a 12-character minimum makes those what
people type.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from passlib.context import CryptContext  # type: ignore[import-untyped]  # passlib has no type information
from passlib.exc import UnknownHashError  # type: ignore[import-untyped]  # (the same)

from store.errors import ValidationError

# Longer passwords are refused rather than hashed: bounds the work an attacker can make one request cost.
MAX_PASSWORD_LENGTH = 1024

ARGON2_MEMORY_KIB = 19456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
ARGON2_PREFIX = f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_TIME_COST},p={ARGON2_PARALLELISM}$"

# bcrypt only ever looked at the first 72 bytes; the bcrypt library (>= 5) raises instead of truncating, so
# verifying an imported bcrypt hash must truncate as the system that made it did.
_BCRYPT_MAX_BYTES = 72

# The most work an imported hash may ask for: far above what any IdP uses (bcrypt 10-12, PBKDF2-SHA256 up to
# ~1.3 million rounds, argon2 up to ~64 MiB), far below what would let a crafted import stall sign-in.
_MAX_ROUNDS = {
    "argon2": 20,
    "bcrypt": 16,
    "bcrypt_sha256": 16,
    "pbkdf2_sha256": 5_000_000,
    "pbkdf2_sha512": 5_000_000,
}
_MAX_ARGON2_MEMORY_KIB = 256 * 1024
_MAX_ARGON2_PARALLELISM = 16

_SCHEMES = ["argon2", "bcrypt", "bcrypt_sha256", "pbkdf2_sha256", "pbkdf2_sha512"]

_CONTEXT = CryptContext(
    schemes=_SCHEMES,
    default="argon2",
    # Every scheme but the default, and argon2 with other settings, is flagged for rehash.
    deprecated=["auto"],
    argon2__type="ID",
    argon2__memory_cost=ARGON2_MEMORY_KIB,
    argon2__rounds=ARGON2_TIME_COST,
    argon2__parallelism=ARGON2_PARALLELISM,
)


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (NFKC-normalised). Raises ValidationError for an over-long one."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", field="password")
    result: str = _CONTEXT.hash(_normalize(password))
    return result


def dummy_verify() -> None:
    """Spend the time of one real verification, so an unknown user answers as slowly as a known one."""
    _CONTEXT.dummy_verify()


def _verify_one(candidate: str, stored_hash: str) -> tuple[bool, str | None]:
    secret: str | bytes = candidate
    if _CONTEXT.identify(stored_hash) == "bcrypt":
        secret = candidate.encode("utf-8")[:_BCRYPT_MAX_BYTES]
    ok, new_hash = _CONTEXT.verify_and_update(secret, stored_hash)
    if ok and new_hash is not None and isinstance(secret, bytes):
        # The replacement must hash the whole password, not bcrypt's truncated view of it.
        new_hash = _CONTEXT.hash(candidate)
    return bool(ok), new_hash


def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """Check ``password`` against ``stored_hash``.

    Returns ``(matches, new_hash)``; ``new_hash`` is an argon2id hash to store in place of the old one when
    the old one used another scheme or other parameters (or the password only matched un-normalised), else
    None. A missing, unrecognised or malformed stored hash, or an over-long password, never matches, and still
    costs one verification's time so the answer does not reveal which case it was.
    """
    if stored_hash is None or len(password) > MAX_PASSWORD_LENGTH or not is_supported_hash(stored_hash):
        dummy_verify()
        return False, None
    normalized = _normalize(password)
    try:
        ok, new_hash = _verify_one(normalized, stored_hash)
        if not ok and normalized != password:
            # Hashes imported from systems that did not normalise were made from the raw text.
            ok, _ = _verify_one(password, stored_hash)
            if ok:
                return True, _CONTEXT.hash(normalized)
    except (ValueError, TypeError):
        # e.g. a NUL byte that bcrypt refuses: the password cannot be the one that made this hash.
        return False, None
    return ok, new_hash if ok else None


def is_supported_hash(text: str) -> bool:
    """True when ``text`` is a well-formed hash of a scheme ``verify_password`` accepts (for imports)."""
    try:
        scheme = _CONTEXT.identify(text)
    except (UnknownHashError, ValueError, TypeError):
        return False
    if scheme is None:
        return False
    try:
        parsed = _CONTEXT.handler(scheme).from_string(text)
    except (ValueError, TypeError):
        return False
    # An imported hash with absurd work factors would make every sign-in (or the import) hang
    # or exhaust memory.
    rounds_limit = _MAX_ROUNDS[scheme]
    if int(getattr(parsed, "rounds", 0)) > rounds_limit:
        return False
    if scheme == "argon2":
        return (
            int(parsed.memory_cost) <= _MAX_ARGON2_MEMORY_KIB
            and int(parsed.parallelism) <= _MAX_ARGON2_PARALLELISM
        )
    return True


_PBKDF2_DIGEST_BYTES = {"sha256": 32, "sha512": 64}


def pbkdf2_modular_hash(algorithm: str, iterations: int, salt: bytes, derived_key: bytes) -> str:
    """A PBKDF2 hash given as parts (as Keycloak and others export it) in the form ``verify_password`` reads.

    ``algorithm`` is ``sha256`` or ``sha512``. A derived key longer than the digest (Keycloak's 64-byte
    PBKDF2-SHA256) is cut to the digest size: PBKDF2's first block does not depend on the length asked for.
    """
    size = _PBKDF2_DIGEST_BYTES.get(algorithm)
    if size is None:
        raise ValidationError("PBKDF2 hashes must use sha256 or sha512.", field="algorithm")
    if iterations < 1 or not salt or len(derived_key) < size:
        raise ValidationError("The PBKDF2 hash is incomplete.", field="password_hash")

    def ab64(raw: bytes) -> str:  # passlib's base64: "." for "+", no padding
        return base64.b64encode(raw).decode("ascii").rstrip("=").replace("+", ".")

    return f"$pbkdf2-{algorithm}${iterations}${ab64(salt)}${ab64(derived_key[:size])}"


def needs_rehash(stored_hash: str) -> bool:
    """True when a stored hash is not argon2id with the current parameters."""
    if not is_supported_hash(stored_hash):
        return True
    return bool(_CONTEXT.needs_update(stored_hash))


# --- policy -----------------------------------------------------------------------------------------------

# IAM's limits for the same settings, so a policy copied from an AWS account fits.
_MIN_LENGTH_RANGE = (6, 128)
_MAX_AGE_RANGE = (1, 1095)
_REUSE_RANGE = (0, 24)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """A directory's password rules, IAM's fields with NIST SP 800-63B defaults.

    NIST defaults: length and the blocklist matter; composition rules and periodic expiry do not (they push
    people to predictable patterns), so they are off unless an administrator turns them on.
    """

    minimum_length: int = 12
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    max_age_days: int | None = None  # None: passwords never expire
    hard_expiry: bool = False  # True: an expired password needs an admin reset; False: the user changes it
    reuse_prevention: int = 0  # how many previous passwords may not be used again
    check_blocklist: bool = True

    def __post_init__(self) -> None:
        lo, hi = _MIN_LENGTH_RANGE
        if not lo <= self.minimum_length <= hi:
            raise ValidationError(f"minimum_length must be between {lo} and {hi}.", field="minimum_length")
        if self.max_age_days is not None:
            lo, hi = _MAX_AGE_RANGE
            if not lo <= self.max_age_days <= hi:
                raise ValidationError(
                    f"max_age_days must be between {lo} and {hi}, or none for no expiry.",
                    field="max_age_days",
                )
        lo, hi = _REUSE_RANGE
        if not lo <= self.reuse_prevention <= hi:
            raise ValidationError(
                f"reuse_prevention must be between {lo} and {hi}.", field="reuse_prevention"
            )


def password_expires_at(policy: PasswordPolicy, changed_at: datetime) -> datetime | None:
    """When a password set at ``changed_at`` expires under ``policy`` (None: never)."""
    if policy.max_age_days is None:
        return None
    return changed_at + timedelta(days=policy.max_age_days)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped blocklist, lower case."""
    text = resources.files("store").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def is_common_password(password: str) -> bool:
    """True when ``password`` (case-insensitively) is on the shipped blocklist."""
    return _normalize(password).lower() in common_passwords()


def _is_repeated_pattern(password: str) -> bool:
    # "aaaaaaaaaaaa", "abababababab", "abcdabcdabcd": long enough to pass the length rule, trivial to guess.
    n = len(password)
    return any(
        n % unit == 0 and password == password[:unit] * (n // unit) for unit in range(1, min(4, n // 2) + 1)
    )


def _is_symbol(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace() and unicodedata.category(ch)[0] != "C"


def check_password(
    policy: PasswordPolicy,
    password: str,
    user_name: str,
    previous_hashes: Iterable[str] = (),
) -> list[str]:
    """Every reason ``policy`` refuses ``password`` for ``user_name``; an empty list means it is accepted.

    ``previous_hashes`` are the user's earlier password hashes, newest first (the current one included, as
    IAM counts it); only the first ``policy.reuse_prevention`` of them are checked. Messages never contain the
    password.
    """
    password = _normalize(password)
    reasons: list[str] = []
    length = len(password)
    if length < policy.minimum_length:
        reasons.append(f"Password must be at least {policy.minimum_length} characters.")
    if length > MAX_PASSWORD_LENGTH:
        reasons.append(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")
        # Nothing below is worth computing on a password that cannot be stored anyway.
        return reasons
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        reasons.append("Password must not contain control characters.")
    if policy.check_blocklist and password.lower() in common_passwords():
        reasons.append("Password is too common: it is on the list of commonly used passwords.")
    elif _is_repeated_pattern(password):
        reasons.append("Password must not be a short pattern repeated.")
    name = _normalize(user_name).casefold().strip()
    folded = password.casefold()
    if name and folded == name:
        reasons.append("Password must not be the user name.")
    elif len(name) >= 3 and name in folded:
        # Shorter names would refuse ordinary passwords that happen to contain two letters of them.
        reasons.append("Password must not contain the user name.")
    if policy.require_lowercase and not any(ch.islower() for ch in password):
        reasons.append("Password must include at least one lowercase letter.")
    if policy.require_uppercase and not any(ch.isupper() for ch in password):
        reasons.append("Password must include at least one uppercase letter.")
    if policy.require_numbers and not any(ch.isdigit() for ch in password):
        reasons.append("Password must include at least one number.")
    if policy.require_symbols and not any(_is_symbol(ch) for ch in password):
        reasons.append("Password must include at least one symbol (such as ! @ # $ % ^ & * - _ + =).")
    if policy.reuse_prevention and _reuses(password, previous_hashes, policy.reuse_prevention):
        count = policy.reuse_prevention
        last = "your last password" if count == 1 else f"one of your last {count} passwords"
        reasons.append(f"Password must not be {last}.")
    return reasons


def _reuses(password: str, previous_hashes: Iterable[str], count: int) -> bool:
    recent: Sequence[str] = list(previous_hashes)[:count]
    # Check them all (no early exit) so the time taken does not say which one matched.
    matches = [verify_password(password, h)[0] for h in recent]
    return any(matches)
