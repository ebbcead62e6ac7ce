"""The seam between stored policy text and the policy language: what may be saved as a policy document."""

from __future__ import annotations

from store.errors import ValidationError
from store.policy import (
    INLINE_POLICY_MAX_CHARS,
    MANAGED_POLICY_MAX_CHARS,
    PolicyValidationError,
    parse_policy,
)


def check_policy_text(
    text: str | None, field: str, *, max_chars: int = INLINE_POLICY_MAX_CHARS
) -> str | None:
    """``None`` (no policy) or a valid identity policy's text; refused with a message naming ``field``,
    the problem and, where it can, the line."""
    if text is None or not text.strip():
        return None
    try:
        parse_policy(text, max_chars=max_chars)
    except PolicyValidationError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise ValidationError(f"{field}: {exc.message}{where}", field) from None
    return text


def check_managed_policy_text(text: str | None, field: str = "document") -> str:
    """A managed policy's document: required, valid, within AWS's managed-policy quota (6,144 characters)."""
    checked = check_policy_text(text, field, max_chars=MANAGED_POLICY_MAX_CHARS)
    if checked is None:
        raise ValidationError(f"{field}: a managed policy needs a policy document", field)
    return checked
