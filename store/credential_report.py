"""The credential report (IAM's, column for column) and the security flags the dashboard shows.

The report is CSV with IAM's header; root's row comes first, named ``<root_account>`` as IAM names it. Values
follow IAM's conventions: ``true``/``false``, ISO-8601 times with ``+00:00``, ``N/A`` where a credential does
not exist, ``no_information`` for a password never used, ``not_supported`` for what does not apply (root's
password rotation; certificates, which tui does not have). ARNs are ``arn:tui:iam:::user/NAME`` and
``arn:tui:iam:::root``: the directory has no AWS account number. Access keys' last-used region and service are
``N/A``: tui records when a key was used, not where.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from store.access_keys import STALE_AFTER, AccessKey
from store.clock import from_text, to_text
from store.crypto import password_expires_at
from store.csvsafe import neutralise

if TYPE_CHECKING:
    from store.directory import Directory

HEADER = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
]
ROOT_LABEL = "<root_account>"
# A root sign-in this soon after root was created is the setup itself (the first-run wizard signs root in).
SETUP_TIME = timedelta(minutes=10)


def _iam_time(text: str | None, missing: str = "N/A") -> str:
    return text.replace("Z", "+00:00") if text else missing


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _key_columns(key: AccessKey | None) -> list[str]:
    if key is None:
        return ["false", "N/A", "N/A", "N/A", "N/A"]
    used = key.last_used_at
    return [_bool(key.active), _iam_time(key.created_at), _iam_time(used), "N/A", "N/A"]


def credential_rows(directory: Directory) -> Iterator[list[str]]:
    """The report's rows after the header: root first, then users by name. Streams from one snapshot."""
    policy = directory.password_policy.get()
    with directory.db.read() as conn:
        keys: dict[int, list[AccessKey]] = {}
        for row in directory.db.introspect()["access_keys"].rows_where(order_by="created_at, id"):
            keys.setdefault(row["user_id"], []).append(AccessKey.from_row(row))
        users = conn.execute(
            "SELECT id, user_name, is_root, created_at, password_hash, password_changed_at, last_sign_in_at, "
            "totp_secret_sealed IS NOT NULL AS mfa FROM users ORDER BY is_root DESC, user_name_key"
        )
        for user in users:
            has_password = user["password_hash"] is not None
            if user["is_root"]:
                name, arn, rotation = ROOT_LABEL, "arn:tui:iam:::root", "not_supported"
            else:
                name, arn = user["user_name"], f"arn:tui:iam:::user/{user['user_name']}"
                rotation = "N/A"
                if has_password and user["password_changed_at"]:
                    expires = password_expires_at(policy, from_text(user["password_changed_at"]))
                    rotation = _iam_time(to_text(expires)) if expires is not None else "N/A"
            own = keys.get(user["id"], [])
            yield [
                neutralise(name),
                neutralise(arn),
                _iam_time(user["created_at"]),
                _bool(has_password),
                _iam_time(user["last_sign_in_at"], "no_information") if has_password else "N/A",
                _iam_time(user["password_changed_at"]) if has_password else "N/A",
                rotation,
                _bool(bool(user["mfa"])),
                *_key_columns(own[0] if own else None),
                *_key_columns(own[1] if len(own) > 1 else None),
                "false",
                "N/A",
                "false",
                "N/A",
            ]


def credential_report_csv(directory: Directory) -> Iterator[str]:
    """The whole report as CSV text, in chunks (header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row in credential_rows(directory):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- the dashboard's flags ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityFlag:
    """One line of the dashboard's security panel. ``ok`` False: something for an administrator to act on."""

    key: str
    ok: bool
    text: str


def security_flags(directory: Directory) -> list[SecurityFlag]:
    """Root MFA on, root without access keys, root's last use, users without MFA, stale access keys,
    passwords past the policy's age: the checks AWS's IAM dashboard asks of an account owner. Texts fit
    in 38 columns (two per line at 80)."""
    now_dt = directory.clock()
    policy = directory.password_policy.get()
    flags: list[SecurityFlag] = []
    with directory.db.read() as conn:
        root = conn.execute("SELECT * FROM users WHERE is_root = 1").fetchone()
        if root is None:
            flags.append(SecurityFlag("root", False, "No root yet: run tui init"))
        else:
            mfa = root["totp_secret_sealed"] is not None
            flags.append(SecurityFlag("root_mfa", mfa, "Root MFA on" if mfa else "Root has NO MFA"))
            root_keys = conn.execute(
                "SELECT count(*) FROM access_keys WHERE user_id = ?", (root["id"],)
            ).fetchone()[0]
            flags.append(
                SecurityFlag(
                    "root_keys",
                    root_keys == 0,
                    "Root has no access keys" if root_keys == 0 else f"Root holds {root_keys} access key(s)",
                )
            )
            used = root["last_sign_in_at"]
            # Root's own last change (the audit names root's changes by its user name; nobody else may take
            # it): a sign-in in the setup minutes followed by a day's work under root is using root.
            changed = conn.execute(
                "SELECT at FROM audit WHERE actor = ? AND action NOT GLOB 'portal.*' "
                "AND action NOT GLOB 'sign_in.*' ORDER BY seq DESC LIMIT 1",  # not its sign-ins and outs
                (root["user_name"],),
            ).fetchone()
            if changed is not None and (used is None or changed[0] > used):
                used = changed[0]
            # The first-run wizard signs root in as it creates it: that is setting up, not using root.
            setup_only = (
                changed is None
                and used is not None
                and from_text(used) - from_text(root["created_at"]) < SETUP_TIME
            )
            recent = used is not None and not setup_only and now_dt - from_text(used) < timedelta(days=7)
            if used is None:
                text = "Root never signed in"
            elif setup_only:
                text = "Root used only to set up"
            else:
                text = f"Root last used {used.replace('T', ' ')[:16]}"
            flags.append(SecurityFlag("root_used", not recent, text))
        no_mfa = conn.execute(
            "SELECT count(*) FROM users WHERE is_root = 0 AND status = 'active' AND "
            "password_hash IS NOT NULL AND totp_secret_sealed IS NULL"
        ).fetchone()[0]
        flags.append(
            SecurityFlag(
                "users_without_mfa",
                no_mfa == 0,
                "Every password user has MFA"
                if no_mfa == 0
                # Users without a password sign in some other way (or not at all): not counted, so said.
                else f"{no_mfa:,} password user{'s' if no_mfa != 1 else ''} without MFA",
            )
        )
        cutoff = to_text(now_dt - STALE_AFTER)
        old = conn.execute(
            "SELECT count(*) FROM access_keys WHERE status = 'active' AND created_at <= ?", (cutoff,)
        ).fetchone()[0]
        unused = conn.execute(
            "SELECT count(*) FROM access_keys WHERE status = 'active' AND "
            "coalesce(last_used_at, created_at) <= ?",
            (cutoff,),
        ).fetchone()[0]
        flags.append(
            SecurityFlag(
                "stale_access_keys",
                old == 0 and unused == 0,
                "No access key stale (90 days)"
                if old == 0 and unused == 0
                else f"Keys >90 days: {old:,} old, {unused:,} unused",
            )
        )
        if policy.max_age_days is None:
            flags.append(SecurityFlag("password_age", True, "Passwords never expire (NIST)"))
        else:
            limit = to_text(now_dt - timedelta(days=policy.max_age_days))
            past = conn.execute(
                "SELECT count(*) FROM users WHERE password_hash IS NOT NULL AND password_changed_at <= ?",
                (limit,),
            ).fetchone()[0]
            flags.append(
                SecurityFlag(
                    "password_age",
                    past == 0,
                    f"No password over {policy.max_age_days} days old"
                    if past == 0
                    else f"{past:,} password{'s' if past != 1 else ''} over {policy.max_age_days} days old",
                )
            )
    return flags
