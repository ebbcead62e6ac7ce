"""Time, in one place: UTC, second precision, ISO-8601 text that sorts as it compares."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from store.errors import ValidationError
from store.names import quoted

Clock = Callable[[], datetime]
FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_text(moment: datetime) -> str:
    """``2027-01-31T09:00:00Z``; the year always four digits (``strftime`` wrote the year 999 as "999-…",
    which sorts after every later year in the text comparisons that decide what has expired)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def from_text(text: str) -> datetime:
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def parse_moment(value: object, field: str) -> str | None:
    """Accept an ISO-8601 time (``2027-01-31``, ``2027-01-31T09:00:00Z``, with an offset)
    → canonical UTC text."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be an ISO-8601 time such as 2027-01-31T09:00:00Z", field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{field}: {quoted(value)} is not an ISO-8601 time such as 2027-01-31T09:00:00Z", field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return to_text(moment)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is a time before the year 1 in UTC
        raise ValidationError(
            f"{field}: {quoted(value)} is outside the times tui keeps (the years 1 to 9999, in UTC)", field
        ) from None
