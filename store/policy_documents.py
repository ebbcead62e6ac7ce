"""The seam between stored policy text and the policy language: what may be saved as a policy document."""

from __future__ import annotations

from store.errors import ValidationError
from store.policy import PolicyValidationError, parse_policy


def check_policy_text(text: str | None, field: str) -> str | None:
    """``None`` (no policy) or a valid identity policy's text; refused with a message naming ``field``,
    the problem and, where it can, the line."""
    if text is None or not text.strip():
        return None
    try:
        parse_policy(text)
    except PolicyValidationError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise ValidationError(f"{field}: {exc.message}{where}", field) from None
    return text
