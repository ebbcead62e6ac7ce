"""The audit log: one event per change or sign-in, written in the change's own transaction, hash-chained.

Each event's hash covers the previous event's hash and the event's own fields, so editing an event, deleting
one, or swapping two breaks the chain at that point; the head (last sequence number and hash) is also kept in
``settings`` so that cutting events off the end is noticed too.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from store.csvsafe import neutralise

GENESIS = "0" * 64
HEAD_KEY = "audit.head"
# Field names whose values never reach the log, whatever row they come from.
SECRET_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "totp_secret",
        "totp_secret_sealed",
        "secret_hash",
        "token_hash",
        "code_hash",
        "secret",
        "session_token",
        "recovery_codes",
    }
)
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    """Who makes a change: ``root``, ``alice`` or ``cli:<os user>``, and through what (``console``, ``cli``)."""

    name: str
    source: str


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: str
    actor: str
    source: str
    action: str
    target: str
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "source": self.source,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret field's value replaced."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if k in SECRET_FIELDS and v is not None else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _digest(
    key: bytes | None,
    prev_hash: str,
    at: str,
    actor: str,
    source: str,
    action: str,
    target: str,
    details: str,
) -> str:
    payload = json.dumps([prev_hash, at, actor, source, action, target, details], ensure_ascii=False).encode()
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _head(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
    if row is None:
        return 0, GENESIS
    seq, _, digest = row[0].partition(":")
    return int(seq), digest


def record(
    conn: sqlite3.Connection,
    *,
    at: str,
    actor: Actor,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    extra: Mapping[str, Any] | None = None,
    key: bytes | None = None,
) -> int:
    """Append one event. Call inside the write transaction of the change it describes."""
    details: dict[str, Any] = {}
    if before is not None:
        details["before"] = redact(before)
    if after is not None:
        details["after"] = redact(after)
    if extra:
        details.update(redact(dict(extra)))
    details_text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    last_seq, prev_hash = _head(conn)
    digest = _digest(key, prev_hash, at, actor.name, actor.source, action, target, details_text)
    seq = last_seq + 1
    conn.execute(
        "INSERT INTO audit (seq, at, actor, source, action, target, details, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor.name, actor.source, action, target, details_text, prev_hash, digest),
    )
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = version + 1",
        (HEAD_KEY, f"{seq}:{digest}"),
    )
    return seq


def verify(conn: sqlite3.Connection, key: bytes | None = None) -> VerifyResult:
    """Walk the chain; name the first event that was altered, deleted or moved."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
        count += 1
        seq = row["seq"]
        own = _digest(
            key,
            row["prev_hash"],
            row["at"],
            row["actor"],
            row["source"],
            row["action"],
            row["target"],
            row["details"],
        )
        if own != row["hash"]:
            return VerifyResult(
                False, count, seq, f"event {seq} was altered: its contents no longer match its hash"
            )
        if seq != expected_seq:
            return VerifyResult(
                False,
                count,
                expected_seq,
                f"event {expected_seq} is missing: it was deleted (the log jumps from {expected_seq - 1} to {seq})",
            )
        if row["prev_hash"] != expected_prev:
            return VerifyResult(
                False,
                count,
                seq,
                f"event {seq} is out of place: it does not follow event {seq - 1} "
                "(events were reordered, or one before it was deleted)",
            )
        expected_prev, expected_seq = row["hash"], seq + 1
    head_seq, head_hash = _head(conn)
    if head_seq != expected_seq - 1 or (head_seq and head_hash != expected_prev):
        return VerifyResult(
            False,
            count,
            expected_seq,
            f"event {expected_seq} is missing: events from {expected_seq} on were deleted "
            f"(the log's head says it ends at event {head_seq})",
        )
    return VerifyResult(True, count)


def _event(row: sqlite3.Row) -> AuditEvent:
    return AuditEvent(
        row["seq"],
        row["at"],
        row["actor"],
        row["source"],
        row["action"],
        row["target"],
        json.loads(row["details"]),
    )


def events(
    conn: sqlite3.Connection, *, after_seq: int = 0, limit: int | None = None, newest_first: bool = False
) -> Iterator[AuditEvent]:
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT * FROM audit WHERE seq > ? ORDER BY seq {order}"
    params: tuple[Any, ...] = (after_seq,)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    for row in conn.execute(sql, params):
        yield _event(row)


def export_jsonl(rows: Iterator[AuditEvent]) -> Iterator[str]:
    for event in rows:
        yield json.dumps(event.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"


def export_csv(rows: Iterator[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "at", "actor", "source", "action", "target", "details"])
    for event in rows:
        writer.writerow(
            [
                event.seq,
                event.at,
                neutralise(event.actor),
                event.source,
                event.action,
                neutralise(event.target),
                neutralise(json.dumps(event.details, ensure_ascii=False, sort_keys=True)),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
