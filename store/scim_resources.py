"""SCIM 2.0 resources served live (issue 15): what ``tui scim serve`` reads and writes for one source.

Reads are scoped to the token's source: a user of another source, a local user or root does not exist here
(:class:`store.errors.NotFound`). Writes are imports: each request becomes a SCIM document read by
:mod:`store.formats.scim` and applied by :func:`store.importer.import_document` as the source's provisioning
principal (one transaction, one audit event; the rights check refuses what the source may not change).
What the importer does not keep is written in the same transaction (an outer ``Directory.change`` the
import joins): a DELETE's ``scim_deleted_at`` (the resource is gone for its source, its row stays) and what a
PATCH changes of a user's ``scim_attributes`` (all its emails as sent and the enterprise extension, which a
whole resource brings to the importer).

A resource's ``id`` is the SCIM id a user was given here (``POST`` assigns a UUID) or at its source; a user of
the source imported from a file without one gets the stable id the SCIM export gives it, and keeps it from
its first change over SCIM.

Filters are parsed by ``scim2-filter-parser`` and compiled to SQL over a whitelist of attributes (the
parser's own parameters, never string building from input); a filter naming any other attribute is refused.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from store import scim_kept
from store.errors import NotFound, StoreError
from store.formats import scim
from store.importer import (
    WHAT,
    GroupIn,
    ImportDocument,
    ImportRefused,
    ImportResult,
    MemberIn,
    UserIn,
    import_document,
)
from store.names import canonical, quoted
from store.rights import ADMIN_GROUP_SETTING, Rule
from store.scim_sources import Paused
from store.service import like_literal

if TYPE_CHECKING:
    from store.directory import Directory

_T = TypeVar("_T")
# The one-operation BulkRequest a PUT, PATCH or DELETE reaches the importer as (ScimResources._bulk).
_WRAPPER = re.compile(r"^Operations\[0\] \((?:PUT|PATCH|DELETE) /(?:Users|Groups)/[^)]*\)\s*")
_ADMIN_GROUP = f"SELECT CAST(value AS INTEGER) FROM settings WHERE key = '{ADMIN_GROUP_SETTING}'"

MAX_FILTER = 1000  # characters: a filter is a line, not a document
MAX_FILTER_NESTING = 16  # levels of parentheses: identity providers send one or two
MAX_COUNT = 500  # resources per page (ServiceProviderConfig says so)


class BadRequest(StoreError):
    """A request SCIM calls invalid (400): ``scim_type`` is RFC 7644 §3.12's scimType."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.scim_type = scim_type


class PreconditionFailed(StoreError):
    """A write names a version that is not the resource's (412: a stale ``If-Match`` or bulk ``version``)."""


class Uniqueness(StoreError):
    """The userName is taken (409, scimType uniqueness)."""


_Path = tuple[str, str | None, str | None]  # (attribute, sub-attribute, schema URN)


class _FoldedMap(dict[_Path, str]):
    """Attribute paths compared ignoring case, as SCIM attribute names are (RFC 7643 §2.1)."""

    def get(self, key: Any, default: Any = None) -> Any:
        folded = tuple(None if part is None else str(part).casefold() for part in key)
        return super().get(cast(_Path, folded), default)  # the same three parts, folded


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


# The filterable attributes that are booleans (RFC 7643 §2.3.2), folded (attribute, sub-attribute): every
# other one is a string. A comparison of either with a value of another type is refused (invalidFilter).
BOOLEAN_FILTER = frozenset({("active", None)})
_COMPARISONS = frozenset({"EQ", "NE", "CO", "SW", "EW", "GT", "GE", "LT", "LE"})
_BOOLEANS, _STRINGS = frozenset({"TRUE", "FALSE"}), frozenset({"COMP_VALUE", "NULL"})


GROUP_FILTER = _FoldedMap(
    {
        ("displayname", None, None): "u.name",
        ("externalid", None, None): "u.external_id",
        ("id", None, None): "u.scim_id",
    }
)


# What ``sortBy`` may name: SCIM attribute (folded) → SQL over ``u``.
USER_SORT = {
    "username": "u.user_name_key",
    "displayname": "u.display_name",
    "externalid": "u.external_id",
    "name.givenname": "u.given_name",
    "name.familyname": "u.family_name",
    "emails": "u.email",
    "emails.value": "u.email",
    "meta.created": "u.created_at",
    "meta.lastmodified": "u.updated_at",
}
GROUP_SORT = {
    "displayname": "u.name_key",
    "externalid": "u.external_id",
    "meta.created": "u.created_at",
    "meta.lastmodified": "u.updated_at",
}


def _top_level(name: str) -> str:
    """The top-level attribute a name is in, folded; an extension's attributes are in the extension."""
    if name.casefold().startswith(scim.ENTERPRISE_USER.casefold()):
        return scim.ENTERPRISE_USER.casefold()
    return name.rsplit(":", 1)[-1].split(".")[0].casefold()


@dataclass(frozen=True)
class Shape:
    """``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5): top-level names, folded; id, schemas and
    meta are always returned."""

    attributes: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()

    @staticmethod
    def parse(attributes: str | None, excluded: str | None) -> Shape:
        def names(text: str | None) -> frozenset[str]:
            # "name.givenName" and "urn:…:User:userName" name their top-level attribute.
            parts = (part.strip() for part in (text or "").split(","))
            return frozenset(_top_level(part) for part in parts if part)

        return Shape(names(attributes), names(excluded))

    def wants(self, name: str) -> bool:
        """Is the top-level attribute ``name`` (folded) returned: what need not be read at all."""
        return (not self.attributes or name in self.attributes) and name not in self.excluded

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if not self.attributes and not self.excluded:
            return resource
        kept = {}
        for key, value in resource.items():
            folded = key.casefold()
            if key in ("id", "schemas", "meta") or (
                (not self.attributes or folded in self.attributes) and folded not in self.excluded
            ):
                kept[key] = value
        return kept


# A name compared for equality is compared as the directory compares names (canonical: NFKC, casefolded) on
# its indexed key: ``userName eq "…"`` is how Entra ID and Okta look a user up before every write, and the
# parser's UPPER(u.user_name) = UPPER(?) read every user of the directory to answer it.
KEYED = {"u.user_name": "u.user_name_key", "u.name": "u.name_key"}
_EQUALS = re.compile(r"UPPER\((u\.\w+)\) = UPPER\(\{(\w+)\}\)|(u\.\w+) = \{(\w+)\}")


def _nesting(text: str) -> int:
    """How deeply ``text`` nests parentheses and brackets outside its quoted strings."""
    deepest = depth = 0
    quoted_string = escaped = False
    for char in text:
        if quoted_string:
            escaped, quoted_string = (False, True) if escaped else (char == "\\", char != '"')
            continue
        if char == '"':
            quoted_string = True
        elif char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
    return deepest


@functools.cache
def _literal_transpiler() -> Any:
    """The filter library's SQL transpiler, made once (imported only when a filter is read)."""
    from scim2_filter_parser.transpilers.sql import Transpiler

    class LiteralTranspiler(Transpiler):  # type: ignore[misc]  # the parser's package has no type hints
        """The parser's SQL, with the value of ``co``/``sw``/``ew`` taken literally: it put the value into a
        LIKE pattern as it came, so ``userName co "%"`` matched every user and ``_`` any character."""

        like = False

        def visit_AttrExprValue(self, node: Any) -> str:
            self.like = bool(node.comp_value) and node.value.lower() in self.matching_op_by_scim_op
            try:
                sql = str(super().visit_AttrExprValue(node))
            finally:
                like, self.like = self.like, False
            return sql + " ESCAPE '\\'" if like else sql

        def visit_CompValue(self, node: Any) -> Any:
            value = super().visit_CompValue(node)
            return like_literal(value) if self.like and isinstance(value, str) else value

    return LiteralTranspiler


def _unlike(tokens: list[Any]) -> str | None:
    """The first comparison in a filter's ``tokens`` (its lexer's) of an attribute with a value of another
    type, said; None when there is none. The parser's tree cannot tell: ``"true"`` and ``true``, ``"5"`` and
    ``5`` are the same there, and ``active eq "yes"`` compared the text with TRUE/FALSE (matching nothing)."""
    outer: list[str] = []  # the attribute a value filter (``emails[value eq …]``) is inside
    for index, token in enumerate(tokens):
        if token.type == "LBRACKET" and index and tokens[index - 1].type == "ATTRNAME":
            outer.append(str(tokens[index - 1].value))
        elif token.type == "RBRACKET" and outer:
            outer.pop()
        if token.type not in _COMPARISONS or index == 0 or index + 1 >= len(tokens):
            continue
        before, value = tokens[index - 1], tokens[index + 1]
        if before.type == "SUBATTR" and index > 1:
            name = (str(tokens[index - 2].value), str(before.value))
        elif outer:
            name = (outer[-1], str(before.value))
        else:
            name = (str(before.value), "")
        shown = ".".join(part for part in name if part)
        given = quoted(value.value) if value.type == "COMP_VALUE" else str(value.value)
        if (name[0].casefold(), name[1].casefold() or None) in BOOLEAN_FILTER:
            if token.type not in ("EQ", "NE"):
                operator = str(token.value).casefold()
                return f"{shown} is a boolean: it is compared with eq or ne, not {operator}"
            if value.type not in _BOOLEANS:
                return f"{shown} is a boolean: it is compared with true or false, not {given}"
        elif value.type not in _STRINGS:
            return f"{shown} is a string: it is compared with a string in double quotes, not {given}"
    return None


def compile_filter(text: str, attributes: _FoldedMap) -> tuple[str, list[Any]]:
    """``userName eq "X"`` → (``u.user_name_key = ?``, ["x"]). Raises BadRequest (invalidFilter)."""
    from scim2_filter_parser.lexer import SCIMLexer
    from scim2_filter_parser.parser import SCIMParser

    if len(text) > MAX_FILTER:
        raise BadRequest(f"filter: longer than {MAX_FILTER} characters", "invalidFilter")
    if _nesting(text) > MAX_FILTER_NESTING:
        # Within the length, 50 "not (" made SQL deeper than SQLite parses ("parser stack overflow": a 500).
        raise BadRequest(
            f"filter: nested deeper than {MAX_FILTER_NESTING} levels of parentheses", "invalidFilter"
        )

    transpiler = _literal_transpiler()(attributes)
    try:
        tokens = list(SCIMLexer().tokenize(text))
        tree = SCIMParser().parse(iter(tokens))
        where, params = transpiler.transpile(tree)
    except Exception as exc:  # noqa: BLE001 - the parser raises its own errors, IndexError, ValueError
        raise BadRequest(
            f"filter: {quoted(text)} is not a SCIM filter this server reads ({exc})", "invalidFilter"
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
    unlike = _unlike(tokens)
    if unlike is not None:
        raise BadRequest(f"filter: {quoted(text)}: {unlike}", "invalidFilter")

    def keyed(match: re.Match[str]) -> str:
        column, key = match.group(1) or match.group(3), match.group(2) or match.group(4)
        if column not in KEYED or not isinstance(params.get(key), str):
            return match.group(0)
        params[key] = canonical(params[key])
        return f"{KEYED[column]} = {{{key}}}"

    where = _EQUALS.sub(keyed, where)
    ordered = [params[key] for key in sorted(params) if params[key] is not None]
    return where.format(**{key: "?" for key in params}), ordered


def _version(row: sqlite3.Row) -> str:
    """A row's version as its ETag and ``meta.version`` (weak: one resource may be serialised two ways)."""
    return f'W/"{row["version"]}"'


@dataclass
class _Known:
    ids: dict[str, int] = field(default_factory=dict)
    after: int = 0  # the highest row id looked at


# Per Directory (the server keeps one per source): see ScimResources._stable_ids.
_STABLE_IDS: weakref.WeakKeyDictionary[Directory, dict[tuple[str, str], _Known]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Listing:
    total: int
    start: int
    resources: list[dict[str, Any]]


class ScimResources:
    """One endpoint's store side for ``directory``, which acts for ``source``: rows of ``table`` (aliased
    ``u``) of that source only."""

    kind = "User"
    noun = "user"
    table = "users"
    endpoint = "Users"
    core = scim.CORE_USER
    name_attribute = "userName"
    name_key = "user_name_key"
    name_column = "user_name"
    filters = USER_FILTER
    sorts = USER_SORT
    # A resource the source DELETEd is gone for it (RFC 7644 §3.6: 404, omitted from queries); its row stays.
    visible = "u.is_root = 0 AND u.scim_deleted_at IS NULL"

    def __init__(self, directory: Directory, source: str) -> None:
        self.directory = directory
        self.source = source

    # -- reads --------------------------------------------------------------------------------------------

    def _ident(self, row: sqlite3.Row) -> str:
        return (
            str(row["scim_id"]) if row["scim_id"] else scim.stable_id(self.noun, row["id"], row["created_at"])
        )

    def _document(
        self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str, shape: Shape
    ) -> dict[str, Any]:
        raise NotImplementedError

    def resource(self, conn: sqlite3.Connection, row: sqlite3.Row, shape: Shape = Shape()) -> dict[str, Any]:
        """The resource as ``shape`` returns it (what it leaves out is not read)."""
        ident = self._ident(row)
        resource = self._document(conn, row, ident, shape)
        resource["meta"] = {
            "resourceType": self.kind,
            "created": row["created_at"],
            "lastModified": row["updated_at"],
            "version": _version(row),
            "location": f"/scim/v2/{self.endpoint}/{ident}",
        }
        return shape.apply(resource)

    def _row(self, conn: sqlite3.Connection, ident: str) -> sqlite3.Row:
        where = f"FROM {self.table} u WHERE u.source = ? AND {self.visible}"
        row: sqlite3.Row | None = conn.execute(
            f"SELECT u.* {where} AND u.scim_id = ?", (self.source, ident)
        ).fetchone()
        if row is None:
            # A row from a file has no SCIM id yet: its id is the stable one the SCIM export gives it.
            row_id = self._stable_ids(conn).get(ident)
            if row_id is not None:
                row = conn.execute(
                    f"SELECT u.* {where} AND u.scim_id IS NULL AND u.id = ?", (self.source, row_id)
                ).fetchone()
            # The same row still (a deleted row's id can be taken again by a new row: not its stable id).
            if row is None or scim.stable_id(self.noun, row["id"], row["created_at"]) != ident:
                raise NotFound(f"{self.kind} {quoted(ident)} not found")
        return row

    def _stable_ids(self, conn: sqlite3.Connection) -> dict[str, int]:
        """Stable id → row id of this source's rows that had no SCIM id when last looked at, learned once per
        Directory and brought up to date with the rows added since (a row's stable id never changes): an
        unknown id no longer costs a walk of every such row."""
        known = _STABLE_IDS.setdefault(self.directory, {}).setdefault((self.table, self.source), _Known())
        rows = conn.execute(
            f"SELECT id, created_at FROM {self.table} WHERE id > ? AND source = ? AND scim_id IS NULL "
            "ORDER BY id",
            (known.after, self.source),
        ).fetchall()
        for candidate in rows:
            known.ids[scim.stable_id(self.noun, candidate["id"], candidate["created_at"])] = candidate["id"]
        if rows:
            known.after = rows[-1]["id"]
        return known.ids

    def row(self, ident: str) -> sqlite3.Row:
        with self.directory.db.read() as conn:
            return self._row(conn, ident)

    def check_version(self, ident: str, versions: set[str]) -> None:
        """RFC 7644 §3.14's If-Match: PreconditionFailed unless the resource's version is in ``versions``."""
        with self.directory.db.read() as conn:
            current = _version(self._row(conn, ident))
        if current not in versions:
            raise PreconditionFailed(
                f"the {self.kind} changed since it was read: its version is now {current}"
            )

    def get(self, ident: str, shape: Shape = Shape()) -> dict[str, Any]:
        with self.directory.db.read() as conn:
            return self.resource(conn, self._row(conn, ident), shape)

    def list(
        self,
        filter_text: str | None,
        start: int,
        count: int,
        shape: Shape = Shape(),
        sort_by: str | None = None,
        descending: bool = False,
    ) -> Listing:
        where, params = ("1", []) if not filter_text else compile_filter(filter_text, self.filters)
        order = "u.id"
        if sort_by:
            column = self.sorts.get(sort_by.rsplit(":", 1)[-1].casefold())
            if column is None:
                raise BadRequest(
                    f"sortBy: cannot sort on {quoted(sort_by)}: sortable attributes are "
                    + ", ".join(sorted(self.sorts))
                )
            order = f"{column} {'DESC' if descending else 'ASC'}, u.id"  # a whitelisted column, never input
        start, count = max(start, 1), max(0, min(count, MAX_COUNT))
        base = f"FROM {self.table} u WHERE u.source = ? AND {self.visible} AND ({where})"
        with self.directory.db.read() as conn:
            total = int(conn.execute(f"SELECT count(*) {base}", [self.source, *params]).fetchone()[0])
            # A start past the results is an empty page (RFC 7644 §3.4.2.4), never an OFFSET for SQLite to
            # bind: 10**30 overflowed its integers (an HTTP 500).
            rows = (
                []
                if start > total or count == 0
                else conn.execute(
                    f"SELECT u.* {base} ORDER BY {order} LIMIT ? OFFSET ?",
                    [self.source, *params, count, start - 1],
                ).fetchall()
            )
            resources = [self.resource(conn, row, shape) for row in rows]
        return Listing(total, start, resources)

    # -- writes -------------------------------------------------------------------------------------------

    def _one_change(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` in one write transaction. A pause of the live sync guard is kept (committed) though
        the request that tripped it fails, as it is without an outer transaction."""
        paused = None
        with self.directory.change(Rule.IMPORT, source=self.source, what=WHAT) as conn:
            try:
                return work(conn)
            except Paused as exc:
                paused = exc
        raise paused

    def _writable(self) -> None:
        self.directory.scim_sources.check_writable(self.source)

    def _import(
        self,
        value: dict[str, Any],
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        document = scim.read_value(value, what)
        if adjust is not None:
            adjust(document)
        return import_document(
            self.directory, document, file_name=what, raw=raw, source=self.source, format_name="scim"
        )

    def _check_schemas(self, body: dict[str, Any]) -> None:
        schemas = body.get("schemas")
        if schemas is not None and (
            not isinstance(schemas, list) or self.core.casefold() not in {str(x).casefold() for x in schemas}
        ):
            raise BadRequest(f"schemas: a {self.kind} resource names {self.core}", "invalidValue")

    def create(self, body: dict[str, Any], raw: bytes, what: str, shape: Shape = Shape()) -> dict[str, Any]:
        """POST: the resource created, as ``shape`` returns it (so for replace and patch)."""
        self._check_schemas(body)
        self._writable()
        name = body.get(self.name_attribute)
        deleted = None
        if isinstance(name, str) and name:
            with self.directory.db.read() as conn:
                taken = conn.execute(
                    f"SELECT id, source, scim_id, scim_deleted_at FROM {self.table} "
                    f"WHERE {self.name_key} = ?",
                    (canonical(name),),
                ).fetchone()
            if taken and taken["source"] == self.source and taken["scim_deleted_at"] and taken["scim_id"]:
                deleted = taken
            elif taken:
                raise Uniqueness(f"{self.name_attribute}: {quoted(name)} is already taken")
        if deleted is None:
            ident = str(uuid.uuid4())  # the server assigns ids (RFC 7643 §3.1): a client's id is ignored
            self._import({**body, "schemas": body.get("schemas") or [self.core], "id": ident}, raw, what)
            return self.get(ident, shape)
        # The source deleted this one earlier and creates it again (a leaver rehired, a group restored):
        # the row that stayed for the audit trail comes back, under the id it had, as the resource sent.
        ident = str(deleted["scim_id"])
        with self.directory.change(Rule.IMPORT, source=self.source, what=WHAT) as conn:
            self._import({**body, "schemas": body.get("schemas") or [self.core], "id": ident}, raw, what)
            conn.execute(f"UPDATE {self.table} SET scim_deleted_at = NULL WHERE id = ?", (deleted["id"],))
            # Its own event: a body equal to the row kept makes the import write none, and the resource
            # coming back for its source is a change of its own.
            self.directory.record(
                conn,
                at=self.directory.now_text(),
                action="scim.restore",
                target=f"{self.noun}:{name}",
                extra={"source": self.source, "request": what, "deleted_at": deleted["scim_deleted_at"]},
            )
        return self.get(ident, shape)

    def _bulk(
        self,
        method: str,
        row: sqlite3.Row,
        data: Any,
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        self._writable()
        ident = self._ident(row)
        operation: dict[str, Any] = {"method": method, "path": f"/{self.endpoint}/{ident}"}
        if data is not None:
            operation["data"] = data
        if not row["scim_id"]:
            self._adopt(row, ident)  # a row from a file has no SCIM id yet: it keeps this one from now on
        try:
            return self._import(
                {"schemas": [scim.BULK_REQUEST], "Operations": [operation]}, raw, what, adjust
            )
        except ImportRefused as refused:
            # Where a problem is begins with the wrapper made here, which the client never sent: what follows
            # is its own (a PatchOp's Operations[i], a member).
            problems = [replace(p, where=_WRAPPER.sub("", p.where)) for p in refused.problems]
            raise ImportRefused(refused.file_name, problems, refused.more) from None

    def _adopt(self, row: sqlite3.Row, ident: str) -> None:
        body = {"schemas": [self.core], self.name_attribute: row[self.name_column], "id": ident}

        def only_the_id(document: ImportDocument) -> None:
            entries: list[UserIn | GroupIn] = [*document.users, *document.groups]
            for entry in entries:
                entry.external_id = None
                if isinstance(entry, UserIn):
                    entry.display_name = entry.given_name = entry.family_name = entry.email = None
                else:
                    entry.members = None

        self._import(body, json.dumps(body).encode(), f"SCIM id for {row[self.name_column]}", only_the_id)

    def replace(
        self, ident: str, body: dict[str, Any], raw: bytes, what: str, shape: Shape = Shape()
    ) -> dict[str, Any]:
        self._check_schemas(body)
        row = self.row(ident)
        data = {**body, "schemas": body.get("schemas") or [self.core], "id": self._ident(row)}
        self._bulk("PUT", row, data, raw, what, self._put)
        return self.get(ident, shape)

    def _put(self, document: ImportDocument) -> None:
        """A PUT is the whole resource (what the kind needs beyond the reader's reading)."""

    def _check_patch(self, ident: str, body: Any) -> None:
        """A PatchOp message with operations, none of them on a read-only attribute or a path no attribute
        has (RFC 7644 §3.5.2); BadRequest (invalidSyntax, mutability, invalidPath) otherwise. An attribute
        tui does not keep is ignored (the reader's notice), as identity providers send several."""
        refusal = scim.patch_op_refusal(body, self.kind, ident)
        if refusal is not None:
            raise BadRequest(refusal[1], refusal[0])

    def patch(self, ident: str, body: Any, raw: bytes, what: str, shape: Shape = Shape()) -> dict[str, Any]:
        self._check_patch(ident, body)
        row = self.row(ident)
        self._bulk("PATCH", row, body, raw, what)
        return self.get(ident, shape)

    def delete(self, ident: str, raw: bytes, what: str) -> None:
        """SCIM DELETE never deletes a row: a user is disabled, a group emptied (rows stay for the audit
        trail), and the resource is gone for its source from then on (404, never listed), in the same
        transaction. A later POST of the same name brings the row back."""
        row = self.row(ident)
        paused = None
        with self.directory.change(Rule.IMPORT, source=self.source, what=WHAT) as conn:
            now = self.directory.now_text()
            try:
                result = self._bulk("DELETE", row, None, raw, what)
            except Paused as exc:
                paused = exc  # the guard's pause is kept (committed); the delete itself wrote nothing
            if paused is None and not result.applied:
                # Already disabled (or empty): the import wrote nothing, so this event says the delete.
                self.directory.record(
                    conn,
                    at=now,
                    action="scim.delete",
                    target=f"{self.noun}:{row[self.name_column]}",
                    extra={"source": self.source, "request": what},
                )
            if paused is None:
                conn.execute(f"UPDATE {self.table} SET scim_deleted_at = ? WHERE id = ?", (now, row["id"]))
        if paused is not None:
            raise paused


def _invalid(exc: Exception, where: str) -> BadRequest:
    """scim2-models' or pydantic's refusal as a SCIM 400, naming where each problem is."""
    invalid = scim_kept.explained(exc, where)
    return BadRequest(invalid.message, invalid.scim_type)


class ScimUsers(ScimResources):
    """Users. A user of a source also keeps, in ``scim_attributes``, its emails as the source sent them
    (``email`` holds the primary, else the first) and the enterprise extension (:mod:`store.scim_kept`). A
    whole resource (POST, PUT) brings them to the importer as a SCIM file does; a PATCH changes them here,
    with scim2-models, in the import's transaction."""

    def _document(
        self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str, shape: Shape
    ) -> dict[str, Any]:
        resource = scim.user_resource(row, ident)
        if shape.wants("groups"):
            groups = self._groups_of(conn, row["id"])
            if groups:
                resource["groups"] = groups
        return scim_kept.on_resource(resource, row)

    def _groups_of(self, conn: sqlite3.Connection, user_id: int) -> list[dict[str, Any]]:
        """RFC 7643 §4.1.2's read-only ``groups``: the user's groups of this source (all it sees)."""
        rows = conn.execute(
            "SELECT g.id, g.name, g.scim_id, g.created_at FROM memberships m "
            "JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? AND g.source = ? "
            "AND g.scim_deleted_at IS NULL ORDER BY g.name_key",
            (user_id, self.source),
        ).fetchall()
        return [
            {"value": ident, "$ref": f"/scim/v2/Groups/{ident}", "display": group["name"], "type": "direct"}
            for group in rows
            for ident in (group["scim_id"] or scim.stable_id("group", group["id"], group["created_at"]),)
        ]

    # -- what the importer does not keep --------------------------------------------------------------

    def _patched(self, row: sqlite3.Row, body: Any) -> dict[str, Any] | None | bool:
        """What a PatchOp leaves to keep (False: it touches none of it), applied by scim2-models to what is
        kept now; BadRequest if invalid."""
        from scim2_models import Context, PatchOp

        operations = body.get("Operations") if isinstance(body, dict) else None
        if not isinstance(operations, list):
            return False
        ext = scim.ENTERPRISE_USER.casefold()
        mine = []
        for op in operations:
            if not isinstance(op, dict) or not isinstance(op.get("op"), str):
                continue
            path, value = op.get("path"), op.get("value")
            if isinstance(path, str):
                if path.casefold().startswith(("emails", ext)):
                    if path.casefold() == f"{ext}:manager" and isinstance(value, str):
                        value = {"value": value}  # Entra ID: the manager's id alone
                    mine.append({"op": op["op"].casefold(), "path": path, "value": value})
            elif isinstance(value, dict):
                picked = {
                    k: scim_kept.entra_manager(v) if k.casefold() == ext else v
                    for k, v in value.items()
                    if k.casefold() == "emails" or k.casefold().startswith(ext)
                }
                if picked:
                    mine.append({"op": op["op"].casefold(), "value": picked})
        if not mine:
            return False
        kept = scim_kept.loaded(row["scim_attributes"])
        if "emails" not in kept and row["email"]:
            kept["emails"] = [{"value": row["email"], "primary": True}]
        model_class = scim_kept.models()[1]
        try:
            model = model_class.model_validate(
                {"schemas": [scim.CORE_USER, scim.ENTERPRISE_USER], "userName": "-", **kept}
            )
        except Exception as exc:  # noqa: BLE001 - what was kept no longer validates: start again from it
            raise _invalid(exc, "stored attributes") from None
        for index, op in enumerate(mine):
            where = f"Operations[{index}]"
            try:
                patch = cast(Any, PatchOp)[model_class].model_validate(  # generic over a runtime class
                    {"schemas": [scim.PATCH_OP], "Operations": [op]}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
                )
                patch.patch(model)
            except Exception as exc:  # noqa: BLE001 - pydantic's errors and scim2-models' own
                if type(exc).__name__ == "NoTargetException" and op.get("path", "").casefold().startswith(
                    "emails["
                ):
                    # Entra ID's emails[type eq "work"].value on a user without one: that address, primary.
                    if self._add_typed_email(model, op):
                        continue
                raise _invalid(exc, where) from None
        try:
            return scim_kept.dumped(model)
        except scim_kept.Invalid as invalid:
            raise BadRequest(invalid.message, invalid.scim_type) from None

    @staticmethod
    def _add_typed_email(model: Any, op: dict[str, Any]) -> bool:
        match = re.match(r'^emails\s*\[\s*type\s+eq\s+"([^"]*)"\s*\](\.value)?$', op["path"], re.IGNORECASE)
        value = op.get("value")
        if op["op"] == "remove" or match is None or not isinstance(value, str):
            return False
        for email in model.emails or []:
            email.primary = None
        model.emails = [
            *(model.emails or []),
            scim_kept.models()[0].model_validate({"value": value, "type": match.group(1), "primary": True}),
        ]
        return True

    def _keep(self, kept: dict[str, Any] | None, ident: str, version: int, what: str) -> None:
        """Write what a PATCH leaves ``kept`` for the user ``ident`` in the open change: a version and an
        audit event of its own when the import did not already change the user (``version``: before it)."""
        with self.directory.change(Rule.IMPORT, source=self.source, what=WHAT) as conn:
            row = self._row(conn, ident)
            text = scim_kept.as_text(kept)
            if text == row["scim_attributes"]:
                return
            if row["version"] != version:
                conn.execute("UPDATE users SET scim_attributes = ? WHERE id = ?", (text, row["id"]))
                return
            now = self.directory.now_text()
            conn.execute(
                "UPDATE users SET scim_attributes = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (text, now, row["id"]),
            )
            self.directory.record(
                conn,
                at=now,
                action="scim.update",
                target=f"user:{row['user_name']}",
                extra={"source": self.source, "request": what, "attributes": sorted((kept or {}).keys())},
            )

    def patch(self, ident: str, body: Any, raw: bytes, what: str, shape: Shape = Shape()) -> dict[str, Any]:
        self._check_patch(ident, body)
        row = self.row(ident)
        kept = self._patched(row, body)
        if kept is False:
            return super().patch(ident, body, raw, what, shape)

        def work(conn: sqlite3.Connection) -> str:
            super(ScimUsers, self).patch(ident, body, raw, what)
            self._keep(kept if isinstance(kept, dict) else None, ident, row["version"], what)
            return ident

        return self.get(self._one_change(work), shape)

    def _bulk(
        self,
        method: str,
        row: sqlite3.Row,
        data: Any,
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        ident = self._ident(row)
        suspended: list[sqlite3.Row] = []  # the memberships a deactivation takes away, to give back later
        forget = False  # the user's remembered memberships are forgotten (given back, or a DELETE)

        def memberships(document: ImportDocument) -> None:
            """A deactivation (active false, DELETE) also takes the user out of this source's groups, in the
            same import: same transaction, same audit event (their sessions end there too). A reactivation
            gives back what the last deactivation took, as identity providers expect (they send neither)."""
            nonlocal forget
            if adjust is not None:
                adjust(document)
            with self.directory.db.read() as conn:  # the open change's connection: its transaction
                status = conn.execute("SELECT status FROM users WHERE id = ?", (row["id"],)).fetchone()[0]
                if any(user.disable or user.active is False for user in document.users):
                    # The live sync guard: too many deactivations too fast pause the source instead.
                    self.directory.scim_sources.guard(self.source, 1 if status == "active" else 0)
                    suspended.extend(
                        conn.execute(
                            "SELECT g.id, g.name, m.expires_at FROM memberships m JOIN groups g "
                            "ON g.id = m.group_id WHERE m.user_id = ? AND g.source = ? ORDER BY g.id",
                            (row["id"], self.source),
                        )
                    )
                    for group in suspended:
                        document.groups.append(
                            GroupIn(
                                f"deactivation of {row['user_name']}",
                                name=group["name"],
                                remove_members=[MemberIn("", ref=ident, kind="User")],
                            )
                        )
                    # An active user holds nothing yet: what an earlier deactivation kept is stale. One
                    # already disabled keeps what it holds, with what the source gave them meanwhile.
                    forget = method == "DELETE" or status == "active"
                elif status != "active" and any(user.active is True for user in document.users):
                    given_back = conn.execute(
                        "SELECT g.name, s.expires_at FROM scim_suspended_memberships s JOIN groups g "
                        "ON g.id = s.group_id WHERE s.user_id = ? AND g.source = ? "
                        "AND g.scim_deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > ?) "
                        f"AND g.id IS NOT ({_ADMIN_GROUP}) ORDER BY g.id",
                        (row["id"], self.source, self.directory.now_text()),
                    ).fetchall()
                    for group in given_back:
                        document.groups.append(
                            GroupIn(
                                f"reactivation of {row['user_name']}",
                                name=group["name"],
                                members=[
                                    MemberIn("", ref=ident, kind="User", expires_at=group["expires_at"])
                                ],
                            )
                        )
                    forget = True

        def work(conn: sqlite3.Connection) -> ImportResult:
            result = super(ScimUsers, self)._bulk(method, row, data, raw, what, memberships)
            if forget:
                conn.execute("DELETE FROM scim_suspended_memberships WHERE user_id = ?", (row["id"],))
            if method != "DELETE":
                # Never the admin group: an identity provider never makes administrators, so it does not
                # give adminship back either (an administrator of tui grants it again).
                admin = conn.execute(_ADMIN_GROUP).fetchone()
                conn.executemany(
                    "INSERT OR REPLACE INTO scim_suspended_memberships "
                    "(user_id, group_id, expires_at, suspended_at) VALUES (?, ?, ?, ?)",
                    [
                        (row["id"], g["id"], g["expires_at"], self.directory.now_text())
                        for g in suspended
                        if admin is None or g["id"] != admin[0]
                    ],
                )
            return result

        return self._one_change(work)


class ScimGroups(ScimResources):
    kind = "Group"
    noun = "group"
    table = "groups"
    endpoint = "Groups"
    core = scim.CORE_GROUP
    name_attribute = "displayName"
    name_key = "name_key"
    name_column = "name"
    filters = GROUP_FILTER
    sorts = GROUP_SORT
    visible = "u.scim_deleted_at IS NULL"

    def _document(
        self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str, shape: Shape
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {"schemas": [scim.CORE_GROUP], "id": ident}
        if row["external_id"] is not None:
            resource["externalId"] = row["external_id"]
        resource["displayName"] = row["name"]
        if not shape.wants("members"):
            return resource  # Entra reads groups with excludedAttributes=members: a large group is not read
        # Members of this source only: the source sees nothing of local users or other sources'.
        members = conn.execute(
            "SELECT u.id, u.scim_id, u.created_at FROM memberships m JOIN users u "
            "ON u.id = m.user_id WHERE m.group_id = ? AND u.source = ? AND u.is_root = 0 ORDER BY u.id",
            (row["id"], self.source),
        ).fetchall()
        resource["members"] = [
            {
                "value": ident,
                "$ref": f"/scim/v2/Users/{ident}",
                "type": "User",
            }
            for member in members
            for ident in (member["scim_id"] or scim.stable_id("user", member["id"], member["created_at"]),)
        ]
        return resource

    def _put(self, document: ImportDocument) -> None:
        for group in document.groups:
            group.remove_all_members = True  # PUT's members are all of them: the others leave

    def _bulk(
        self,
        method: str,
        row: sqlite3.Row,
        data: Any,
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        """A member the source removes (or leaves out of all the members it sets) is no longer given back
        to a deactivated user at their reactivation: the provider no longer counts them in the group."""
        removed: list[str] = []
        everyone = False

        def removals(document: ImportDocument) -> None:
            nonlocal everyone
            if adjust is not None:
                adjust(document)
            for group in document.groups:
                everyone = everyone or group.remove_all_members
                removed.extend(m.ref for m in group.remove_members if m.ref)

        def work(conn: sqlite3.Connection) -> ImportResult:
            result = super(ScimGroups, self)._bulk(method, row, data, raw, what, removals)
            if everyone:
                conn.execute("DELETE FROM scim_suspended_memberships WHERE group_id = ?", (row["id"],))
            conn.executemany(
                "DELETE FROM scim_suspended_memberships WHERE group_id = ? AND user_id IN "
                "(SELECT id FROM users WHERE source = ? AND scim_id = ?)",
                [(row["id"], self.source, ref) for ref in removed],
            )
            return result

        return self._one_change(work)

    def _import(
        self,
        value: dict[str, Any],
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        def no_deleted_members(document: ImportDocument) -> None:
            """A user the source DELETEd is gone for it: it cannot be made a member again by its old id."""
            if adjust is not None:
                adjust(document)
            refs = sorted(
                {m.ref for g in document.groups for m in g.members or [] if isinstance(m, MemberIn) and m.ref}
            )
            if not refs:
                return
            with self.directory.db.read() as conn:
                for start in range(0, len(refs), 500):
                    chunk = refs[start : start + 500]
                    gone = conn.execute(
                        "SELECT scim_id FROM users WHERE source = ? AND scim_deleted_at IS NOT NULL "
                        f"AND scim_id IN ({', '.join('?' for _ in chunk)})",  # placeholders only
                        (self.source, *chunk),
                    ).fetchone()
                    if gone is not None:
                        raise BadRequest(
                            f"members: {quoted(gone[0])} is no user of this source: it was deleted"
                        )

        return super()._import(value, raw, what, no_deleted_members)


def search_all(
    directory: Directory, source: str, filter_text: str | None, start: int, count: int, shape: Shape = Shape()
) -> Listing:
    """``POST /.search`` (RFC 7644 §3.4.3): the source's Users, then its Groups, as one list paged by
    ``startIndex``/``count``. A filter applies to each type that can be filtered on its attributes (a type
    that cannot contributes nothing); one no type can take is refused as at their endpoints."""
    start, count = max(start, 1), max(0, min(count, MAX_COUNT))
    kinds: list[tuple[ScimResources, int]] = []
    refused: list[BadRequest] = []
    types: tuple[type[ScimResources], ...] = (ScimUsers, ScimGroups)
    for kind in types:
        resources = kind(directory, source)
        try:
            kinds.append((resources, resources.list(filter_text, 1, 0, shape).total))
        except BadRequest as exc:
            refused.append(exc)
    if not kinds:
        raise refused[0]
    found: list[dict[str, Any]] = []
    skip = start - 1
    for resources, total in kinds:
        if skip >= total:
            skip -= total
            continue
        if len(found) >= count:
            break
        found += resources.list(filter_text, skip + 1, count - len(found), shape).resources
        skip = 0
    return Listing(sum(total for _, total in kinds), start, found)
