"""tui's own user CSV (SPEC §6): a header of SCIM attribute names, one user per row.

Columns (any order, names compared ignoring case): ``userName`` (required), ``displayName``, ``givenName``,
``familyName``, ``email``, ``groups`` (group names separated by ``;``; write ``\\;`` for a ``;`` inside a
name and ``\\\\`` for a backslash), ``active`` (``true``/``false``), ``externalId``. A column the file leaves
out is left as it is; an empty value empties the field. Groups named in ``groups`` that do not exist are
created. A leading apostrophe before ``= + - @``, tab, CR or another apostrophe is the spreadsheet escape that
``tui export --format csv`` adds, and is dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from store.csvsafe import neutralise_reversible, restore
from store.formats.csvtable import CsvRows, header_problem
from store.importer import LOCAL, ImportDocument, Progress, UserIn
from store.names import quoted

if TYPE_CHECKING:
    from store.directory import Directory

COLUMNS = ("userName", "displayName", "givenName", "familyName", "email", "groups", "active", "externalId")
_BY_FOLDED = {name.casefold(): name for name in COLUMNS}


def split_groups(cell: str) -> list[str]:
    if "\\" not in cell:
        return [part.strip() for part in cell.split(";") if part.strip()]
    parts, current, index = [], [], 0
    while index < len(cell):
        ch = cell[index]
        if ch == "\\" and index + 1 < len(cell) and cell[index + 1] in ";\\":
            current.append(cell[index + 1])
            index += 2
            continue
        if ch == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        index += 1
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def join_groups(group_names: list[str]) -> str:
    return ";".join(name.replace("\\", "\\\\").replace(";", "\\;") for name in group_names)


def read(text: str, file_name: str, progress: Progress | None = None) -> ImportDocument:
    document = ImportDocument(default_source=LOCAL, create_missing_groups=True)
    table = CsvRows(text, document)
    records = table.records()
    first = next(records, None)
    if first is None:
        header_problem(
            document,
            1,
            "the file is empty: the first line must be a header naming the columns "
            f"({', '.join(COLUMNS)}; userName is required)",
        )
        return document
    header_line, header = first
    index: dict[str, int] = {}
    labels: dict[str, str] = {}
    for position, label in enumerate(header):
        column = _BY_FOLDED.get(label.strip().casefold())
        if column is None:
            header_problem(
                document,
                header_line,
                f"column {position + 1} {quoted(label)} is not a column of tui's CSV (known: "
                f"{', '.join(COLUMNS)})",
            )
        elif column in index:
            header_problem(document, header_line, f"column {quoted(label)} appears twice")
        else:
            index[column] = position
            if label != column:
                labels[column] = label
    if "userName" not in index and not document.problems:
        header_problem(document, header_line, "the header has no userName column: it is required")
    if document.problems:
        return document
    table.header, table.header_line = header, header_line
    at = {column: index.get(column) for column in COLUMNS}
    u, dn, gn, fn, em, gr, ac, ex = (at[c] for c in COLUMNS)
    # Each group name is held once, however many users name it (100,000 users in one group were 100,000
    # copies of its name).
    group_names: dict[str, str] = {}
    # A file without an apostrophe has no spreadsheet escape to undo: its cells are taken as they are (a call
    # per cell cost 0.1 s at 100,000 rows).
    unescape: Callable[[str], str] = restore if "'" in text else str
    for line, cells in table.rows(records, progress):
        where = f"line {line}"
        active = None
        if ac is not None:
            value = cells[ac].strip().casefold()
            if value in ("true", "false"):
                active = value == "true"
            elif value:
                table.problem(
                    where, f"{labels.get('active', 'active')}: {quoted(cells[ac])} must be true or false"
                )
        user = UserIn(
            where,
            user_name=unescape(cells[u]) if u is not None else None,
            display_name=unescape(cells[dn]) if dn is not None else None,
            given_name=unescape(cells[gn]) if gn is not None else None,
            family_name=unescape(cells[fn]) if fn is not None else None,
            email=unescape(cells[em]) if em is not None else None,
            external_id=unescape(cells[ex]) if ex is not None else None,
            active=active,
            groups=[group_names.setdefault(g, g) for g in split_groups(unescape(cells[gr]))]
            if gr is not None
            else None,
            labels=labels,
        )
        document.users.append(user)
    document.description = f"tui CSV: {len(document.users):,} users"
    return document


def export(directory: Directory) -> Iterator[str]:
    """Every user but root as tui's CSV, by user name; cells a spreadsheet would run are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    with directory.db.read() as conn:
        group_names = {row[0]: row[1] for row in conn.execute("SELECT id, name FROM groups")}
        groups_of: dict[int, list[str]] = {}
        for user_id, group_id in conn.execute("SELECT user_id, group_id FROM memberships"):
            groups_of.setdefault(user_id, []).append(group_names[group_id])
        rows = conn.execute(
            "SELECT id, user_name, display_name, given_name, family_name, email, status, "
            "external_id FROM users WHERE is_root = 0 ORDER BY user_name_key"
        )
        for count, row in enumerate(rows):
            cells = [
                row["user_name"],
                row["display_name"],
                row["given_name"],
                row["family_name"],
                row["email"],
                join_groups(sorted(groups_of.get(row["id"], []), key=str.casefold)),
                "true" if row["status"] == "active" else "false",
                row["external_id"] or "",
            ]
            writer.writerow([neutralise_reversible(cell) for cell in cells])
            if count % 1000 == 999:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
