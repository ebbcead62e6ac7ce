"""``POST /Bulk`` (RFC 7644 §3.7) for one source: a BulkRequest's operations applied in order through the
same resource methods as the single requests they stand for (store/scim_resources.py: its scoping to the
source, its import with the rights check, an audit event per operation), all in one transaction.

A bulk request is applied whole or not at all: the first operation that fails undoes the ones before it and
the request answers that operation's error, naming it (``failOnErrors`` is read as 1, the only value that
never leaves half a request applied). A pause of the live sync guard is kept all the same, as it is for a
single request. ``bulkId:X`` stands for the id of the resource an earlier operation created as ``X``, in an
operation's ``path`` and anywhere in its ``data`` (a group's members, a user's manager).

The envelope is a few fields, read here; each operation's ``data`` is read as the single request reads it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from store.errors import StoreError
from store.importer import WHAT
from store.names import clipped, quoted, visible
from store.rights import Rule
from store.scim_resources import BadRequest, ScimGroups, ScimResources, ScimUsers, Shape
from store.scim_sources import Paused

if TYPE_CHECKING:
    from store.directory import Directory

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
MAX_OPERATIONS = 1000  # ServiceProviderConfig's bulk.maxOperations says so
BULK_REF = "bulkId:"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$", re.IGNORECASE)
_QUIET = Shape(excluded=frozenset({"members"}))  # an answer names the resource, it does not return it


class BulkFailed(StoreError):
    """Operation ``index`` failed with ``cause``: nothing of the request was applied."""

    def __init__(self, index: int, label: str, cause: Exception) -> None:
        super().__init__(f"Operations[{index}] ({label}): {cause}")
        self.index, self.label, self.cause = index, label, cause


@dataclass(frozen=True)
class Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any

    @property
    def label(self) -> str:
        """How a message names the operation: the client's path and bulkId made visible and bounded."""
        named = f" bulkId {clipped(visible(self.bulk_id))}" if self.bulk_id else ""
        return f"{self.method} {clipped(visible(self.path))}{named}"


def read_request(body: dict[str, Any]) -> list[Operation]:
    """The operations of a BulkRequest; BadRequest naming the first field that is not one."""
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST.casefold() not in {str(s).casefold() for s in schemas}:
        raise BadRequest(f"schemas: a bulk request names {BULK_REQUEST}", "invalidValue")
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int) or isinstance(fail_on_errors, bool) or fail_on_errors < 1
    ):
        raise BadRequest("failOnErrors: must be a positive integer", "invalidValue")
    raw_operations = body.get("Operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise BadRequest("Operations: a bulk request has a list of at least one operation", "invalidValue")
    if len(raw_operations) > MAX_OPERATIONS:
        raise BadRequest(
            f"Operations: {len(raw_operations)} operations, more than this server takes in one request "
            f"({MAX_OPERATIONS}, bulk.maxOperations): send them in several",
            "tooMany",
        )
    operations: list[Operation] = []
    bulk_ids: dict[str, int] = {}
    for index, raw in enumerate(raw_operations):
        where = f"Operations[{index}]"
        if not isinstance(raw, dict):
            raise BadRequest(f"{where}: must be an object", "invalidValue")
        method = raw.get("method")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise BadRequest(
                f"{where}.method: {quoted(method)} is not one of {', '.join(METHODS)}", "invalidValue"
            )
        method = method.upper()
        path = raw.get("path")
        match = _PATH.match(path) if isinstance(path, str) else None
        if not isinstance(path, str) or match is None or (method == "POST") != (match.group(2) is None):
            wanted = "/Users or /Groups" if method == "POST" else "/Users/{id} or /Groups/{id}"
            raise BadRequest(f"{where}.path: {quoted(path)} is not {wanted} (for {method})", "invalidPath")
        bulk_id, version, data = raw.get("bulkId"), raw.get("version"), raw.get("data")
        if bulk_id is not None:
            if not isinstance(bulk_id, str) or not bulk_id:
                raise BadRequest(f"{where}.bulkId: must be a non-empty string", "invalidValue")
            if bulk_id in bulk_ids:
                raise BadRequest(
                    f"{where}.bulkId: {quoted(bulk_id)} is already Operations[{bulk_ids[bulk_id]}]'s",
                    "uniqueness",
                )
            bulk_ids[bulk_id] = index
        if method == "POST" and bulk_id is None:
            raise BadRequest(
                f"{where}.bulkId: a POST in a bulk request needs one (RFC 7644 §3.7)", "invalidValue"
            )
        if version is not None and not isinstance(version, str):
            raise BadRequest(f"{where}.version: must be a string (an ETag)", "invalidValue")
        if method == "DELETE":
            data = None
        elif not isinstance(data, dict):
            raise BadRequest(f"{where}.data: a {method} carries the resource or PatchOp as an object")
        operations.append(Operation(index, method, path, bulk_id, version, data))
    return operations


def _resolved(value: Any, created: dict[str, str], where: str) -> Any:
    """``value`` with every ``bulkId:X`` string replaced by the id operation ``X`` created."""
    if isinstance(value, str) and value.startswith(BULK_REF):
        ident = created.get(value[len(BULK_REF) :])
        if ident is None:
            raise BadRequest(
                f"{where}: {quoted(value)} is not the bulkId of an operation before this one in the request",
                "invalidValue",
            )
        return ident
    if isinstance(value, list):
        return [_resolved(item, created, where) for item in value]
    if isinstance(value, dict):
        return {key: _resolved(item, created, where) for key, item in value.items()}
    return value


def _apply(
    kinds: dict[str, ScimResources], operation: Operation, created: dict[str, str], what: str
) -> dict[str, Any]:
    """One operation, as its single request would be; its entry of the BulkResponse."""
    match = _PATH.match(operation.path)
    assert match is not None  # read_request checked it
    resources = kinds[match.group(1).casefold()]
    ident = _resolved(match.group(2), created, "path") if match.group(2) else None
    data = _resolved(operation.data, created, "data")
    raw = json.dumps(data, ensure_ascii=False).encode() if data is not None else b""
    what = f"{what} Operations[{operation.index}] {operation.method} {operation.path}"
    if ident is not None and operation.version is not None:
        resources.check_version(ident, {operation.version})
    entry: dict[str, Any] = {"method": operation.method}
    if operation.bulk_id is not None:
        entry["bulkId"] = operation.bulk_id
    if operation.method == "DELETE":
        assert ident is not None
        resources.delete(ident, raw, what)
        return {**entry, "status": "204"}
    if operation.method == "POST":
        resource = resources.create(data, raw, what, _QUIET)
        if operation.bulk_id is not None:
            created[operation.bulk_id] = str(resource["id"])
        status = "201"
    else:
        assert ident is not None
        method = resources.replace if operation.method == "PUT" else resources.patch
        resource = method(ident, data, raw, what, _QUIET)
        status = "200"
    meta = resource["meta"]
    return {**entry, "location": meta["location"], "version": meta["version"], "status": status}


def apply_request(
    directory: Directory, source: str, operations: list[Operation], what: str
) -> list[dict[str, Any]]:
    """Every operation in order, in one transaction; the BulkResponse's operations. Raises BulkFailed (or
    the pause) and changes nothing if any fails."""
    kinds: dict[str, ScimResources] = {
        "users": ScimUsers(directory, source),
        "groups": ScimGroups(directory, source),
    }
    created: dict[str, str] = {}
    answers: list[dict[str, Any]] = []
    paused: Paused | None = None
    with directory.change(Rule.IMPORT, source=source, what=WHAT) as conn:
        conn.execute("SAVEPOINT scim_bulk")
        try:
            for operation in operations:
                try:
                    answers.append(_apply(kinds, operation, created, what))
                except Paused:
                    raise
                except Exception as exc:  # noqa: BLE001 - the transaction is undone whole by the raise
                    raise BulkFailed(operation.index, operation.label, exc) from None
        except Paused as exc:
            # The guard paused the source: the operations before are undone, the pause is kept.
            reason = directory.scim_sources.state(source).paused_reason or str(exc)
            conn.execute("ROLLBACK TO scim_bulk")
            directory.scim_sources.pause(source, reason)
            paused = exc
        conn.execute("RELEASE scim_bulk")
    if paused is not None:
        raise paused
    return answers
