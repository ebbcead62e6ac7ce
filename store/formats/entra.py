"""Microsoft Entra ID's "Bulk create users" CSV template (Entra admin center → Users → Bulk operations).

As Microsoft documents it (learn.microsoft.com, "Bulk create users in Microsoft Entra ID"): line 1 is the
template version, ``version:v1.0``; line 2 the column headings, written ``<Item name> [propertyName]
<Required or blank>``, e.g. ``Name [displayName] Required``; the template's line 3 is an example row
(``Chris Green, chris@contoso.com, …``) to be replaced. Required columns: ``Name [displayName]``, ``User name
[userPrincipalName]``, ``Initial password [passwordProfile]``, ``Block sign in (Yes/No) [accountEnabled]``.
Columns are recognised by the property name in brackets (older templates word the item names differently);
columns Entra does not define, and those tui does not store (job title, department, address, phones …), are
ignored, as Entra ignores added columns.

Mapping: userPrincipalName → userName, displayName, givenName, surname → familyName, Block sign in ``Yes`` →
disabled, ``No`` → active; the initial password is dropped unless ``--with-passwords``. The template carries
no stable id, so users are matched by userName. Default source: ``entra``.
"""

from __future__ import annotations

import re

from store.formats.csvtable import CsvRows, add_problem, header_problem, map_columns, required_value
from store.importer import ImportDocument, Progress, UserIn
from store.names import quoted

VERSION = "version:v1.0"
TEMPLATE = "Entra's bulk-create template"
PROPERTIES = {
    "displayName": "displayName",
    "userPrincipalName": "userName",
    "passwordProfile": "password",
    "accountEnabled": "blockSignIn",
    "givenName": "givenName",
    "surname": "familyName",
}
REQUIRED = {
    "displayName": "Name [displayName] Required",
    "userName": "User name [userPrincipalName] Required",
    "password": "Initial password [passwordProfile] Required",
    "blockSignIn": "Block sign in (Yes/No) [accountEnabled] Required",
}
EXAMPLE_UPN = "chris@contoso.com"
_BRACKETED = re.compile(r"\[\s*([A-Za-z]+)\s*\]")


def _property(label: str) -> str:
    match = _BRACKETED.search(label)
    return match.group(1).casefold() if match else ""


_KNOWN = {name.casefold(): field_name for name, field_name in PROPERTIES.items()}


def is_version_line(cells: list[str]) -> bool:
    return bool(cells) and cells[0].strip().casefold().startswith("version:")


def read(text: str, file_name: str, progress: Progress | None = None) -> ImportDocument:
    document = ImportDocument(default_source="entra")
    table = CsvRows(text, document)
    records = table.records()
    first = next(records, None)
    if first is None:
        header_problem(document, 1, f"the file is empty: {TEMPLATE} starts with the line {VERSION}")
        return document
    line, cells = first
    if not is_version_line(cells):
        header_problem(
            document,
            line,
            f"{TEMPLATE} starts with the line {VERSION}, then the column headings "
            "(keep the template's first two lines as they are)",
        )
        return document
    if cells[0].strip().casefold() != VERSION or any(cell.strip() for cell in cells[1:]):
        header_problem(
            document,
            line,
            f"{quoted(','.join(cells)[:60])} is not a template version tui reads (it reads {VERSION})",
        )
        return document
    second = next(records, None)
    if second is None:
        header_problem(
            document,
            line + 1,
            f"the column headings are missing: {TEMPLATE}'s second line names the "
            "columns, e.g. Name [displayName] Required",
        )
        return document
    header_line, header = second
    columns = map_columns(document, header, header_line, _KNOWN, _property, REQUIRED, TEMPLATE)
    if columns is None:
        return document
    table.header, table.header_line = header, header_line
    first_row = True
    for line, cells in table.rows(records, progress):
        where = f"line {line}"
        user_name = columns.get(cells, "userName")
        if first_row and (user_name or "").strip().casefold() == EXAMPLE_UPN:
            document.notices.append(
                f"{where}: the template's example row (Chris Green, {EXAMPLE_UPN}) was skipped"
            )
            first_row = False
            continue
        first_row = False
        columns.note_ignored(cells)
        display = required_value(document, columns, cells, "displayName", where)
        block = required_value(document, columns, cells, "blockSignIn", where)
        active = None
        if block is not None:
            answer = block.strip().casefold()
            if answer in ("yes", "no"):
                active = answer == "no"
            else:
                add_problem(
                    document, where, f"{columns.labels['blockSignIn']}: {quoted(block)} must be Yes or No"
                )
        document.users.append(
            UserIn(
                where,
                user_name=user_name,
                display_name=display,
                given_name=columns.optional(cells, "givenName"),
                family_name=columns.optional(cells, "familyName"),
                active=active,
                password=columns.get(cells, "password"),
                labels=columns.labels,
            )
        )
    columns.ignored_notice(document)
    document.description = f"Microsoft Entra ID bulk-create CSV ({VERSION}): {len(document.users):,} users"
    return document
