"""The policy library (store.policies) and compiled permission sets, on real SQLite files."""

from __future__ import annotations

import json

import pytest

from store.audit import Actor
from store.errors import AlreadyExists, Conflict, NotFound, Refused, ValidationError
from store.permission_sets import BOUNDARY_LABEL, INLINE_LABEL, compile_permission_set_sources
from store.policy import BUILTIN_POLICIES


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


S3_READ = doc({"Sid": "S3Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"})
S3_ALL = doc({"Sid": "S3All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})


def audit_actions(directory) -> list[str]:
    with directory.db.read() as conn:
        return [row[0] for row in conn.execute("SELECT action FROM audit ORDER BY seq")]


class TestLibrary:
    def test_builtins_are_listed_and_read_only(self, directory):
        listed = directory.policies.list()
        assert {p.name for p in listed.items} == set(BUILTIN_POLICIES)
        assert all(p.builtin and p.kind == "built-in" for p in listed.items)
        admin = directory.policies.get_by_name("administratoraccess")  # names compare canonically
        with pytest.raises(Refused, match="AdministratorAccess is a built-in policy and cannot be edited"):
            directory.policies.update(admin.id, admin.version, description="mine now")
        with pytest.raises(Refused, match="cannot be deleted"):
            directory.policies.delete(admin.id, admin.version)
        assert directory.policies.get(admin.id).document == BUILTIN_POLICIES["AdministratorAccess"]

    def test_create_update_delete_with_versions_and_audit(self, directory):
        created = directory.policies.create("S3Team", document=S3_READ, description="Team buckets")
        assert (created.builtin, created.version, created.attached_to) == (False, 1, ())
        updated = directory.policies.update(created.id, created.version, document=S3_ALL)
        assert updated.version == 2 and updated.document == S3_ALL
        with pytest.raises(Conflict) as lost:
            directory.policies.update(created.id, created.version, description="stale")
        assert lost.value.current.version == 2
        same = directory.policies.update(updated.id, updated.version, document=S3_ALL)
        assert same.version == 2  # nothing changed, nothing written
        directory.policies.delete(updated.id, updated.version)
        with pytest.raises(NotFound):
            directory.policies.get(created.id)
        assert audit_actions(directory)[-3:] == ["policy.create", "policy.update", "policy.delete"]

    def test_refuses_invalid_documents_names_and_duplicates(self, directory):
        with pytest.raises(ValidationError, match=r"document: .*line 1"):
            directory.policies.create("Broken", document='{"Version": "2012-10-17", "Statement": [}')
        with pytest.raises(ValidationError, match="needs a policy document"):
            directory.policies.create("Empty", document="  ")
        with pytest.raises(ValidationError, match="name: use 1 to 128"):
            directory.policies.create("has space", document=S3_READ)
        with pytest.raises(AlreadyExists, match="a built-in policy named 'ReadOnlyAccess'"):
            directory.policies.create("readonlyaccess", document=S3_READ)
        big = doc(
            *(
                {"Sid": f"S{i}", "Effect": "Allow", "Action": f"s3:GetObject{i}", "Resource": "*"}
                for i in range(120)
            )
        )
        with pytest.raises(ValidationError, match="6144"):  # the managed-policy quota, not the inline one
            directory.policies.create("Big", document=big)

    def test_delete_refused_while_attached_naming_the_sets(self, directory):
        policy = directory.policies.create("S3Team", document=S3_READ)
        directory.permission_sets.create("Dev", managed_policies=["S3Team"])
        directory.permission_sets.create("Ops", managed_policies=["s3team", "ReadOnlyAccess"])
        policy = directory.policies.get(policy.id)
        assert policy.attached_to == ("Dev", "Ops")
        with pytest.raises(
            Refused, match="S3Team is attached to permission sets Dev, Ops: detach it there first"
        ):
            directory.policies.delete(policy.id, policy.version)
        for name in ("Dev", "Ops"):
            pset = directory.permission_sets.get_by_name(name)
            directory.permission_sets.update(pset.id, pset.version, managed_policies=[])
        directory.policies.delete(policy.id, policy.version)

    def test_filter_library_and_documents(self, directory):
        directory.policies.create("S3Team", document=S3_READ, description="buckets of the team")
        assert [p.name for p in directory.policies.list(filter="bucket").items] == ["S3Team"]
        assert [p.name for p in directory.policies.library()][:3] == sorted(BUILTIN_POLICIES)
        assert directory.policies.documents(["s3team"]) == [("S3Team", S3_READ)]
        with pytest.raises(ValidationError, match=r"managedPolicies\[1\]: no policy named 'Nope'"):
            directory.policies.documents(["S3Team", "Nope"])

    def test_another_process_sees_the_same_library(self, directory, open_directory):
        created = directory.policies.create("S3Team", document=S3_READ)
        other = open_directory(actor=Actor("other", "test"))
        other.policies.update(created.id, created.version, description="theirs")
        with pytest.raises(Conflict):
            directory.policies.update(created.id, created.version, description="mine")


class TestCompiledPermissionSets:
    def test_inline_managed_and_boundary(self, directory):
        directory.policies.create("S3Team", document=S3_ALL)
        boundary = doc({"Sid": "OnlyS3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
        pset = directory.permission_sets.create(
            "Dev",
            inline_policy=doc({"Sid": "Ec2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"}),
            managed_policies=["S3Team", "ReadOnlyAccess"],
            boundary_policy=boundary,
        )
        compiled = directory.permission_sets.compiled(pset.id)
        assert [s.label for s in compiled.sources] == [
            INLINE_LABEL,
            "ReadOnlyAccess",
            "S3Team",
            BOUNDARY_LABEL,
        ]
        put = compiled.evaluate("s3:PutObject", "arn:aws:s3:::b/k")
        assert put.decision == "allow"
        assert [ref.policy for ref in put.statements] == ["S3Team", BOUNDARY_LABEL]
        # the inline policy and ReadOnlyAccess allow EC2, but the boundary caps the set to S3
        assert compiled.evaluate("ec2:RunInstances", "*").decision == "implicit_deny"
        assert compiled.evaluate("ec2:DescribeInstances", "*").decision == "implicit_deny"

    def test_cache_follows_the_set_and_its_policies(self, directory):
        policy = directory.policies.create("S3Team", document=S3_READ)
        pset = directory.permission_sets.create("Dev", managed_policies=["S3Team"])
        first = directory.permission_sets.compiled(pset.id)
        assert directory.permission_sets.compiled(pset.id) is first  # same versions: the cached one
        assert first.evaluate("s3:PutObject", "*").decision == "implicit_deny"
        directory.policies.update(
            policy.id, policy.version, document=S3_ALL
        )  # the set's version is unchanged
        assert directory.permission_sets.compiled(pset.id).evaluate("s3:PutObject", "*").decision == "allow"
        pset = directory.permission_sets.get(pset.id)
        directory.permission_sets.update(pset.id, pset.version, managed_policies=[])
        assert (
            directory.permission_sets.compiled(pset.id).evaluate("s3:GetObject", "*").decision
            == "implicit_deny"
        )

    def test_a_stored_document_written_around_the_store_is_reported(self, directory):
        pset = directory.permission_sets.create("Dev", inline_policy=S3_READ)
        with directory.db.write() as conn:
            conn.execute(
                "UPDATE permission_sets SET inline_policy = '{\"Version\": 1}' WHERE id = ?", (pset.id,)
            )
        with pytest.raises(ValidationError, match="permission set Dev: inline policy is not a valid policy"):
            directory.permission_sets.compiled(pset.id)

    def test_sources_for_an_unsaved_edit(self):
        compiled = compile_permission_set_sources("New", S3_READ, [], None)
        assert compiled.boundary is None and compiled.evaluate("s3:GetObject", "*").allowed
        with pytest.raises(ValidationError, match="New: inline policy is not a valid policy"):
            compile_permission_set_sources("New", "{", [], None)
