"""Effective access and its "why": paths through groups, expiry of memberships and assignments, disabled
users and accounts, the reverse question, the matrix, and the sessions engine's check. Real SQLite files, an
injected clock (time moves by assignment, never by sleeping)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from store import access
from store.access import is_assigned
from store.errors import NotFound
from tests.test_identity_init import FakeClock

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
READ_S3 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
    }
)
DEPLOY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Deploy", "Effect": "Allow", "Action": ["lambda:*", "s3:*"], "Resource": "*"},
            {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        ],
    }
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def world(open_directory, clock):
    """alice: Reader in prod directly until 2026-07-01, and Deployer in prod through Ops until her membership
    ends 2026-06-15. bob: Reader in prod through Ops (for good) and through Auditors (assignment until
    2026-06-10). carol: nothing. dave: Ops member, disabled later in some tests. Accounts prod, dev."""
    d = open_directory(clock=clock)
    users = {name: d.users.create(name) for name in ("alice", "bob", "carol", "dave")}
    ops, auditors = d.groups.create("Ops"), d.groups.create("Auditors")
    d.groups.add_member(ops.id, users["alice"].id, expires_at="2026-06-15T00:00:00Z")
    d.groups.add_member(ops.id, users["bob"].id)
    d.groups.add_member(ops.id, users["dave"].id)
    d.groups.add_member(auditors.id, users["bob"].id)
    prod, dev = d.accounts.create("prod"), d.accounts.create("dev")
    reader = d.permission_sets.create("Reader", inline_policy=READ_S3)
    deployer = d.permission_sets.create("Deployer", inline_policy=DEPLOY)
    d.assignments.create("user", users["alice"].id, prod.id, reader.id, expires_at="2026-07-01T00:00:00Z")
    d.assignments.create("group", ops.id, prod.id, deployer.id)
    d.assignments.create("group", ops.id, prod.id, reader.id)
    d.assignments.create("group", auditors.id, prod.id, reader.id, expires_at="2026-06-10T00:00:00Z")
    d.assignments.create("group", auditors.id, dev.id, reader.id)
    return (
        d,
        users,
        {"Ops": ops, "Auditors": auditors},
        {"prod": prod, "dev": dev},
        {"Reader": reader, "Deployer": deployer},
    )


def rows(grants):
    return [(g.account_name, g.permission_set_name, g.granted_by, g.applies) for g in grants]


class TestEffectiveAccess:
    def test_paths_direct_and_through_groups(self, world):
        d, users, _, _, _ = world
        result = access.effective_access(d, users["alice"].id)
        assert rows(result.paths) == [
            ("prod", "Deployer", "group Ops", True),
            ("prod", "Reader", "direct", True),
            ("prod", "Reader", "group Ops", True),
        ]
        # the direct path ends at its assignment's expiry; the group one at the membership's
        by_path = {(g.permission_set_name, g.granted_by): g.expires_at for g in result.paths}
        assert by_path[("Reader", "direct")] == "2026-07-01T00:00:00Z"
        assert by_path[("Deployer", "group Ops")] == "2026-06-15T00:00:00Z"
        assert access.effective_access(d, users["carol"].id).paths == ()

    def test_expired_membership_stops_applying_and_says_why(self, world, clock):
        d, users, _, _, _ = world
        clock.now = datetime(2026, 6, 15, 0, 0, 0, tzinfo=UTC)  # the membership's expiry itself: expired
        result = access.effective_access(d, users["alice"].id)
        assert rows(result.applying) == [("prod", "Reader", "direct", True)]
        assert [(g.permission_set_name, g.why_not) for g in result.not_applying] == [
            ("Deployer", "membership in group Ops expired 2026-06-15"),
            ("Reader", "membership in group Ops expired 2026-06-15"),
        ]
        clock.now -= timedelta(seconds=1)  # one second before, it still applied
        assert len(access.effective_access(d, users["alice"].id).applying) == 3

    def test_expired_assignment_stops_applying_and_says_why(self, world, clock):
        d, users, _, accounts, _ = world
        clock.advance(days=30)  # 2026-07-01 12:00: alice's direct Reader and her Ops membership are both over
        result = access.effective_access(d, users["alice"].id)
        assert result.applying == []
        reasons = {(g.permission_set_name, g.granted_by): g.why_not for g in result.paths}
        assert reasons[("Reader", "direct")] == "assignment expired 2026-07-01"
        # bob: the Auditors assignment in prod ended on 2026-06-10, Ops still grants Reader there
        bob = access.effective_access(d, users["bob"].id, account_id=accounts["prod"].id)
        assert rows(bob.applying) == [
            ("prod", "Deployer", "group Ops", True),
            ("prod", "Reader", "group Ops", True),
        ]
        assert [(g.granted_by, g.why_not) for g in bob.not_applying] == [
            ("group Auditors", "assignment expired 2026-06-10")
        ]

    def test_several_reasons_at_once(self, world, clock):
        d, users, _, accounts, _ = world
        alice = users["alice"]
        d.users.disable(alice.id, alice.version)
        prod = accounts["prod"]
        d.accounts.set_status(prod.id, prod.version, False)
        clock.advance(days=14)  # membership expired too
        deployer = [
            g for g in access.effective_access(d, alice.id).paths if g.permission_set_name == "Deployer"
        ]
        assert deployer[0].reasons == (
            "user disabled",
            "account disabled",
            "membership in group Ops expired 2026-06-15",
        )

    def test_filter_by_account_and_unknown_user(self, world):
        d, users, _, accounts, _ = world
        bob = access.effective_access(d, users["bob"].id, account_id=accounts["dev"].id)
        assert rows(bob.paths) == [("dev", "Reader", "group Auditors", True)]
        with pytest.raises(NotFound):
            access.effective_access(d, 999_999)

    def test_granted_keeps_the_longest_lasting_path_per_set(self, world):
        d, users, _, _, _ = world
        granted = access.effective_access(d, users["alice"].id).granted
        # Reader: direct until 07-01 beats Ops until 06-15
        assert [(g.permission_set_name, g.granted_by) for g in granted] == [
            ("Deployer", "group Ops"),
            ("Reader", "direct"),
        ]

    def test_removing_a_membership_removes_the_path(self, world):
        d, users, groups, _, _ = world
        d.groups.remove_member(groups["Ops"].id, users["alice"].id)
        assert rows(access.effective_access(d, users["alice"].id).paths) == [
            ("prod", "Reader", "direct", True)
        ]


class TestIsAssigned:
    def test_the_check_the_sessions_engine_calls(self, world, clock):
        d, users, _, accounts, sets = world
        prod = accounts["prod"].id
        grant = is_assigned(d, users["alice"].id, prod, sets["Reader"].id)
        assert (
            grant is not None and grant.granted_by == "direct" and grant.expires_at == "2026-07-01T00:00:00Z"
        )
        grant = is_assigned(d, users["alice"].id, prod, sets["Deployer"].id)
        assert grant is not None and grant.granted_by == "group Ops"
        assert is_assigned(d, users["carol"].id, prod, sets["Reader"].id) is None
        assert is_assigned(d, users["bob"].id, accounts["dev"].id, sets["Deployer"].id) is None
        # time passes: the membership ends, then the direct assignment
        assert (
            is_assigned(d, users["alice"].id, prod, sets["Deployer"].id, now="2026-06-15T00:00:00Z") is None
        )
        clock.now = datetime(2026, 6, 20, tzinfo=UTC)
        assert is_assigned(d, users["alice"].id, prod, sets["Deployer"].id) is None
        assert is_assigned(d, users["alice"].id, prod, sets["Reader"].id).granted_by == "direct"
        clock.now = datetime(2026, 7, 1, tzinfo=UTC)
        assert is_assigned(d, users["alice"].id, prod, sets["Reader"].id) is None

    def test_prefers_the_path_that_lasts(self, world):
        d, users, _, accounts, sets = world
        # bob holds Reader in prod via Ops (never expires) and Auditors (until 06-10)
        grant = is_assigned(d, users["bob"].id, accounts["prod"].id, sets["Reader"].id)
        assert grant.granted_by == "group Ops" and grant.expires_at is None

    def test_disabled_user_or_account_holds_nothing(self, world):
        d, users, _, accounts, sets = world
        dave = users["dave"]
        assert is_assigned(d, dave.id, accounts["prod"].id, sets["Deployer"].id) is not None
        d.users.disable(dave.id, dave.version)
        assert is_assigned(d, dave.id, accounts["prod"].id, sets["Deployer"].id) is None
        why = access.access_paths(
            d, dave.id, account_id=accounts["prod"].id, permission_set_id=sets["Deployer"].id
        )
        assert [g.why_not for g in why] == ["user disabled"]
        bob, prod = users["bob"], d.accounts.get(accounts["prod"].id)
        d.accounts.set_status(prod.id, prod.version, False)
        assert is_assigned(d, bob.id, prod.id, sets["Reader"].id) is None

    def test_works_inside_a_write_transaction(self, world):
        d, users, _, accounts, sets = world
        with pytest.raises(RuntimeError), d.db.write() as conn:
            conn.execute("DELETE FROM memberships WHERE user_id = ?", (users["dave"].id,))
            assert is_assigned(d, users["dave"].id, accounts["prod"].id, sets["Deployer"].id) is None
            raise RuntimeError("roll back")
        assert is_assigned(d, users["dave"].id, accounts["prod"].id, sets["Deployer"].id) is not None


class TestWhoCanReach:
    def test_reverse_lists_users_and_paths(self, world):
        d, _, _, accounts, sets = world
        reach = access.who_can_reach(d, accounts["prod"].id, permission_set_id=sets["Reader"].id)
        assert [(g.user_name, g.granted_by) for g in reach] == [
            ("alice", "direct"),
            ("alice", "group Ops"),
            ("bob", "group Auditors"),
            ("bob", "group Ops"),
            ("dave", "group Ops"),
        ]

    def test_expired_paths_only_on_request(self, world, clock):
        d, _, _, accounts, sets = world
        clock.advance(days=20)  # 06-21: alice's Ops membership and the Auditors assignment in prod are over
        reach = access.who_can_reach(d, accounts["prod"].id, permission_set_id=sets["Reader"].id)
        assert [(g.user_name, g.granted_by) for g in reach] == [
            ("alice", "direct"),
            ("bob", "group Ops"),
            ("dave", "group Ops"),
        ]
        everything = access.who_can_reach(
            d, accounts["prod"].id, permission_set_id=sets["Reader"].id, include_inactive=True
        )
        assert {(g.user_name, g.granted_by, g.why_not) for g in everything if not g.applies} == {
            ("alice", "group Ops", "membership in group Ops expired 2026-06-15"),
            ("bob", "group Auditors", "assignment expired 2026-06-10"),
        }

    def test_unknown_account(self, world):
        with pytest.raises(NotFound):
            access.who_can_reach(world[0], 424242)


class TestMatrix:
    def read(self, d, **kwargs):
        out = io.StringIO()
        count = access.write_access_matrix_csv(d, out, **kwargs)
        return count, list(csv.reader(io.StringIO(out.getvalue())))

    def test_users_by_accounts(self, world, clock):
        d, users, _, _, _ = world
        count, table = self.read(d)
        assert count == 4
        assert table == [
            ["userName", "status", "dev", "prod"],
            ["alice", "active", "", "Deployer;Reader"],
            ["bob", "active", "Reader", "Deployer;Reader"],
            ["carol", "active", "", ""],
            ["dave", "active", "", "Deployer;Reader"],
        ]
        clock.advance(days=30)
        d.users.disable(users["dave"].id, users["dave"].version)
        _, table = self.read(d)
        assert table[1] == ["alice", "active", "", ""]
        assert table[4] == ["dave", "disabled", "", ""]

    def test_formula_cells_are_neutralised(self, world):
        d = world[0]
        d.users.create("=cmd|calc")
        d.users.create("@sum")
        _, table = self.read(d)
        names = [row[0] for row in table[1:]]
        assert "'=cmd|calc" in names and "'@sum" in names

    def test_streams_in_chunks_across_many_users(self, world):
        d = world[0]
        with d.db.write() as conn:
            conn.executemany(
                "INSERT INTO users (user_name, user_name_key, created_at, updated_at) "
                "VALUES (?, ?, 'x', 'x')",
                [(f"u{i:05d}", f"u{i:05d}") for i in range(2500)],
            )
            ops = conn.execute("SELECT id FROM groups WHERE name = 'Ops'").fetchone()[0]
            conn.execute(
                "INSERT INTO memberships (group_id, user_id, created_at) "
                "SELECT ?, id, 'x' FROM users WHERE user_name = 'u01234'",
                (ops,),
            )
        rows = list(access.access_matrix_rows(d, chunk=100))
        assert len(rows) == 1 + 4 + 2500
        assert [row[0] for row in rows[1:]] == sorted(row[0] for row in rows[1:])
        assert next(row for row in rows if row[0] == "u01234")[2:] == ["", "Deployer;Reader"]


class TestSimulateUser:
    def test_each_set_decides_and_any_allow_wins(self, world):
        d, users, _, accounts, _ = world
        simulation = access.simulate_user(d, users["dave"].id, accounts["prod"].id, "s3:PutObject", "*")
        assert simulation.decision == "allow"
        assert {(r.permission_set_name, r.decision.decision) for r in simulation.results} == {
            ("Deployer", "allow"),
            ("Reader", "implicit_deny"),
        }
        denied = access.simulate_user(d, users["dave"].id, accounts["prod"].id, "iam:CreateUser", "*")
        assert denied.decision == "explicit_deny"
        assert [ref.sid for r in denied.deciding for ref in r.decision.statements] == ["NoIam"]
        nothing = access.simulate_user(d, users["carol"].id, accounts["prod"].id, "s3:GetObject", "*")
        assert nothing.results == () and nothing.decision == "implicit_deny"
