"""TOTP (store.crypto.totp): RFC vectors, the acceptance window, replay refusal, URIs and terminal QR
codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno

from store.crypto import (
    match_totp,
    new_totp_secret,
    normalize_secret,
    provisioning_uri,
    qr_text,
    totp_code,
    totp_step,
)
from store.errors import ValidationError

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
# RFC 4226 Appendix D: 6-digit HOTP values for counters 0..9 with the same seed (a TOTP step is the counter).
RFC4226 = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


def test_rfc_secret_is_what_the_rfc_says() -> None:
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(("unix_time", "expected"), RFC6238_SHA1)
def test_rfc6238_sha1_vectors(unix_time: int, expected: str) -> None:
    assert totp_code(RFC_SECRET, unix_time, digits=8) == expected
    # The same instant as an aware datetime, in another zone, gives the same code.
    at = datetime.fromtimestamp(unix_time, tz=timezone(timedelta(hours=-7)))
    assert totp_code(RFC_SECRET, at, digits=8) == expected
    # Matching runs through the same computation.
    assert match_totp(RFC_SECRET, expected, unix_time, None, digits=8) == unix_time // 30


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_rfc4226_six_digit_vectors(counter: int, expected: str) -> None:
    assert totp_code(RFC_SECRET, counter * 30 + 29) == expected
    assert match_totp(RFC_SECRET, expected, counter * 30, None) == counter


def test_default_is_six_digits_of_the_eight() -> None:
    assert totp_code(RFC_SECRET, 59) == "287082"  # 94287082, last six digits
    assert len(totp_code(new_totp_secret(), 1_700_000_000)) == 6


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = new_totp_secret()
    assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(base64.b32decode(secret)) == 20
    assert len({new_totp_secret() for _ in range(50)}) == 50


def test_secret_as_apps_show_it_is_the_same_secret() -> None:
    shown = " ".join(RFC_SECRET[i : i + 4] for i in range(0, 32, 4)).lower()
    assert totp_code(shown, 59) == "287082"
    assert normalize_secret(shown) == RFC_SECRET
    assert normalize_secret(base64.b32encode(b"0123456789abcdef").decode()) == "GAYTEMZUGU3DOOBZMFRGGZDFMY"


@pytest.mark.parametrize("bad", ["not base32 at all!", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", "ABCDEFGH", ""])
def test_bad_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        totp_code(bad, 59)
    assert caught.value.field == "totp_secret"
    if bad:
        assert bad not in str(caught.value) and bad.lower() not in str(caught.value).lower()


def test_secret_shorter_than_128_bits_is_refused() -> None:
    with pytest.raises(ValidationError, match="128 bits"):
        totp_code(base64.b32encode(b"123456789012345").decode(), 59)  # 120 bits
    assert totp_code(base64.b32encode(b"1234567890123456").decode(), 59)  # 128 bits is enough


def test_time_must_be_unambiguous() -> None:
    with pytest.raises(ValueError, match="timezone"):
        totp_code(RFC_SECRET, datetime(2026, 1, 1, 12, 0))
    with pytest.raises(TypeError):
        totp_code(RFC_SECRET, True)
    with pytest.raises(ValueError):
        totp_code(RFC_SECRET, -1)


def test_step_boundaries() -> None:
    assert totp_step(0) == 0 and totp_step(29) == 0 and totp_step(30) == 1
    assert totp_step(datetime(1970, 1, 1, 0, 0, 59, 999999, tzinfo=UTC)) == 1
    assert totp_step(datetime(1970, 1, 1, 0, 1, 0, tzinfo=UTC)) == 2


# --- matching -----------------------------------------------------------------------------------------------

STEP = 56_666_666  # an arbitrary step in 2023
START = STEP * 30  # first second of STEP
END = START + 29  # last second of STEP


def code_at(step: int) -> str:
    return totp_code(RFC_SECRET, step * 30)


def test_current_code_matches_and_returns_its_step() -> None:
    assert match_totp(RFC_SECRET, code_at(STEP), START, None) == STEP
    assert match_totp(RFC_SECRET, code_at(STEP), END, None) == STEP


@pytest.mark.parametrize("at", [START, END], ids=["first second", "last second"])
def test_window_is_one_step_either_way(at: int) -> None:
    assert match_totp(RFC_SECRET, code_at(STEP - 1), at, None) == STEP - 1
    assert match_totp(RFC_SECRET, code_at(STEP + 1), at, None) == STEP + 1
    assert match_totp(RFC_SECRET, code_at(STEP - 2), at, None) is None
    assert match_totp(RFC_SECRET, code_at(STEP + 2), at, None) is None


def test_window_edges_in_seconds() -> None:
    previous = code_at(STEP - 1)
    # The previous step's code is good until the end of the current step, and not one second later.
    assert match_totp(RFC_SECRET, previous, END, None) == STEP - 1
    assert match_totp(RFC_SECRET, previous, END + 1, None) is None
    following = code_at(STEP + 1)
    # The next step's code is good from the start of the current step, and not one second earlier.
    assert match_totp(RFC_SECRET, following, START, None) == STEP + 1
    assert match_totp(RFC_SECRET, following, START - 1, None) is None


def test_a_used_step_is_never_accepted_again() -> None:
    code = code_at(STEP)
    used = match_totp(RFC_SECRET, code, START, None)
    assert used == STEP
    # Replayed in the same step, or one step later while it is still inside the window.
    assert match_totp(RFC_SECRET, code, START + 5, used) is None
    assert match_totp(RFC_SECRET, code, START + 30, used) is None
    # An older code, although inside the window, cannot be used after a newer one.
    assert match_totp(RFC_SECRET, code_at(STEP - 1), START, used) is None
    # The next step's code is fine.
    assert match_totp(RFC_SECRET, code_at(STEP + 1), START + 30, used) == STEP + 1


def test_a_code_valid_in_two_adjacent_steps_burns_the_later_one() -> None:
    # With this seed, steps 57766335 and 57766336 happen to share the code 251166 (found by search).
    first, second = 57766335, 57766336
    assert code_at(first) == code_at(second) == "251166"
    assert match_totp(RFC_SECRET, "251166", second * 30, None) == second
    # Once taken, the same digits cannot sign in again through the other step.
    assert match_totp(RFC_SECRET, "251166", second * 30, second) is None
    # Only the earlier step still unused: that one is matched.
    assert match_totp(RFC_SECRET, "251166", first * 30, first - 1) == second
    assert match_totp(RFC_SECRET, "251166", (first - 1) * 30, None) == first


@pytest.mark.parametrize(
    "typed", ["12345", "1234567", "12345a", "１２３４５６", "", "      ", "12-3456"], ids=repr
)
def test_malformed_codes_never_match(typed: str) -> None:
    assert match_totp(RFC_SECRET, typed, START, None) is None


def test_spaces_in_a_typed_code_are_ignored() -> None:
    code = code_at(STEP)
    assert match_totp(RFC_SECRET, f" {code[:3]} {code[3:]} ", START, None) == STEP


def test_another_secrets_code_does_not_match() -> None:
    other = base64.b32encode(b"abcdefghijklmnopqrst").decode()
    others = {totp_code(other, START + offset * 30) for offset in (-1, 0, 1)}
    assert code_at(STEP) not in others
    assert match_totp(other, code_at(STEP), START, None) is None
    assert match_totp(other, totp_code(other, START), START, None) == STEP


def test_match_accepts_datetimes() -> None:
    at = datetime.fromtimestamp(START + 10, tz=UTC)
    assert match_totp(RFC_SECRET, code_at(STEP), at, STEP - 1) == STEP


# --- provisioning
# ---------------------------------------------------------------------------------------------


def test_provisioning_uri_has_the_key_uri_fields() -> None:
    uri = provisioning_uri(RFC_SECRET.lower(), "alice@example.com")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/tui:alice@example.com"
    query = parse_qs(parts.query)
    assert query == {
        "secret": [RFC_SECRET],
        "issuer": ["tui"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_provisioning_uri_encodes_spaces_as_percent_20() -> None:
    uri = provisioning_uri(RFC_SECRET, "Ada Lovelace", issuer="Acme Corp")
    assert uri.startswith("otpauth://totp/Acme%20Corp:Ada%20Lovelace?")
    assert "issuer=Acme%20Corp" in uri and "+" not in uri


@pytest.mark.parametrize(
    ("account", "issuer"), [("a:b", "tui"), ("alice", "my:tui"), ("", "tui"), ("alice", "")]
)
def test_provisioning_uri_refuses_ambiguous_labels(account: str, issuer: str) -> None:
    with pytest.raises(ValidationError):
        provisioning_uri(RFC_SECRET, account, issuer=issuer)


# --- terminal QR code
# -------------------------------------------------------------------------------------------

# What each character shows in its upper and lower half (True: drawn in the foreground colour).
HALVES = {" ": (False, False), "\u2580": (True, False), "\u2584": (False, True), "\u2588": (True, True)}


def _drawn_modules(text: str) -> list[list[bool]]:
    rows: list[list[bool]] = []
    for line in text.split("\n"):
        rows.append([HALVES[ch][0] for ch in line])
        rows.append([HALVES[ch][1] for ch in line])
    return rows


def _segno_dark_modules(uri: str, border: int) -> list[list[bool]]:
    qr = segno.make(uri, error="l", micro=False)
    return [[bool(bit) for bit in row] for row in qr.matrix_iter(scale=1, border=border)]


@pytest.mark.parametrize("border", [2, 4])
def test_qr_text_draws_light_modules_for_a_dark_terminal(border: int) -> None:
    uri = provisioning_uri(new_totp_secret(), "alice@example.com")
    text = qr_text(uri, border=border)
    expected = _segno_dark_modules(uri, border)
    drawn = _drawn_modules(text)
    # An odd number of module rows ends with one more row of quiet zone.
    assert len(drawn) in (len(expected), len(expected) + 1)
    assert drawn[: len(expected)] == [[not dark for dark in row] for row in expected]
    if len(drawn) > len(expected):
        assert all(drawn[-1])
    # The quiet zone is drawn (light), so the code stands out from the dark terminal around it.
    assert set(text.split("\n")[0]) == {"\u2588"}
    assert all(line.startswith("\u2588" * border) for line in text.split("\n"))


def test_qr_text_for_a_light_terminal_is_the_inverse() -> None:
    uri = provisioning_uri(RFC_SECRET, "bob")
    dark_bg = _drawn_modules(qr_text(uri))
    light_bg = _drawn_modules(qr_text(uri, dark_background=False))
    assert light_bg == [[not module for module in row] for row in dark_bg]
    expected = _segno_dark_modules(uri, 2)
    assert light_bg[: len(expected)] == expected


def test_qr_text_fits_an_80_by_24_terminal() -> None:
    uri = provisioning_uri(new_totp_secret(), "maximilian.schmidt@example.com")
    lines = qr_text(uri).split("\n")
    assert len(lines) <= 23 and max(len(line) for line in lines) <= 80
    assert len({len(line) for line in lines}) == 1
    assert set("".join(lines)) <= set(HALVES)
