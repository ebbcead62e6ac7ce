"""SCIM 2.0 (RFC 7643 resources, RFC 7644 messages): read into an ImportDocument, and the SCIM export.

Read:

- a single ``User`` or ``Group`` resource (``schemas`` names the core schema, or ``meta.resourceType`` says);
- a ``ListResponse`` (its ``Resources``); a page of a longer list (``totalResults`` above the resources
  it holds) imports, but cannot be the base of a ``--sync``;
- a ``BulkRequest``: ``POST`` /Users or /Groups (with ``bulkId``), ``PUT``, ``PATCH`` and ``DELETE`` of
  /Users/{id} or /Groups/{id}. ``bulkId:…`` references resolve inside the request (group members, the
  enterprise ``manager``, paths). ``DELETE`` never deletes: a user is disabled, a group emptied. ``version``
  (ETags) and ``failOnErrors`` are not needed: the whole request is checked before anything is written.

A PATCH operation on a read-only attribute (``id``, ``meta``, a User's ``groups``: what the schema marks
readOnly) is refused, as is a path holding a control character or longer than any attribute path; one on an
attribute tui does not store is ignored, with a notice.

A bare ``PatchOp`` message is refused: it changes the resource named in its request URL (``PATCH
/Groups/{id}``), which a file does not carry. Wrapped in a BulkRequest operation it imports.

Mapping (User): userName, externalId, ``id`` (kept: later files refer to the user by it, and one with the same
id changes that user, renamed or not),
name.givenName, name.familyName, displayName, the primary (else first) of ``emails``, active (absent: left as
it is), password (a hash is kept; cleartext is an initial password). ``groups`` on a User is read-only in SCIM
(RFC 7643 §4.1.2) and ignored: memberships come from Groups' ``members``. All the emails as sent and the
enterprise extension are kept beside the columns (:mod:`store.scim_kept`), as ``tui scim serve`` keeps them,
and exported. Other attributes are ignored. (Group): displayName, externalId, ``id``, members (users or
groups by ``value``; member groups are flattened, a cycle is refused).
A resource stands for the whole user: what it leaves out (displayName, names, emails, externalId) is emptied.
Default source: ``scim``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from store.importer import GroupIn, ImportDocument, MemberIn, Problem, UserIn
from store.names import clipped, quoted, visible

if TYPE_CHECKING:
    from store.directory import Directory

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_PREFIX = "urn:ietf:params:scim:"
BULK_REF = "bulkId:"

_MEMBER_FILTER = re.compile(r'^members\s*\[\s*value\s+eq\s+"([^"]*)"\s*\]$', re.IGNORECASE)
_EMAIL_FILTER = re.compile(r'^emails\s*\[\s*type\s+eq\s+"([^"]*)"\s*\](\.value)?$', re.IGNORECASE)
# RFC 7644 §3.5.2's PATCH path: an attribute (URN-qualified or not), a sub-attribute, or a value filter in
# brackets and then a sub-attribute. A path that is none of these is a 400, not an attribute ignored.
_NAME = r"[A-Za-z][A-Za-z0-9_$-]*"
_PATCH_PATH = re.compile(
    rf"^(?:urn:[A-Za-z0-9.:_-]+:)?{_NAME}(?:\.{_NAME})?(?:\s*\[(?P<filter>[^\[\]]*)\](?:\.{_NAME})?)?$"
)


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a SCIM PATCH path (its value filter included), or None."""
    found = _PATCH_PATH.match(path)
    if found is None:
        return f'path: {quoted(path)} is not a SCIM attribute path (members, members[value eq "…"], …)'
    if found.group("filter") is not None:
        from scim2_filter_parser.lexer import SCIMLexer
        from scim2_filter_parser.parser import SCIMParser

        try:
            SCIMParser().parse(SCIMLexer().tokenize(found.group("filter")))
        except Exception:  # noqa: BLE001 - the parser raises its own errors, IndexError, ValueError
            return f"path: the filter in {quoted(path)} is not a SCIM filter"
    return None


MAX_PATH = 1000  # characters of a PATCH path: an attribute and a value filter, bounded as a filter is


@cache
def read_only(kind: str) -> frozenset[str]:
    """The attributes of a ``kind`` resource its schema marks readOnly, folded (``groups``,
    ``manager.displayName`` of the enterprise extension as ``urn:…:user:manager.displayname``), with the
    common attributes ``id`` and ``meta`` (RFC 7643 §3.1): what no PATCH may change (RFC 7644 §3.5.2)."""
    from scim2_models import EnterpriseUser, Group, Mutability, User

    models: list[tuple[str, Any]] = (
        [("", User), (ENTERPRISE_USER.casefold() + ":", EnterpriseUser)] if kind == "User" else [("", Group)]
    )
    names = {"id", "meta"}
    for prefix, model in models:
        for attribute in model.to_schema().attributes or []:
            if attribute.mutability == Mutability.read_only:
                names.add(f"{prefix}{attribute.name}".casefold())
            for sub in attribute.sub_attributes or []:
                if sub.mutability == Mutability.read_only:
                    names.add(f"{prefix}{attribute.name}.{sub.name}".casefold())
    return frozenset(names)


def _attribute_of(path: str, kind: str) -> tuple[str, str | None]:
    """``path``'s attribute and sub-attribute, folded, without its core schema URN or value filter; an
    extension's attribute keeps its URN: ``emails[type eq "work"].value`` → ("emails", "value")."""
    folded = re.sub(r"\[.*\]", "", path).strip().casefold()
    core = (CORE_USER if kind == "User" else CORE_GROUP).casefold() + ":"
    if folded.startswith(core):
        folded = folded[len(core) :]
    prefix = ""
    if folded.startswith(ENTERPRISE_USER.casefold() + ":"):
        prefix, folded = ENTERPRISE_USER.casefold() + ":", folded[len(ENTERPRISE_USER) + 1 :]
    top, _, sub = folded.partition(".")
    return prefix + top, sub or None


def path_refusal(path: str, kind: str) -> tuple[str, str] | None:
    """Why no PATCH operation may target ``path`` of a ``kind`` resource, with RFC 7644 §3.12's scimType
    (invalidPath: a control or format character, or longer than :data:`MAX_PATH`; mutability: a readOnly
    attribute), or None. A path is shown made visible and clipped. An attribute tui does not keep is no
    refusal: the reader ignores it, and says so."""
    shown = clipped(visible(path))
    if visible(path) != path:
        return "invalidPath", f'path: "{shown}" holds a control or format character: no attribute path does'
    if len(path) > MAX_PATH:
        return "invalidPath", f'path: "{shown}" is longer than a SCIM attribute path ({MAX_PATH} characters)'
    top, sub = _attribute_of(path, kind)
    names = read_only(kind)
    if top in names or (sub is not None and f"{top}.{sub}" in names):
        return "mutability", f'path: "{shown}" is read-only: no request changes it'
    return None


def operation_refusal(op: dict[str, Any], kind: str, ident: str | None) -> tuple[str, str] | None:
    """Why a PatchOp operation may not be applied to the ``kind`` resource ``ident`` at all (see
    :func:`path_refusal`), for a path or for each attribute a value without a path names; None when none.
    Such a value may repeat the resource's own ``id``: it changes nothing (Okta's group rename sends it)."""
    path, value = op.get("path"), op.get("value")
    if isinstance(path, str):
        return path_refusal(path, kind)
    if path is not None or not isinstance(value, dict):
        return None  # the reader says why
    for key, item in value.items():
        names = [key]
        if key.casefold() == ENTERPRISE_USER.casefold() and isinstance(item, dict):
            for sub, nested in item.items():  # {"urn:…:enterprise:2.0:User": {"manager": {…}}}
                names.append(f"{key}:{sub}")
                if isinstance(nested, dict):
                    names += [f"{key}:{sub}.{leaf}" for leaf in nested]
        elif isinstance(item, dict):  # {"name": {"givenName": …}}, {"meta": {"version": …}}
            names += [f"{key}.{sub}" for sub in item]
        if item == ident and _attribute_of(key, kind) == ("id", None):
            continue
        for name in names:
            refusal = path_refusal(name, kind)
            if refusal is not None:
                return refusal[0], refusal[1].replace("path: ", "value: ", 1)
    return None


def patch_op_refusal(body: Any, kind: str, ident: str) -> tuple[str, str] | None:
    """Why ``body`` is not a PatchOp message (RFC 7644 §3.5.2) that may be applied to the ``kind`` resource
    ``ident``, with its scimType (invalidSyntax: not one, or no operations), or None. What the reader checks
    of each operation (op, value) it says itself."""
    if not isinstance(body, dict) or PATCH_OP.casefold() not in _schemas(body):
        return "invalidSyntax", f"schemas: a PATCH request is a PatchOp message: its schemas list {PATCH_OP}"
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        return "invalidSyntax", "Operations: a PatchOp message has a list of at least one operation"
    for index, op in enumerate(operations):
        refusal = operation_refusal(op, kind, ident) if isinstance(op, dict) else None
        if refusal is not None:
            return refusal[0], f"Operations[{index}]: {refusal[1]}"
    return None


# Namespace for the ids of resources that never had a SCIM id (made here): stable for a row, unique.
_ID_NAMESPACE = uuid.UUID("6f1c2a5e-7b0e-4d3f-9a51-2f6c8e0b9d47")

PATCH_REFUSAL = (
    "a SCIM PatchOp message is not an import format: it changes the resource named in its request URL (PATCH "
    "/Groups/{id}), which a file does not carry. Put it in a BulkRequest operation instead: "
    '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [{"method": "PATCH", '
    '"path": "/Groups/<id>", "data": <this document>}]}'
)


def extension_of(body: dict[str, Any]) -> tuple[str | None, Any]:
    """The enterprise extension's key as ``body`` spells it (URNs ignore case), and its value."""
    key = next((k for k in body if k.casefold() == ENTERPRISE_USER.casefold()), None)
    return key, body.get(key) if key is not None else None


def looks_like_scim(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    schemas = value.get("schemas")
    if isinstance(schemas, list) and any(
        isinstance(s, str) and s.casefold().startswith(SCIM_PREFIX) for s in schemas
    ):
        return True
    return "Resources" in value or "Operations" in value


def _schemas(value: dict[str, Any]) -> set[str]:
    schemas = value.get("schemas")
    if not isinstance(schemas, list):
        return set()
    return {s.casefold() for s in schemas if isinstance(s, str)}


def _at(base: str, path: str) -> str:
    if not base:
        return path
    return f"{base} {path}" if base.endswith(")") else f"{base}.{path}"


class _Reader:
    def __init__(self, document: ImportDocument) -> None:
        self.document = document
        self.bulk_ids: dict[str, str] = {}  # bulkId → where
        self.references: list[tuple[str, str]] = []  # (where, bulkId) that must resolve
        self.user_ids: dict[str, str] = {}
        self.group_ids: dict[str, str] = {}
        self.ignored_paths: set[str] = set()
        self.user_groups_ignored = 0
        self.managers_not_kept = 0

    def problem(self, where: str, message: str) -> None:
        self.document.problems.append(Problem(where, message))

    # -- typed access -----------------------------------------------------------------------------------

    def text(self, item: dict[str, Any], key: str, where: str, *, full: bool) -> str | None:
        """A string attribute; absent → "" for a whole resource (it empties the field), None for a change."""
        if key not in item or item[key] is None:
            return "" if full else None
        value = item[key]
        if not isinstance(value, str):
            self.problem(where, f"{key}: must be a string")
            return None
        return value

    # -- dispatch ---------------------------------------------------------------------------------------

    def read(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.problem(
                "", 'the top level must be a SCIM resource or message (a JSON object with "schemas")'
            )
            return
        schemas = _schemas(value)
        if PATCH_OP.casefold() in schemas:
            self.document.description = "SCIM 2.0 PatchOp"
            self.problem("", PATCH_REFUSAL)
        elif BULK_RESPONSE.casefold() in schemas:
            self.problem("", "a BulkResponse reports what a server did: import the BulkRequest instead")
        elif LIST_RESPONSE.casefold() in schemas or (
            "Resources" in value and not schemas & {CORE_USER.casefold(), CORE_GROUP.casefold()}
        ):
            self.list_response(value)
        elif BULK_REQUEST.casefold() in schemas or "Operations" in value:
            self.bulk_request(value)
        else:
            self.resource("", value, None)
            self.document.description = "SCIM 2.0 resource"
        for where, bulk_id in self.references:
            if bulk_id not in self.bulk_ids:
                self.problem(where, f"{BULK_REF}{bulk_id} is not the bulkId of any operation in this request")
        if self.user_groups_ignored:
            self.document.notices.append(
                f"the groups attribute of {self.user_groups_ignored} User resource(s) was ignored: it is "
                "read-only in SCIM (RFC 7643 §4.1.2); memberships come from Group resources' members"
            )
        if self.managers_not_kept:
            self.document.notices.append(
                f"the enterprise manager of {self.managers_not_kept} User resource(s) was not kept: it "
                "names a user by bulkId, whose id is made on import"
            )
        if self.ignored_paths:
            self.document.notices.append(
                "PATCH changes to attributes tui does not store were ignored: "
                + ", ".join(clipped(visible(path)) for path in sorted(self.ignored_paths))
            )

    def list_response(self, value: dict[str, Any]) -> None:
        resources = value.get("Resources", [])
        if not isinstance(resources, list):
            self.problem("Resources", "must be a list of resources")
            return
        for index, item in enumerate(resources):
            self.resource(f"Resources[{index}]", item, None)
        total = value.get("totalResults")
        if isinstance(total, int) and not isinstance(total, bool) and total > len(resources):
            self.document.incomplete = (
                f"the ListResponse holds {len(resources):,} of {total:,} resources (one "
                "page): a sync needs all of them"
            )
            self.document.notices.append(
                f"this ListResponse is one page: {len(resources):,} of {total:,} resources"
            )
        self.document.description = f"SCIM 2.0 ListResponse, {len(resources):,} resources"

    def resource(self, where: str, item: Any, kind: str | None, **kwargs: Any) -> None:
        if not isinstance(item, dict):
            self.problem(where, "must be a SCIM resource (a JSON object)")
            return
        if kind is None:
            schemas = _schemas(item)
            meta = item.get("meta")
            resource_type = meta.get("resourceType") if isinstance(meta, dict) else None
            if CORE_USER.casefold() in schemas or resource_type == "User":
                kind = "User"
            elif CORE_GROUP.casefold() in schemas or resource_type == "Group":
                kind = "Group"
            else:
                self.problem(
                    where,
                    f"schemas: names neither {CORE_USER} nor {CORE_GROUP}: tui imports Users and Groups",
                )
                return
        if kind == "User":
            self.user(where, item, **kwargs)
        else:
            self.group(where, item, **kwargs)

    # -- resources --------------------------------------------------------------------------------------

    def _id(self, where: str, item: dict[str, Any], seen: dict[str, str], target: str | None) -> str | None:
        value = item.get("id")
        if value is None:
            return target
        if not isinstance(value, str):
            self.problem(where, "id: must be a string")
            return None
        if target is not None and value != target:
            self.problem(
                where, f"id: {quoted(value)} differs from the id in the operation's path ({quoted(target)})"
            )
            return None
        if value in seen and target is None:
            self.problem(where, f"id: {quoted(value)} is the same as {seen[value]}'s")
            return None
        seen.setdefault(value, where)
        return value

    def user(
        self, where: str, item: dict[str, Any], *, bulk_id: str | None = None, target: str | None = None
    ) -> None:
        user = UserIn(
            where,
            target=target,
            labels={"givenName": "name.givenName", "familyName": "name.familyName", "email": "emails.value"},
        )
        user.user_name = self.text(item, "userName", where, full=False)
        nameless = user.user_name is None and "userName" not in item
        if nameless:
            self.problem(where, "userName: is required")
        user.scim_id = self._id(where, item, self.user_ids, target)
        user.external_id = self.text(item, "externalId", where, full=True)
        user.display_name = self.text(item, "displayName", where, full=True)
        self._name(user, item.get("name"), where, full=True)
        user.email = self._emails(item.get("emails"), where, full=True)
        self._active(user, item, where)
        self._password(user, item, where)
        if item.get("groups"):
            self.user_groups_ignored += 1
        extension = self._enterprise(item, where)
        user.scim_attributes = self._kept(item.get("emails"), extension, where, user.email)
        if bulk_id is not None:
            user.aliases = (BULK_REF + bulk_id,)
        if nameless and target is None:
            return  # said once: the importer would say it again of a user it cannot match
        self.document.users.append(user)

    def _kept(
        self, emails: Any, extension: dict[str, Any] | None, where: str, email: str | None
    ) -> str | None:
        """What the user keeps beyond the columns (store.scim_kept), as ``tui scim serve`` keeps it: all its
        emails as sent and the enterprise extension (as ``_enterprise`` gives it); "" for nothing."""
        from store import scim_kept

        if emails is not None and not (isinstance(emails, list) and all(isinstance(e, dict) for e in emails)):
            return None  # _emails said why
        if extension is None:  # the common resources, without a scim2-models validation each
            if not emails:
                return ""
            if emails == [{"value": email, "primary": True}]:
                return scim_kept.as_text({"emails": [{"value": email, "primary": True}]})
        body = {"emails": emails, **({ENTERPRISE_USER: extension} if extension is not None else {})}
        try:
            return scim_kept.as_text(scim_kept.from_resource(body)) or ""
        except scim_kept.Invalid as invalid:
            self.problem(where, invalid.message)
            return None

    def _name(self, user: UserIn, name: Any, where: str, *, full: bool) -> None:
        if name is None:
            if full:
                user.given_name = user.family_name = ""
            return
        if not isinstance(name, dict):
            self.problem(where, "name: must be an object (givenName, familyName, …)")
            return
        user.given_name = self.text(name, "givenName", _at(where, "name"), full=full)
        user.family_name = self.text(name, "familyName", _at(where, "name"), full=full)

    def _emails(self, emails: Any, where: str, *, full: bool) -> str | None:
        if emails is None:
            return "" if full else None
        if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
            self.problem(where, 'emails: must be a list of {"value": …} objects')
            return None
        if not emails:
            return ""
        chosen = next((e for e in emails if e.get("primary") is True), emails[0])
        value = chosen.get("value")
        if not isinstance(value, str):
            self.problem(where, "emails: value must be a string")
            return None
        return value

    def _active(self, user: UserIn, item: dict[str, Any], where: str, *, lenient: bool = False) -> None:
        value = item.get("active")
        if value is None:
            return
        if isinstance(value, str) and lenient and value.casefold() in ("true", "false"):
            value = value.casefold() == "true"  # Entra ID's SCIM client sends "False" in PATCH requests
        if not isinstance(value, bool):
            self.problem(where, f"active: {quoted(value)} must be true or false")
            return
        user.active = value

    def _password(self, user: UserIn, item: dict[str, Any], where: str) -> None:
        value = item.get("password")
        if value is None:
            return
        if not isinstance(value, str):
            self.problem(where, "password: must be a string")
            return
        user.password = value

    def _enterprise(self, item: dict[str, Any], where: str) -> dict[str, Any] | None:
        """The enterprise extension to keep (None: none, or not an object, which is a problem). A manager
        named by ``bulkId:`` must resolve in the request, and is not kept: its id is made on import."""
        extension = extension_of(item)[1]
        if extension is None:
            return None
        if not isinstance(extension, dict):
            self.problem(where, f"{ENTERPRISE_USER}: must be an object")
            return None
        manager = extension.get("manager")
        if (
            isinstance(manager, dict)
            and isinstance(manager.get("value"), str)
            and manager["value"].startswith(BULK_REF)
        ):
            self.references.append((_at(where, "manager.value"), manager["value"][len(BULK_REF) :]))
            self.managers_not_kept += 1
            return {k: v for k, v in extension.items() if k != "manager"}
        return extension

    def group(
        self, where: str, item: dict[str, Any], *, bulk_id: str | None = None, target: str | None = None
    ) -> None:
        group = GroupIn(where, target=target)
        group.name = self.text(item, "displayName", where, full=False)
        nameless = group.name is None and "displayName" not in item
        if nameless:
            self.problem(where, "displayName: is required")
        group.scim_id = self._id(where, item, self.group_ids, target)
        group.external_id = self.text(item, "externalId", where, full=True)
        group.members = self._members(item.get("members"), where)
        if bulk_id is not None:
            group.aliases.append(BULK_REF + bulk_id)
        if nameless and target is None:
            return  # said once: the importer would say it again of a group it cannot match
        self.document.groups.append(group)

    def _members(self, members: Any, where: str) -> list[MemberIn]:
        if members is None:
            return []
        if not isinstance(members, list):
            self.problem(where, 'members: must be a list of {"value": id} objects')
            return []
        result = []
        for index, member in enumerate(members):
            at = _at(where, f"members[{index}]")
            if (
                not isinstance(member, dict)
                or not isinstance(member.get("value"), str)
                or not member["value"]
            ):
                self.problem(at, 'value: each member needs the id of a user or group as "value"')
                continue
            kind = member.get("type")
            if kind is not None and not isinstance(kind, str):
                self.problem(at, "type: must be User or Group")
                continue
            value = member["value"]
            if value.startswith(BULK_REF):
                self.references.append((at, value[len(BULK_REF) :]))
            result.append(MemberIn(where, ref=value, kind=kind.capitalize() if kind else None, index=index))
        return result

    # -- bulk -------------------------------------------------------------------------------------------

    def bulk_request(self, value: dict[str, Any]) -> None:
        operations = value.get("Operations")
        if not isinstance(operations, list):
            self.problem("Operations", "must be a list of operations")
            return
        for index, operation in enumerate(operations):
            where = f"Operations[{index}]"
            if not isinstance(operation, dict):
                self.problem(where, "must be an object with method, path and data")
                continue
            bulk_id = operation.get("bulkId")
            if bulk_id is not None:
                if not isinstance(bulk_id, str) or not bulk_id:
                    self.problem(where, "bulkId: must be a non-empty string")
                    continue
                if bulk_id in self.bulk_ids:
                    self.problem(
                        where, f"bulkId: {quoted(bulk_id)} is the same as {self.bulk_ids[bulk_id]}'s"
                    )
                    continue
                self.bulk_ids[bulk_id] = where
        for index, operation in enumerate(operations):
            if isinstance(operation, dict):
                self.operation(index, operation)
        self.document.description = f"SCIM 2.0 BulkRequest, {len(operations):,} operations"

    def operation(self, index: int, operation: dict[str, Any]) -> None:
        method, path = operation.get("method"), operation.get("path")
        where = f"Operations[{index}]"
        if not isinstance(method, str) or method.upper() not in ("POST", "PUT", "PATCH", "DELETE"):
            self.problem(where, f"method: {quoted(method)} must be POST, PUT, PATCH or DELETE")
            return
        if not isinstance(path, str):
            self.problem(where, "path: must be a string such as /Users or /Groups/{id}")
            return
        method = method.upper()
        bulk_id = operation.get("bulkId") if isinstance(operation.get("bulkId"), str) else None
        # The path and bulkId are the client's: shown made visible and bounded (a 100 KB path was echoed
        # twice per problem, a bidi control in a bulkId came back raw).
        shown_id = f", bulkId {clipped(visible(bulk_id))}" if bulk_id else ""
        where = f"{where} ({method} {clipped(visible(path))}{shown_id})"
        parts = path.strip("/").split("/")
        kind = {"users": "User", "groups": "Group"}.get(parts[0].casefold())
        resource_id = "/".join(parts[1:]) if len(parts) > 1 else None
        if kind is None:
            self.problem(where, "path: must start with /Users or /Groups")
            return
        if resource_id is not None and resource_id.startswith(BULK_REF):
            self.references.append((where, resource_id[len(BULK_REF) :]))
        if method == "POST":
            if resource_id is not None:
                self.problem(where, "path: POST creates a resource: its path is /Users or /Groups")
                return
            self.resource(where, operation.get("data"), kind, bulk_id=bulk_id)
            return
        if not resource_id:
            self.problem(where, f"path: {method} needs the resource's id: /{parts[0]}/{{id}}")
            return
        if method == "PUT":
            self.resource(where, operation.get("data"), kind, target=resource_id)
        elif method == "DELETE":
            self.document.partial = True
            if kind == "User":
                self.document.users.append(UserIn(where, target=resource_id, disable=True))
            else:
                self.document.groups.append(GroupIn(where, target=resource_id, remove_all_members=True))
                self.document.notices.append(f"{where}: tui never deletes on import: the group is emptied")
        else:
            self.document.partial = True
            self.patch(where, kind, resource_id, operation.get("data"))

    # -- patch ------------------------------------------------------------------------------------------

    def patch(self, where: str, kind: str, target: str, data: Any) -> None:
        if isinstance(data, dict):
            if PATCH_OP.casefold() not in _schemas(data) and "Operations" not in data:
                self.problem(where, f"data: a PATCH carries a PatchOp message ({PATCH_OP})")
                return
            data = data.get("Operations")
        if not isinstance(data, list):
            self.problem(where, "data: must be a PatchOp message or its list of operations")
            return
        for index, op in enumerate(data):
            at = _at(where, f"Operations[{index}]")
            if (
                not isinstance(op, dict)
                or not isinstance(op.get("op"), str)
                or op["op"].casefold() not in ("add", "replace", "remove")
            ):
                self.problem(at, "op: must be add, replace or remove")
                continue
            name, path = op["op"].casefold(), op.get("path")
            if path is not None and not isinstance(path, str):
                self.problem(at, "path: must be a string")
                continue
            if (refusal := operation_refusal(op, kind, target)) is not None:
                self.problem(at, refusal[1])  # a read-only attribute, or a path no attribute has
                continue
            if kind == "User":
                self.patch_user(at, target, name, path, op.get("value"))
            else:
                self.patch_group(at, target, name, path, op.get("value"))

    def patch_user(self, where: str, target: str, op: str, path: str | None, value: Any) -> None:
        user = UserIn(
            where,
            target=target,
            labels={"givenName": "name.givenName", "familyName": "name.familyName", "email": "emails.value"},
        )
        attributes: dict[str, Any] | None
        if path is None:
            if op == "remove" or not isinstance(value, dict):
                self.problem(where, "value: an add or replace without a path needs an object of attributes")
                return
            attributes = value
        elif op == "remove":
            attribute = path.casefold()
            if attribute == "username":
                self.problem(where, "path: userName is required and cannot be removed")
                return
            if attribute == "active":
                self.problem(where, "path: remove active? Replace it with false to disable the user")
                return
            cleared = {
                "displayname": "display_name",
                "externalid": "external_id",
                "name.givenname": "given_name",
                "name.familyname": "family_name",
                "emails": "email",
            }
            if attribute == "name":
                user.given_name = user.family_name = ""
            elif attribute in cleared:
                setattr(user, cleared[attribute], "")
            elif _EMAIL_FILTER.match(path):
                user.email = ""
            else:
                self.ignored_paths.add(path)
                return
            self.document.users.append(user)
            return
        else:
            attributes = self._path_value(path, value, where)
            if attributes is None:
                return
        known = False
        for key, item in attributes.items():
            folded = key.casefold()
            if folded == "username":
                user.user_name = item if isinstance(item, str) else self._wrong(where, key)
            elif folded == "displayname":
                user.display_name = item if isinstance(item, str) else self._wrong(where, key)
            elif folded == "externalid":
                user.external_id = item if isinstance(item, str) else self._wrong(where, key)
            elif folded == "name":
                self._name(user, item, where, full=False)
            elif folded == "emails":
                user.email = self._emails(item if isinstance(item, list) else [item], where, full=False)
            elif folded == "active":
                self._active(user, {"active": item}, where, lenient=True)
            elif folded == "password":
                self._password(user, {"password": item}, where)
            else:
                self.ignored_paths.add(key)
                continue
            known = True
        if known:
            self.document.users.append(user)

    def _wrong(self, where: str, key: str) -> str | None:
        """Record that ``key`` is not a string; the value to use instead: None (says nothing)."""
        self.problem(where, f"{key}: must be a string")
        return None

    def _path_value(self, path: str, value: Any, where: str) -> dict[str, Any] | None:
        """``name.givenName`` = "x" → {"name": {"givenName": "x"}}; ``emails[type
        eq "work"].value`` → emails."""
        if _EMAIL_FILTER.match(path):
            return {"emails": [{"value": value, "primary": True}] if isinstance(value, str) else value}
        first, _, rest = path.partition(".")
        if rest:
            return {first: {rest: value}}
        return {path: value}

    def patch_group(self, where: str, target: str, op: str, path: str | None, value: Any) -> None:
        if path and (problem := path_problem(path)) is not None:
            self.problem(where, problem)  # RFC 7644 §3.5.2: invalidPath, not a 204 that changed nothing
            return
        group = GroupIn(where, target=target)
        folded = (path or "").casefold()
        match = _MEMBER_FILTER.match(path or "")
        if op == "remove":
            if folded == "members" and value not in (None, []):
                # Entra ID's "Remove Members": path members, the members to remove in value. Only a remove
                # without a value empties the group (RFC 7644 §3.5.2.2).
                group.remove_members.extend(self._members(value, where))
            elif folded == "members":
                group.remove_all_members = True
            elif match:
                group.remove_members.append(MemberIn(where, ref=match.group(1)))
            elif folded in ("displayname", ""):
                self.problem(where, "path: a group's displayName is required and cannot be removed")
                return
            elif folded == "externalid":
                group.external_id = ""
            else:
                self.ignored_paths.add(path or "")
                return
            self.document.groups.append(group)
            return
        attributes = value if path is None else {path: value}
        if not isinstance(attributes, dict):
            self.problem(where, "value: an add or replace without a path needs an object of attributes")
            return
        known = False
        for key, item in attributes.items():
            lowered = key.casefold()
            if lowered == "members":
                if op == "replace":
                    group.remove_all_members = True
                group.members = [
                    *(group.members or []),
                    *self._members(item if isinstance(item, list) else [item], where),
                ]
            elif lowered == "displayname":
                group.name = item if isinstance(item, str) else self._wrong(where, key)
            elif lowered == "externalid":
                group.external_id = item if isinstance(item, str) else self._wrong(where, key)
            else:
                self.ignored_paths.add(key)
                continue
            known = True
        if known:
            self.document.groups.append(group)


def read_value(value: Any, file_name: str) -> ImportDocument:
    document = ImportDocument(default_source="scim")
    _Reader(document).read(value)
    return document


# -- export -----------------------------------------------------------------------------------------------


def stable_id(kind: str, row_id: int, created_at: str) -> str:
    """The id of a row that never had a SCIM id: stable for the row, unique."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{row_id}:{created_at}"))


_stable_id = stable_id


def user_resource(row: Any, ident: str) -> dict[str, Any]:
    """A users row as a SCIM User resource with ``id`` ``ident`` (the export and ``tui scim serve``)."""
    resource: dict[str, Any] = {"schemas": [CORE_USER], "id": ident}
    if row["external_id"] is not None:
        resource["externalId"] = row["external_id"]
    resource["userName"] = row["user_name"]
    name = {k: row[c] for k, c in (("givenName", "given_name"), ("familyName", "family_name")) if row[c]}
    if name:
        resource["name"] = name
    if row["display_name"]:
        resource["displayName"] = row["display_name"]
    if row["email"]:
        resource["emails"] = [{"value": row["email"], "primary": True}]
    resource["active"] = row["status"] == "active"
    resource["meta"] = {"resourceType": "User"}
    return resource


def export(directory: Directory) -> dict[str, Any]:
    """The directory's users (without root) and groups as one SCIM ListResponse. A resource's ``id`` is the id
    it had at its source when it was imported from SCIM, else a stable id made from the row."""
    from store import scim_kept

    resources: list[dict[str, Any]] = []
    with directory.db.read() as conn:
        user_ids: dict[int, str] = {}
        used: set[str] = set()
        users = conn.execute(
            "SELECT id, user_name, display_name, given_name, family_name, email, external_id, "
            "scim_id, scim_attributes, status, created_at FROM users WHERE is_root = 0 "
            "ORDER BY user_name_key"
        ).fetchall()
        for row in users:
            ident = (
                row["scim_id"]
                if row["scim_id"] and row["scim_id"] not in used
                else _stable_id("user", row["id"], row["created_at"])
            )
            used.add(ident)
            user_ids[row["id"]] = ident
            resources.append(scim_kept.on_resource(user_resource(row, ident), row))
        members: dict[int, list[dict[str, Any]]] = {}
        for group_id, user_id, user_name in conn.execute(
            "SELECT m.group_id, m.user_id, u.user_name FROM memberships m JOIN users u ON u.id = m.user_id "
            "ORDER BY u.user_name_key"
        ):
            members.setdefault(group_id, []).append(
                {"value": user_ids[user_id], "display": user_name, "type": "User"}
            )
        used_groups: set[str] = set()
        for row in conn.execute(
            "SELECT id, name, external_id, scim_id, created_at FROM groups ORDER BY name_key"
        ):
            ident = (
                row["scim_id"]
                if row["scim_id"] and row["scim_id"] not in used_groups
                else _stable_id("group", row["id"], row["created_at"])
            )
            used_groups.add(ident)
            group: dict[str, Any] = {"schemas": [CORE_GROUP], "id": ident}
            if row["external_id"] is not None:
                group["externalId"] = row["external_id"]
            group["displayName"] = row["name"]
            group["members"] = members.get(row["id"], [])
            group["meta"] = {"resourceType": "Group"}
            resources.append(group)
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def iter_export(directory: Directory) -> Iterator[str]:
    import json

    from store.names import escape_json

    yield escape_json(json.dumps(export(directory), indent=2, ensure_ascii=False)) + "\n"
