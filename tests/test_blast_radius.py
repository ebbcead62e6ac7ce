"""Blast radius: who gains or loses which actions where, before an edit is saved (real SQLite files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from store import blast_radius
from store.errors import Refused, ValidationError


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def allow(*actions: str, resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource, **extra}


def deny(*actions: str, resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": list(actions), "Resource": resource, **extra}


@pytest.fixture
def world(open_directory):
    """Dev (s3:GetObject, s3:PutObject) held by group Devs (ann, ben) in dev and by cat directly in prod.
    Reader (s3:GetObject) also held by ben in dev. dan is a Devs member whose membership has expired."""
    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    d = open_directory(clock=lambda: now[0])
    users = {name: d.users.create(name) for name in ("ann", "ben", "cat", "dan")}
    devs, readers = d.groups.create("Devs"), d.groups.create("Readers")
    for name in ("ann", "ben"):
        d.groups.add_member(devs.id, users[name].id)
    d.groups.add_member(devs.id, users["dan"].id, expires_at="2026-06-02T00:00:00Z")
    d.groups.add_member(readers.id, users["ben"].id)
    accounts = {name: d.accounts.create(name) for name in ("dev", "prod")}
    dev_set = d.permission_sets.create("Dev", inline_policy=doc(allow("s3:GetObject", "s3:PutObject")))
    reader = d.permission_sets.create("Reader", inline_policy=doc(allow("s3:GetObject")))
    d.assignments.create("group", devs.id, accounts["dev"].id, dev_set.id)
    d.assignments.create("user", users["cat"].id, accounts["prod"].id, dev_set.id)
    d.assignments.create("group", readers.id, accounts["dev"].id, reader.id)
    now[0] = datetime(2026, 6, 3, tzinfo=UTC)  # dan's membership is over
    return d, users, dev_set


def changes(radius):
    return [(c.account_name, c.user_name, c.granted_by, c.gained, c.lost) for c in radius.changes]


class TestPermissionSetEdits:
    def test_gains_and_losses_per_user_and_account(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d,
            dev_set.id,
            inline_policy=doc(allow("s3:GetObject", "s3:DeleteObject")),
            managed_policies=[],
            boundary_policy=None,
        )
        assert radius.actions == ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
        assert [(c.permission_set, c.gained, c.lost) for c in radius.set_changes] == [
            ("Dev", ("s3:DeleteObject",), ("s3:PutObject",))
        ]
        assert changes(radius) == [
            ("dev", "ann", ("group Devs",), ("s3:DeleteObject",), ("s3:PutObject",)),
            ("dev", "ben", ("group Devs",), ("s3:DeleteObject",), ("s3:PutObject",)),
            ("prod", "cat", ("direct",), ("s3:DeleteObject",), ("s3:PutObject",)),
        ]  # dan's membership has expired: not a holder
        assert (radius.holders, radius.accounts, radius.users) == (3, 2, 3)
        groups = radius.grouped()
        assert [(g.account_name, g.users) for g in groups] == [("dev", ("ann", "ben")), ("prod", ("cat",))]
        lines = radius.describe()
        assert lines[0] == (
            "permission set Dev is held by 3 user-account pairs in 2 accounts: 3 users gain or lose actions."
        )
        assert "in dev, 2 users via group Devs (ann, ben): gain s3:DeleteObject; lose s3:PutObject" in lines
        json.dumps(radius.to_json())

    def test_an_action_kept_through_another_set_is_not_lost(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d, dev_set.id, inline_policy=doc(allow("s3:PutObject")), managed_policies=[], boundary_policy=None
        )
        # Reader still gives ben s3:GetObject in dev; ann and cat lose it
        assert changes(radius) == [
            ("dev", "ann", ("group Devs",), (), ("s3:GetObject",)),
            ("prod", "cat", ("direct",), (), ("s3:GetObject",)),
        ]

    def test_wildcards_stand_for_what_they_match(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d,
            dev_set.id,
            inline_policy=doc(allow("s3:*"), deny("s3:Delete*")),
            managed_policies=[],
            boundary_policy=None,
        )
        assert radius.actions == ("s3:*", "s3:Delete*", "s3:GetObject", "s3:PutObject")
        assert radius.set_changes[0].gained == ("s3:*",)
        assert radius.set_changes[0].lost == ()

    def test_boundary_caps_and_managed_policies_count(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d,
            dev_set.id,
            inline_policy=doc(allow("s3:GetObject", "s3:PutObject")),
            managed_policies=["AdministratorAccess"],
            boundary_policy=doc(allow("s3:Get*", "ec2:*")),
        )
        change = radius.set_changes[0]
        # AdministratorAccess allows them and the boundary lets them through: all of EC2, every S3 read
        assert change.gained == ("ec2:*", "s3:Get*")
        assert change.lost == ("s3:PutObject",)  # the boundary caps it

    def test_conditional_or_scoped_statements(self, world):
        d, _, dev_set = world
        scoped = doc(
            allow("s3:GetObject", "s3:PutObject"),
            deny("s3:PutObject", resource="arn:aws:s3:::prod-*"),
            deny("s3:GetObject", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
        )
        radius = blast_radius.permission_set_change(
            d, dev_set.id, inline_policy=scoped, managed_policies=[], boundary_policy=None
        )
        assert radius.empty and radius.set_changes[0].gained == radius.set_changes[0].lost == ()
        everywhere = doc(allow("s3:GetObject", "s3:PutObject"), deny("s3:PutObject"))
        radius = blast_radius.permission_set_change(
            d, dev_set.id, inline_policy=everywhere, managed_policies=[], boundary_policy=None
        )
        assert radius.set_changes[0].lost == ("s3:PutObject",)

    def test_not_action_brings_in_everything_else(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d,
            dev_set.id,
            inline_policy=doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            managed_policies=[],
            boundary_policy=None,
        )
        assert radius.actions[-1] == "*"
        assert radius.set_changes[0].gained == ("*",)

    def test_new_set_and_removal(self, world):
        d, _, dev_set = world
        new = blast_radius.permission_set_change(
            d, None, inline_policy=doc(allow("ec2:*")), managed_policies=[], boundary_policy=None, name="Ec2"
        )
        assert new.empty and new.holders == 0 and new.set_changes[0].gained == ("ec2:*",)
        assert new.summary() == "permission set Ec2 is not assigned to anyone: nobody's access changes."
        removal = blast_radius.permission_set_removal(d, dev_set.id)
        assert [(c.user_name, c.lost) for c in removal.changes] == [
            ("ann", ("s3:GetObject", "s3:PutObject")),
            ("ben", ("s3:PutObject",)),
            ("cat", ("s3:GetObject", "s3:PutObject")),
        ]

    def test_invalid_proposals_are_refused(self, world):
        d, _, dev_set = world
        with pytest.raises(ValidationError, match="inline policy is not a valid policy"):
            blast_radius.permission_set_change(
                d, dev_set.id, inline_policy="{", managed_policies=[], boundary_policy=None
            )
        with pytest.raises(ValidationError, match="no policy named 'Nope'"):
            blast_radius.permission_set_change(
                d, dev_set.id, inline_policy=None, managed_policies=["Nope"], boundary_policy=None
            )

    def test_only_renaming_changes_nobody(self, world):
        d, _, dev_set = world
        radius = blast_radius.permission_set_change(
            d,
            dev_set.id,
            inline_policy=dev_set.inline_policy,
            managed_policies=[],
            boundary_policy=None,
            name="Renamed",
        )
        assert radius.empty and radius.holders == 3
        assert radius.summary().endswith("nobody gains or loses an action.")


class TestPolicyEdits:
    def test_through_every_set_that_attaches_it(self, world):
        d, _, dev_set = world
        policy = d.policies.create("Logs", document=doc(allow("logs:GetLogEvents")))
        dev_set = d.permission_sets.get(dev_set.id)
        d.permission_sets.update(dev_set.id, dev_set.version, managed_policies=["Logs"])
        radius = blast_radius.policy_change(
            d, policy.id, doc(allow("logs:GetLogEvents", "logs:PutLogEvents"))
        )
        assert radius.subject == "policy Logs"
        assert [(c.permission_set, c.gained) for c in radius.set_changes] == [("Dev", ("logs:PutLogEvents",))]
        assert [c.user_name for c in radius.changes] == ["ann", "ben", "cat"]

    def test_unattached_policy_and_builtins(self, world):
        d, _, _ = world
        policy = d.policies.create("Loose", document=doc(allow("sqs:SendMessage")))
        radius = blast_radius.policy_change(d, policy.id, doc(allow("sqs:*")))
        assert radius.empty and radius.set_changes[0].gained == ("sqs:*",)
        builtin = d.policies.get_by_name("ReadOnlyAccess")
        with pytest.raises(Refused, match="built-in"):
            blast_radius.policy_change(d, builtin.id, doc(allow("sqs:*")))
