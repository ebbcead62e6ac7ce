"""The seam between stored policy text and the policy language: what may be saved as a policy document."""

from __future__ import annotations

import json
from typing import Any

from store.errors import ValidationError

MAX_POLICY_CHARS = 10_240


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def check_policy_text(text: str | None, field: str) -> str | None:
    """``None`` or a JSON policy document's text, refused with a message naming ``field`` and the problem."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_POLICY_CHARS:
        raise ValidationError(f"{field}: the policy is {len(text)} characters; the limit is {MAX_POLICY_CHARS}",
                              field)
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{field}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                              field) from None
    except ValueError as exc:
        raise ValidationError(f"{field}: {exc}", field) from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise ValidationError(f"{field}: a policy is a JSON object with a Statement", field)
    return text
