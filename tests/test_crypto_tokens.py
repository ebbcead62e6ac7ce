"""Generated secrets stored only as SHA-256 (store.crypto.tokens)."""

from __future__ import annotations

import base64
import math
import re

import pytest

from store.crypto import (
    AccessKeyPair,
    SessionCredentials,
    hash_recovery_code,
    hash_secret,
    new_access_key,
    new_portal_token,
    new_recovery_codes,
    new_session_credentials,
    normalize_recovery_code,
    secret_matches,
    secrets_equal,
)
from store.crypto.tokens import RECOVERY_CODE_BITS

KEY_ID = re.compile(r"[A-Z2-7]{16}")
SECRET = re.compile(r"[A-Za-z0-9+/]{40}")
URLSAFE = re.compile(r"[A-Za-z0-9_-]+")
RECOVERY = re.compile(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}")


def _urlsafe_bytes(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def test_access_key_shape_and_unpacking() -> None:
    pair = new_access_key()
    key_id, secret = pair
    assert isinstance(pair, AccessKeyPair)
    assert key_id.startswith("AKIA") and KEY_ID.fullmatch(key_id[4:])
    assert SECRET.fullmatch(secret)
    assert (key_id, secret) == (pair.access_key_id, pair.secret_access_key)


def test_session_credentials_shape_and_unpacking() -> None:
    creds = new_session_credentials()
    key_id, secret, token = creds
    assert isinstance(creds, SessionCredentials)
    assert key_id.startswith("ASIA") and KEY_ID.fullmatch(key_id[4:])
    assert SECRET.fullmatch(secret)
    assert URLSAFE.fullmatch(token) and _urlsafe_bytes(token) * 8 >= 256


def test_generated_values_do_not_repeat() -> None:
    keys = [new_access_key() for _ in range(500)]
    assert len({k.access_key_id for k in keys}) == 500 and len({k.secret_access_key for k in keys}) == 500
    sessions = [new_session_credentials() for _ in range(500)]
    assert len({s.session_token for s in sessions}) == 500
    assert len({new_portal_token() for _ in range(500)}) == 500


def test_secrets_use_the_whole_alphabet() -> None:
    # A generator that used only part of its alphabet would have less entropy than it claims.
    seen = set("".join(new_access_key().secret_access_key for _ in range(200)))
    assert seen == set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    ids = set("".join(new_access_key().access_key_id[4:] for _ in range(200)))
    assert ids == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_reprs_hide_secrets() -> None:
    pair = new_access_key()
    assert pair.access_key_id in repr(pair) and pair.secret_access_key not in repr(pair)
    creds = new_session_credentials()
    shown = repr(creds) + str(creds)
    assert creds.access_key_id in shown
    assert creds.secret_access_key not in shown and creds.session_token not in shown


def test_portal_token_is_256_bits_url_safe() -> None:
    token = new_portal_token()
    assert URLSAFE.fullmatch(token) and _urlsafe_bytes(token) == 32


def test_recovery_codes() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(RECOVERY.fullmatch(code) for code in codes)
    assert len(new_recovery_codes(3)) == 3
    with pytest.raises(ValueError):
        new_recovery_codes(0)


def test_recovery_code_entropy_is_at_least_50_bits() -> None:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    assert RECOVERY_CODE_BITS == 10 * math.log2(len(alphabet)) == 50
    seen = set("".join(c.replace("-", "") for _ in range(30) for c in new_recovery_codes()))
    assert seen == set(alphabet)


def test_typed_recovery_codes_are_normalised() -> None:
    code = new_recovery_codes(1)[0]
    stored = hash_recovery_code(code)
    for typed in (code.upper(), code.replace("-", ""), f"  {code[:5]} {code[6:]} ", code.replace("-", " - ")):
        assert normalize_recovery_code(typed) == code
        assert secrets_equal(hash_recovery_code(typed), stored)
    # Letters left out of the alphabet are read as the digits they look like.
    assert normalize_recovery_code("IL0O1-abcde") == "11001-abcde"
    other = next(c for c in new_recovery_codes() if c != code)
    assert not secrets_equal(hash_recovery_code(other), stored)


@pytest.mark.parametrize("typed", ["hello", "abcde-abcdu", "abcde-abcd", "abcde-abcdef", "abcde_abcde", ""])
def test_what_is_not_a_recovery_code_never_takes_a_codes_form(typed: str) -> None:
    assert not RECOVERY.fullmatch(normalize_recovery_code(typed))


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_secret("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert re.fullmatch(r"[0-9a-f]{64}", hash_secret("ünïcödé"))


def test_secret_matches_its_hash_only() -> None:
    secret = new_access_key().secret_access_key
    stored = hash_secret(secret)
    assert secret_matches(secret, stored)
    assert not secret_matches(secret[:-1], stored)
    assert not secret_matches(stored, stored)


def test_secrets_equal() -> None:
    assert secrets_equal("abc", "abc") and secrets_equal(b"abc", b"abc") and secrets_equal("abc", b"abc")
    assert not secrets_equal("abc", "abd") and not secrets_equal("abc", "abcd") and not secrets_equal("", "a")
    # Non-ASCII text must not raise (hmac.compare_digest refuses non-ASCII str).
    assert secrets_equal("pässwörd", "pässwörd") and not secrets_equal("pässwörd", "passwörd")
