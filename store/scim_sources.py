"""The live sync guard of SCIM provisioning (issue 15): a source whose identity provider deactivates more than
:data:`GUARD_SHARE` of its active users within :data:`GUARD_WINDOW` is paused: its writes are refused (503)
until an admin resumes it (``tui scim resume --source NAME``). An IdP that lost its HR feed or had a bad
assignment rule must not lock the company out in seconds; a real leaver still loses access at once.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from store import audit
from store.clock import from_text, to_text
from store.errors import Refused, StoreError
from store.importer import check_source
from store.rights import Rule

if TYPE_CHECKING:
    from store.directory import Directory

GUARD_SHARE = 0.10  # as the import's mass-disable guard (store/importer.py MASS_DISABLE_SHARE)
GUARD_WINDOW = timedelta(minutes=10)
RETRY_AFTER = 600  # seconds an identity provider is told to wait while a source is paused


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

    def check_writable(self, source: str) -> None:
        """Raise Paused while ``source`` is paused."""
        state = self.state(source)
        if state.paused_at is not None:
            raise Paused(
                f"provisioning of source {source!r} is paused since {state.paused_at}: "
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
                raise Refused(f"provisioning of source {source!r} is not paused")
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
