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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from store.errors import NotFound, StoreError
from store.formats import scim
from store.importer import WHAT, GroupIn, ImportDocument, ImportResult, MemberIn, UserIn, import_document
from store.names import canonical
from store.rights import Rule
from store.scim_sources import Paused

if TYPE_CHECKING:
    from store.directory import Directory

MAX_FILTER = 1000  # characters: a filter is a line, not a document
MAX_COUNT = 500  # resources per page (ServiceProviderConfig says so)


class BadRequest(StoreError):
    """A request SCIM calls invalid (400): ``scim_type`` is RFC 7644 §3.12's scimType."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.scim_type = scim_type


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
            return frozenset(part.rsplit(":", 1)[-1].split(".")[0].casefold() for part in parts if part)

        return Shape(names(attributes), names(excluded))

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

    def _document(self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str) -> dict[str, Any]:
        raise NotImplementedError

    def resource(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        ident = self._ident(row)
        resource = self._document(conn, row, ident)
        resource["meta"] = {
            "resourceType": self.kind,
            "created": row["created_at"],
            "lastModified": row["updated_at"],
            "version": f'W/"{row["version"]}"',
            "location": f"/scim/v2/{self.endpoint}/{ident}",
        }
        return resource

    def _row(self, conn: sqlite3.Connection, ident: str) -> sqlite3.Row:
        where = f"FROM {self.table} u WHERE u.source = ? AND {self.visible}"
        row: sqlite3.Row | None = conn.execute(
            f"SELECT u.* {where} AND u.scim_id = ?", (self.source, ident)
        ).fetchone()
        if row is None:
            for candidate in conn.execute(f"SELECT u.* {where} AND u.scim_id IS NULL", (self.source,)):
                if scim.stable_id(self.noun, candidate["id"], candidate["created_at"]) == ident:
                    adopted: sqlite3.Row = candidate
                    return adopted
            raise NotFound(f"{self.kind} {ident!r} not found")
        return row

    def row(self, ident: str) -> sqlite3.Row:
        with self.directory.db.read() as conn:
            return self._row(conn, ident)

    def get(self, ident: str, shape: Shape = Shape()) -> dict[str, Any]:
        with self.directory.db.read() as conn:
            return shape.apply(self.resource(conn, self._row(conn, ident)))

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
                    f"sortBy: cannot sort on {sort_by!r}: sortable attributes are "
                    + ", ".join(sorted(self.sorts))
                )
            order = f"{column} {'DESC' if descending else 'ASC'}, u.id"  # a whitelisted column, never input
        start, count = max(start, 1), max(0, min(count, MAX_COUNT))
        base = f"FROM {self.table} u WHERE u.source = ? AND {self.visible} AND ({where})"
        with self.directory.db.read() as conn:
            total = int(conn.execute(f"SELECT count(*) {base}", [self.source, *params]).fetchone()[0])
            rows = conn.execute(
                f"SELECT u.* {base} ORDER BY {order} LIMIT ? OFFSET ?",
                [self.source, *params, count, start - 1],
            ).fetchall()
            resources = [shape.apply(self.resource(conn, row)) for row in rows]
        return Listing(total, start, resources)

    # -- writes -------------------------------------------------------------------------------------------

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

    def create(self, body: dict[str, Any], raw: bytes, what: str) -> dict[str, Any]:
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
                raise Uniqueness(f"{self.name_attribute}: {name!r} is already taken")
        if deleted is None:
            ident = str(uuid.uuid4())  # the server assigns ids (RFC 7643 §3.1): a client's id is ignored
            self._import({**body, "schemas": body.get("schemas") or [self.core], "id": ident}, raw, what)
            return self.get(ident)
        # The source deleted this one earlier and creates it again (a leaver rehired, a group restored):
        # the row that stayed for the audit trail comes back, under the id it had, as the resource sent.
        ident = str(deleted["scim_id"])
        with self.directory.change(Rule.IMPORT, source=self.source, what=WHAT) as conn:
            self._import({**body, "schemas": body.get("schemas") or [self.core], "id": ident}, raw, what)
            conn.execute(f"UPDATE {self.table} SET scim_deleted_at = NULL WHERE id = ?", (deleted["id"],))
        return self.get(ident)

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
        return self._import({"schemas": [scim.BULK_REQUEST], "Operations": [operation]}, raw, what, adjust)

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

    def replace(self, ident: str, body: dict[str, Any], raw: bytes, what: str) -> dict[str, Any]:
        self._check_schemas(body)
        row = self.row(ident)
        data = {**body, "schemas": body.get("schemas") or [self.core], "id": self._ident(row)}
        self._bulk("PUT", row, data, raw, what, self._put)
        return self.get(ident)

    def _put(self, document: ImportDocument) -> None:
        """A PUT is the whole resource (what the kind needs beyond the reader's reading)."""

    def patch(self, ident: str, body: Any, raw: bytes, what: str) -> dict[str, Any]:
        row = self.row(ident)
        self._bulk("PATCH", row, body, raw, what)
        return self.get(ident)

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


class ScimUsers(ScimResources):
    def _document(self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str) -> dict[str, Any]:
        resource = scim.user_resource(row, ident)
        if "emails" in resource:
            # tui keeps one address (what /Schemas says): no type or primary that it would make up.
            resource["emails"] = [{"value": row["email"]}]
        return resource

    def _bulk(
        self,
        method: str,
        row: sqlite3.Row,
        data: Any,
        raw: bytes,
        what: str,
        adjust: Callable[[ImportDocument], None] | None = None,
    ) -> ImportResult:
        def deprovision(document: ImportDocument) -> None:
            """A deactivation (active false, DELETE) also takes the user out of this source's groups, in the
            same import: same transaction, same audit event (their sessions end there too)."""
            if adjust is not None:
                adjust(document)
            if not any(user.disable or user.active is False for user in document.users):
                return
            # The live sync guard: too many deactivations too fast pause the source instead.
            self.directory.scim_sources.guard(self.source, 1 if row["status"] == "active" else 0)
            with self.directory.db.read() as conn:
                groups = conn.execute(
                    "SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id "
                    "WHERE m.user_id = ? AND g.source = ? ORDER BY g.id",
                    (row["id"], self.source),
                ).fetchall()
            ident = self._ident(row)
            for group in groups:
                document.groups.append(
                    GroupIn(
                        f"deactivation of {row['user_name']}",
                        name=group["name"],
                        remove_members=[MemberIn("", ref=ident, kind="User")],
                    )
                )

        return super()._bulk(method, row, data, raw, what, deprovision)


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

    def _document(self, conn: sqlite3.Connection, row: sqlite3.Row, ident: str) -> dict[str, Any]:
        resource: dict[str, Any] = {"schemas": [scim.CORE_GROUP], "id": ident}
        if row["external_id"] is not None:
            resource["externalId"] = row["external_id"]
        resource["displayName"] = row["name"]
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
            refs = sorted({m.ref for g in document.groups for m in g.members or [] if m.ref})
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
                        raise BadRequest(f"members: {gone[0]!r} is no user of this source: it was deleted")

        return super()._import(value, raw, what, no_deleted_members)
