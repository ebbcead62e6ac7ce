"""The audit log: one event per change in the change's transaction, secrets redacted, a verifiable chain."""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store import audit
from store.audit import Actor
from store.directory import Directory
from store.directory_json import export_document, read_document
from store.errors import StoreError
from store.importer import import_document

UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NOW = "2025-01-01T00:00:00Z"


def audit_count(directory: Directory) -> int:
    with directory.db.read() as conn:
        return int(conn.execute("SELECT count(*) FROM audit").fetchone()[0])


def last_event(directory: Directory) -> audit.AuditEvent:
    with directory.db.read() as conn:
        return next(audit.events(conn, newest_first=True, limit=1))


def assert_recent_utc(text: str) -> None:
    assert UTC_TEXT.match(text), text
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=2), text


def import_json(directory: Directory, document: dict[str, Any], name: str = "in.json") -> None:
    raw = json.dumps(document).encode()
    import_document(directory, read_document(raw, name), file_name=name, raw=raw)


@pytest.fixture
def seeded(directory: Directory) -> dict[str, Any]:
    """A small directory: root, alice in ops, a disabled user, prod, Admin, alice's assignment."""
    with directory.db.write() as conn:
        root_id = conn.execute(
            "INSERT INTO users (user_name, user_name_key, is_root, created_at, updated_at) "
            "VALUES ('root', 'root', 1, ?, ?)",
            (NOW, NOW),
        ).lastrowid
        conn.execute(
            "INSERT INTO policies (name, name_key, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            ("ReadOnly", "readonly", '{"Statement": []}', NOW, NOW),
        )
    alice = directory.users.create("alice", display_name="Alice")
    dina = directory.users.create("dina")
    dina = directory.users.disable(dina.id, dina.version)
    ops = directory.groups.create("ops")
    directory.groups.add_member(ops.id, alice.id)
    prod = directory.accounts.create("prod")
    admin = directory.permission_sets.create("Admin")
    grant = directory.assignments.create("user", alice.id, prod.id, admin.id)
    return {
        "d": directory,
        "root": root_id,
        "alice": alice,
        "dina": dina,
        "ops": ops,
        "prod": prod,
        "admin": admin,
        "grant": grant,
    }


def fresh(d: Directory, service: str, row_id: int) -> Any:
    return getattr(d, service).get(row_id)


CHANGES: list[tuple[str, Callable[[dict[str, Any]], Any], str, str]] = [
    ("user.create", lambda s: s["d"].users.create("carl"), "user.create", "user:carl"),
    (
        "user.update",
        lambda s: s["d"].users.update(s["alice"].id, s["alice"].version, display_name="Al"),
        "user.update",
        "user:alice",
    ),
    (
        "user.disable",
        lambda s: s["d"].users.disable(s["alice"].id, s["alice"].version),
        "user.disable",
        "user:alice",
    ),
    (
        "user.enable",
        lambda s: s["d"].users.enable(s["dina"].id, s["dina"].version),
        "user.enable",
        "user:dina",
    ),
    (
        "user.delete",
        lambda s: s["d"].users.delete(s["alice"].id, s["alice"].version),
        "user.delete",
        "user:alice",
    ),
    ("group.create", lambda s: s["d"].groups.create("dev"), "group.create", "group:dev"),
    (
        "group.update",
        lambda s: s["d"].groups.update(s["ops"].id, s["ops"].version, description="on call"),
        "group.update",
        "group:ops",
    ),
    (
        "group.delete",
        lambda s: s["d"].groups.delete(s["ops"].id, fresh(s["d"], "groups", s["ops"].id).version),
        "group.delete",
        "group:ops",
    ),
    (
        "group.add_member",
        lambda s: s["d"].groups.add_member(s["ops"].id, s["dina"].id, expires_at="2031-01-01"),
        "group.add_member",
        "group:ops",
    ),
    (
        "group.remove_member",
        lambda s: s["d"].groups.remove_member(s["ops"].id, s["alice"].id),
        "group.remove_member",
        "group:ops",
    ),
    ("account.create", lambda s: s["d"].accounts.create("staging"), "account.create", "account:staging"),
    (
        "account.update",
        lambda s: s["d"].accounts.update(s["prod"].id, s["prod"].version, description="live"),
        "account.update",
        "account:prod",
    ),
    (
        "account.disable",
        lambda s: s["d"].accounts.set_status(s["prod"].id, s["prod"].version, False),
        "account.disable",
        "account:prod",
    ),
    (
        "account.delete",
        lambda s: s["d"].accounts.delete(s["prod"].id, s["prod"].version),
        "account.delete",
        "account:prod",
    ),
    (
        "permission_set.create",
        lambda s: s["d"].permission_sets.create("Viewer", managed_policies=["ReadOnly"]),
        "permission_set.create",
        "permission_set:Viewer",
    ),
    (
        "permission_set.update",
        lambda s: s["d"].permission_sets.update(s["admin"].id, s["admin"].version, session_duration="PT8H"),
        "permission_set.update",
        "permission_set:Admin",
    ),
    (
        "permission_set.delete",
        lambda s: s["d"].permission_sets.delete(s["admin"].id, s["admin"].version),
        "permission_set.delete",
        "permission_set:Admin",
    ),
    (
        "assignment.create",
        lambda s: s["d"].assignments.create("group", s["ops"].id, s["prod"].id, s["admin"].id),
        "assignment.create",
        "account:prod",
    ),
    (
        "assignment.update",
        lambda s: s["d"].assignments.update_expiry(s["grant"].id, s["grant"].version, "2031-01-01T00:00:00Z"),
        "assignment.update",
        "account:prod",
    ),
    (
        "assignment.delete",
        lambda s: s["d"].assignments.delete(s["grant"].id, s["grant"].version),
        "assignment.delete",
        "account:prod",
    ),
    (
        "import",
        lambda s: import_json(
            s["d"],
            {
                "users": [{"userName": "imported1"}, {"userName": "imported2"}],
                "groups": [{"displayName": "g", "members": ["imported1"]}],
            },
        ),
        "directory.import",
        "file:in.json",
    ),
]


@pytest.mark.parametrize(
    "change, expected_action, expected_target",
    [(c[1], c[2], c[3]) for c in CHANGES],
    ids=[c[0] for c in CHANGES],
)
def test_every_change_writes_exactly_one_event(
    seeded: dict[str, Any], change: Callable[..., Any], expected_action: str, expected_target: str
) -> None:
    d = seeded["d"]
    before = audit_count(d)
    change(seeded)
    assert audit_count(d) == before + 1
    event = last_event(d)
    assert (event.action, event.target, event.actor, event.source) == (
        expected_action,
        expected_target,
        "test-admin",
        "test",
    )
    assert_recent_utc(event.at)
    with d.db.read() as conn:
        assert audit.verify(conn).ok


def failing_changes() -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    return [
        ("hostile name", lambda s: s["d"].users.create("eve\x07")),
        ("name taken", lambda s: s["d"].users.create("ALICE")),
        (
            "stale version",
            lambda s: s["d"].users.update(s["alice"].id, s["alice"].version - 1, display_name="x"),
        ),
        ("root disable", lambda s: s["d"].users.disable(s["root"], 1)),
        ("root edit", lambda s: s["d"].users.update(s["root"], 1, display_name="x")),
        ("missing user", lambda s: s["d"].users.delete(999_999, 1)),
        ("duplicate member", lambda s: s["d"].groups.add_member(s["ops"].id, s["alice"].id)),
        (
            "past expiry",
            lambda s: s["d"].groups.add_member(s["ops"].id, s["dina"].id, expires_at="2001-01-01"),
        ),
        (
            "root assignment",
            lambda s: s["d"].assignments.create("user", s["root"], s["prod"].id, s["admin"].id),
        ),
        (
            "duplicate assignment",
            lambda s: s["d"].assignments.create("user", s["alice"].id, s["prod"].id, s["admin"].id),
        ),
        ("bad duration", lambda s: s["d"].permission_sets.create("Short", session_duration=899)),
        # refused after the row was already inserted inside the transaction: rolled back with it
        ("unknown policy", lambda s: s["d"].permission_sets.create("Viewer", managed_policies=["Nope"])),
        ("bad account", lambda s: s["d"].accounts.create("not valid")),
        ("stale account", lambda s: s["d"].accounts.delete(s["prod"].id, s["prod"].version + 1)),
        (
            "invalid import",
            lambda s: import_json(s["d"], {"users": [{"userName": "ok1"}, {"userName": "b\x1b"}]}),
        ),
    ]


@pytest.mark.parametrize("change", [c[1] for c in failing_changes()], ids=[c[0] for c in failing_changes()])
def test_a_refused_change_writes_no_event_and_changes_nothing(
    seeded: dict[str, Any], change: Callable[..., Any]
) -> None:
    d = seeded["d"]
    before, exported = audit_count(d), export_document(d)
    with pytest.raises(StoreError):
        change(seeded)
    assert audit_count(d) == before
    assert export_document(d) == exported


def test_the_event_is_written_in_the_changes_own_transaction(directory: Directory, db_path: Path) -> None:
    """If the audit event cannot be written, the change is not written either."""
    directory.users.create("alice")
    raw = sqlite3.connect(db_path)
    raw.execute(
        "CREATE TRIGGER block_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit blocked'); END"
    )
    raw.commit()
    raw.close()
    with pytest.raises(sqlite3.DatabaseError, match="audit blocked"):
        directory.users.create("bob")
    alice = directory.users.get_by_name("alice")
    with pytest.raises(sqlite3.DatabaseError, match="audit blocked"):
        directory.users.update(alice.id, alice.version, display_name="changed")
    assert [u.user_name for u in directory.users.list().items] == ["alice"]
    assert directory.users.get(alice.id) == alice
    assert audit_count(directory) == 1


def test_an_event_records_who_what_when_and_the_change(directory: Directory) -> None:
    alice = directory.users.create("alice", display_name="Alice", email="alice@example.org")
    directory.users.update(alice.id, alice.version, display_name="Alice Liddell")
    event = last_event(directory)
    assert_recent_utc(event.at)
    assert (event.actor, event.source, event.action, event.target) == (
        "test-admin",
        "test",
        "user.update",
        "user:alice",
    )
    assert event.details["before"]["display_name"] == "Alice"
    assert event.details["after"]["display_name"] == "Alice Liddell"
    assert event.details["after"]["email"] == "alice@example.org"
    created = next(e for e in audit_events(directory) if e.action == "user.create")
    assert "before" not in created.details and created.details["after"]["user_name"] == "alice"


def audit_events(directory: Directory) -> list[audit.AuditEvent]:
    with directory.db.read() as conn:
        return list(audit.events(conn))


# -- secrets -----------------------------------------------------------------------------------------------


def test_redact_replaces_every_secret_field() -> None:
    value = {
        "user_name": "alice",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        "totp_secret_sealed": "sealed-bytes",
        "nested": {"secret_hash": "abc123", "keep": "visible", "token_hash": "T0KEN-VALUE"},
        "keys": [{"secret": "wJalrXUtnFEMI", "key_id": "AKIAEXAMPLE"}, {"code_hash": "c0de"}],
        "password": "hunter2",
        "recovery_codes": ["RC-ONE", "RC-TWO"],
        "session_token": "FwoGZXIvYXdzE",
        "password_changed_at": None,
    }
    original = json.loads(json.dumps(value))
    redacted = audit.redact(value)
    assert value == original  # the input is not modified
    text = json.dumps(redacted)
    for secret in (
        "argon2id",
        "sealed-bytes",
        "abc123",
        "T0KEN-VALUE",
        "wJalrXUtnFEMI",
        "c0de",
        "hunter2",
        "RC-ONE",
        "FwoGZXIvYXdzE",
    ):
        assert secret not in text, secret
    assert redacted["user_name"] == "alice"
    assert redacted["nested"]["keep"] == "visible"
    assert redacted["keys"][0]["key_id"] == "AKIAEXAMPLE"
    assert redacted["password_hash"] == audit.REDACTED
    assert redacted["password_changed_at"] is None


def test_recorded_events_never_hold_secrets(directory: Directory, db_path: Path) -> None:
    with directory.db.write() as conn:
        audit.record(
            conn,
            at=directory.now_text(),
            actor=directory.actor,
            action="user.password",
            target="user:alice",
            before={"password_hash": "$argon2id$OLDHASH"},
            after={"password_hash": "$argon2id$NEWHASH", "must_change_password": False},
            extra={"secret_hash": "SECRETHASH", "reason": "reset"},
        )
    raw = sqlite3.connect(db_path)
    try:
        stored = raw.execute("SELECT details FROM audit").fetchone()[0]
    finally:
        raw.close()
    for secret in ("OLDHASH", "NEWHASH", "SECRETHASH"):
        assert secret not in stored
    details = json.loads(stored)
    assert details["after"] == {"password_hash": audit.REDACTED, "must_change_password": False}
    assert details["reason"] == "reset"


# -- the command line --------------------------------------------------------------------------------------


def test_cli_changes_are_attributed_to_the_os_user(
    tmp_path: Path, db_path: Path, run_tui, open_directory
) -> None:
    source = tmp_path / "people.json"
    source.write_text(json.dumps({"users": [{"userName": "alice"}]}))
    result = run_tui("import", source)
    assert result.returncode == 0, result
    directory = open_directory()
    events = audit_events(directory)
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.source) == (f"os:{getpass.getuser()}", "cli")
    assert (event.source, event.action, event.target) == ("cli", "directory.import", f"file:{source}")
    assert_recent_utc(event.at)
    assert event.details["counts"]["users"]["create"] == 1


@pytest.fixture
def five_events(directory: Directory) -> Directory:
    for name in ("u1", "u2", "u3", "u4", "u5"):
        directory.users.create(name)
    assert audit_count(directory) == 5
    return directory


def test_verify_accepts_an_intact_log(five_events: Directory, run_tui) -> None:
    result = run_tui("audit", "verify")
    assert result.returncode == 0, result
    assert "intact" in result.stdout and "5 events" in result.stdout
    as_json = run_tui("audit", "verify", "--json")
    assert as_json.returncode == 0, as_json
    document = as_json.json()
    assert document["ok"] is True and document["events"] == 5 and document["problem"] == ""
    assert document["head"].startswith("5:") and len(document["head"]) == 2 + 64


def test_verify_accepts_an_empty_log(run_tui) -> None:
    result = run_tui("audit", "verify", "--json")
    assert result.returncode == 0, result
    assert result.json()["ok"] is True and result.json()["events"] == 0


def swap_events(conn: sqlite3.Connection, a: int, b: int) -> None:
    columns = ("at", "actor", "source", "action", "target", "details", "prev_hash", "hash")
    rows = {
        seq: conn.execute(f"SELECT {', '.join(columns)} FROM audit WHERE seq = ?", (seq,)).fetchone()
        for seq in (a, b)
    }
    assignments = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(f"UPDATE audit SET {assignments} WHERE seq = ?", (*rows[b], a))
    conn.execute(f"UPDATE audit SET {assignments} WHERE seq = ?", (*rows[a], b))


TAMPERING: list[tuple[str, Callable[[sqlite3.Connection], Any], int, str]] = [
    (
        "alter-details-3",
        lambda c: c.execute("UPDATE audit SET details = replace(details, 'u3', 'mallory') WHERE seq = 3"),
        3,
        "altered",
    ),
    (
        "alter-actor-1",
        lambda c: c.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 1"),
        1,
        "altered",
    ),
    (
        "alter-time-4",
        lambda c: c.execute("UPDATE audit SET at = '2001-01-01T00:00:00Z' WHERE seq = 4"),
        4,
        "altered",
    ),
    ("delete-2", lambda c: c.execute("DELETE FROM audit WHERE seq = 2"), 2, "missing"),
    ("delete-1", lambda c: c.execute("DELETE FROM audit WHERE seq = 1"), 1, "missing"),
    ("swap-2-3", lambda c: swap_events(c, 2, 3), 2, "out of place"),
    ("cut-tail", lambda c: c.execute("DELETE FROM audit WHERE seq = 5"), 5, "missing"),
    ("cut-last-two", lambda c: c.execute("DELETE FROM audit WHERE seq >= 4"), 4, "missing"),
    ("delete-all", lambda c: c.execute("DELETE FROM audit"), 1, "missing"),
]


@pytest.mark.parametrize(
    "tamper, first_bad, problem", [(t[1], t[2], t[3]) for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
def test_verify_names_the_first_tampered_event(
    five_events: Directory,
    db_path: Path,
    run_tui,
    tamper: Callable[[sqlite3.Connection], Any],
    first_bad: int,
    problem: str,
) -> None:
    raw = sqlite3.connect(db_path)
    tamper(raw)
    raw.commit()
    raw.close()

    result = run_tui("audit", "verify")
    assert result.returncode == 1, result
    assert "broken" in result.stderr
    assert problem in result.stderr
    # The first bad event by number ("event 3 was altered"), or for a cut-off tail the last good one
    # ("events after 3 are missing").
    assert re.search(rf"\bevent {first_bad}\b|\bafter {first_bad - 1}\b", result.stderr), result

    as_json = run_tui("audit", "verify", "--json")
    assert as_json.returncode == 1, as_json
    report = as_json.json()
    assert report["ok"] is False
    assert report["first_bad_seq"] == first_bad
    assert re.search(rf"\bevent {first_bad}\b|\bafter {first_bad - 1}\b", report["problem"]), report


def test_audit_export_jsonl(five_events: Directory, run_tui) -> None:
    alice = five_events.users.get_by_name("u1")
    five_events.users.update(alice.id, alice.version, display_name="Ünïcode 👩‍💻")
    result = run_tui("audit", "export", "--format", "jsonl")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    exported = [json.loads(line) for line in lines]
    assert exported == [event.as_dict() for event in audit_events(five_events)]
    assert [e["seq"] for e in exported] == [1, 2, 3, 4, 5, 6]
    assert exported[-1]["details"]["after"]["display_name"] == "Ünïcode 👩‍💻"
    assert set(exported[0]) == {"seq", "at", "actor", "source", "action", "target", "details"}
    default = run_tui("audit", "export")
    assert default.stdout == result.stdout  # jsonl is the default


@pytest.mark.parametrize("actor_name", ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)"])
def test_audit_export_csv_neutralises_formulas(open_directory, run_tui, actor_name: str) -> None:
    plain = open_directory(actor=Actor("plain-admin", "console"))
    plain.users.create("alice")
    hostile = open_directory(actor=Actor(actor_name, "console"))
    hostile.users.create("bob")

    result = run_tui("audit", "export", "--format", "csv")
    assert result.returncode == 0, result
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["seq", "at", "actor", "source", "action", "target", "details"]
    assert len(rows) == 3
    assert rows[1][:6] == ["1", rows[1][1], "plain-admin", "console", "user.create", "user:alice"]
    assert rows[2][2] == "'" + actor_name  # a spreadsheet shows it as text, never runs it
    assert rows[2][4:6] == ["user.create", "user:bob"]
    assert json.loads(rows[2][6])["after"]["user_name"] == "bob"
    for row in rows[1:]:
        assert UTC_TEXT.match(row[1])
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row


def test_audit_export_of_a_long_log_streams_every_event(directory: Directory, run_tui) -> None:
    import_json(directory, {"users": [{"userName": f"user{i}"} for i in range(50)]})
    for i in range(50):
        directory.users.create(f"extra{i}")
    result = run_tui("audit", "export", "--format", "csv")
    assert result.returncode == 0, result
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 52))
    assert rows[1][4] == "directory.import" and rows[-1][5] == "user:extra49"
