"""Okta's "Import Users from CSV" template (Admin Console → Directory → People → More Actions).

As Okta documents it (help.okta.com, "Import users from a CSV file"): line 1 is the header the template link
downloads, one column per attribute of the org's Okta user profile by its variable name (``login``,
``firstName``, ``lastName``, ``middleName``, ``honorificPrefix``, ``honorificSuffix``, ``email``, ``title``,
``displayName``, ``nickName``, ``profileUrl``, ``secondEmail``, ``mobilePhone``, ``primaryPhone``,
``streetAddress``, ``city``, ``state``, ``zipCode``, ``countryCode``, ``postalAddress``,
``preferredLanguage``, ``locale``, ``timezone``, ``userType``, ``employeeNumber``, ``costCenter``,
``organization``, ``division``, ``department``, ``managerId``, ``manager``, then any custom attributes); one
user per row; ``login``, ``firstName``, ``lastName`` and ``email`` are mandatory. The template has no password
column.

Mapping: login → userName, firstName → givenName, lastName → familyName, email, displayName, employeeNumber →
externalId (a stable id when the org fills it in; users are matched on it before login). Every other column
is ignored. Default source: ``okta``.
"""

from __future__ import annotations

from store.formats.csvtable import CsvRows, read_header, required_value
from store.importer import ImportDocument, Progress, UserIn

TEMPLATE = "Okta's user import template"
ATTRIBUTES = {
    "login": "userName",
    "firstName": "givenName",
    "lastName": "familyName",
    "email": "email",
    "displayName": "displayName",
    "employeeNumber": "externalId",
}
REQUIRED = {"userName": "login", "givenName": "firstName", "familyName": "lastName", "email": "email"}
_KNOWN = {name.casefold(): field_name for name, field_name in ATTRIBUTES.items()}


def read(text: str, file_name: str, progress: Progress | None = None) -> ImportDocument:
    document = ImportDocument(default_source="okta")
    table = CsvRows(text, document)
    records = table.records()
    columns = read_header(
        document,
        table,
        records,
        known=_KNOWN,
        normalise=lambda label: label.strip().casefold(),
        required=REQUIRED,
        template=TEMPLATE,
        empty=f"the file is empty: {TEMPLATE} starts with a header line (login,firstName,lastName,email,…)",
    )
    if columns is None:
        return document
    for line, cells in table.rows(records, progress):
        where = f"line {line}"
        columns.note_ignored(cells)
        given = required_value(document, columns, cells, "givenName", where)
        family = required_value(document, columns, cells, "familyName", where)
        email = required_value(document, columns, cells, "email", where)
        document.users.append(
            UserIn(
                where,
                user_name=columns.get(cells, "userName"),
                given_name=given,
                family_name=family,
                email=email,
                display_name=columns.optional(cells, "displayName"),
                external_id=columns.optional(cells, "externalId"),
                labels=columns.labels,
            )
        )
    columns.ignored_notice(document)
    document.description = f"Okta user import CSV: {len(document.users):,} users"
    return document
