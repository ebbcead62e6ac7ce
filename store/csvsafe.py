"""CSV cells a spreadsheet would run as formulas are neutralised on export (OWASP's CSV injection advice).

A cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe, which
spreadsheets take as "this is text". Our own CSV export (users) also escapes a leading apostrophe the same way,
so that :func:`restore` can undo exactly what :func:`neutralise_reversible` did and an export imports back
unchanged.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_STARTS, "'")


def neutralise(cell: str) -> str:
    """Prefix a cell that a spreadsheet would treat as a formula with a single quote."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def neutralise_reversible(cell: str) -> str:
    """:func:`neutralise`, and a cell that already starts with an apostrophe gets one more (see :func:`restore`)."""
    return "'" + cell if cell.startswith(_ESCAPED_STARTS) else cell


def restore(cell: str) -> str:
    """Undo :func:`neutralise_reversible`: an apostrophe before a formula character or another apostrophe is
    the spreadsheet escape and is dropped; any other apostrophe is text."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _ESCAPED_STARTS:
        return cell[1:]
    return cell
