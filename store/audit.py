"""The audit log: one event per change or sign-in, written in the change's own transaction, hash-chained.

Each event's hash covers the previous event's hash and the event's own fields, so editing an event, deleting
one, or swapping two breaks the chain at that point; the head (last sequence number and hash) is also kept in
``settings`` so that cutting events off the end is noticed too.

Once a directory is initialised, the chain and its head are HMACs keyed by the key file (kept apart from the
database): whoever can write the database but cannot read the key file can neither rewrite events, nor cut
the tail and rewrite the head, nor wipe the log (an initialised directory with no events fails). What no key
can show is a rollback to an older genuine state (an old copy of the file): ``tui audit verify --json``
prints the head so that it can be recorded elsewhere, and ``--expect-head SEQ:HASH`` later proves the log
still holds that event, unchanged.
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
from store.errors import NotFound, Refused
from store.names import escape_json, quoted, visible
from store.service import MAX_PAGE, PAGE_SIZE, Page, like_contains

GENESIS = "0" * 64
HEAD_KEY = "audit.head"
# Set in an event's details when it was appended onto a head that did not verify (the log had been cut).
HEAD_PROBLEM = "audit_head_problem"
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
    """Who makes a change (``root``, ``alice``, ``os:<os user>``) and through what (``console``, ``cli``)."""

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
    head: str = ""  # "SEQ:HASH" of the last event: record it elsewhere, check it later with --expect-head
    keyed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "head": self.head,
            "keyed": self.keyed,
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


def _head_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"tui-audit-head:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def sealed_head(key: bytes, text: str) -> tuple[int, str] | None:
    """(seq, hash) of a head ``SEQ:HASH:MAC`` sealed with ``key``, or None when it is not."""
    parts = text.split(":")
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit() and len(parts[0]) <= 18):
        return None
    seq, digest, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac.encode(), _head_mac(key, seq, digest).encode()):
        return None
    return seq, digest


def file_digest(key: bytes | None, sha256: str) -> str | None:
    """How an import names its file in the audit log and ``import_batches``: an HMAC of the file's SHA-256
    under the directory's key, never the SHA-256 itself. A file's plain digest let whoever read the log test
    guesses of the passwords the file held (an identity provider's template with one cell unknown) at the
    speed of SHA-256 (red-team). ``tui audit digest FILE`` gives a file's, to look it up. None without a key
    (before ``tui init``): nothing is recorded then."""
    if key is None:
        return None
    return "hmac-sha256:" + hmac.new(key, f"tui-import-file:{sha256}".encode(), hashlib.sha256).hexdigest()


def _head_value(key: bytes | None, seq: int, digest: str) -> str:
    """``SEQ:HASH``, and with a key ``:MAC`` over both (sequence numbers run from 1: SEQ is the count)."""
    return f"{seq}:{digest}" if key is None else f"{seq}:{digest}:{_head_mac(key, seq, digest)}"


def _read_head(conn: sqlite3.Connection, key: bytes | None) -> tuple[int, str, str | None]:
    """The stored head's (seq, hash) and, when it cannot be trusted, why not (None: it can)."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
    if row is None:
        if key is not None and conn.execute("SELECT 1 FROM audit LIMIT 1").fetchone() is not None:
            return 0, GENESIS, "the log's head was deleted"
        return 0, GENESIS, None
    parts = str(row[0]).split(":")
    try:
        seq, digest = int(parts[0]), parts[1]
    except (ValueError, IndexError):
        return 0, GENESIS, "the log's head is not readable"
    if key is not None and sealed_head(key, str(row[0])) != (seq, digest):
        return seq, digest, "the log's head was rewritten without the key file"
    return seq, digest, None


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
    # What a request named (a SCIM URL's path, a client's address) is kept as one line of visible text: a
    # raw escape sequence would reach whoever reads the table with another tool.
    target = visible(target)
    details: dict[str, Any] = {}
    if before is not None:
        details["before"] = redact(before)
    if after is not None:
        details["after"] = redact(after)
    if extra:
        details.update(redact(dict(extra)))
    last_seq, prev_hash, head_problem = _read_head(conn, key)
    if head_problem is not None:
        # Appending onto an untrusted head would bless a cut: chain onto the real last event and say so in
        # this event (keyed, so it stays), which verify reports for good.
        details[HEAD_PROBLEM] = head_problem
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        last_seq, prev_hash = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS)
    details_text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
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
        (HEAD_KEY, _head_value(key, seq, digest)),
    )
    return seq


def rekey(conn: sqlite3.Connection, key: bytes) -> int:
    """Chain the events written so far (plain SHA-256: before the directory had a key) again with ``key``,
    after checking their plain chain; returns how many. Refused if the plain chain is broken."""
    checked = verify(conn, None)
    if not checked.ok:
        raise Refused(f"the audit log is broken ({checked.problem}); nothing was changed")
    prev = GENESIS
    rows = conn.execute("SELECT seq, at, actor, source, action, target, details FROM audit ORDER BY seq")
    for seq, at, actor, source, action, target, details in rows.fetchall():
        digest = _digest(key, prev, at, actor, source, action, target, details)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    if checked.events:
        conn.execute(
            "UPDATE settings SET value = ?, version = version + 1 WHERE key = ?",
            (_head_value(key, checked.events, prev), HEAD_KEY),
        )
    return checked.events


def verify(
    conn: sqlite3.Connection,
    key: bytes | None = None,
    *,
    initialised: bool = False,
    expect_head: str | None = None,
) -> VerifyResult:
    """Walk the chain; name the first event that was altered, deleted or moved, a cut tail, or a wiped log
    (``initialised``: the directory has root and a key, so its log cannot be empty); then check that the
    event of ``expect_head`` (``SEQ:HASH``, printed by an earlier verify) is still there, unchanged."""
    result = _walk(conn, key, initialised)
    if not result.ok or expect_head is None:
        return result
    seq_text, _, digest = expect_head.strip().partition(":")
    # ASCII digits within SQLite's integers: "²" is a digit to str.isdigit, and a larger number overflows.
    seq = int(seq_text) if seq_text.isascii() and seq_text.isdigit() and len(seq_text) <= 18 else None
    if seq is not None and holds_event(conn, seq, digest.lower()):  # hex, as typed or pasted in either case
        return result
    return VerifyResult(
        False,
        result.events,
        seq,
        f"the log no longer holds the head {quoted(expect_head.strip())} recorded earlier: it was "
        "cut back, rolled back to an older copy, or rewritten since",
        result.head,
        result.keyed,
    )


def reseal(conn: sqlite3.Connection, key: bytes) -> tuple[str, str]:
    """Seal the head again with ``key`` after checking every event's keyed link (the head aside): for a log
    whose head was written before heads were keyed. Returns (the old head's text, the new ``SEQ:HASH``).
    Refused if any event does not verify. A cut made before the reseal cannot be detected after it: the
    caller says so, and records the reseal as an event of its own."""
    checked = _walk(conn, key, initialised=True, check_head=False)
    if not checked.ok:
        raise Refused(f"the audit log is broken ({checked.problem}); nothing was changed")
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
    seq, _, digest = checked.head.partition(":")
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = version + 1",
        (HEAD_KEY, _head_value(key, int(seq), digest)),
    )
    return ("" if row is None else str(row[0])), checked.head


def holds_event(conn: sqlite3.Connection, seq: int, digest: str) -> bool:
    """Does the log still hold event ``seq`` with the hash ``digest`` (a head recorded earlier, the file's
    mark)."""
    row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a mistyped head may hold.
    return row is not None and hmac.compare_digest(str(row[0]).encode(), digest.encode())


def _walk(
    conn: sqlite3.Connection, key: bytes | None, initialised: bool, *, check_head: bool = True
) -> VerifyResult:
    expected_prev, expected_seq, count = GENESIS, 1, 0
    keyed = key is not None

    def broken(at: int | None, problem: str) -> VerifyResult:
        return VerifyResult(False, count, at, problem, keyed=keyed)

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
        if not hmac.compare_digest(own, str(row["hash"])):
            return broken(seq, f"event {seq} was altered: its contents no longer match its hash")
        if seq != expected_seq:
            return broken(
                expected_seq,
                f"event {expected_seq} is missing: it was deleted (the log jumps from {expected_seq - 1} "
                f"to {seq})",
            )
        if row["prev_hash"] != expected_prev:
            return broken(
                seq,
                f"event {seq} is out of place: it does not follow event {seq - 1} "
                "(events were reordered, or one before it was deleted)",
            )
        if HEAD_PROBLEM in row["details"]:
            problem = json.loads(row["details"]).get(HEAD_PROBLEM)
            if problem:
                return broken(
                    seq, f"event {seq} was written after {problem}: events before it may have been cut"
                )
        expected_prev, expected_seq = row["hash"], seq + 1
    if count == 0 and initialised:
        return broken(
            None, "the log is empty although the directory was initialised: its events were deleted"
        )
    if not check_head:
        return VerifyResult(True, count, head=f"{count}:{expected_prev}", keyed=keyed)
    head_seq, head_hash, head_problem = _read_head(conn, key)
    if head_problem is not None:
        return broken(None, f"{head_problem}: events may have been cut off the end")
    if head_seq != expected_seq - 1 or (head_seq and head_hash != expected_prev):
        return broken(
            expected_seq,
            f"event {expected_seq} is missing: events from {expected_seq} on were deleted "
            f"(the log's head says it ends at event {head_seq})",
        )
    return VerifyResult(True, count, head=f"{count}:{expected_prev}" if count else "", keyed=keyed)


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


def list_events(
    conn: sqlite3.Connection,
    *,
    filter: str = "",
    after: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    total: int | None = None,
) -> Page[AuditEvent]:
    """One page of events, newest first: the console's audit log. ``filter`` matches the action, the actor,
    the target or the details anywhere (a user added to a group is named in the details; ``%`` and ``_``
    taken literally, ASCII case ignored). ``after`` (a seq, the previous page's ``next_after``) continues the
    listing; ``offset`` jumps. ``total``: the count of matches the caller already has from an earlier page of
    the same listing (a filtered count reads every event).

    Unfiltered, the total is the last sequence number: events run from 1 without a gap (the chain says so,
    see :func:`verify`), and counting millions of rows would read the whole table for every page."""
    limit = max(1, min(limit, MAX_PAGE))
    clause, params = "1", list[object]()
    if text := filter.strip():
        clause = (
            "(action LIKE ? ESCAPE '\\' OR actor LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\' "
            "OR details LIKE ? ESCAPE '\\')"
        )
        params = [like_contains(text)] * 4
    sql, page_params = f"SELECT * FROM audit WHERE {clause}", list(params)
    if after is not None:
        sql += " AND seq < ?"
        page_params.append(int(after))
    sql += " ORDER BY seq DESC LIMIT ?"
    page_params.append(limit)
    if after is None and offset:
        sql += " OFFSET ?"
        page_params.append(offset)
    rows = conn.execute(sql, page_params).fetchall()
    if total is None:
        if not text:
            total = conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0]
        elif after is None and not offset and len(rows) < limit:
            total = len(rows)  # the first page holds every match: no second pass over the log
        else:
            total = conn.execute(f"SELECT count(*) FROM audit WHERE {clause}", params).fetchone()[0]
    return Page(
        [_event(row) for row in rows], int(total or 0), str(rows[-1]["seq"]) if len(rows) == limit else None
    )


def get_event(conn: sqlite3.Connection, seq: int) -> AuditEvent:
    """The event numbered ``seq``, with its details."""
    row = conn.execute("SELECT * FROM audit WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise NotFound(f"audit event {seq} does not exist")
    return _event(row)


def export_jsonl(rows: Iterator[AuditEvent]) -> Iterator[str]:
    # json.dumps passes C1 and bidi controls raw: a value planted in the file must not reach a terminal.
    for event in rows:
        yield escape_json(json.dumps(event.as_dict(), ensure_ascii=False, sort_keys=True)) + "\n"


def export_csv(rows: Iterator[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "at", "actor", "source", "action", "target", "details"])
    for event in rows:
        writer.writerow(
            [
                event.seq,
                neutralise(event.at),
                neutralise(event.actor),
                neutralise(event.source),
                neutralise(event.action),
                neutralise(event.target),
                neutralise(escape_json(json.dumps(event.details, ensure_ascii=False, sort_keys=True))),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
