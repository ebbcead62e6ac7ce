"""The session engine on real SQLite files, with an injected clock (no sleeping)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from store import audit
from store.audit import Actor
from store.directory import Directory
from store.errors import NotFound, Refused, ValidationError
from tests.test_identity_init import FakeClock

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ALLOW_S3_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},
            {
                "Sid": "OwnPrefixOnly",
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "NotResource": "arn:aws:s3:::teamdocs/${aws:username}/*",
            },
        ],
    }
)


@pytest.fixture(name="clock")
def clock_fixture() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(name="world")
def world_fixture(tmp_path, clock):
    """alice (direct), bob (through group Readers), carol (no access); account prod; permission sets."""
    d = Directory.open(tmp_path / "d.db", Actor("test-admin", "test"), clock)
    alice, bob, carol = (d.users.create(n) for n in ("alice", "bob", "carol"))
    readers = d.groups.create("Readers")
    d.groups.add_member(readers.id, bob.id)
    prod = d.accounts.create("prod")
    reader = d.permission_sets.create("S3Reader", session_duration="PT8H", inline_policy=ALLOW_S3_READ)
    long = d.permission_sets.create("LongHaul", session_duration=129_600, managed_policies=["ReadOnlyAccess"])
    d.assignments.create("user", alice.id, prod.id, reader.id)
    d.assignments.create("user", alice.id, prod.id, long.id)
    d.assignments.create("group", readers.id, prod.id, reader.id)
    yield (
        d,
        {
            "alice": alice,
            "bob": bob,
            "carol": carol,
            "readers": readers,
            "prod": prod,
            "reader": reader,
            "long": long,
        },
    )
    d.close()


def creds_of(issued):
    return issued.access_key_id, issued.secret_access_key, issued.session_token


class TestIssue:
    def test_credentials_have_the_aws_shape_and_default_to_the_set_duration(self, world, clock):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        assert issued.access_key_id.startswith("ASIA") and len(issued.access_key_id) == 20
        assert len(issued.secret_access_key) == 40
        assert len(issued.session_token) >= 43  # ≥ 256 bits, url-safe base64
        assert issued.expiration == "2026-06-01T20:00:00Z"
        assert issued.secret_access_key not in repr(issued) and issued.session_token not in repr(issued)
        process = issued.credential_process()
        assert process["Version"] == 1 and process["Expiration"] == "2026-06-01T20:00:00Z"

    def test_group_assignment_grants_and_expired_membership_does_not(self, world, clock):
        d, w = world
        assert d.sessions.verify(*creds_of(d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id))).valid
        d.groups.remove_member(w["readers"].id, w["bob"].id)
        d.groups.add_member(w["readers"].id, w["bob"].id, expires_at="2026-06-01T13:00:00Z")
        d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        clock.advance(hours=1)
        with pytest.raises(Refused, match="not assigned"):
            d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)

    def test_expired_or_removed_assignments_grant_nothing(self, world, clock):
        d, w = world
        assignment = d.assignments.list(user_id=w["alice"].id, permission_set_id=w["reader"].id).items[0]
        d.assignments.update_expiry(assignment.id, assignment.version, "2026-06-01T12:30:00Z")
        clock.advance(minutes=30)
        with pytest.raises(Refused, match="not assigned"):
            d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        long = d.assignments.list(user_id=w["alice"].id, permission_set_id=w["long"].id).items[0]
        d.assignments.delete(long.id, long.version)
        with pytest.raises(Refused, match="not assigned"):
            d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id)
        with pytest.raises(Refused, match="not assigned"):
            d.sessions.issue(w["carol"].id, w["prod"].id, w["reader"].id)

    def test_disabled_users_disabled_accounts_and_root_get_nothing(self, world, tmp_path):
        d, w = world
        alice = d.users.get(w["alice"].id)
        d.users.disable(alice.id, alice.version)
        with pytest.raises(Refused, match="disabled"):
            d.sessions.issue(alice.id, w["prod"].id, w["reader"].id)
        prod = d.accounts.get(w["prod"].id)
        d.accounts.set_status(prod.id, prod.version, False)
        with pytest.raises(Refused, match="account 'prod' is disabled"):
            d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        d.db.conn.execute(
            "INSERT INTO users (user_name, user_name_key, is_root, created_at, updated_at) "
            "VALUES ('root', 'root', 1, 'x', 'x')"
        )
        root = d.users.root()
        with pytest.raises(Refused, match="root"):
            d.sessions.issue(root.id, w["prod"].id, w["reader"].id)

    @pytest.mark.parametrize(
        ("duration", "ok"),
        [
            (899, False),
            (900, True),
            (129_600, True),
            (129_601, False),
            ("PT15M", True),
            ("PT36H", True),
            ("PT36H1S", False),
        ],
    )
    def test_duration_bounds_are_refused_never_clamped(self, world, duration, ok):
        d, w = world
        if ok:
            issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id, duration=duration)
            seconds = (
                datetime.fromisoformat(issued.expiration.replace("Z", "+00:00")) - START
            ).total_seconds()
            assert seconds == (
                duration if isinstance(duration, int) else {"PT15M": 900, "PT36H": 129_600}[duration]
            )
        else:
            with pytest.raises(ValidationError, match="outside the allowed 15 minutes to 36 hours"):
                d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id, duration=duration)

    def test_longer_than_the_permission_set_allows_is_refused(self, world):
        d, w = world
        with pytest.raises(ValidationError, match="longer than 'S3Reader' allows"):
            d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id, duration="PT9H")
        assert d.sessions.list().total == 0

    def test_every_issue_is_an_audit_event_without_secrets(self, world, tmp_path):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        with d.db.read() as conn:
            event = conn.execute("SELECT * FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        assert event["action"] == "session.issue" and event["target"] == "user:alice"
        assert issued.access_key_id in event["details"]
        d.db.conn.execute("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("d.db*"))
        assert issued.secret_access_key.encode() not in raw
        assert issued.session_token.encode() not in raw


class TestVerify:
    def test_valid_until_the_expiry_instant_and_dead_from_it(self, world, clock):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id, duration="PT15M")
        result = d.sessions.verify(*creds_of(issued))
        assert result.valid and result.session.user_id == w["alice"].id
        assert (result.session.account_id, result.session.permission_set_id) == (w["prod"].id, w["reader"].id)
        assert result.session.expires_at == "2026-06-01T12:15:00Z"
        assert d.sessions.describe(result) == {
            "valid": True,
            "reason": "valid",
            "session_id": issued.session_id,
            "user": "alice",
            "account": "prod",
            "permission_set": "S3Reader",
            "expires_at": "2026-06-01T12:15:00Z",
        }
        clock.advance(minutes=14, seconds=59)
        assert d.sessions.verify(*creds_of(issued)).valid
        clock.advance(seconds=1)
        result = d.sessions.verify(*creds_of(issued))
        assert (result.valid, result.reason) == (False, "expired")

    def test_wrong_secret_wrong_key_and_unknown_token_are_unknown(self, world):
        d, w = world
        key, secret, token = creds_of(d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id))
        assert (
            d.sessions.verify(key, secret[:-1] + ("A" if secret[-1] != "A" else "B"), token).reason
            == "unknown"
        )
        assert d.sessions.verify("ASIAAAAAAAAAAAAAAAAA", secret, token).reason == "unknown"
        assert d.sessions.verify(key, secret, token + "x").reason == "unknown"
        assert d.sessions.verify(key, secret, "").reason == "malformed"

    def test_revoking_one_a_users_an_accounts_a_sets_or_all(self, world):
        d, w = world
        one = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        two = d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id)
        bobs = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        assert d.sessions.revoke(one.session_id) == 1
        assert d.sessions.verify(*creds_of(one)).reason == "revoked"
        assert d.sessions.verify(*creds_of(two)).valid
        assert d.sessions.revoke_permission_set(w["reader"].id) == 1  # bob's; alice's was already revoked
        assert d.sessions.verify(*creds_of(bobs)).reason == "revoked"
        three = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        assert d.sessions.revoke_account(w["prod"].id) == 2
        assert not d.sessions.verify(*creds_of(three)).valid and not d.sessions.verify(*creds_of(two)).valid
        four = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        assert d.sessions.revoke_user(w["alice"].id) == 1
        assert d.sessions.verify(*creds_of(four)).reason == "revoked"
        five = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        assert d.sessions.revoke_all() == 1
        assert d.sessions.verify(*creds_of(five)).reason == "revoked"
        with pytest.raises(NotFound):
            d.sessions.revoke(9999)

    def test_disabling_or_deleting_a_user_kills_their_credentials(self, world):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        alice = d.users.get(w["alice"].id)
        d.users.disable(alice.id, alice.version)
        assert d.sessions.verify(*creds_of(issued)).reason == "revoked"
        bobs = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        bob = d.users.get(w["bob"].id)
        d.users.delete(bob.id, bob.version)
        assert d.sessions.verify(*creds_of(bobs)).reason == "unknown"

    def test_a_disabled_account_stops_its_credentials(self, world):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        prod = d.accounts.get(w["prod"].id)
        d.accounts.set_status(prod.id, prod.version, False)
        assert not d.sessions.verify(*creds_of(issued)).valid


class TestAuthorize:
    def test_authorize_follows_the_permission_sets_policies(self, world):
        d, w = world
        creds = creds_of(d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id))
        check, decision = d.sessions.authorize(*creds, "s3:ListBucket", "arn:aws:s3:::teamdocs")
        assert check.valid and decision.decision == "allow"
        assert (
            d.sessions.authorize(*creds, "s3:PutObject", "arn:aws:s3:::teamdocs/x")[1].decision
            == "implicit_deny"
        )
        own = d.sessions.authorize(*creds, "s3:GetObject", "arn:aws:s3:::teamdocs/alice/report.csv")[1]
        assert own.decision == "allow"
        other = d.sessions.authorize(*creds, "s3:GetObject", "arn:aws:s3:::teamdocs/bob/report.csv")[1]
        assert other.decision == "explicit_deny"
        assert [s.sid for s in other.statements] == ["OwnPrefixOnly"]

    def test_managed_policies_and_boundaries_count(self, world):
        d, w = world
        creds = creds_of(d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id))
        assert d.sessions.authorize(*creds, "ec2:DescribeInstances", "*")[1].decision == "allow"
        pset = d.permission_sets.get(w["long"].id)
        boundary = json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        )
        d.permission_sets.update(pset.id, pset.version, boundary_policy=boundary)
        assert d.sessions.authorize(*creds, "ec2:DescribeInstances", "*")[1].decision != "allow"
        assert d.sessions.authorize(*creds, "s3:ListBucket", "arn:aws:s3:::b")[1].decision == "allow"

    def test_dead_credentials_are_not_evaluated(self, world):
        d, w = world
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        d.sessions.revoke(issued.session_id)
        check, decision = d.sessions.authorize(*creds_of(issued), "s3:ListBucket", "arn:aws:s3:::teamdocs")
        assert check.reason == "revoked" and decision is None


class TestListAndSweep:
    def test_list_active_and_sweep_old_rows(self, world, clock):
        d, w = world
        old = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id, duration="PT15M")
        clock.advance(hours=1)
        live = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
        assert [s.id for s in d.sessions.list(active_only=True).items] == [live.session_id]
        assert d.sessions.list().total == 2
        assert d.sessions.sweep(timedelta(days=7)) == 0
        clock.advance(days=7)
        assert d.sessions.sweep(timedelta(days=7)) == 1
        assert [s.id for s in d.sessions.list().items] == [live.session_id]
        assert d.sessions.get(live.session_id).state(d.now_text()) == "expired"
        with pytest.raises(NotFound):
            d.sessions.get(old.session_id)


class TestGrantExpiry:
    def test_a_session_never_outlives_the_assignment_that_grants_it(self, world, clock):
        d, w = world
        assignment = d.assignments.list(user_id=w["alice"].id, permission_set_id=w["reader"].id).items[0]
        d.assignments.update_expiry(assignment.id, assignment.version, "2026-06-01T14:00:00Z")
        issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        assert issued.expiration == "2026-06-01T14:00:00Z"  # default: until the assignment ends, not PT8H
        with pytest.raises(ValidationError, match="ends at 2026-06-01T14:00:00Z; ask for PT2H or less"):
            d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id, duration="PT3H")
        clock.advance(hours=1, minutes=50)
        with pytest.raises(Refused, match="less than the 15-minute minimum"):
            d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)

    def test_a_shorter_session_duration_shortens_the_sets_live_sessions(self, world, clock):
        """A set's session duration cut from 12 h to 1 h left its live sessions valid for 12 h (red-team):
        they end by the new length from when they were issued, and one already older than that ends now."""
        d, w = world
        pset = d.permission_sets.get(w["reader"].id)
        pset = d.permission_sets.update(pset.id, pset.version, session_duration="PT12H")
        old = creds_of(d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id))
        clock.advance(hours=2)
        young = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
        other = d.sessions.issue(w["alice"].id, w["prod"].id, w["long"].id)  # another set: untouched
        d.permission_sets.update(pset.id, pset.version, session_duration="PT1H")
        assert d.sessions.verify(*old).reason == "expired"
        verified = d.sessions.verify(*creds_of(young))
        assert verified.valid and verified.session.expires_at == "2026-06-01T15:00:00Z"  # issued 14:00, + 1 h
        assert d.sessions.verify(*creds_of(other)).session.expires_at == other.expiration
        with d.db.read() as conn:
            event = next(audit.events(conn, newest_first=True, limit=1))
        assert event.action == "permission_set.update" and event.details["sessions_shortened"] == 2

    def test_editing_a_managed_policy_changes_what_live_sessions_may_do(self, world):
        d, w = world
        policy = d.policies.create(
            "EC2Read",
            document=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
                }
            ),
        )
        pset = d.permission_sets.get(w["reader"].id)
        d.permission_sets.update(pset.id, pset.version, managed_policies=["EC2Read"])
        creds = creds_of(d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id))
        assert d.sessions.authorize(*creds, "ec2:DescribeInstances", "*")[1].decision == "allow"
        d.policies.update(
            policy.id,
            policy.version,
            document=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}],
                }
            ),
        )
        assert d.sessions.authorize(*creds, "ec2:DescribeInstances", "*")[1].decision == "explicit_deny"


class TestCredentialChangesEndSessions:
    def test_a_password_change_or_reset_kills_the_users_credentials(self, world):
        d, w = world
        alice = w["alice"]
        d.credentials.set_password(alice.id, "first of many passphrases")
        issued = d.sessions.issue(alice.id, w["prod"].id, w["reader"].id)
        d.credentials.change_password(alice.id, "first of many passphrases", "second of many passphrases")
        assert d.sessions.verify(*creds_of(issued)).reason == "revoked"
        again = d.sessions.issue(alice.id, w["prod"].id, w["reader"].id)
        d.credentials.set_password(alice.id, "an admin reset it to this", must_change=True)
        assert d.sessions.verify(*creds_of(again)).reason == "revoked"
        assert d.sessions.get(again.session_id).revoked_reason == "password reset"
        # (an MFA reset ends them through the same Directory.end_user_sessions: see test_credentials.py)
