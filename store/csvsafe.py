"""CSV cells a spreadsheet would run as formulas are neutralised on export (OWASP's CSV injection advice).

A cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe, which
spreadsheets take as "this is text". Our own CSV export (users) also escapes a leading apostrophe the same
way, so that :func:`restore` can undo exactly what :func:`neutralise_reversible` did and an export imports
back unchanged.

Every exported cell also has its control, bidi and invisible characters escaped visibly (``\\x1b``,
``<U+202E>``, :func:`store.names.visible`): validation keeps them out of the directory, but a value planted in
the database file must not reach a terminal or a spreadsheet raw either.
"""

from __future__ import annotations

from store.names import visible

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_STARTS, "'")


def neutralise(cell: str) -> str:
    """Escape unsafe characters; prefix a cell a spreadsheet would run as a formula with a single quote."""
    cell = visible(cell)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def neutralise_reversible(cell: str) -> str:
    """:func:`neutralise`, and a cell that already starts with an apostrophe gets one
    more (see :func:`restore`)."""
    cell = visible(cell)
    return "'" + cell if cell.startswith(_ESCAPED_STARTS) else cell


def restore(cell: str) -> str:
    """Undo :func:`neutralise_reversible`: an apostrophe before a formula character or another apostrophe is
    the spreadsheet escape and is dropped; any other apostrophe is text."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _ESCAPED_STARTS:
        return cell[1:]
    return cell
