"""The directory's password policy, kept in ``settings``: IAM's fields with NIST SP 800-63B defaults.

Until an administrator sets one, the policy is :class:`store.crypto.PasswordPolicy`'s defaults: at least 12
characters, not on the shipped list of common passwords, not containing the user name; no composition rules,
no expiry, no reuse rule. Setting it is one audited, versioned change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from store.crypto import PasswordPolicy, check_password
from store.errors import Conflict, ValidationError

if TYPE_CHECKING:
    from store.directory import Directory

SETTING = "password_policy"
FIELDS = tuple(f.name for f in fields(PasswordPolicy))


@dataclass(frozen=True)
class StoredPolicy:
    """The policy in force and the ``version`` to quote when changing it (0: never set, the defaults)."""

    policy: PasswordPolicy
    version: int


def policy_as_dict(policy: PasswordPolicy) -> dict[str, Any]:
    return asdict(policy)


def policy_from_dict(values: Mapping[str, Any]) -> PasswordPolicy:
    """A policy from JSON-like values; unknown fields and wrong types are refused with the field named."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(f"unknown password policy field(s): {', '.join(sorted(unknown))}", min(unknown))
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(PasswordPolicy(), name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValidationError(f"{name}: must be true or false", name)
        elif name == "max_age_days":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValidationError(f"{name}: must be a number of days, or none for no expiry", name)
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{name}: must be a whole number", name)
        cleaned[name] = value
    return PasswordPolicy(**cleaned)


def describe_policy(policy: PasswordPolicy) -> list[str]:
    """The policy as lines a person reads (the console and ``tui password-policy show``)."""
    rules = [f"at least {policy.minimum_length} characters"]
    needs = [
        word
        for word, on in (
            ("a symbol", policy.require_symbols),
            ("a number", policy.require_numbers),
            ("an uppercase letter", policy.require_uppercase),
            ("a lowercase letter", policy.require_lowercase),
        )
        if on
    ]
    rules.append("must include " + ", ".join(needs) if needs else "no composition rules")
    rules.append(
        "not a common password, not containing the user name"
        if policy.check_blocklist
        else "common passwords allowed (blocklist off), not containing the user name"
    )
    if policy.max_age_days is None:
        rules.append("never expires")
    else:
        after = (
            "an administrator must reset it" if policy.hard_expiry else "the user must change it at sign-in"
        )
        rules.append(f"expires after {policy.max_age_days} days; then {after}")
    rules.append(
        f"may not reuse the last {policy.reuse_prevention}"
        if policy.reuse_prevention
        else "earlier passwords may be reused"
    )
    return rules


class PasswordPolicyService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def current(self) -> StoredPolicy:
        with self.db.read() as conn:
            return self._read(conn)

    def get(self) -> PasswordPolicy:
        return self.current().policy

    @staticmethod
    def _read(conn: Any) -> StoredPolicy:
        row = conn.execute("SELECT value, version FROM settings WHERE key = ?", (SETTING,)).fetchone()
        if row is None:
            return StoredPolicy(PasswordPolicy(), 0)
        try:
            policy = policy_from_dict(json.loads(row["value"]))
        except (ValueError, ValidationError):
            # A hand-edited setting that no longer parses must not lock everyone out: fall back
            # to the defaults.
            policy = PasswordPolicy()
        return StoredPolicy(policy, int(row["version"]))

    def set(self, policy: PasswordPolicy, version: int | None = None) -> StoredPolicy:
        """Replace the policy. ``version`` (from :meth:`current`) guards against overwriting
        another admin's change made meanwhile; None applies it regardless. It applies from the next
        password set or sign-in."""
        with self.directory.change() as conn:
            before = self._read(conn)
            if version is not None and version != before.version:
                raise Conflict(
                    "the password policy was changed by someone else since you read it; nothing was "
                    "saved. Reload to see their change.",
                    current=before,
                )
            if before.policy == policy and before.version:
                return before
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                "value = excluded.value, version = version + 1",
                (SETTING, json.dumps(policy_as_dict(policy), sort_keys=True)),
            )
            self.directory.record(
                conn,
                at=self.directory.now_text(),
                action="password_policy.update",
                target="password_policy",
                before=policy_as_dict(before.policy),
                after=policy_as_dict(policy),
            )
            return self._read(conn)

    def check(self, password: str, user_name: str, previous_hashes: Iterable[str] = ()) -> list[str]:
        """Every reason the policy refuses ``password`` for ``user_name`` (empty: accepted)."""
        return check_password(self.get(), password, user_name, previous_hashes)
