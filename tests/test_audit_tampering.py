"""An attacker who can write the database but not read the key file cannot forge, cut or wipe the audit log.

Each tampering is done the way such an attacker would: straight into the SQLite file with ``sqlite3``,
recomputing whatever hashes need no key. Then ``tui audit verify`` (the real CLI) must fail, naming it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.audit import GENESIS, HEAD_KEY
from store.directory import AUDIT_MAC_SETTING
from tests.test_identity_init import ROOT_PASSWORD

EVENTS = 12  # init + the users below


def _plain(prev: str, row: tuple) -> str:
    """What an attacker without the key can compute: the plain SHA-256 chain link."""
    at, actor, source, action, target, details = row
    payload = json.dumps([prev, at, actor, source, action, target, details], ensure_ascii=False).encode()
    return hashlib.sha256(payload).hexdigest()


def _attacker(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(db_path, isolation_level=None)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised directory with EVENTS audit events, copied for each tampering."""
    from store.audit import Actor
    from store.directory import Directory
    from store.identity import initialise, new_root_enrolment

    folder = tmp_path_factory.mktemp("pristine")
    path = folder / "directory.db"
    directory = Directory.open(path, Actor("cli:test", "cli"))
    initialise(directory, ROOT_PASSWORD, new_root_enrolment())
    for index in range(EVENTS - 1):
        directory.users.create(f"user{index}")
    assert directory.verify_audit().ok
    directory.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    directory.close()
    return path


def _copy(pristine: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".key"):
        source = pristine.with_name(pristine.name + suffix)
        target = into / source.name
        target.write_bytes(source.read_bytes())
        target.chmod(0o600)
    return into / pristine.name


def _verify(db_path: Path, *extra: str) -> tuple[bool, str]:
    from store.audit import Actor
    from store.directory import Directory

    directory = Directory.open(db_path, Actor("cli:test", "cli"))
    try:
        result = directory.verify_audit(*extra)
    finally:
        directory.close()
    return result.ok, result.problem


class TestFindings:
    """Issue 11, findings 1 and 2, with the real CLI."""

    def test_a_plain_chain_forged_after_deleting_the_key_id_is_named_as_tampering(
        self, pristine, tmp_path, run_tui
    ):
        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        conn.execute("DELETE FROM settings WHERE key = ?", (AUDIT_MAC_SETTING,))
        prev = GENESIS
        rows = conn.execute("SELECT seq, at, actor, source, action, target, details FROM audit ORDER BY seq")
        for seq, at, _actor, source, action, target, details in rows.fetchall():
            row = (at, "mallory", source, action, target, details)
            digest = _plain(prev, row)
            conn.execute(
                "UPDATE audit SET actor = 'mallory', prev_hash = ?, hash = ? WHERE seq = ?",
                (prev, digest, seq),
            )
            prev = digest
        conn.execute("UPDATE settings SET value = ? WHERE key = ?", (f"{EVENTS}:{prev}", HEAD_KEY))
        conn.close()
        result = run_tui("--db", str(db_path), "audit", "verify")
        assert result.returncode == 1
        assert "audit.mac_key_id" in result.stderr and "tampered" in result.stderr

    def test_a_cut_tail_with_a_rewritten_head_is_detected(self, pristine, tmp_path, run_tui):
        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        last = conn.execute("SELECT seq, hash FROM audit WHERE seq = ?", (EVENTS - 3,)).fetchone()
        conn.execute("DELETE FROM audit WHERE seq > ?", (EVENTS - 3,))
        conn.execute("UPDATE settings SET value = ? WHERE key = ?", (f"{last[0]}:{last[1]}", HEAD_KEY))
        conn.close()
        result = run_tui("--db", str(db_path), "audit", "verify")
        assert result.returncode == 1 and "head was rewritten without the key file" in result.stderr

    def test_a_wiped_log_is_detected(self, pristine, tmp_path, run_tui):
        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        conn.execute("DELETE FROM audit")
        conn.execute("DELETE FROM settings WHERE key = ?", (HEAD_KEY,))
        conn.close()
        result = run_tui("--db", str(db_path), "audit", "verify", "--json")
        assert result.returncode == 1
        assert "empty although the directory was initialised" in result.json()["problem"]

    def test_a_change_after_a_cut_is_marked_for_good(self, pristine, tmp_path, run_tui):
        """The next legitimate change must not bless a cut: it says so in its own (keyed) event."""
        from store.audit import Actor
        from store.directory import Directory

        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        conn.execute("DELETE FROM audit WHERE seq > ?", (EVENTS - 2,))
        conn.execute("UPDATE settings SET value = '1:x' WHERE key = ?", (HEAD_KEY,))
        conn.close()
        directory = Directory.open(db_path, Actor("cli:test", "cli"))
        directory.users.create("after-the-cut")
        directory.close()
        result = run_tui("--db", str(db_path), "audit", "verify")
        assert result.returncode == 1 and "may have been cut" in result.stderr

    def test_expect_head_proves_nothing_was_rolled_back(self, pristine, tmp_path, run_tui):
        db_path = _copy(pristine, tmp_path)
        first = run_tui("--db", str(db_path), "audit", "verify", "--json")
        head = first.json()["head"]
        assert first.returncode == 0 and head.startswith(f"{EVENTS}:")
        assert run_tui("--db", str(db_path), "audit", "verify", "--expect-head", head).returncode == 0
        seq, _, digest = head.partition(":")  # the hash's hex in capitals, as a person may copy it
        assert (
            run_tui(
                "--db", str(db_path), "audit", "verify", "--expect-head", f"{seq}:{digest.upper()}"
            ).returncode
            == 0
        )
        # An older genuine copy of the file (a rollback) verifies alone, but not against the recorded head.
        older = _copy(pristine, tmp_path / "older")
        from store.audit import Actor
        from store.directory import Directory

        directory = Directory.open(db_path, Actor("cli:test", "cli"))
        directory.users.create("later")
        later_head = directory.verify_audit().head
        directory.close()
        assert run_tui("--db", str(older), "audit", "verify").returncode == 0
        rolled_back = run_tui("--db", str(older), "audit", "verify", "--expect-head", later_head)
        assert rolled_back.returncode == 1 and "no longer holds the head" in rolled_back.stderr

    def test_a_cut_back_to_an_older_keyed_head_is_detected_by_the_files_mark(
        self, pristine, tmp_path, run_tui
    ):
        """Red-team replay: keep the keyed head, let events happen, delete them and put that head back. Chain
        and head agree; the mark the commit left on the file (store/audit_mark.py) names the lost event."""
        from store.audit import Actor
        from store.audit_mark import read_mark
        from store.directory import Directory

        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        (kept_head,) = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
        conn.close()
        directory = Directory.open(db_path, Actor("cli:test", "cli"))
        directory.users.create("a-session-holder")  # the events the attacker wants gone
        directory.users.create("another")
        directory.close()
        conn = _attacker(db_path)
        (newest_head,) = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
        assert read_mark(db_path) == newest_head, "no mark: does this file system keep extended attributes?"
        conn.execute("DELETE FROM audit WHERE seq > ?", (EVENTS,))
        conn.execute("UPDATE settings SET value = ? WHERE key = ?", (kept_head, HEAD_KEY))
        conn.close()
        result = run_tui("--db", str(db_path), "audit", "verify")
        assert result.returncode == 1, result
        assert f"no longer holds event {EVENTS + 2}, the last one committed" in result.stderr
        # A copy of the file (a backup) has no mark: checking it does not trip.
        assert run_tui("--db", str(db_path), "backup", str(tmp_path / "copy.db")).returncode == 0
        copy = run_tui("--db", str(tmp_path / "copy.db"), "--key", f"{db_path}.key", "audit", "verify")
        assert copy.returncode == 0, copy
        # A rollback made on purpose (a backup restored) is accepted by a reseal, which is itself audited.
        assert run_tui("--db", str(db_path), "audit", "reseal").returncode == 0
        assert run_tui("--db", str(db_path), "audit", "verify").returncode == 0

    def test_a_cut_with_the_files_mark_stripped_or_the_file_put_back_whole_is_detected_by_the_key_files(
        self, pristine, tmp_path, run_tui
    ):
        """Red-team replay: whoever can write the database can remove its attributes (the mark with them) or
        copy an older file over it, then cut the log back. The key file keeps a mark for this database too,
        out of their reach as the key is."""
        import os
        import shutil

        from store.audit import Actor
        from store.audit_mark import ATTRIBUTE
        from store.directory import Directory

        db_path = _copy(pristine, tmp_path)
        older = tmp_path / "older.db"
        shutil.copy(db_path, older)  # a copy of the file as it is now: no mark
        conn = _attacker(db_path)
        (kept_head,) = conn.execute("SELECT value FROM settings WHERE key = ?", (HEAD_KEY,)).fetchone()
        conn.close()
        directory = Directory.open(db_path, Actor("cli:test", "cli"))
        directory.users.create("a-session-holder")
        directory.close()
        conn = _attacker(db_path)
        conn.execute("DELETE FROM audit WHERE seq > ?", (EVENTS,))
        conn.execute("UPDATE settings SET value = ? WHERE key = ?", (kept_head, HEAD_KEY))
        conn.close()
        os.removexattr(db_path, ATTRIBUTE)
        stripped = run_tui("--db", str(db_path), "audit", "verify")
        assert stripped.returncode == 1, stripped
        assert (
            f"no longer holds event {EVENTS + 1}" in stripped.stderr
            and "the key file's mark" in stripped.stderr
        )
        assert run_tui("--db", str(db_path), "audit", "reseal").returncode == 0  # restored on purpose
        assert run_tui("--db", str(db_path), "audit", "verify").returncode == 0
        # The older file put back whole (a new file at the same path, without any attribute).
        directory = Directory.open(db_path, Actor("cli:test", "cli"))
        directory.users.create("another-session-holder")
        directory.close()
        os.replace(older, db_path)
        for suffix in ("-wal", "-shm"):
            db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
        replaced = run_tui("--db", str(db_path), "audit", "verify")
        assert replaced.returncode == 1 and "the key file's mark" in replaced.stderr, replaced


class TestReseal:
    """A directory whose head was written before heads were keyed (an older tui) is sealed again, on
    request, after its events are checked; a tampered log is never blessed."""

    def test_an_unkeyed_head_is_resealed_after_the_events_are_checked(self, pristine, tmp_path, run_tui):
        db_path = _copy(pristine, tmp_path)
        assert "nothing to reseal" in run_tui("--db", str(db_path), "audit", "reseal").stdout
        conn = _attacker(db_path)  # what an older tui wrote: SEQ:HASH, no MAC
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("UPDATE settings SET value = ? WHERE key = ?", (f"{last[0]}:{last[1]}", HEAD_KEY))
        conn.close()
        assert run_tui("--db", str(db_path), "audit", "verify").returncode == 1
        sealed = run_tui("--db", str(db_path), "audit", "reseal")
        assert sealed.returncode == 0 and "audit head sealed:" in sealed.stdout
        assert "cannot be detected" in sealed.stderr
        verified = run_tui("--db", str(db_path), "audit", "verify", "--json")
        assert verified.returncode == 0 and verified.json()["events"] == EVENTS + 1
        conn = _attacker(db_path)
        [(details,)] = conn.execute("SELECT details FROM audit WHERE action = 'audit.reseal'").fetchall()
        conn.close()
        assert json.loads(details)["previous_head"] == f"{last[0]}:{last[1]}"

    def test_a_tampered_log_is_not_resealed(self, pristine, tmp_path, run_tui):
        db_path = _copy(pristine, tmp_path)
        conn = _attacker(db_path)
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
        conn.execute("UPDATE settings SET value = '1:x' WHERE key = ?", (HEAD_KEY,))
        conn.close()
        refused = run_tui("--db", str(db_path), "audit", "reseal")
        assert refused.returncode == 1 and "event 3 was altered" in refused.stderr
        assert "nothing was changed" in refused.stderr
        assert run_tui("--db", str(db_path), "audit", "verify").returncode == 1


# -- every tampering, at random ------------------------------------------------------------------------------

COLUMNS = ("at", "actor", "source", "action", "target", "details", "hash", "prev_hash")


def _edit(conn: sqlite3.Connection, seq: int, column: str, rechain: bool) -> None:
    value = conn.execute(f"SELECT {column} FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
    conn.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (value + "x", seq))
    if rechain:
        _rechain(conn)


def _rechain(conn: sqlite3.Connection) -> None:
    """Recompute every link and the head as the attacker can: plain SHA-256, no key."""
    prev = GENESIS
    rows = conn.execute("SELECT seq, at, actor, source, action, target, details FROM audit ORDER BY seq")
    last = 0
    for seq, *fields in rows.fetchall():
        digest = _plain(prev, tuple(fields))
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
        prev, last = digest, seq
    conn.execute("UPDATE settings SET value = ? WHERE key = ?", (f"{last}:{prev}", HEAD_KEY))


tamperings = st.one_of(
    st.tuples(st.just("edit"), st.integers(1, EVENTS), st.sampled_from(COLUMNS[:6]), st.booleans()),
    st.tuples(st.just("delete"), st.integers(1, EVENTS), st.booleans()),
    st.tuples(st.just("swap"), st.integers(1, EVENTS), st.integers(1, EVENTS)),
    st.tuples(st.just("cut"), st.integers(1, EVENTS - 1), st.sampled_from(["keep", "rewrite", "delete"])),
    st.tuples(st.just("wipe"), st.booleans()),
    st.tuples(st.just("drop_key_id"), st.booleans()),
    st.tuples(st.just("head"), st.integers(0, EVENTS + 3)),
)


def _state(conn: sqlite3.Connection) -> list:
    return [
        *conn.execute("SELECT * FROM audit ORDER BY seq"),
        *conn.execute("SELECT key, value FROM settings WHERE key IN (?, ?)", (HEAD_KEY, AUDIT_MAC_SETTING)),
    ]


def _tamper(conn: sqlite3.Connection, tampering: tuple) -> None:
    """Apply ``tampering`` where the rows it names still exist."""
    kind = tampering[0]
    present = {row[0] for row in conn.execute("SELECT seq FROM audit")}
    named = [seq for seq in tampering[1:3] if type(seq) is int]  # (not the booleans)
    if kind in ("edit", "delete", "swap", "cut") and any(seq not in present for seq in named):
        return
    if kind == "edit":
        _, seq, column, rechain = tampering
        _edit(conn, seq, column, rechain)
    elif kind == "delete":
        _, seq, rechain = tampering
        conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
        if rechain:
            conn.execute("UPDATE audit SET seq = seq - 1 WHERE seq > ?", (seq,))
            _rechain(conn)
    elif kind == "swap":
        _, a, b = tampering
        rows = {
            seq: row
            for seq, *row in conn.execute(
                "SELECT seq, at, actor, source, action, target, details, prev_hash, hash FROM audit "
                "WHERE seq IN (?, ?)",
                (a, b),
            )
        }
        for seq, other in ((a, b), (b, a)):
            conn.execute(
                "UPDATE audit SET at = ?, actor = ?, source = ?, action = ?, target = ?, details = ?, "
                "prev_hash = ?, hash = ? WHERE seq = ?",
                (*rows[other], seq),
            )
    elif kind == "cut":
        _, keep, head = tampering
        last = conn.execute("SELECT hash FROM audit WHERE seq = ?", (keep,)).fetchone()[0]
        conn.execute("DELETE FROM audit WHERE seq > ?", (keep,))
        if head == "rewrite":
            conn.execute("UPDATE settings SET value = ? WHERE key = ?", (f"{keep}:{last}", HEAD_KEY))
        elif head == "delete":
            conn.execute("DELETE FROM settings WHERE key = ?", (HEAD_KEY,))
    elif kind == "wipe":
        _, head_too = tampering
        conn.execute("DELETE FROM audit")
        if head_too:
            conn.execute("DELETE FROM settings WHERE key = ?", (HEAD_KEY,))
    elif kind == "drop_key_id":
        _, rechain = tampering
        conn.execute("DELETE FROM settings WHERE key = ?", (AUDIT_MAC_SETTING,))
        if rechain:
            _rechain(conn)
    elif kind == "head":
        _, seq = tampering
        row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        conn.execute(
            "UPDATE settings SET value = ? WHERE key = ?", (f"{seq}:{row[0] if row else GENESIS}", HEAD_KEY)
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(tamperings, min_size=1, max_size=3))
def test_every_random_tampering_is_detected(pristine, tmp_path_factory, steps) -> None:
    db_path = _copy(pristine, tmp_path_factory.mktemp("tampered"))
    conn = _attacker(db_path)
    before = _state(conn)
    for step in steps:
        _tamper(conn, step)
    changed = _state(conn) != before  # (two swaps of the same pair undo each other)
    conn.close()
    ok, problem = _verify(db_path)
    if changed:
        assert not ok, f"undetected: {steps}"
        assert problem
