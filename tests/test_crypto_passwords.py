"""Password hashing, legacy-hash upgrade, and the password policy (store.crypto.passwords)."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import argon2
import argon2.low_level
import bcrypt as bcrypt_lib
import pytest
from passlib.hash import bcrypt_sha256  # type: ignore[import-untyped]  # passlib has no type information

from store.crypto import (
    MAX_PASSWORD_LENGTH,
    PasswordPolicy,
    check_password,
    common_passwords,
    dummy_verify,
    hash_password,
    is_common_password,
    is_supported_hash,
    needs_rehash,
    password_expires_at,
    pbkdf2_modular_hash,
    verify_password,
)
from store.errors import ValidationError

PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
GOOD = "tangerine-orbit-lantern"  # 23 characters, not on any list


def _ab64(raw: bytes) -> str:
    # passlib's "adapted base64": standard alphabet with '.' for '+', no padding.
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def _pbkdf2_modular(algorithm: str, password: str, salt: bytes, rounds: int) -> str:
    """A PBKDF2 hash in passlib's modular-crypt form, made with hashlib alone (not passlib)."""
    derived = hashlib.pbkdf2_hmac(algorithm, password.encode(), salt, rounds)
    return f"$pbkdf2-{algorithm}${rounds}${_ab64(salt)}${_ab64(derived)}"


# Hashes of GOOD as other systems make them, each by a library other than passlib where one exists.
LEGACY: dict[str, Callable[[str], str]] = {
    "bcrypt 2b": lambda pw: bcrypt_lib.hashpw(pw.encode(), bcrypt_lib.gensalt(4)).decode(),
    "bcrypt 2a": lambda pw: bcrypt_lib.hashpw(pw.encode(), bcrypt_lib.gensalt(4, prefix=b"2a")).decode(),
    "bcrypt 2y": lambda pw: (
        bcrypt_lib.hashpw(pw.encode(), bcrypt_lib.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    ),
    "bcrypt_sha256": lambda pw: str(bcrypt_sha256.using(rounds=4).hash(pw)),
    "pbkdf2-sha256": lambda pw: _pbkdf2_modular("sha256", pw, b"0123456789abcdef", 1000),
    "pbkdf2-sha512": lambda pw: _pbkdf2_modular("sha512", pw, b"0123456789abcdef", 1000),
    "argon2id other parameters": lambda pw: argon2.PasswordHasher(
        time_cost=1, memory_cost=8192, parallelism=2
    ).hash(pw),
    "argon2i": lambda pw: argon2.PasswordHasher(time_cost=1, memory_cost=8192, type=argon2.Type.I).hash(pw),
}


def test_new_hash_is_argon2id_with_the_contract_parameters() -> None:
    hashed = hash_password(GOOD)
    assert hashed.startswith(PREFIX)
    # argon2-cffi, independently of passlib, agrees it is the hash of this password with these parameters.
    params = argon2.extract_parameters(hashed)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (
        argon2.Type.ID,
        19456,
        2,
        1,
    )
    assert argon2.PasswordHasher().verify(hashed, GOOD)


def test_hashes_are_salted() -> None:
    assert hash_password(GOOD) != hash_password(GOOD)


def test_verify_current_hash_needs_no_rehash() -> None:
    hashed = hash_password(GOOD)
    assert verify_password(GOOD, hashed) == (True, None)
    assert verify_password(GOOD + "x", hashed) == (False, None)
    assert verify_password(GOOD.upper(), hashed) == (False, None)
    assert not needs_rehash(hashed)


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_hashes_verify_and_come_back_as_argon2id(name: str) -> None:
    legacy = LEGACY[name](GOOD)
    assert is_supported_hash(legacy)
    assert needs_rehash(legacy)
    ok, new_hash = verify_password(GOOD, legacy)
    assert ok
    assert new_hash is not None and new_hash.startswith(PREFIX)
    assert verify_password(GOOD, new_hash) == (True, None)
    assert verify_password("not-the-password", legacy) == (False, None)


def test_known_pbkdf2_vector_from_outside() -> None:
    # RFC 7914 section 11 PBKDF2-HMAC-SHA256 vector ("passwd", salt "salt", c=1, first 32 bytes).
    derived = bytes.fromhex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    stored = f"$pbkdf2-sha256$1${_ab64(b'salt')}${_ab64(derived)}"
    assert verify_password("passwd", stored)[0]
    assert not verify_password("passwd2", stored)[0]


def test_pbkdf2_parts_as_keycloak_exports_them() -> None:
    # Keycloak's pbkdf2-sha256 keeps a 64-byte derived key; the first 32 bytes are the 32-byte PBKDF2 output.
    salt = b"keycloak-salt-16"
    derived = hashlib.pbkdf2_hmac("sha256", GOOD.encode(), salt, 27500, dklen=64)
    stored = pbkdf2_modular_hash("sha256", 27500, salt, derived)
    assert stored == _pbkdf2_modular("sha256", GOOD, salt, 27500)
    assert is_supported_hash(stored) and verify_password(GOOD, stored)[0]
    sha512 = pbkdf2_modular_hash(
        "sha512", 1000, salt, hashlib.pbkdf2_hmac("sha512", GOOD.encode(), salt, 1000)
    )
    assert verify_password(GOOD, sha512)[0] and not verify_password("wrong", sha512)[0]
    for bad in [
        ("sha1", 1000, salt, derived),
        ("sha256", 0, salt, derived),
        ("sha256", 1000, b"", derived),
        ("sha256", 1000, salt, derived[:16]),
    ]:
        with pytest.raises(ValidationError):
            pbkdf2_modular_hash(*bad)


def test_bcrypt_hash_of_long_password_verifies_as_bcrypt_always_did() -> None:
    # bcrypt only ever used the first 72 bytes; an IdP export of such a hash must still let the user in.
    long_password = "correct horse battery staple " * 4  # 116 bytes
    legacy = bcrypt_lib.hashpw(long_password.encode()[:72], bcrypt_lib.gensalt(4)).decode()
    ok, new_hash = verify_password(long_password, legacy)
    assert ok and new_hash is not None
    # The replacement hashes the whole password, not bcrypt's truncated view of it.
    assert verify_password(long_password, new_hash) == (True, None)
    assert verify_password(long_password[:72], new_hash)[0] is False


def test_unicode_is_normalised_nfkc() -> None:
    hashed = hash_password("ｃａｆｅ-ｏｒｂｉｔ-ｌａｎｔｅｒｎ")  # full-width forms
    assert verify_password("cafe-orbit-lantern", hashed) == (True, None)
    composed, decomposed = "caf\u00e9-orbit-lantern", "cafe\u0301-orbit-lantern"
    assert verify_password(decomposed, hash_password(composed)) == (True, None)


def test_hash_imported_from_a_system_that_did_not_normalise_still_verifies_and_is_upgraded() -> None:
    raw = "\ufb01le-cabinet-42-lantern"  # the "fi" ligature, which NFKC turns into "fi"
    legacy = bcrypt_lib.hashpw(raw.encode(), bcrypt_lib.gensalt(4)).decode()
    ok, new_hash = verify_password(raw, legacy)
    assert ok and new_hash is not None and new_hash.startswith(PREFIX)
    assert verify_password("file-cabinet-42-lantern", new_hash) == (True, None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hunter2",
        "tangerine-orbit-lantern",
        "$argon2id$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$short",
        "$2b$12$tooshort",
        "$pbkdf2-sha256$notanumber$c2FsdA$aGFzaA",
        "$1$saltsalt$abcdefghijklmnopqrstuv",  # md5-crypt: deliberately not accepted
        "{SSHA}abcdefghijklmnopqrstuvwxyz12",
    ],
)
def test_unsupported_or_malformed_hashes_are_recognised_and_never_match(text: str) -> None:
    assert not is_supported_hash(text)
    assert verify_password(text, text) == (False, None)
    assert verify_password(GOOD, text) == (False, None)


@pytest.mark.parametrize(
    "stored",
    [
        bcrypt_lib.hashpw(b"x", bcrypt_lib.gensalt(4)).decode().replace("$04$", "$17$"),
        "$pbkdf2-sha256$5000001$c2FsdHNhbHQ$" + "A" * 43,
        "$argon2id$v=19$m=262145,t=2,p=1$c2FsdHNhbHQ$" + "A" * 43,
        "$argon2id$v=19$m=19456,t=21,p=1$c2FsdHNhbHQ$" + "A" * 43,
        "$argon2id$v=19$m=19456,t=2,p=17$c2FsdHNhbHQ$" + "A" * 43,
    ],
    ids=["bcrypt cost 17", "pbkdf2 5M+1 rounds", "argon2 256 MiB+1", "argon2 t=21", "argon2 p=17"],
)
def test_hashes_demanding_absurd_work_are_refused_not_computed(stored: str) -> None:
    # Well-formed (the limits are the only reason), but an import of them could stall every sign-in.
    at_limit = (
        stored.replace("$17$", "$16$")
        .replace("5000001", "5000000")
        .replace("262145", "262144")
        .replace("t=21", "t=20")
        .replace("p=17", "p=16")
    )
    assert is_supported_hash(at_limit)
    assert not is_supported_hash(stored)
    assert verify_password(GOOD, stored) == (False, None)


class _Argon2Spy:
    """Counts argon2 verifications (calling through to the real function) and the hashes they used."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes: list[bytes] = []
        real = argon2.low_level.verify_secret

        def spy(hash: bytes, secret: bytes, type: Any) -> bool:
            self.hashes.append(hash)
            return bool(real(hash, secret, type))

        monkeypatch.setattr(argon2.low_level, "verify_secret", spy)


def test_dummy_verify_costs_one_real_argon2id_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Argon2Spy(monkeypatch)
    dummy_verify()
    assert len(spy.hashes) == 1 and spy.hashes[0].decode().startswith(PREFIX)


@pytest.mark.parametrize(
    "stored",
    [None, "not a hash", "$2b$12$tooshort"],
    ids=["no password", "garbage", "malformed bcrypt"],
)
def test_unknown_user_or_unusable_hash_still_costs_a_verification(
    monkeypatch: pytest.MonkeyPatch, stored: str | None
) -> None:
    spy = _Argon2Spy(monkeypatch)
    assert verify_password(GOOD, stored) == (False, None)
    assert len(spy.hashes) == 1 and spy.hashes[0].decode().startswith(PREFIX)


def test_over_long_passwords_are_refused_without_hashing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        hash_password("a" * (MAX_PASSWORD_LENGTH + 1))
    assert str(MAX_PASSWORD_LENGTH) in str(caught.value) and "aaaa" not in str(caught.value)
    assert hash_password("a" * MAX_PASSWORD_LENGTH).startswith(PREFIX)
    stored = hash_password(GOOD)
    spy = _Argon2Spy(monkeypatch)
    assert verify_password("b" * (MAX_PASSWORD_LENGTH + 1), stored) == (False, None)
    assert len(spy.hashes) == 1 and spy.hashes[0].decode() != stored  # the dummy, not the real hash


def test_nul_byte_never_matches_a_bcrypt_hash() -> None:
    legacy = bcrypt_lib.hashpw(b"abc", bcrypt_lib.gensalt(4)).decode()
    assert verify_password("abc\x00def", legacy) == (False, None)


# --- policy -------------------------------------------------------------------------------------------------


def test_policy_defaults_follow_nist() -> None:
    policy = PasswordPolicy()
    assert policy.minimum_length == 12
    assert not (
        policy.require_symbols
        or policy.require_numbers
        or policy.require_uppercase
        or policy.require_lowercase
    )
    assert policy.max_age_days is None and policy.hard_expiry is False
    assert policy.reuse_prevention == 0
    assert policy.check_blocklist is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minimum_length", 5),
        ("minimum_length", 129),
        ("max_age_days", 0),
        ("max_age_days", 1096),
        ("reuse_prevention", -1),
        ("reuse_prevention", 25),
    ],
)
def test_policy_values_outside_iams_ranges_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as caught:
        settings: dict[str, Any] = {field: value}
        PasswordPolicy(**settings)
    assert caught.value.field == field


def test_policy_values_at_iams_limits_are_accepted() -> None:
    PasswordPolicy(minimum_length=6, max_age_days=1, reuse_prevention=24)
    PasswordPolicy(minimum_length=128, max_age_days=1095, reuse_prevention=0)


def test_password_expiry() -> None:
    changed = datetime(2026, 1, 1, tzinfo=UTC)
    assert password_expires_at(PasswordPolicy(), changed) is None
    assert password_expires_at(PasswordPolicy(max_age_days=90), changed) == datetime(2026, 4, 1, tzinfo=UTC)


def test_a_good_password_is_accepted() -> None:
    assert check_password(PasswordPolicy(), GOOD, "alice") == []


def test_too_short() -> None:
    assert check_password(PasswordPolicy(), "orbit-lamp1", "alice") == [
        "Password must be at least 12 characters."
    ]
    assert check_password(PasswordPolicy(), "orbit-lamp12", "alice") == []
    assert check_password(PasswordPolicy(minimum_length=20), GOOD[:19], "alice") == [
        "Password must be at least 20 characters."
    ]


def test_length_counts_characters_not_bytes() -> None:
    twelve = "ÿéàüöñçøåæœß"  # 12 characters, 24 bytes of UTF-8
    assert check_password(PasswordPolicy(), twelve, "alice") == []
    assert check_password(PasswordPolicy(), twelve[:11], "alice") == [
        "Password must be at least 12 characters."
    ]


def test_too_long() -> None:
    reasons = check_password(PasswordPolicy(), "x" * (MAX_PASSWORD_LENGTH + 1), "alice")
    assert reasons == [f"Password must be at most {MAX_PASSWORD_LENGTH} characters."]


@pytest.mark.parametrize(
    "password", ["password1234", "PassWord1234", "qwertyuiop123", "1q2w3e4r5t6y", "iloveyou1234"]
)
def test_common_passwords_are_refused_case_insensitively(password: str) -> None:
    assert is_common_password(password)
    reasons = check_password(PasswordPolicy(), password, "alice")
    assert reasons == ["Password is too common: it is on the list of commonly used passwords."]


def test_blocklist_can_be_turned_off() -> None:
    assert check_password(PasswordPolicy(check_blocklist=False), "password1234", "alice") == []


def test_short_common_passwords_are_refused_under_a_short_minimum() -> None:
    reasons = check_password(PasswordPolicy(minimum_length=6), "monkey", "alice")
    assert reasons == ["Password is too common: it is on the list of commonly used passwords."]


def test_repeated_patterns_are_refused() -> None:
    for password in ["zzzzzzzzzzzzzz", "xyxyxyxyxyxyxy", "qrs7qrs7qrs7qrs7"]:
        assert check_password(PasswordPolicy(check_blocklist=False), password, "alice") == [
            "Password must not be a short pattern repeated."
        ], password
    assert check_password(PasswordPolicy(), "qrs7qrs7qrs7qrs7x", "alice") == []


def test_user_name_equal_or_contained_case_insensitively() -> None:
    assert check_password(PasswordPolicy(), "Maximilian.Schmidt", "maximilian.schmidt") == [
        "Password must not be the user name."
    ]
    assert check_password(PasswordPolicy(), "my-BOBBY-tables-77", "bobby") == [
        "Password must not contain the user name."
    ]
    # A two-letter name is not a meaningful part of a password.
    assert check_password(PasswordPolicy(), GOOD, "an") == []
    assert (
        check_password(PasswordPolicy(minimum_length=6), "an", "AN")[-1]
        == "Password must not be the user name."
    )


@pytest.mark.parametrize(
    ("setting", "missing", "has_it", "reason"),
    [
        ("require_lowercase", "TANGERINE-ORBIT-42", "TANGERINE-ORBIt-42", "at least one lowercase letter"),
        ("require_uppercase", "tangerine-orbit-42", "tangerine-Orbit-42", "at least one uppercase letter"),
        ("require_numbers", "tangerine-orbit-lamp", "tangerine-orbit-lamp9", "at least one number"),
        ("require_symbols", "tangerine orbit lamp", "tangerine orbit lamp!", "at least one symbol"),
    ],
)
def test_composition_rules_apply_only_when_required(
    setting: str, missing: str, has_it: str, reason: str
) -> None:
    assert check_password(PasswordPolicy(), missing, "alice") == []
    settings: dict[str, Any] = {setting: True}
    policy = PasswordPolicy(**settings)
    reasons = check_password(policy, missing, "alice")
    assert len(reasons) == 1 and reason in reasons[0]
    assert check_password(policy, has_it, "alice") == []


def test_every_reason_is_reported_at_once() -> None:
    policy = PasswordPolicy(
        minimum_length=14,
        require_symbols=True,
        require_numbers=True,
        require_uppercase=True,
        require_lowercase=True,
    )
    reasons = check_password(policy, "kzqv", "KZQV")
    assert reasons == [
        "Password must be at least 14 characters.",
        "Password must not be the user name.",
        "Password must include at least one uppercase letter.",
        "Password must include at least one number.",
        "Password must include at least one symbol (such as ! @ # $ % ^ & * - _ + =).",
    ]


def test_control_characters_are_refused() -> None:
    assert check_password(PasswordPolicy(), "tangerine\x07orbit", "alice") == [
        "Password must not contain control characters."
    ]


def test_reuse_of_the_last_n_passwords_is_refused() -> None:
    current, older, oldest = "first-orbit-lantern", "second-orbit-lantern", "third-orbit-lantern"
    # Newest first; the oldest is a hash imported from another system.
    history = [
        hash_password(current),
        hash_password(older),
        bcrypt_lib.hashpw(oldest.encode(), bcrypt_lib.gensalt(4)).decode(),
    ]
    policy = PasswordPolicy(reuse_prevention=2)
    assert check_password(policy, current, "alice", history) == [
        "Password must not be one of your last 2 passwords."
    ]
    assert check_password(policy, older, "alice", history) == [
        "Password must not be one of your last 2 passwords."
    ]
    assert check_password(policy, oldest, "alice", history) == []  # beyond the last 2
    assert check_password(PasswordPolicy(reuse_prevention=3), oldest, "alice", history) != []
    assert check_password(PasswordPolicy(reuse_prevention=1), current, "alice", history) == [
        "Password must not be your last password."
    ]
    # Without reuse prevention the history is not consulted.
    assert check_password(PasswordPolicy(), current, "alice", history) == []


def test_messages_never_contain_the_password() -> None:
    policy = PasswordPolicy(
        minimum_length=40,
        require_symbols=True,
        require_numbers=True,
        require_uppercase=True,
        reuse_prevention=1,
    )
    secret = "hunterhunter"
    reasons = check_password(policy, secret, "hunter", [hash_password(secret)])
    assert len(reasons) >= 5
    assert not any(secret in reason for reason in reasons)


# --- the blocklist file ----------------------------------------------------------------------------------


def test_blocklist_is_shipped_lowercase_and_large() -> None:
    words = common_passwords()
    assert len(words) > 10_000
    assert {"123456", "password", "qwerty", "iloveyou", "password1234"} <= words
    assert all(word == word.lower() and word.strip() == word and word for word in words)


def test_store_crypto_does_not_import_textual() -> None:
    code = "import sys, store.crypto; sys.exit(1 if 'textual' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_hash_text_has_no_unexpected_characters() -> None:
    # Stored hashes go into TEXT columns and exports: printable ASCII only.
    assert re.fullmatch(r"[\x21-\x7e]+", hash_password("pässwörd-ünïcode-😀"))
