"""The live sync guard of SCIM provisioning (issue 15): a source whose identity provider deactivates more than
:data:`GUARD_SHARE` of its active users within :data:`GUARD_WINDOW` is paused: its writes are refused (503)
until an admin resumes it (``tui scim resume --source NAME``). An IdP that lost its HR feed or had a bad
assignment rule must not lock the company out in seconds; a real leaver still loses access at once.
"""

from __future__ import annotations

import builtins
import math
import sqlite3
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from store import audit
from store.clock import from_text, to_text
from store.errors import Refused, StoreError
from store.importer import LOCAL, check_source
from store.names import quoted
from store.rights import Rule
from store.scim_tokens import ScimToken

if TYPE_CHECKING:
    from store.directory import Directory

GUARD_SHARE = 0.10  # as the import's mass-disable guard (store/importer/resolve.py MASS_DISABLE_SHARE)
GUARD_WINDOW = timedelta(minutes=10)
RETRY_AFTER = 600  # seconds an identity provider is told to wait while a source is paused
ERROR_DETAIL_MAX = 300  # characters of an error's detail kept for the console: enough to say what went wrong
STATS_WHAT = "record SCIM request statistics"


class Paused(StoreError):
    """The source is paused: its writes wait for an admin (503 with Retry-After)."""


@dataclass(frozen=True)
class SourceState:
    source: str
    paused_at: str | None
    paused_reason: str | None
    resumed_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "paused": self.paused_at is not None,
            "paused_at": self.paused_at,
            "paused_reason": self.paused_reason,
            "resumed_at": self.resumed_at,
        }


@dataclass(frozen=True)
class RequestError:
    """The last request of a source that failed: its HTTP status and the detail its client was sent."""

    at: str
    status: int
    detail: str


@dataclass(frozen=True)
class SourceOverview:
    """One identity-provider source as the console's Sources screen shows it."""

    source: str
    paused_at: str | None
    paused_reason: str | None
    users: int  # the source's users (active and disabled: the rows stay for the audit trail)
    active_users: int
    groups: int
    requests: int  # seen by tui scim serve
    errors: int
    last_request_at: str | None
    last_error: RequestError | None
    tokens: tuple[ScimToken, ...]  # newest first, revoked and expired included

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class RequestTally:
    """Request statistics of ``tui scim serve``, counted in memory and written in batches: a commit per
    request (an fsync each, with synchronous=FULL) would cost a busy identity provider as much as its changes
    do. The server drains it about once a second and at shutdown; what a crash loses is a second of counts.
    Thread-safe: requests are counted on the event loop, drained in a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, int, str, RequestError | None]] = {}

    def count(self, source: str, at: str, status: int, detail: str = "") -> None:
        with self._lock:
            requests, errors, _, error = self._pending.get(source, (0, 0, at, None))
            if status >= 400:
                errors += 1
                error = RequestError(at, status, detail[:ERROR_DETAIL_MAX])
            self._pending[source] = (requests + 1, errors, at, error)

    def drain(self) -> dict[str, tuple[int, int, str, RequestError | None]]:
        """What was counted since the last drain, per source: (requests, errors, last request, last error)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def give_back(self, source: str, counted: tuple[int, int, str, RequestError | None]) -> None:
        """Counts whose write failed (the file was busy): kept for the next drain rather than lost."""
        requests, errors, at, error = counted
        with self._lock:
            now_requests, now_errors, now_at, now_error = self._pending.get(source, (0, 0, at, None))
            self._pending[source] = (requests + now_requests, errors + now_errors, now_at, now_error or error)


class ScimSourceService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def state(self, source: str) -> SourceState:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM scim_sources WHERE source = ?", (source,)).fetchone()
        if row is None:
            return SourceState(source, None, None, None)
        return SourceState(row["source"], row["paused_at"], row["paused_reason"], row["resumed_at"])

    def list(self) -> list[SourceState]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT source FROM scim_sources ORDER BY source").fetchall()
        return [self.state(row["source"]) for row in rows]

    def overview(self) -> builtins.list[SourceOverview]:
        """Every identity-provider source the directory knows of: one with a SCIM token, a pause or request
        statistics, or users or groups imported from it; by name. ``local`` is not a source of this kind."""
        with self.db.read() as conn:
            names = {
                row[0]
                for row in conn.execute(
                    "SELECT source FROM scim_tokens UNION SELECT source FROM scim_sources "
                    "UNION SELECT source FROM scim_request_stats "
                    "UNION SELECT DISTINCT source FROM users WHERE is_root = 0 "
                    "UNION SELECT DISTINCT source FROM groups"
                )
            }
            names.discard(LOCAL)
            users = {
                row[0]: (row[1], row[2])
                for row in conn.execute(
                    "SELECT source, count(*), count(*) FILTER (WHERE status = 'active') FROM users "
                    "WHERE is_root = 0 AND source != ? GROUP BY source",
                    (LOCAL,),
                )
            }
            groups = dict(
                conn.execute(
                    "SELECT source, count(*) FROM groups WHERE source != ? GROUP BY source", (LOCAL,)
                ).fetchall()
            )
            paused = {row["source"]: row for row in conn.execute("SELECT * FROM scim_sources")}
            stats = {row["source"]: row for row in conn.execute("SELECT * FROM scim_request_stats")}
            tokens: dict[str, list[ScimToken]] = {}
            for row in conn.execute("SELECT * FROM scim_tokens ORDER BY id DESC"):
                tokens.setdefault(row["source"], []).append(ScimToken.from_row(row))
        result = []
        for name in sorted(names, key=lambda n: (n.casefold(), n)):
            state, stat = paused.get(name), stats.get(name)
            error = None
            if stat is not None and stat["last_error_at"] is not None:
                error = RequestError(stat["last_error_at"], stat["last_error_status"], stat["last_error"])
            result.append(
                SourceOverview(
                    source=name,
                    paused_at=state["paused_at"] if state is not None else None,
                    paused_reason=state["paused_reason"] if state is not None else None,
                    users=users.get(name, (0, 0))[0],
                    active_users=users.get(name, (0, 0))[1],
                    groups=groups.get(name, 0),
                    requests=stat["requests"] if stat is not None else 0,
                    errors=stat["errors"] if stat is not None else 0,
                    last_request_at=stat["last_request_at"] if stat is not None else None,
                    last_error=error,
                    tokens=tuple(tokens.get(name, ())),
                )
            )
        return result

    def held_memberships(self, user_id: int) -> builtins.list[tuple[str, str]]:
        """(group, source) of each membership a SCIM deactivation took from ``user_id`` and remembers: the
        source gives it back if it reactivates the user (store/scim_resources.py). By group name."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT g.name, g.source FROM scim_suspended_memberships s "
                "JOIN groups g ON g.id = s.group_id WHERE s.user_id = ? AND g.scim_deleted_at IS NULL "
                "ORDER BY g.name_key",
                (user_id,),
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def known(self) -> bool:
        """Does the directory know of any identity-provider source (the console then shows Sources)?"""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM scim_tokens) OR EXISTS (SELECT 1 FROM scim_sources) "
                "OR EXISTS (SELECT 1 FROM users WHERE source != ?) OR EXISTS (SELECT 1 FROM groups "
                "WHERE source != ?)",
                (LOCAL, LOCAL),
            ).fetchone()
        return bool(row[0])

    def paused_sources(self) -> builtins.list[SourceState]:
        """The sources paused now (the dashboard flags them)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM scim_sources WHERE paused_at IS NOT NULL ORDER BY source"
            ).fetchall()
        return [
            SourceState(row["source"], row["paused_at"], row["paused_reason"], row["resumed_at"])
            for row in rows
        ]

    def record_requests(
        self,
        source: str,
        requests: int = 1,
        errors: int = 0,
        last_request_at: str | None = None,
        last_error: RequestError | None = None,
    ) -> None:
        """Add ``requests`` (``errors`` of them failed) to ``source``'s statistics: one UPSERT. Telemetry, not
        directory state, so no audit event (each change a request made has its own); still through the rights
        check, under the import rule: the source's own provisioning principal, an admin or the owner."""
        with self.directory.change(Rule.IMPORT, source=source, what=STATS_WHAT) as conn:
            at = last_request_at or self.directory.now_text()
            conn.execute(
                "INSERT INTO scim_request_stats (source, requests, errors, last_request_at, last_error_at, "
                "last_error_status, last_error) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET requests = requests + excluded.requests, "
                "errors = errors + excluded.errors, "
                "last_request_at = max(coalesce(last_request_at, ''), excluded.last_request_at), "
                "last_error_at = coalesce(excluded.last_error_at, last_error_at), "
                "last_error_status = coalesce(excluded.last_error_status, last_error_status), "
                "last_error = coalesce(excluded.last_error, last_error)",
                (
                    source,
                    requests,
                    errors,
                    at,
                    last_error.at if last_error else None,
                    last_error.status if last_error else None,
                    last_error.detail[:ERROR_DETAIL_MAX] if last_error else None,
                ),
            )

    def check_writable(self, source: str) -> None:
        """Raise Paused while ``source`` is paused."""
        state = self.state(source)
        if state.paused_at is not None:
            raise Paused(
                f"provisioning of source {quoted(source)} is paused since {state.paused_at}: "
                f"{state.paused_reason}. An administrator resumes it with: tui scim resume --source {source}"
            )

    def guard(self, source: str, deactivating: int) -> None:
        """Before a request deactivates ``deactivating`` users of ``source``: pause the source and raise
        Paused if that would make more than GUARD_SHARE of its active users deactivated within GUARD_WINDOW
        (rounded up, at least one)."""
        if deactivating <= 0:
            return
        now = self.directory.now_text()
        since = to_text(from_text(now) - GUARD_WINDOW)
        # Deactivations an admin already looked at (up to the second of the resume) no longer count.
        resumed = self.state(source).resumed_at or ""
        with self.db.read() as conn:
            active, recent = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = "
                "'disabled' AND updated_at >= ? AND updated_at > ?) FROM users "
                "WHERE source = ? AND is_root = 0",
                (since, resumed, source),
            ).fetchone()
        allowed = max(1, math.ceil(GUARD_SHARE * (active + recent)))
        if recent + deactivating <= allowed:
            return
        reason = (
            f"{recent + deactivating} deactivations within {int(GUARD_WINDOW.total_seconds() // 60)} minutes "
            f"would be more than {int(GUARD_SHARE * 100)}% of the source's {active + recent} active users"
        )
        self.pause(source, reason)
        self.check_writable(source)

    def pause(self, source: str, reason: str) -> None:
        """Pause ``source`` (its own provisioning principal may, or an admin)."""
        check_source(source)
        with self.directory.change(Rule.IMPORT, source=source, what="pause provisioning") as conn:
            now = self.directory.now_text()
            conn.execute(
                "INSERT INTO scim_sources (source, paused_at, paused_reason) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO UPDATE SET paused_at = excluded.paused_at, "
                "paused_reason = excluded.paused_reason",
                (source, now, reason),
            )
            self._audit(conn, "scim.source.pause", source, reason)

    def resume(self, source: str) -> None:
        """Resume a paused source: its writes pass again, and the guard counts from now. Admin only."""
        check_source(source)
        with self.directory.change(what="resume provisioning") as conn:
            row = conn.execute("SELECT paused_at FROM scim_sources WHERE source = ?", (source,)).fetchone()
            if row is None or row["paused_at"] is None:
                raise Refused(f"provisioning of source {quoted(source)} is not paused")
            conn.execute(
                "UPDATE scim_sources SET paused_at = NULL, paused_reason = NULL, resumed_at = ? "
                "WHERE source = ?",
                (self.directory.now_text(), source),
            )
            self._audit(conn, "scim.source.resume", source, None)

    def _audit(self, conn: sqlite3.Connection, action: str, source: str, reason: str | None) -> None:
        audit.record(
            conn,
            at=self.directory.now_text(),
            actor=self.directory.actor,
            action=action,
            target=f"source:{source}",
            extra={"reason": reason} if reason else None,
            key=self.directory.audit_key,
        )
