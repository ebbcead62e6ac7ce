"""Session durations: ISO-8601 (``PT8H``, ``PT1H30M``, ``P1D``) or seconds, from 15 minutes to 36 hours."""

from __future__ import annotations

import re

from store.errors import ValidationError
from store.names import quoted

MIN_SECONDS = 15 * 60
MAX_SECONDS = 36 * 60 * 60
DEFAULT_SECONDS = 60 * 60

_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE | re.ASCII)


def parse_duration(value: object, field: str = "sessionDuration") -> int:
    """Seconds from ``PT8H`` / ``3600`` / 3600, refused (never clamped) outside 15 min … 36 h."""
    if isinstance(value, bool):
        raise ValidationError(
            f"{field}: must be an ISO-8601 duration like PT8H or a number of seconds", field
        )
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = int(value.strip())  # ASCII digits only: "３６００" is a digit to str.isdigit
    elif (
        isinstance(value, str)
        and (match := _ISO.match(value.strip()))
        and value.strip().upper()
        not in (
            "P",
            "PT",
        )
    ):
        days, hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    else:
        raise ValidationError(
            f"{field}: {quoted(value)} is not a duration; use ISO-8601 like PT8H or PT1H30M, or seconds",
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
    days, hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
    seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if not minimum <= seconds <= maximum:
        raise ValidationError(
            f"{field}: {text} is outside the allowed {_span(minimum)} to {_span(maximum)}", field
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
