"""CSV cells a spreadsheet would run as formulas are neutralised on export (OWASP's CSV injection advice)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Prefix a cell that a spreadsheet would treat as a formula with a single quote."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
