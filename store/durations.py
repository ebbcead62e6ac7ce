"""Session durations: ISO-8601 (``PT8H``, ``PT1H30M``, ``P1D``) or seconds, from 15 minutes to 36 hours."""

from __future__ import annotations

import re

from store.errors import ValidationError
from store.names import clipped, json_kind, quoted

MIN_SECONDS = 15 * 60
MAX_SECONDS = 36 * 60 * 60
DEFAULT_SECONDS = 60 * 60

_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE | re.ASCII)

# The most significant digits one number of a duration may have: a hundred thousand years in seconds is
# 13, and int() refuses a string of more than 4,300 digits with a ValueError (an internal error, exit 70),
# while a few thousand digits made an 8 KB message. More is not a duration anything allows: said briefly.
DIGITS_MAX = 15


def _number(digits: str | None) -> int | None:
    """``digits`` (ASCII) as an int, 0 for none; None if it has more than :data:`DIGITS_MAX` significant
    digits."""
    if not digits:
        return 0
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= DIGITS_MAX else None


def _seconds(days: int, hours: int, minutes: int, secs: int) -> int:
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def parse_duration(value: object, field: str = "sessionDuration") -> int:
    """Seconds from ``PT8H`` / ``3600`` / 3600, refused (never clamped) outside 15 min … 36 h."""
    if isinstance(value, bool):
        raise ValidationError(
            f"{field}: must be an ISO-8601 duration like PT8H or a number of seconds", field
        )
    seconds: int | None
    if isinstance(value, int):
        seconds = value if abs(value) < 10**DIGITS_MAX else None
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = _number(value.strip())  # ASCII digits only: "３６００" is a digit to str.isdigit
    elif (
        isinstance(value, str)
        and (match := _ISO.match(value.strip()))
        and value.strip().upper()
        not in (
            "P",
            "PT",
        )
    ):
        days, hours, minutes, secs = (_number(part) for part in match.groups())
        seconds = (
            None
            if days is None or hours is None or minutes is None or secs is None
            else _seconds(days, hours, minutes, secs)
        )
    else:
        shown = quoted(value) if isinstance(value, str | float) else json_kind(value)  # null, not None
        raise ValidationError(
            f"{field}: {shown} is not a duration; use ISO-8601 like PT8H or PT1H30M, or seconds",
            field,
        )
    if seconds is None:
        shown = quoted(value) if isinstance(value, str) else "a number"  # repr() refuses 4,300 digits too
        raise ValidationError(
            f"{field}: {shown} is not a duration in the allowed 15 minutes to 36 hours "
            f"(a number in it has more than {DIGITS_MAX} digits)",
            field,
        )
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValidationError(
            f"{field}: {format_duration(seconds)} ({seconds} s) is outside the allowed "
            "15 minutes to 36 hours",
            field,
        )
    return seconds


def format_duration(seconds: int) -> str:
    """ISO-8601, hours and minutes: 3600 → ``PT1H``, 5400 → ``PT1H30M``, -7195 → ``-PT1H59M55S`` (a refused
    negative value, said as given: ``divmod`` of a negative gave ``PT-2H…``)."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (
        "PT"
        + (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if secs else "")
    )
    return text if text != "PT" else "PT0S"


def parse_validity(value: object, field: str, *, minimum: int, maximum: int) -> int:
    """Seconds from an ISO-8601 duration of days and time (``P90D``, ``P1DT12H``, ``PT8H``) for how long
    something stays valid (a token), refused (never clamped) outside ``minimum`` … ``maximum`` seconds."""
    text = value.strip() if isinstance(value, str) else ""
    match = _ISO.match(text)
    if match is None or text.upper() in ("P", "PT"):
        raise ValidationError(
            f"{field}: {quoted(value)} is not an ISO-8601 duration; use days or hours like P90D or PT12H",
            field,
        )
    days, hours, minutes, secs = (_number(part) for part in match.groups())
    if days is None or hours is None or minutes is None or secs is None:
        raise ValidationError(
            f"{field}: {quoted(value)} is not a duration in the allowed {_span(minimum)} to {_span(maximum)} "
            f"(a number in it has more than {DIGITS_MAX} digits)",
            field,
        )
    seconds = _seconds(days, hours, minutes, secs)
    if not minimum <= seconds <= maximum:
        raise ValidationError(
            f"{field}: {clipped(text)} is outside the allowed {_span(minimum)} to {_span(maximum)}", field
        )
    return seconds


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    if days and not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    hours, rest = divmod(seconds, 3600)
    if hours and not rest:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return format_duration(seconds)
