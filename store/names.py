"""Names and display text: canonical forms and the characters we refuse.

Names (users, groups, accounts, permission sets, policies) are compared in their canonical form, NFKC + casefold,
so ``Alice``, ``ALICE`` and ``Ａｌｉｃｅ`` are one user. Control (Cc) and format (Cf) characters are refused in
names: they hide text, reorder it on screen (bidi overrides) or smuggle escape sequences into terminals.
Display text is stored verbatim; it may hold format characters (emoji joiners) but never control characters.
"""

from __future__ import annotations

import re
import unicodedata

from store.errors import ValidationError

USER_NAME_MAX = 128
GROUP_NAME_MAX = 128
DISPLAY_TEXT_MAX = 256
DESCRIPTION_MAX = 1024
EMAIL_MAX = 254
EXTERNAL_ID_MAX = 256

ACCOUNT_NAME = re.compile(r"^(\d{12}|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
# AWS's permission-set and policy name alphabet.
PERMISSION_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$", re.ASCII)
POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)


def canonical(name: str) -> str:
    """The form names are compared and indexed in: NFKC, casefolded, NFKC again (casefold can denormalise)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def describe_char(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: a safe way to name a character in a message."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}" if name else f"U+{ord(ch):04X}"


def _refuse_controls(value: str, field: str, *, allow_format: bool) -> None:
    if value.isascii() and value.isprintable():
        return  # the common case, without a per-character look-up (imports check millions of names)
    for position, ch in enumerate(value, start=1):
        category = unicodedata.category(ch)
        if category == "Cc":
            raise ValidationError(
                f"{field}: control character {describe_char(ch)} at position {position} is not allowed", field
            )
        if category == "Cf" and not allow_format:
            raise ValidationError(
                f"{field}: invisible formatting character {describe_char(ch)} at position {position} "
                "is not allowed in names",
                field,
            )
        if category in ("Cs", "Co", "Cn"):
            raise ValidationError(
                f"{field}: {describe_char(ch)} at position {position} is not a usable character", field
            )


def _check_name(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be text", field)
    if not value:
        raise ValidationError(f"{field}: is required", field)
    _refuse_controls(value, field, allow_format=False)
    if value != value.strip():
        raise ValidationError(f"{field}: must not start or end with spaces", field)
    if len(value) > max_length:
        raise ValidationError(f"{field}: is {len(value)} characters long; the limit is {max_length}", field)
    return value


def user_name(value: object, field: str = "userName") -> str:
    name = _check_name(value, field, USER_NAME_MAX)
    if any(ch.isspace() for ch in name):
        raise ValidationError(f"{field}: must not contain spaces", field)
    return name


def group_name(value: object, field: str = "displayName") -> str:
    return _check_name(value, field, GROUP_NAME_MAX)


def account_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 64)
    if not ACCOUNT_NAME.match(name):
        raise ValidationError(
            f"{field}: must be a 12-digit account id or a short name of letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)",
            field,
        )
    return name


def permission_set_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 32)
    if not PERMISSION_SET_NAME.match(name):
        raise ValidationError(f"{field}: use 1 to 32 of the characters A-Z a-z 0-9 and + = , . @ - _", field)
    return name


def policy_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 128)
    if not POLICY_NAME.match(name):
        raise ValidationError(f"{field}: use 1 to 128 of the characters A-Z a-z 0-9 and + = , . @ - _", field)
    return name


def display_text(value: object, field: str, max_length: int = DISPLAY_TEXT_MAX) -> str:
    """Free text shown to people: stored verbatim, but never with control characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be text", field)
    _refuse_controls(value, field, allow_format=True)
    if len(value) > max_length:
        raise ValidationError(f"{field}: is {len(value)} characters long; the limit is {max_length}", field)
    return value


def email(value: object, field: str = "email") -> str:
    text = display_text(value, field, EMAIL_MAX)
    if text and (
        text.count("@") != 1 or any(ch.isspace() for ch in text) or text.startswith("@") or text.endswith("@")
    ):
        raise ValidationError(f"{field}: {text!r} is not an email address", field)
    return text


def external_id(value: object, field: str = "externalId") -> str | None:
    if value is None or value == "":
        return None
    return display_text(value, field, EXTERNAL_ID_MAX)
