"""Condition values read as their operator compares them: numbers, dates, booleans, IP ranges.

One reader per type, used alike for a policy's value (validation refuses what it cannot read) and for the
request's value (evaluation: a value that cannot be read matches nothing), so what a document accepts and
what a request may carry never disagree.

- Numbers: ASCII digits, an optional leading minus sign and one decimal point (``10``, ``-2.5``, ``.5``),
  compared exactly; never ``NaN``, ``inf``, an exponent or another script's digits (``１０``).
- Dates: the forms IAM's legacy parser accepts (moto mirrors it): epoch seconds 0 … 2**63 - 1, or ISO 8601
  ``YYYY[-MM[-DD]][THH[:MM[:SS[.fraction]]]]`` with ``Z`` or a ``+HH[:MM]`` offset, years -292275054 …
  292278993; ASCII digits only. Compared exactly, as seconds since the epoch.
- Booleans and ``Null``: ``true`` or ``false``, in any case.
- IP addresses: an IPv4 or IPv6 address or CIDR range, as written (no surrounding spaces).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from decimal import Decimal
from fractions import Fraction

EPOCH_MAX = 9_223_372_036_854_775_807
YEAR_MIN, YEAR_MAX = -292_275_054, 292_278_993
FRACTION_MAX = 999_999_999

NUMBER_FORM = "a number (ASCII digits, an optional minus sign and decimal point)"
DATE_FORM = "an ISO 8601 time (2027-01-31T09:00:00Z) or epoch seconds"
BOOL_FORM = '"true" or "false"'
NETWORK_FORM = "an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)"

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DIGITS = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# The readers below remember what they read: a request's context values (its time, its address) are read
# again for every statement that tests them, and each value is a short string, its reading immutable.
_remembered = functools.lru_cache(maxsize=4096)


def parse_number(text: str) -> Decimal | None:
    """``text`` as an exact number, or ``None`` when it is not one (see the module's note)."""
    return _number(text) if isinstance(text, str) else None


@_remembered
def _number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def parse_bool(text: str) -> bool | None:
    lowered = text.lower() if isinstance(text, str) else None
    return True if lowered == "true" else False if lowered == "false" else None


def parse_network(text: str) -> Network | None:
    return _network(text) if isinstance(text, str) else None


@_remembered
def _network(text: str) -> Network | None:
    if not text.isascii() or text != text.strip():
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def parse_address(text: str) -> Address | None:
    return _address(text) if isinstance(text, str) else None


@_remembered
def _address(text: str) -> Address | None:
    if not text.isascii() or text != text.strip():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_date(text: str) -> Fraction | None:
    """Seconds since the epoch (exact) for a date IAM accepts, or ``None`` (see the module's note).

    A time without a zone is UTC; a day past its month's end runs on into the next month, as IAM's lenient
    calendar reads it."""
    return _date(text) if isinstance(text, str) else None


@_remembered
def _date(text: str) -> Fraction | None:
    if not text.isascii():
        return None
    lowered = text.lower()
    if "t" not in lowered and "-" not in lowered:
        if not _DIGITS.fullmatch(lowered):
            return None
        epoch = int(lowered) if len(lowered) <= 20 else EPOCH_MAX + 1
        return Fraction(epoch) if epoch <= EPOCH_MAX else None
    return _iso_seconds(lowered)


def _iso_seconds(text: str) -> Fraction | None:
    date, _, time = text.partition("t")
    negative = date.startswith("-")
    parts = (date[1:] if negative else date).split("-")
    if len(parts) > 3 or not all(_DIGITS.fullmatch(part) for part in parts):
        return None
    if len(parts[0]) > 10:
        return None
    year = -int(parts[0]) if negative else int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else 1
    day = int(parts[2]) if len(parts) > 2 else 1
    if not (YEAR_MIN <= year <= YEAR_MAX and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    clock = time.split(":", 2) if time else [""]  # the third part keeps an offset's own colon
    hour = minute = 0
    seconds = Fraction(0)
    offset = 0
    if clock[0] != "":
        if not _bounded(clock[0], 23):
            return None
        hour = int(clock[0])
    if len(clock) > 1:
        if not _bounded(clock[1], 59):
            return None
        minute = int(clock[1])
    if len(clock) > 2:
        last = clock[2]
        if "z" in last:
            last, _, after = last.partition("z")
            if after:
                return None
        elif "+" in last:
            last, _, zone = last.partition("+")
            zone_hours, colon, zone_minutes = zone.partition(":")
            if len(zone_hours) != 2 or not _bounded(zone_hours, 23):
                return None
            if colon and (len(zone_minutes) != 2 or not _bounded(zone_minutes, 59)):
                return None
            offset = int(zone_hours) * 3600 + (int(zone_minutes) * 60 if colon else 0)
        whole, dot, fraction = last.partition(".")
        if not _bounded(whole, 59):
            return None
        seconds = Fraction(int(whole))
        if dot:
            if not _bounded(fraction, FRACTION_MAX):
                return None
            seconds += Fraction(int(fraction), 10 ** len(fraction))
    days = _days_from_civil(year, month) + day - 1
    return days * 86_400 + hour * 3_600 + minute * 60 + seconds - offset


def _bounded(text: str, most: int) -> bool:
    return bool(_DIGITS.fullmatch(text)) and len(text) <= 12 and int(text) <= most


def _days_from_civil(year: int, month: int) -> int:
    """Days from 1970-01-01 to the first of ``month`` in ``year`` (proleptic Gregorian; H. Hinnant's)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468
