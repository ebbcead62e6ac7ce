"""``--format auto``: tell the format from the file's first bytes, and say why.

- JSON (the first non-blank character is ``{`` or ``[``): SCIM when the object has ``schemas`` naming a SCIM
  URN, or ``Resources`` / ``Operations``; otherwise tui's whole-directory JSON.
- CSV, by the first line: ``version:…`` → Entra's bulk-create template; a header with ``[userPrincipalName]``
  → Entra (its version line is missing, which the Entra reader reports); ``Email Address`` with ``First Name``
  or ``Last Name`` (Google's brackets optional) → Google Workspace; ``login`` with ``firstName`` or
  ``lastName`` → Okta; ``userName`` → tui's CSV.
Anything else is refused with the first line and the ``--format`` choices.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from store.errors import ValidationError
from store.formats.scim import looks_like_scim
from store.names import quoted

_NOTE = re.compile(r"\s*\[[^\]]*\]\s*$")


def detect_json(value: Any) -> tuple[str, str]:
    if looks_like_scim(value):
        return "scim", "a JSON object with SCIM schemas"
    return "json", "a JSON document without SCIM schemas"


def _header_cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return line.split(",")


def detect_csv(text: str, file_name: str) -> tuple[str, str]:
    line = next((candidate for candidate in text.splitlines() if candidate.strip()), "")
    cells = [cell.strip() for cell in _header_cells(line)]
    folded = [cell.casefold() for cell in cells]
    bases = {_NOTE.sub("", cell).strip() for cell in folded}
    if folded and folded[0].startswith("version:"):
        return "entra", f"the first line is {quoted(cells[0])}"
    if any("[userprincipalname]" in cell.replace(" ", "") for cell in folded):
        return "entra", "the header names [userPrincipalName]"
    if "email address" in bases and bases & {"first name", "last name"}:
        return "google", "the header has Email Address and First/Last Name"
    if "login" in folded and {"firstname", "lastname"} & set(folded):
        return "okta", "the header has login and firstName/lastName"
    if "username" in folded:
        return "csv", "the header has userName"
    shown = line if len(line) <= 80 else line[:77] + "…"
    raise ValidationError(
        f"{file_name}: cannot tell the format: the first line ({quoted(shown)}) is none of the "
        "headers tui knows; give --format csv, json, scim, entra, okta or google"
    )
