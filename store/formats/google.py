"""Google Workspace's "Bulk update users" CSV (Admin console → Directory → Users → Bulk update users).

As Google documents it (support.google.com/a/answer/40057, "Add or update multiple users from a CSV file"):
the header names columns with a bracketed note, e.g. ``First Name [Required]``, ``Last Name [Required]``,
``Email Address [Required]``, ``Password [Required]``, ``Password Hash Function [UPLOAD ONLY]``, ``Org Unit
Path [Required]``, ``New Primary Email [UPLOAD ONLY]``, ``Recovery Email``, …, ``Employee ID``, …,
``Change Password at Next Sign-In``, ``New Status [UPLOAD ONLY]``, …; a password of four asterisks (``****``)
leaves an existing user's password unchanged; with a Password Hash Function (``MD5``, ``SHA-1`` or ``crypt``)
the Password column holds that hash.

Mapping: Email Address → userName and email, First Name → givenName, Last Name → familyName, New Primary Email
renames the user (userName and email), Employee ID → externalId (matched before the user name), New Status
``Active`` / ``Suspended`` → active / disabled, Change Password at Next Sign-In → must change at first
sign-in. Passwords: a ``crypt`` hash tui can verify (bcrypt, PBKDF2, argon2) is kept; MD5 and SHA-1 hashes
cannot be kept (tui does not verify them) and are dropped with a notice; cleartext is an initial password. Org
Unit Path (required by Google) and the other columns are ignored. Default source: ``google``.
"""

from __future__ import annotations

import re

from store.crypto import is_supported_hash
from store.formats.csvtable import CsvRows, add_problem, read_header, required_value
from store.importer import ImportDocument, Progress, UserIn
from store.names import quoted

TEMPLATE = "Google Workspace's user upload CSV"
HEADERS = {
    "first name": "givenName",
    "last name": "familyName",
    "email address": "userName",
    "password": "password",
    "password hash function": "hashFunction",
    "org unit path": "orgUnitPath",
    "new primary email": "newPrimaryEmail",
    "employee id": "externalId",
    "change password at next sign-in": "changePassword",
    "new status": "newStatus",
}
REQUIRED = {
    "givenName": "First Name [Required]",
    "familyName": "Last Name [Required]",
    "userName": "Email Address [Required]",
    "password": "Password [Required]",
    "orgUnitPath": "Org Unit Path [Required]",
}
UNCHANGED_PASSWORD = "****"
_NOTE = re.compile(r"\s*\[[^\]]*\]\s*$")


def _base(label: str) -> str:
    return _NOTE.sub("", label).strip().casefold()


def read(text: str, file_name: str, progress: Progress | None = None) -> ImportDocument:
    document = ImportDocument(default_source="google")
    table = CsvRows(text, document)
    records = table.records()
    columns = read_header(
        document,
        table,
        records,
        known=HEADERS,
        normalise=_base,
        required=REQUIRED,
        template=TEMPLATE,
        empty=f"the file is empty: {TEMPLATE} starts with a header line "
        "(First Name [Required],Last Name [Required],Email Address [Required],…)",
    )
    if columns is None:
        return document
    labels = dict(columns.labels)
    labels["email"] = labels["userName"]
    # Required by Google, not stored by tui: said so when the file uses it.
    columns.ignored[columns.index["orgUnitPath"]] = columns.labels["orgUnitPath"]
    dropped: dict[str, int] = {}
    for line, cells in table.rows(records, progress):
        where = f"line {line}"
        columns.note_ignored(cells)
        given = required_value(document, columns, cells, "givenName", where)
        family = required_value(document, columns, cells, "familyName", where)
        email = required_value(document, columns, cells, "userName", where)
        user = UserIn(
            where,
            user_name=email,
            email=email,
            given_name=given,
            family_name=family,
            external_id=columns.optional(cells, "externalId"),
            labels=labels,
        )
        renamed = (columns.get(cells, "newPrimaryEmail") or "").strip()
        if renamed and email is not None:
            user.match_name, user.user_name, user.email = email, renamed, renamed
        status = (columns.get(cells, "newStatus") or "").strip().casefold()
        if status in ("active", "suspended"):
            user.active = status == "active"
        elif status:
            add_problem(
                document,
                where,
                f"{columns.labels['newStatus']}: {quoted(columns.get(cells, 'newStatus'))} must "
                "be Active or Suspended",
            )
        change = (columns.get(cells, "changePassword") or "").strip().casefold()
        if change in ("true", "false"):
            user.must_change_password = change == "true"
        elif change:
            add_problem(
                document,
                where,
                f"{columns.labels['changePassword']}: "
                f"{quoted(columns.get(cells, 'changePassword'))} must be TRUE or FALSE",
            )
        password = columns.get(cells, "password") or ""
        function = (columns.get(cells, "hashFunction") or "").strip().upper().replace("-", "")
        if password and password != UNCHANGED_PASSWORD:
            if not function:
                user.password = password
            elif function == "CRYPT" and is_supported_hash(password):
                user.password_hash = password
            elif function in ("CRYPT", "MD5", "SHA1"):
                dropped[function] = dropped.get(function, 0) + 1
            else:
                add_problem(
                    document,
                    where,
                    f"{columns.labels['hashFunction']}: "
                    f"{quoted(columns.get(cells, 'hashFunction'))} must be MD5, SHA-1 or crypt",
                )
        document.users.append(user)
    for function, count in dropped.items():
        what = {
            "CRYPT": "crypt hashes of a scheme tui cannot verify",
            "MD5": "MD5 hashes",
            "SHA1": "SHA-1 hashes",
        }[function]
        document.notices.append(
            f"{count} password(s) given as {what} were dropped: tui keeps argon2, bcrypt and "
            "PBKDF2 hashes only; set those users' passwords in tui"
        )
    columns.ignored_notice(document)
    document.description = f"Google Workspace user upload CSV: {len(document.users):,} users"
    return document
