"""TOTP (RFC 6238 over RFC 4226 HOTP): SHA-1, 6 digits, 30-second steps, one step of clock drift either way.

pyotp computes and compares the codes; both issuing and checking go through one ``pyotp.TOTP`` built by
``_totp``, so the RFC's 8-digit test vectors exercise exactly that path. Checked here, where pyotp is lax:
secrets of at least 128 bits (pyotp takes 112), codes of ASCII digits only (pyotp compares NFKC-normalized
text, so full-width digits would pass), timezone-aware times (pyotp reads a naive datetime as local time),
and the newest matching step, so a code once used is refused for good.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from urllib.parse import quote, urlencode

import pyotp
import segno

from store.errors import ValidationError

DIGITS = 6
PERIOD_SECONDS = 30
WINDOW_STEPS = 1  # codes from the previous and next step are accepted too (clock drift, slow typing)
SECRET_CHARS = 32  # base32 characters: 160 bits, RFC 4226's recommendation
MIN_SECRET_BYTES = 16  # RFC 4226 R6: at least 128 bits

_DIGIT_RANGE = range(6, 9)  # RFC 4226 defines 6 to 8


def new_totp_secret() -> str:
    """A fresh 160-bit secret, base32 without padding (32 characters), as authenticator apps expect."""
    return pyotp.random_base32(SECRET_CHARS)


def normalize_secret(secret: str) -> str:
    """``secret`` upper-cased, without spaces, hyphens or padding; raises ValidationError if
    it is not usable."""
    _decode_secret(secret)
    return _clean(secret)


def _clean(secret: str) -> str:
    # Apps show secrets in lower case and groups of four; both are the same secret.
    return "".join(secret.split()).replace("-", "").upper().rstrip("=")


def _decode_secret(secret: str) -> bytes:
    cleaned = _clean(secret)
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        # `from None`: the decoder's message could quote part of the secret.
        raise ValidationError("The TOTP secret is not valid base32.", field="totp_secret") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValidationError(
            f"The TOTP secret is too short: at least {MIN_SECRET_BYTES * 8} bits are needed.",
            field="totp_secret",
        )
    return key


def totp_step(at: datetime | int) -> int:
    """The 30-second step number that ``at`` (an aware datetime, or Unix seconds) falls in."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            # A naive datetime would be read as local time and shift every code by the UTC offset.
            raise ValueError("TOTP needs a timezone-aware datetime")
        seconds = at.timestamp()
    elif isinstance(at, int) and not isinstance(at, bool):
        seconds = at
    else:
        raise TypeError("TOTP time must be a datetime or Unix seconds (int)")
    if seconds < 0:
        raise ValueError("TOTP time is before 1970")
    return int(seconds // PERIOD_SECONDS)


def _totp(secret: str, digits: int) -> pyotp.TOTP:
    """The one generator behind issuing and checking codes, for a secret that passed our own checks."""
    if digits not in _DIGIT_RANGE:
        raise ValueError("TOTP codes have 6 to 8 digits")  # RFC 4226's range; pyotp allows up to 10
    _decode_secret(secret)
    return pyotp.TOTP(_clean(secret), digits=digits, interval=PERIOD_SECONDS)


def totp_code(secret: str, at: datetime | int, *, digits: int = DIGITS) -> str:
    """The code an authenticator app shows for ``secret`` at time ``at``."""
    totp = _totp(secret, digits)
    return totp.at(totp_step(at) * PERIOD_SECONDS)


def match_totp(
    secret: str,
    code: str,
    at: datetime | int,
    last_used_step: int | None,
    *,
    digits: int = DIGITS,
) -> int | None:
    """The step ``code`` is valid for at time ``at`` (within one step either way), or None.

    A step at or before ``last_used_step`` is never matched, so a code, once accepted, cannot be replayed
    (nor can an older one). The caller stores the returned step as the new ``last_used_step``, in the same
    transaction that accepts the sign-in.
    """
    code = "".join(code.split())  # people type "123 456"
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        return None
    totp = _totp(secret, digits)
    current = totp_step(at)
    matched: int | None = None
    # One step at a time: pyotp's own window returns the oldest match (the newest must win, or the same
    # code could be accepted again a step later) and would compute a step before 1970 near the epoch.
    # Every candidate is computed and compared, so the time taken does not tell which step matched.
    for step in range(max(current - WINDOW_STEPS, 0), current + WINDOW_STEPS + 1):
        try:
            found = totp.verify_and_get_timecode(code, for_time=step * PERIOD_SECONDS)
        except pyotp.OTPVerificationError:
            continue
        if last_used_step is None or found > last_used_step:
            matched = found
    return matched


def provisioning_uri(secret: str, account_name: str, issuer: str = "tui") -> str:
    """The ``otpauth://`` URI (Google's Key URI format) that authenticator apps import, usually by QR code."""
    if ":" in issuer or ":" in account_name:
        # The colon separates issuer from account in the label; apps split on it (and on %3A).
        raise ValidationError(
            "The issuer and account name of a TOTP URI must not contain ':'.", field="account_name"
        )
    if not issuer or not account_name:
        raise ValidationError("A TOTP URI needs an issuer and an account name.", field="account_name")
    label = f"{quote(issuer, safe='')}:{quote(account_name, safe='@')}"
    query = urlencode(
        {
            "secret": normalize_secret(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


# Half-block characters: each text row shows two module rows, so the code is about square in a terminal.
_BLOCKS = {
    (False, False): " ",
    (True, False): "\u2580",  # upper half block
    (False, True): "\u2584",  # lower half block
    (True, True): "\u2588",  # full block
}


def qr_text(uri: str, *, border: int = 2, dark_background: bool = True) -> str:
    """``uri`` as a QR code drawn with half-block characters, rows joined by newlines.

    On a dark background the light modules are drawn (foreground colour) and dark ones left blank, so the code
    shows the right way round; pass ``dark_background=False`` for dark-on-light terminals. The quiet zone is
    ``border`` modules (2 keeps a typical TOTP code under 24 rows; phone scanners read it).
    """
    qr = segno.make(uri, error="l", micro=False)
    rows = [[bool(bit) for bit in row] for row in qr.matrix_iter(scale=1, border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))  # one more row of quiet zone to fill the last text row
    drawn_is_dark = not dark_background
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        pairs = zip(top, bottom, strict=True)
        lines.append("".join(_BLOCKS[(t == drawn_is_dark, b == drawn_is_dark)] for t, b in pairs))
    return "\n".join(lines)
