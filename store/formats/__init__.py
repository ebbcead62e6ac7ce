"""Import formats: each turns a file into an :class:`store.importer.ImportDocument` with precise locations.

=========  ==========================================================  ================
format     what                                                        default source
=========  ==========================================================  ================
csv        tui's user CSV, SCIM attribute names as columns              local
json       tui's whole-directory JSON (``tui export --format json``)    local
scim       SCIM 2.0 resources, ListResponse, BulkRequest                scim
entra      Microsoft Entra ID bulk-create-users CSV                     entra
okta       Okta user import CSV                                         okta
google     Google Workspace user upload CSV                             google
=========  ==========================================================  ================

Every file is UTF-8 (with or without a byte-order mark) and at most ``MAX_IMPORT_BYTES``; ``--format auto``
detects the format (:mod:`store.formats.detect`). Exports: json, scim and csv.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from store.errors import ValidationError
from store.importer import ImportDocument, Progress, collection_paused
from store.names import quoted
from store.textfile import decode_utf8

FORMATS = ("csv", "json", "scim", "entra", "okta", "google")
EXPORT_FORMATS = ("json", "scim", "csv")
NAMES = {
    "csv": "tui CSV",
    "json": "tui whole-directory JSON",
    "scim": "SCIM 2.0",
    "entra": "Microsoft Entra ID CSV",
    "okta": "Okta CSV",
    "google": "Google Workspace CSV",
}


@dataclass(frozen=True)
class Reading:
    document: ImportDocument
    format: str
    detected: bool
    reason: str  # why auto chose it ("" when given)
    sha256: str  # the file's bytes: the import's audit event names them, the bytes need not be kept

    def describe(self) -> str:
        how = f"detected: {self.reason}" if self.detected else "as given"
        return f"format: {self.format} ({how}); {self.document.description}"


@collection_paused()
def read_file(raw: bytes, file_name: str, fmt: str = "auto", progress: Progress | None = None) -> Reading:
    """Decode, detect (``fmt="auto"``) and read ``raw``. Raises ValidationError for what stops reading at once
    (encoding, JSON syntax, an unknown format); the problems of a readable file are in the document."""
    from store.directory_json import load_text
    from store.formats import csv_scim, detect, entra, google, okta, scim

    if fmt != "auto" and fmt not in FORMATS:
        raise ValidationError(f"format: {quoted(fmt)} is not one of {', '.join(FORMATS)}")
    text = decode_utf8(raw, file_name)
    detected, reason = fmt == "auto", ""
    value = None
    if fmt in ("auto", "json", "scim") and text.lstrip().startswith(("{", "[")):
        value = load_text(text, file_name)
        if fmt == "auto":
            fmt, reason = detect.detect_json(value)
    elif fmt in ("json", "scim"):
        value = load_text(text, file_name)  # reports the JSON syntax error where the file goes wrong
    elif fmt == "auto":
        if not text.strip():
            raise ValidationError(f"{file_name}: the file is empty")
        fmt, reason = detect.detect_csv(text, file_name)
    if progress is not None:
        progress("read", 0, 1)
    if fmt == "json":
        from store.directory_json import read_value

        document = read_value(value, file_name)
    elif fmt == "scim":
        document = scim.read_value(value, file_name)
    else:
        reader = {"csv": csv_scim.read, "entra": entra.read, "okta": okta.read, "google": google.read}[fmt]
        document = reader(text, file_name, progress)
    if progress is not None:
        progress("read", 1, 1)
    return Reading(document, fmt, detected, reason, hashlib.sha256(raw).hexdigest())
