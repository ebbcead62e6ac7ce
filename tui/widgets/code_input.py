"""The field a sign-in code is typed into: a 6-digit authenticator code or, where accepted, a recovery code.

A code field sits next to a password field, and one Tab too many types the password into it. So it refuses
every character that cannot be in a code, and it shows in clear only what can be a 6-digit code: anything else
(a recovery code, which is a secret too, or a password typed there by mistake) is masked.
"""

from __future__ import annotations

from store.crypto.tokens import RECOVERY_CODE_GROUP_LENGTH, RECOVERY_CODE_GROUPS, normalize_recovery_code
from tui.widgets.text_fields import TextInput

TOTP_DIGITS = 6
# A recovery code as issued (xxxxx-xxxxx) or typed with a space or two; letters of either case, as the store
# reads them (store.crypto.tokens.normalize_recovery_code).
RECOVERY_LENGTH = RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_LENGTH + RECOVERY_CODE_GROUPS - 1  # xxxxx-xxxxx
RECOVERY_MAX = RECOVERY_LENGTH + 2
RECOVERY_CHARACTERS = r"[0-9A-Za-z\- ]*"
DIGITS = r"[0-9 ]*"


def shows_in_clear(value: str) -> bool:
    """Only what can still become a 6-digit code is drawn as typed."""
    compact = value.replace(" ", "")
    return not compact or (len(compact) <= TOTP_DIGITS and compact.isascii() and compact.isdigit())


def is_complete_code(value: str) -> bool:
    """A whole 6-digit code or a whole recovery code (what a sign-in can use)."""
    compact = value.replace(" ", "").replace("-", "")
    if compact.isascii() and compact.isdigit() and len(compact) == TOTP_DIGITS:
        return True
    recovery = normalize_recovery_code(compact)
    return len(recovery) == RECOVERY_LENGTH and recovery[RECOVERY_CODE_GROUP_LENGTH] == "-"


class CodeInput(TextInput):
    """A 6-digit code, or (``recovery=True``) a recovery code; other characters are refused as typed."""

    def __init__(self, *, recovery: bool = False, **kwargs: object) -> None:
        super().__init__(
            restrict=RECOVERY_CHARACTERS if recovery else DIGITS,
            max_length=RECOVERY_MAX if recovery else TOTP_DIGITS + 2,
            **kwargs,  # type: ignore[arg-type]  # the rest of Input's keyword arguments, as given
        )

    def watch_value(self, value: str) -> None:
        self.password = not shows_in_clear(value)
