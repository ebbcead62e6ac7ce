"""Strict CSV for every CSV format: RFC 4180 quoting, records with the line they start on, clear refusals.

Refused, each with its line: a quoted value that is never closed, text after a closing quote, a value longer
than :data:`MAX_CELL` characters, and (checked by the formats) rows with more or fewer values than the header.
Rows whose values are all empty (what spreadsheets write for blank rows) are skipped. Records are produced one
at a time, so a large file is never held twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from store.importer import MAX_PROBLEMS, ImportDocument, Problem, Progress
from store.names import quoted

# One value may be this long (csv's own default field limit); names and texts have their own, lower limits.
MAX_CELL = 131_072
READ_PROGRESS_EVERY = 5000


@dataclass
class CsvRows:
    """Reads the records of ``text``; problems go to the document (the first MAX_PROBLEMS, then counted)."""

    text: str
    document: ImportDocument
    header: list[str] = field(default_factory=list)
    header_line: int = 0

    def problem(self, where: str, message: str) -> None:
        add_problem(self.document, where, message)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        last = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.problem(f"line {last + 1}", _syntax_message(str(exc)))
                return
            start, last = last + 1, reader.line_num
            if not any(cells):
                continue
            yield start, cells

    def rows(
        self, records: Iterator[tuple[int, list[str]]], progress: Progress | None = None
    ) -> Iterator[tuple[int, list[str]]]:
        """The records after the header, each exactly as wide as the header (ragged rows are refused).
        ``progress`` hears ("read", line, lines) before the first row and every READ_PROGRESS_EVERY rows."""
        width = len(self.header)
        lines = self.text.count("\n") + 1
        count = 0
        for line, cells in records:
            if len(cells) != width:
                self.problem(
                    f"line {line}",
                    f"has {len(cells)} value(s) but the header (line {self.header_line}) "
                    f"has {width} column(s): a missing or extra comma, or an unquoted "
                    "comma inside a value",
                )
                continue
            if progress is not None and count % READ_PROGRESS_EVERY == 0:
                progress("read", line, lines)
            count += 1
            yield line, cells


def _syntax_message(error: str) -> str:
    if "unexpected end of data" in error or "EOF" in error:
        return (
            "a quoted value that starts on this line is never closed (unterminated quote): add the closing "
            '" (and write a quote inside a quoted value as "")'
        )
    if "expected after" in error:
        return (
            'text follows a closing quote: quote the whole value and write a quote inside it as "" '
            '(e.g. "say ""hi""")'
        )
    if "field larger than field limit" in error:
        return f"a value is longer than {MAX_CELL:,} characters"
    return f"not valid CSV: {error}"


def add_problem(document: ImportDocument, where: str, message: str) -> None:
    if len(document.problems) < MAX_PROBLEMS:
        document.problems.append(Problem(where, message))
    else:
        document.more_problems += 1


def header_problem(document: ImportDocument, line: int, message: str) -> None:
    add_problem(document, f"line {line}", message)


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip("\r")


@dataclass
class Columns:
    """A template's header, read: where each field we use is, what the file calls it, what we ignore."""

    index: dict[str, int]  # our field → column position
    labels: dict[str, str]  # our field → the header as the file writes it (for messages)
    ignored: dict[int, str]  # position → header of a column we do not store
    seen: set[int] = field(default_factory=set)  # ignored columns that held a value somewhere

    def get(self, cells: list[str], name: str) -> str | None:
        position = self.index.get(name)
        return None if position is None else cells[position]

    def optional(self, cells: list[str], name: str) -> str | None:
        """An optional value: an empty cell says nothing (the field is left as it is), as in the IdPs' own
        update uploads, so a sparse file never empties what it does not mention."""
        value = self.get(cells, name)
        return value if value is not None and value.strip() else None

    def note_ignored(self, cells: list[str]) -> None:
        for position in self.ignored:
            if position not in self.seen and cells[position].strip():
                self.seen.add(position)

    def ignored_notice(self, document: ImportDocument) -> None:
        if self.seen:
            document.notices.append(
                "columns tui does not store were ignored: "
                + ", ".join(self.ignored[p] for p in sorted(self.seen))
            )


def read_header(
    document: ImportDocument,
    table: CsvRows,
    records: Iterator[tuple[int, list[str]]],
    *,
    empty: str,
    known: dict[str, str],
    normalise: Callable[[str], str],
    required: dict[str, str],
    template: str,
) -> Columns | None:
    """The first record of ``records`` as the header of ``table``, matched as :func:`map_columns` does. A file
    with no line at all is the problem ``empty``; None when the header cannot be used."""
    first = next(records, None)
    if first is None:
        header_problem(document, 1, empty)
        return None
    header_line, header = first
    columns = map_columns(document, header, header_line, known, normalise, required, template)
    if columns is not None:
        table.header, table.header_line = header, header_line
    return columns


def map_columns(
    document: ImportDocument,
    header: list[str],
    line: int,
    known: dict[str, str],
    normalise: Callable[[str], str],
    required: dict[str, str],
    template: str,
) -> Columns | None:
    """Match ``header`` against ``known`` (normalised header → our field); ``required``: our field → the
    column as the template writes it. Missing required columns and
    repeated columns are problems (None is returned); unknown columns are ignored, as the IdPs ignore them."""
    index: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: dict[int, str] = {}
    ok = True
    for position, label in enumerate(header):
        name = known.get(normalise(label))
        if name is None:
            ignored[position] = label.strip() or f"column {position + 1}"
        elif name in index:
            header_problem(document, line, f"column {quoted(label.strip())} appears twice")
            ok = False
        else:
            index[name] = position
            labels[name] = label.strip()
    missing = [shown for field_name, shown in required.items() if field_name not in index]
    if missing:
        header_problem(
            document,
            line,
            f"the header has no {', '.join(repr(m) for m in missing)} "
            f"column{'s' if len(missing) > 1 else ''}: {template} requires "
            f"{'them' if len(missing) > 1 else 'it'}",
        )
        ok = False
    return Columns(index, labels, ignored) if ok else None


def required_value(
    document: ImportDocument, columns: Columns, cells: list[str], name: str, where: str
) -> str | None:
    value = columns.get(cells, name)
    if value is not None and not value.strip():
        add_problem(document, where, f"{columns.labels[name]}: is required")
        return None
    return value
