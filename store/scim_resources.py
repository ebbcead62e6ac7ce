"""SCIM 2.0 resources served live (issue 15): what ``tui scim serve`` reads and writes for one source.

Reads are scoped to the token's source: a user of another source, a local user or root does not exist here
(:class:`store.errors.NotFound`). Writes are imports: each request becomes a SCIM document read by
:mod:`store.formats.scim` and applied by :func:`store.importer.import_document` as the source's provisioning
principal (one transaction, one audit event; the rights check refuses what the source may not change).

A resource's ``id`` is the SCIM id a user was given here (``POST`` assigns a UUID) or at its source; a user of
the source imported from a file without one gets the stable id the SCIM export gives it, and keeps it from
its first change over SCIM.

Filters are parsed by ``scim2-filter-parser`` and compiled to SQL over a whitelist of attributes (the
parser's own parameters, never string building from input); a filter naming any other attribute is refused.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.errors import NotFound, StoreError
from store.formats import scim
from store.importer import ImportResult, import_document
from store.names import canonical

if TYPE_CHECKING:
    from store.directory import Directory

MAX_FILTER = 1000  # characters: a filter is a line, not a document
MAX_COUNT = 200  # resources per page (ServiceProviderConfig says so)


class BadRequest(StoreError):
    """A request SCIM calls invalid (400): ``scim_type`` is RFC 7644 §3.12's scimType."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.scim_type = scim_type


class Uniqueness(StoreError):
    """The userName is taken (409, scimType uniqueness)."""


class _FoldedMap(dict[tuple[str, str | None, str | None], str]):
    """Attribute paths compared ignoring case, as SCIM attribute names are (RFC 7643 §2.1)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(tuple(None if part is None else str(part).casefold() for part in key), default)


# The whitelist: SCIM attribute → SQL over ``users u``. Only these may be filtered on.
USER_FILTER = _FoldedMap(
    {
        ("username", None, None): "u.user_name",
        ("externalid", None, None): "u.external_id",
        ("id", None, None): "u.scim_id",
        ("displayname", None, None): "u.display_name",
        ("name", "givenname", None): "u.given_name",
        ("name", "familyname", None): "u.family_name",
        ("emails", None, None): "u.email",
        ("emails", "value", None): "u.email",
        # The parser turns true/false into TRUE/FALSE text parameters.
        ("active", None, None): "(CASE WHEN u.status = 'active' THEN 'TRUE' ELSE 'FALSE' END)",
    }
)


def compile_filter(text: str, attributes: _FoldedMap) -> tuple[str, list[Any]]:
    """``userName eq "x"`` → (``UPPER(u.user_name) = UPPER(?)``, ["x"]). Raises BadRequest (invalidFilter)."""
    from scim2_filter_parser.lexer import SCIMLexer
    from scim2_filter_parser.parser import SCIMParser
    from scim2_filter_parser.transpilers.sql import Transpiler

    if len(text) > MAX_FILTER:
        raise BadRequest(f"filter: longer than {MAX_FILTER} characters", "invalidFilter")
    transpiler = Transpiler(attributes)
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
        where, params = transpiler.transpile(tree)
    except Exception as exc:  # noqa: BLE001 - the parser raises its own errors, IndexError, ValueError
        raise BadRequest(
            f"filter: {text!r} is not a SCIM filter this server reads ({exc})", "invalidFilter"
        ) from None
    unknown = sorted(
        {".".join(p for p in (path.attr_name, path.sub_attr) if p) for path in transpiler.attr_paths}
        - {
            ".".join(p for p in (path.attr_name, path.sub_attr) if p)
            for path in transpiler.attr_paths
            if attributes.get(path) is not None
        }
    )
    if unknown or not where:
        names = ", ".join(sorted({k[0] + (f".{k[1]}" if k[1] else "") for k in attributes}))
        raise BadRequest(
            f"filter: cannot filter on {', '.join(unknown) or 'nothing'}: filterable attributes are {names}",
            "invalidFilter",
        )
    ordered = [params[key] for key in sorted(params) if params[key] is not None]
    return where.format(**{key: "?" for key in params}), ordered


@dataclass(frozen=True)
class Listing:
    total: int
    start: int
    resources: list[dict[str, Any]]


class ScimUsers:
    """The Users endpoint's store side for ``directory``, which acts for ``source``."""

    def __init__(self, directory: Directory, source: str) -> None:
        self.directory = directory
        self.source = source

    # -- reads --------------------------------------------------------------------------------------------

    def _ident(self, row: sqlite3.Row) -> str:
        return str(row["scim_id"]) if row["scim_id"] else scim.stable_id("user", row["id"], row["created_at"])

    def resource(self, row: sqlite3.Row) -> dict[str, Any]:
        resource = scim.user_resource(row, self._ident(row))
        resource["meta"].update(
            {
                "created": row["created_at"],
                "lastModified": row["updated_at"],
                "version": f'W/"{row["version"]}"',
                "location": f"/scim/v2/Users/{self._ident(row)}",
            }
        )
        return resource

    def row(self, ident: str) -> sqlite3.Row:
        with self.directory.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM users u WHERE source = ? AND is_root = 0 AND scim_id = ?", (self.source, ident)
            ).fetchone()
            if row is None:
                for candidate in conn.execute(
                    "SELECT * FROM users WHERE source = ? AND is_root = 0 AND scim_id IS NULL", (self.source,)
                ):
                    if scim.stable_id("user", candidate["id"], candidate["created_at"]) == ident:
                        row = candidate
                        break
        if row is None:
            raise NotFound(f"User {ident!r} not found")
        return row

    def get(self, ident: str) -> dict[str, Any]:
        return self.resource(self.row(ident))

    def list(self, filter_text: str | None, start: int, count: int) -> Listing:
        where, params = ("1", []) if not filter_text else compile_filter(filter_text, USER_FILTER)
        start, count = max(start, 1), max(0, min(count, MAX_COUNT))
        base = f"FROM users u WHERE u.source = ? AND u.is_root = 0 AND ({where})"
        with self.directory.db.read() as conn:
            total = int(conn.execute(f"SELECT count(*) {base}", [self.source, *params]).fetchone()[0])
            rows = conn.execute(
                f"SELECT u.* {base} ORDER BY u.id LIMIT ? OFFSET ?", [self.source, *params, count, start - 1]
            ).fetchall()
        return Listing(total, start, [self.resource(row) for row in rows])

    # -- writes -------------------------------------------------------------------------------------------

    def _import(self, document_value: dict[str, Any], raw: bytes, what: str) -> ImportResult:
        document = scim.read_value(document_value, what)
        return import_document(
            self.directory, document, file_name=what, raw=raw, source=self.source, format_name="scim"
        )

    def create(self, body: dict[str, Any], raw: bytes, what: str) -> dict[str, Any]:
        name = body.get("userName")
        if isinstance(name, str) and name:
            with self.directory.db.read() as conn:
                if conn.execute("SELECT 1 FROM users WHERE user_name_key = ?", (canonical(name),)).fetchone():
                    raise Uniqueness(f"userName: {name!r} is already taken")
        ident = str(uuid.uuid4())  # the server assigns ids (RFC 7643 §3.1): a client's id is ignored
        self._import({**body, "id": ident}, raw, what)
        return self.get(ident)

    def _bulk(self, method: str, row: sqlite3.Row, data: Any, raw: bytes, what: str) -> None:
        ident = self._ident(row)
        operation: dict[str, Any] = {"method": method, "path": f"/Users/{ident}"}
        if data is not None:
            operation["data"] = data
        if not row["scim_id"]:
            # A user from a file has no SCIM id yet: name it by userName, and give it its id for good.
            self._adopt(row, ident)
        self._import({"schemas": [scim.BULK_REQUEST], "Operations": [operation]}, raw, what)

    def _adopt(self, row: sqlite3.Row, ident: str) -> None:
        body = {"schemas": [scim.CORE_USER], "userName": row["user_name"], "id": ident}
        document = scim.read_value(body, "adopt")
        (user,) = document.users
        # Only the id changes: say nothing about the other fields.
        user.display_name = user.given_name = user.family_name = user.email = user.external_id = None
        import_document(
            self.directory,
            document,
            file_name=f"SCIM id for {row['user_name']}",
            raw=json.dumps(body).encode(),
            source=self.source,
            format_name="scim",
        )

    def replace(self, ident: str, body: dict[str, Any], raw: bytes, what: str) -> dict[str, Any]:
        row = self.row(ident)
        self._bulk("PUT", row, {**body, "id": self._ident(row)}, raw, what)
        return self.get(ident)

    def patch(self, ident: str, body: Any, raw: bytes, what: str) -> dict[str, Any]:
        row = self.row(ident)
        self._bulk("PATCH", row, body, raw, what)
        return self.get(ident)

    def delete(self, ident: str, raw: bytes, what: str) -> None:
        """SCIM DELETE never deletes here: the user is disabled (the row stays for the audit trail)."""
        self._bulk("DELETE", self.row(ident), None, raw, what)
