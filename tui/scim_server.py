"""``tui scim serve``: SCIM 2.0 (RFC 7644) at ``/scim/v2`` on Starlette + uvicorn (issue 15).

A bearer token (``tui scim token create``) names the identity-provider source a request acts for; every store
call runs in a worker thread on a Directory acting for that source (store/scim_resources.py), one per source
and one request at a time per source: the importer's plan-then-apply must not interleave on one connection.
Errors are RFC 7644 §3.12 JSON; nothing of a traceback reaches the client or the log.

Nothing imports this module but the ``serve`` command: the rest of the CLI does not pay for Starlette.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from scim2_models import Context, SearchRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from store.audit import Actor
from store.db import failure_kind
from store.directory import Directory
from store.directory_json import load_text
from store.errors import AlreadyExists, Conflict, NotFound, Refused, StoreError, ValidationError
from store.importer import ImportRefused
from store.names import quoted
from store.rights import CredentialEnded
from store.scim_bulk import BULK_RESPONSE, BulkFailed, apply_request, read_request
from store.scim_resources import (
    MAX_COUNT,
    BadRequest,
    PreconditionFailed,
    ScimGroups,
    ScimResources,
    ScimUsers,
    Shape,
    Uniqueness,
    search_all,
)
from store.scim_sources import RETRY_AFTER, Paused, RequestTally
from tui import scim_discovery as discovery
from tui.scim_limits import BODY_TIMEOUT

PREFIX = "/scim/v2"
MAX_BODY = discovery.MAX_BODY  # ServiceProviderConfig's bulk.maxPayloadSize says so too
BODY = "the request body"  # how a refusal of the body names it
STATS_EVERY = 1.0  # seconds between writes of the request statistics (the console's Sources screen)
SCIM_JSON = "application/scim+json"
JSON_MEDIA_TYPES = frozenset({SCIM_JSON, "application/json"})  # what a body may be (casefolded)
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
log = logging.getLogger("tui.scim")


class ScimError(Exception):
    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type, self.headers = status, detail, scim_type, headers


def scim_json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(document, status_code=status, media_type=SCIM_JSON, headers=headers)


def error_response(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="tui"'}
    return scim_json(body, status, headers)


def _problems(refused: ImportRefused) -> str:
    lines = list(dict.fromkeys(str(problem) for problem in refused.problems))  # the reader and checks agree
    if refused.more:
        lines.append(f"… and {refused.more} more problem(s)")
    return "; ".join(lines)


def as_scim_error(exc: Exception) -> ScimError:
    """Our errors as SCIM errors with the status RFC 7644 §3.12 gives them."""
    if isinstance(exc, ScimError):
        return exc
    if isinstance(exc, BulkFailed):
        failed = as_scim_error(exc.cause)
        detail = failed.detail.removesuffix("; nothing was changed")
        return ScimError(
            failed.status,
            f"Operations[{exc.index}] ({exc.label}): {detail}; nothing of this bulk request was applied",
            failed.scim_type,
            failed.headers,
        )
    if isinstance(exc, PreconditionFailed):
        return ScimError(412, exc.message)
    if isinstance(exc, ImportRefused):
        # A name held elsewhere is a conflict (the importer does not tell an identity provider which source
        # holds it).
        detail = _problems(exc)
        if any(problem.conflict for problem in exc.problems):
            return ScimError(409, detail, "uniqueness")
        return ScimError(400, detail, "invalidValue")
    if isinstance(exc, CredentialEnded):
        return ScimError(401, f"{exc.message}; nothing was changed")
    if isinstance(exc, Paused):
        return ScimError(503, exc.message, None, {"Retry-After": str(RETRY_AFTER)})
    if isinstance(exc, BadRequest):
        return ScimError(400, exc.message, exc.scim_type)
    if isinstance(exc, (Uniqueness, AlreadyExists)):
        return ScimError(409, exc.message, "uniqueness")
    if isinstance(exc, NotFound):
        return ScimError(404, exc.message)
    if isinstance(exc, Refused):
        return ScimError(403, exc.message.replace("\nnothing was changed", "") + "; nothing was changed")
    if isinstance(exc, Conflict):
        return ScimError(409, exc.message)
    if isinstance(exc, (ValidationError, StoreError)):
        return ScimError(400, exc.message, "invalidValue")
    log.error("SCIM request failed: %s", failure_kind(exc))  # the file or the disk said as such
    return ScimError(500, "the server could not complete the request; nothing was changed")


class Sources:
    """One Directory per source and token, acting for them, with one lock per source: a source's requests
    run one at a time. A request's changes are made with the token it came with, checked live in their
    transaction: a token revoked while a request's body was still arriving changes nothing."""

    def __init__(self, db_path: Path, key_path: Path | None) -> None:
        self.db_path, self.key_path = db_path, key_path
        self.lock = threading.Lock()
        self.base = Directory.open(db_path, Actor("scim", "scim"), key_path=key_path)
        self.opened: dict[tuple[str, int | None], Directory] = {}
        self.locks: dict[str, threading.Lock] = {}

    def authenticate(self, token: str) -> tuple[str, int]:
        """(source, token id) of a live ``token``; Refused otherwise."""
        with self.lock:
            return self.base.scim_tokens.identify(token)

    def for_source(self, source: str, token_id: int | None = None) -> tuple[Directory, threading.Lock]:
        """The Directory acting for ``source`` with ``token_id`` (none: the server's own bookkeeping, such as
        the request statistics), and the source's lock."""
        with self.lock:
            if (source, token_id) not in self.opened:
                directory = Directory.open(self.db_path, key_path=self.key_path)
                directory.act_for_source(source, Actor(f"scim:{source}", "scim"), token_id=token_id)
                self.opened[(source, token_id)] = directory
            return self.opened[(source, token_id)], self.locks.setdefault(source, threading.Lock())

    def write_stats(self, tally: RequestTally) -> None:
        """Write what ``tally`` counted, per source through that source's own Directory (and rights)."""
        for source, counted in tally.drain().items():
            directory, _ = self.for_source(source)
            try:
                directory.scim_sources.record_requests(source, *counted)
            except StoreError:
                tally.give_back(source, counted)  # the file was busy: next time

    def close(self) -> None:
        for directory in self.opened.values():
            directory.close()
        self.base.close()


def _listing(resources: list[dict[str, Any]], total: int | None = None, start: int = 1) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _tagged(resource: dict[str, Any]) -> Response:
    """A resource with its version as the ETag header (RFC 7644 §3.14)."""
    return scim_json(resource, headers={"ETag": resource["meta"]["version"]})


# The furthest a page's startIndex or count goes: past any directory's resources (and inside SQLite's
# integers), so a larger one (10**30, five thousand digits) means the same page: an empty one, or the most a
# page holds.
PAGING_MAX = 10**18
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII: int() also reads "１", "1_0" and " 5 "


def _paging(value: int) -> int:
    """A startIndex or count as the store pages it: at most :data:`PAGING_MAX` either way."""
    return max(-PAGING_MAX, min(value, PAGING_MAX))


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not _INTEGER.fullmatch(value):
        raise ScimError(400, f"{name}: {quoted(value)} is not an integer", "invalidValue")
    negative, digits = value.startswith("-"), value.lstrip("-").lstrip("0")
    if len(digits) > len(str(PAGING_MAX)):  # int() refuses more than 4,300 digits; no page needs them
        return -PAGING_MAX if negative else PAGING_MAX
    return _paging(int(value))


def _media_type(request: Request) -> None:
    """A body is JSON, said so by its Content-Type (RFC 7644 §3.1, §3.8): ``application/scim+json`` or
    ``application/json``, with any parameters (``charset=utf-8``); else 415. A body without a Content-Type
    is refused all the same: what it is was not said, and a form or a text is not read as JSON."""
    header = request.headers.get("content-type")
    if header is None:
        raise ScimError(415, f"the request body needs Content-Type: {SCIM_JSON} (or application/json)")
    if header.partition(";")[0].strip().casefold() not in JSON_MEDIA_TYPES:
        raise ScimError(
            415, f"Content-Type {quoted(header)}: the request body must be {SCIM_JSON} (or application/json)"
        )


async def _body(request: Request) -> tuple[Any, bytes]:
    """The request's JSON object (and its bytes), read as strictly as ``tui import`` reads a JSON file
    (store.directory_json.load_text): no repeated key, no NaN or Infinity, and nesting no deeper than its
    MAX_DEPTH (a SCIM document nests a few levels, a bulk operation's PatchOp's members 7), refused before
    any reader walks it recursively."""
    _media_type(request)
    length = request.headers.get("content-length")
    # ASCII digits only (str.isdigit takes "²", which int() refuses), and not thousands of them.
    if (
        length is not None
        and length.isascii()
        and length.isdigit()
        and (len(length) > 18 or int(length) > MAX_BODY)
    ):
        raise ScimError(413, f"the request body is over {MAX_BODY // 1024} KiB")
    chunks, size = [], 0
    deadline = request.app.state.body_timeout
    try:
        # A body sent a byte at a time held the request (and its connection) for as long as the client liked.
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise ScimError(413, f"the request body is over {MAX_BODY // 1024} KiB")
                chunks.append(chunk)
    except TimeoutError:
        raise ScimError(
            408, f"the request body did not all arrive within {deadline:g} s", headers={"Connection": "close"}
        ) from None
    raw = b"".join(chunks)
    try:
        value = load_text(raw.decode("utf-8"), BODY)
    except UnicodeDecodeError as exc:
        raise ScimError(400, f"{BODY}: byte {exc.start} is not UTF-8", "invalidSyntax") from None
    except ValidationError as exc:
        raise ScimError(400, exc.message, "invalidSyntax") from None
    if not isinstance(value, dict):
        raise ScimError(400, f"{BODY}: must be a JSON object", "invalidSyntax")
    return value, raw


def _search_request(body: tuple[Any, bytes]) -> SearchRequest:
    """A SearchRequest body (RFC 7644 §3.4.3) read by scim2-models; 400 with its words if it is not one."""
    try:
        wanted: SearchRequest = SearchRequest.model_validate(body[0], scim_ctx=Context.SEARCH_REQUEST)
    except PydanticValidationError as exc:
        problems = exc.errors()
        filter_problem = any(problem["type"] == "scim_invalidFilter" for problem in problems)
        detail = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'SearchRequest'}: {problem['msg']}"
            for problem in problems
        )
        raise ScimError(400, detail, "invalidFilter" if filter_problem else "invalidValue") from None
    return wanted


def _search_shape(wanted: SearchRequest) -> Shape:
    def names(paths: list[Any] | None) -> str | None:
        return ",".join(str(path) for path in paths) if paths else None

    return Shape.parse(names(wanted.attributes), names(wanted.excluded_attributes))


def _shape(request: Request) -> Shape:
    return Shape.parse(request.query_params.get("attributes"), request.query_params.get("excludedAttributes"))


def build_app(db_path: Path, key_path: Path | None = None, body_timeout: float = BODY_TIMEOUT) -> Starlette:
    """The SCIM app over the directory at ``db_path``; a request's body must arrive within ``body_timeout``
    seconds of its first read."""
    sources = Sources(db_path, key_path)
    tally = RequestTally()

    async def source_for(request: Request) -> tuple[Directory, str, threading.Lock]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.casefold() != "bearer" or not token.strip():
            raise ScimError(401, "a bearer token is needed: Authorization: Bearer <tui scim token create>")
        try:
            source, token_id = await run_in_threadpool(sources.authenticate, token.strip())
        except Refused as refused:
            raise ScimError(401, refused.message) from None
        directory, lock = sources.for_source(source, token_id)
        request.state.scim_source = source  # for the request statistics (counted)
        return directory, source, lock

    def endpoint(handler: Callable[..., Awaitable[Response]], kind: type[ScimResources] = ScimUsers) -> Any:
        async def run(request: Request) -> Response:
            try:
                directory, source, lock = await source_for(request)

                def locked(function: Callable[..., Any], *args: Any) -> Any:
                    with lock:
                        return function(*args)

                return await handler(request, kind(directory, source), locked)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a SCIM error, never a traceback
                error = as_scim_error(exc)
                request.state.scim_error = error.detail
                return error_response(error.status, error.detail, error.scim_type, error.headers)

        return counted(run)

    def counted(run: Callable[[Request], Awaitable[Response]]) -> Any:
        """Count every authenticated request of a source, and its error (status and the detail its client
        was sent: never a token), for the console's Sources screen; in memory, written about once a second."""

        async def counting(request: Request) -> Response:
            response = await run(request)
            source = getattr(request.state, "scim_source", None)
            if source is not None:
                detail = getattr(request.state, "scim_error", "")
                tally.count(source, sources.base.now_text(), response.status_code, detail)
            return response

        return counting

    def what(request: Request) -> str:
        client = request.client.host if request.client else "unknown"
        return f"SCIM {request.method} {request.url.path} from {client}"

    async def config(request: Request, resources: ScimResources, locked: Any) -> Response:
        return scim_json(discovery.service_provider_config())

    async def resource_types(request: Request, resources: ScimResources, locked: Any) -> Response:
        return scim_json(_listing(discovery.resource_types()))

    async def schemas(request: Request, resources: ScimResources, locked: Any) -> Response:
        return scim_json(_listing(discovery.schemas()))

    async def resource_type(request: Request, resources: ScimResources, locked: Any) -> Response:
        found = {t["id"]: t for t in discovery.resource_types()}.get(request.path_params["ident"])
        if found is None:
            raise ScimError(404, f"no resource type {quoted(request.path_params['ident'])}: User and Group")
        return scim_json(found)

    async def schema(request: Request, resources: ScimResources, locked: Any) -> Response:
        found = {t["id"]: t for t in discovery.schemas()}.get(request.path_params["ident"])
        if found is None:
            raise ScimError(
                404, f"no schema {quoted(request.path_params['ident'])}: {CORE_USER} and {CORE_GROUP}"
            )
        return scim_json(found)

    async def collection(request: Request, resources: ScimResources, locked: Any) -> Response:
        if request.method == "POST":
            body, raw = await _body(request)
            created = await run_in_threadpool(
                locked, resources.create, body, raw, what(request), _shape(request)
            )
            location = str(request.url_for(resources.kind, ident=created["id"]))
            return scim_json(created, 201, {"Location": location, "ETag": created["meta"]["version"]})
        query = request.query_params
        return await search(
            resources,
            locked,
            query.get("filter"),
            _int_param(request, "startIndex", 1),
            # Without a count, a page holds as many as ServiceProviderConfig's filter.maxResults says.
            _int_param(request, "count", MAX_COUNT),
            _shape(request),
            query.get("sortBy"),
            query.get("sortOrder"),
        )

    async def search(
        resources: ScimResources,
        locked: Any,
        filter_text: str | None,
        start: int,
        count: int,
        shape: Shape,
        sort_by: str | None,
        sort_order: str | None,
    ) -> Response:
        order = (sort_order or "ascending").casefold()
        if order not in ("ascending", "descending"):
            raise ScimError(400, f"sortOrder: {quoted(order)} is not ascending or descending", "invalidValue")
        listing = await run_in_threadpool(
            locked, resources.list, filter_text, start, count, shape, sort_by, order == "descending"
        )
        return scim_json(_listing(listing.resources, listing.total, listing.start))

    async def searched(request: Request, resources: ScimResources, locked: Any) -> Response:
        """POST /Users/.search (RFC 7644 §3.4.3): a SearchRequest read by scim2-models, answered as a GET."""
        wanted = _search_request(await _body(request))
        return await search(
            resources,
            locked,
            str(wanted.filter) if wanted.filter is not None else None,
            _paging(wanted.start_index or 1),
            MAX_COUNT if wanted.count is None else _paging(wanted.count),
            _search_shape(wanted),
            str(wanted.sort_by) if wanted.sort_by is not None else None,
            wanted.sort_order.value if wanted.sort_order is not None else None,
        )

    async def search_everything(request: Request, resources: ScimResources, locked: Any) -> Response:
        """POST /.search: every resource type of the source at once, Users then Groups."""
        wanted = _search_request(await _body(request))
        if wanted.sort_by is not None:
            raise ScimError(
                400,
                "sortBy: a search of every resource type is not sorted; sort at /Users/.search or "
                "/Groups/.search",
                "invalidValue",
            )
        listing = await run_in_threadpool(
            locked,
            search_all,
            resources.directory,
            resources.source,
            str(wanted.filter) if wanted.filter is not None else None,
            _paging(wanted.start_index or 1),
            MAX_COUNT if wanted.count is None else _paging(wanted.count),
            _search_shape(wanted),
        )
        return scim_json(_listing(listing.resources, listing.total, listing.start))

    async def bulk(request: Request, resources: ScimResources, locked: Any) -> Response:
        """POST /Bulk (RFC 7644 §3.7): every operation, in order, in one transaction (store/scim_bulk.py)."""
        operations = read_request((await _body(request))[0])
        answers = await run_in_threadpool(
            locked, apply_request, resources.directory, resources.source, operations, what(request)
        )
        return scim_json({"schemas": [BULK_RESPONSE], "Operations": answers})

    async def single(request: Request, resources: ScimResources, locked: Any) -> Response:
        ident = request.path_params["ident"]
        if request.method == "GET":
            return _tagged(await run_in_threadpool(locked, resources.get, ident, _shape(request)))
        if_match = request.headers.get("if-match")

        def checked(method: Callable[..., Any], *args: Any) -> Any:
            # Under the source's lock, so no other request of this source slips in between.
            if if_match is not None and if_match.strip() != "*":
                resources.check_version(ident, {tag.strip() for tag in if_match.split(",")})
            return method(*args)

        if request.method == "DELETE":
            await run_in_threadpool(locked, checked, resources.delete, ident, b"", what(request))
            return Response(status_code=204)
        body, raw = await _body(request)
        method = resources.replace if request.method == "PUT" else resources.patch
        shape = _shape(request)
        quiet = request.method == "PATCH" and resources.kind == "Group" and shape == Shape()
        if quiet:
            # A group's PATCH answers 204 with its new ETag (RFC 7644 §3.5.2 allows it; Entra ID's
            # documented exchange has it): a provider adding 100 members to a group of 100,000
            # does not get the 100,000 back. With attributes or excludedAttributes it gets what it asked.
            shape = Shape(excluded=frozenset({"members"}))
        changed = await run_in_threadpool(locked, checked, method, ident, body, raw, what(request), shape)
        if quiet:
            return Response(status_code=204, headers={"ETag": changed["meta"]["version"]})
        return _tagged(changed)

    async def not_found(request: Request, exc: HTTPException) -> Response:
        detail = "no such SCIM endpoint" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, detail)

    async def write_stats_now_and_then() -> None:
        while True:
            await asyncio.sleep(STATS_EVERY)
            try:
                await run_in_threadpool(sources.write_stats, tally)
            except Exception as exc:  # noqa: BLE001 - statistics must never stop the server
                log.error("SCIM request statistics not written: %s", type(exc).__name__)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer = asyncio.create_task(write_stats_now_and_then())
        yield
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer  # a write under way finishes first (a worker thread is not interrupted)
        sources.write_stats(tally)  # the last second's counts
        sources.close()

    routes = [
        Route(f"{PREFIX}/ServiceProviderConfig", endpoint(config), methods=["GET"]),
        Route(f"{PREFIX}/ResourceTypes", endpoint(resource_types), methods=["GET"]),
        Route(f"{PREFIX}/Schemas", endpoint(schemas), methods=["GET"]),
        Route(f"{PREFIX}/ResourceTypes/{{ident}}", endpoint(resource_type), methods=["GET"]),
        Route(f"{PREFIX}/Schemas/{{ident}}", endpoint(schema), methods=["GET"]),
        Route(f"{PREFIX}/.search", endpoint(search_everything), methods=["POST"]),
        Route(f"{PREFIX}/Bulk", endpoint(bulk), methods=["POST"]),
    ]
    for kind in (ScimUsers, ScimGroups):
        routes.append(Route(f"{PREFIX}/{kind.endpoint}", endpoint(collection, kind), methods=["GET", "POST"]))
        routes.append(Route(f"{PREFIX}/{kind.endpoint}/.search", endpoint(searched, kind), methods=["POST"]))
        routes.append(
            Route(
                f"{PREFIX}/{kind.endpoint}/{{ident}}",
                endpoint(single, kind),
                methods=["GET", "PUT", "PATCH", "DELETE"],
                name=kind.kind,
            )
        )
    # Starlette types every handler for Exception; this one, registered for HTTPException, gets only those.
    handlers = {HTTPException: not_found}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    app.state.body_timeout = body_timeout
    return app
