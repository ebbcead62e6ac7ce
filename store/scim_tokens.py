"""SCIM provisioning tokens: a bearer token acts for exactly one identity-provider source (issue 15).

A token is 256 random bits shown once when created and stored only as its SHA-256 (store/crypto/tokens.py).
It expires (``P90D`` unless told otherwise) and can be revoked; expired and revoked rows stay for the audit
trail. :meth:`ScimTokenService.authenticate` turns a presented token into its source, with one message for
whatever is wrong (unknown, expired, revoked), so a caller learns nothing from the refusal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from store import audit
from store.clock import from_text, to_text
from store.crypto.tokens import hash_secret, new_scim_token, secrets_equal
from store.durations import parse_validity
from store.errors import NotFound, Refused, ValidationError
from store.importer import LOCAL, check_source
from store.rights import Rule

if TYPE_CHECKING:
    from store.directory import Directory

DEFAULT_EXPIRES = "P90D"
MIN_SECONDS = 60 * 60  # an hour
MAX_SECONDS = 730 * 24 * 60 * 60  # two years: a token that never expires is a token nobody rotates
WHAT = "manage SCIM provisioning tokens"
# last_used_at is written at most this often per token: a busy IdP must not cost a write per request.
TOUCH_EVERY = timedelta(minutes=1)
# Compared against when a token is unknown, so an unknown token costs what a known one does.
_DUMMY_HASH = hash_secret("no such SCIM token")
INVALID = "the SCIM token is not valid (unknown, expired or revoked)"


@dataclass(frozen=True)
class ScimToken:
    id: int
    source: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    last_used_at: str | None
    created_by: str

    @staticmethod
    def from_row(row: sqlite3.Row | Mapping[str, Any]) -> ScimToken:
        return ScimToken(
            row["id"],
            row["source"],
            row["created_at"],
            row["expires_at"],
            row["revoked_at"],
            row["last_used_at"],
            row["created_by"],
        )

    def status(self, now: str) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"

    def as_dict(self, now: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "status": self.status(now),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class NewScimToken:
    """A token just created. The bearer token exists only here: show it once, never store or log it."""

    token: ScimToken
    bearer: str = field(repr=False)


class ScimTokenService:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.db = directory.db

    def create(self, source: str, expires: str = DEFAULT_EXPIRES) -> NewScimToken:
        """A new token for ``source`` valid for ``expires`` (ISO-8601, ``P90D``). Admin only."""
        if isinstance(source, str) and not source.strip():
            raise ValidationError(
                "source: required: the identity provider's name, as its users' source (e.g. okta)", "source"
            )
        check_source(source)
        if source == LOCAL:
            raise ValidationError(
                "source: 'local' names the users made in this directory: a SCIM token acts for an identity "
                "provider (e.g. --source okta)",
                "source",
            )
        seconds = parse_validity(expires, "expires", minimum=MIN_SECONDS, maximum=MAX_SECONDS)
        bearer = new_scim_token()
        with self.directory.change(what=WHAT) as conn:
            now = self.directory.now_text()
            expires_at = to_text(from_text(now) + timedelta(seconds=seconds))
            row_id = conn.execute(
                "INSERT INTO scim_tokens (source, token_hash, created_at, expires_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (source, hash_secret(bearer), now, expires_at, self.directory.actor.name),
            ).lastrowid
            row = conn.execute("SELECT * FROM scim_tokens WHERE id = ?", (row_id,)).fetchone()
            self._audit(conn, "scim.token.create", row)
        return NewScimToken(ScimToken.from_row(row), bearer)

    def list(self, source: str | None = None) -> list[ScimToken]:
        """Every token (of ``source``), newest first. Never the bearer token: only its hash is kept."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM scim_tokens WHERE ? IS NULL OR source = ? ORDER BY id DESC", (source, source)
            ).fetchall()
        return [ScimToken.from_row(row) for row in rows]

    def get(self, token_id: int) -> ScimToken:
        with self.db.read() as conn:
            return ScimToken.from_row(self._row(conn, token_id))

    def revoke(self, token_id: int) -> ScimToken:
        """Revoke token #``token_id`` now: the next request that presents it gets 401. Admin only."""
        with self.directory.change(what=WHAT) as conn:
            row = self._row(conn, token_id)
            if row["revoked_at"] is not None:
                raise Refused(f"SCIM token #{token_id} was already revoked at {row['revoked_at']}")
            conn.execute(
                "UPDATE scim_tokens SET revoked_at = ? WHERE id = ?", (self.directory.now_text(), token_id)
            )
            row = self._row(conn, token_id)
            self._audit(conn, "scim.token.revoke", row)
        return ScimToken.from_row(row)

    def authenticate(self, token: str) -> str:
        """The source ``token`` acts for, if it is known, unexpired and not revoked; records its last use (at
        most once a minute). Raises Refused with one message whatever was wrong."""
        return self.identify(token)[0]

    def identify(self, token: str) -> tuple[str, int]:
        """:meth:`authenticate`, with the token's row id: (source, token id)."""
        digest = hash_secret(token) if isinstance(token, str) else _DUMMY_HASH
        now = self.directory.now_text()
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM scim_tokens WHERE token_hash = ?", (digest,)).fetchone()
        matches = secrets_equal(digest, row["token_hash"] if row is not None else _DUMMY_HASH)
        if row is None or not matches or row["revoked_at"] is not None or row["expires_at"] <= now:
            raise Refused(INVALID)
        last = row["last_used_at"]
        if last is None or from_text(now) - from_text(last) >= TOUCH_EVERY:
            with self.directory.change(Rule.AUTHENTICATION) as conn:
                # Revoked between the read and now: refused all the same.
                touched = conn.execute(
                    "UPDATE scim_tokens SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (now, row["id"]),
                ).rowcount
            if not touched:
                raise Refused(INVALID)
        return str(row["source"]), int(row["id"])

    def _row(self, conn: sqlite3.Connection, token_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM scim_tokens WHERE id = ?", (token_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"SCIM token #{token_id} does not exist (see tui scim token list)")
        return row

    def _audit(self, conn: sqlite3.Connection, action: str, row: sqlite3.Row) -> None:
        audit.record(
            conn,
            at=self.directory.now_text(),
            actor=self.directory.actor,
            action=action,
            target=f"source:{row['source']}",
            extra={"token": row["id"], "expires_at": row["expires_at"]},
            key=self.directory.audit_key,
        )
