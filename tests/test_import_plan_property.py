"""The import's plan is what it does: for random small directories and random import documents, what a dry
run says would change is exactly what applying changes (the directory read before and after through the
store), a refused dry run is a refused import that changes nothing, and applying the same file twice changes
nothing the second time."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from store.directory import Directory
from store.directory_json import export_document
from store.errors import Refused
from store.importer import (
    GroupIn,
    ImportDocument,
    ImportRefused,
    ImportResult,
    MemberIn,
    UserIn,
    import_document,
)
from tests.conftest import TEST_ACTOR

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

USER_NAMES = ["ann", "bob", "cy", "Ann", "dee"]  # "Ann" is "ann" once canonical
GROUP_NAMES = ["eng", "ops", "admins", "Eng"]
EXTERNAL_IDS = [None, None, "e1", "e2", "e3"]
TEXTS = [None, "", "Ann Smith", "Bob"]
EXPIRIES = [None, None, "2031-01-01T00:00:00Z", "2032-06-01T00:00:00Z"]
SOURCES = ["local", "okta"]
# What a SCIM user keeps beyond the columns, as the reader gives it (canonical text; "" for none).
KEPT = [
    None,
    None,
    "",
    json.dumps({"emails": [{"primary": True, "value": "a@example.com"}]}, sort_keys=True),
    json.dumps({ENTERPRISE_USER: {"department": "Finance"}}, sort_keys=True),
]


@dataclass(frozen=True)
class Case:
    seeds: list[tuple[ImportDocument, str]]  # documents that make the directory, with their source
    document: ImportDocument
    source: str
    sync: bool
    allow_mass_disable: bool
    allow_admin_changes: bool


@st.composite
def user_entries(
    draw: st.DrawFn, where: str, name: str, external_id: str | None, groups: list[str]
) -> UserIn:
    return UserIn(
        where=where,
        user_name=name,
        display_name=draw(st.sampled_from(TEXTS)),
        email=draw(st.sampled_from([None, "", "a@example.com"])),
        external_id=external_id,
        active=draw(st.sampled_from([None, True, False])),
        groups=draw(st.none() | st.lists(st.sampled_from(groups), max_size=2, unique=True)),
        scim_attributes=draw(st.sampled_from(KEPT)),
    )


@st.composite
def group_entries(draw: st.DrawFn, where: str, name: str, users: list[str]) -> GroupIn:
    members = draw(
        st.none()
        | st.lists(
            st.tuples(st.sampled_from(users), st.sampled_from(EXPIRIES)),
            max_size=3,
            unique_by=lambda member: member[0],
        )
    )
    removed = draw(st.lists(st.sampled_from(users), max_size=2, unique=True))
    return GroupIn(
        where=where,
        name=name,
        # As SCIM PATCH says it: these members removed, or all of them.
        remove_members=[
            MemberIn(base=f"{where} remove", user_name=member, index=index)
            for index, member in enumerate(removed)
        ],
        remove_all_members=draw(st.integers(0, 5)) == 0,
        description=draw(st.sampled_from(TEXTS)),
        external_id=draw(st.sampled_from([None, None, "g1"])),
        members=None
        if members is None
        else [
            MemberIn(base=where, user_name=member, expires_at=expiry, index=index)
            for index, (member, expiry) in enumerate(members)
        ],
    )


@st.composite
def documents(draw: st.DrawFn, like: ImportDocument | None = None) -> ImportDocument:
    """Mostly valid documents (distinct names, members among the file's users), sometimes not: a name twice
    in another case, an externalId twice, a member or group that is nowhere. ``like``: mostly the same
    users and groups as that document (with other fields), so that an import meets what it changes."""
    external_ids = draw(st.permutations(EXTERNAL_IDS))
    if like is not None and draw(st.integers(0, 3)) > 0:
        if draw(st.integers(0, 3)) > 0:
            external_ids = [u.external_id for u in like.users] + EXTERNAL_IDS
        user_names = [u.user_name or "" for u in like.users]
        group_names = [g.name or "" for g in like.groups]
        drop_one: bool = draw(st.booleans())
        if user_names and drop_one:
            gone = draw(st.integers(0, len(user_names) - 1))
            user_names.pop(gone)
            external_ids.pop(gone)
    else:
        case_twice = draw(st.integers(0, 4)) == 0  # "ann" and "Ann" in the same file: refused
        key = (lambda name: name) if case_twice else str.casefold
        user_names = draw(st.lists(st.sampled_from(USER_NAMES), min_size=1, max_size=4, unique_by=key))
        group_names = draw(st.lists(st.sampled_from(GROUP_NAMES), max_size=3, unique_by=key))
    known_users = user_names or USER_NAMES
    known_groups = group_names or GROUP_NAMES
    # Distinct externalIds mostly; one the same as another's in one document out of ten.
    if draw(st.integers(0, 9)) == 0:
        external_ids = ["e1"] * len(EXTERNAL_IDS)
    users = [
        draw(user_entries(f"users[{i}]", name, external_ids[i], known_groups))
        for i, name in enumerate(user_names)
    ]
    groups = [draw(group_entries(f"groups[{i}]", name, known_users)) for i, name in enumerate(group_names)]
    return ImportDocument(users=users, groups=groups, create_missing_groups=draw(st.booleans()))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    source = draw(st.sampled_from(SOURCES))
    # Mostly the case's own source, so the file meets users and groups it may change.
    seed_sources = st.sampled_from([source, source, source, *SOURCES])
    seeds = [(draw(documents()), draw(seed_sources)) for _ in range(draw(st.integers(1, 2)))]
    return Case(
        seeds=seeds,
        document=draw(documents(like=seeds[-1][0])),
        source=source,
        sync=source != "local" and draw(st.booleans()),
        allow_mass_disable=draw(st.booleans()),
        allow_admin_changes=draw(st.booleans()),
    )


def snapshot(directory: Directory) -> dict[str, Any]:
    """Users, groups and memberships by row id (so a rename is an update, not a new user)."""
    with directory.db.read() as conn:
        users = {
            row[0]: dict(zip(USER_COLUMNS, row[1:], strict=True))
            for row in conn.execute(f"SELECT id, {', '.join(USER_COLUMNS)} FROM users WHERE is_root = 0")
        }
        groups = {
            row[0]: dict(zip(GROUP_COLUMNS, row[1:], strict=True))
            for row in conn.execute(f"SELECT id, {', '.join(GROUP_COLUMNS)} FROM groups")
        }
        memberships = {
            (row[0], row[1]): row[2]
            for row in conn.execute("SELECT group_id, user_id, expires_at FROM memberships")
        }
        batches = conn.execute("SELECT count(*) FROM import_batches").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    return {
        "users": users,
        "groups": groups,
        "memberships": memberships,
        "batches": batches,
        "events": events,
    }


# Column → the name the plan gives the field (SCIM's).
USER_COLUMNS = {
    "user_name": "userName",
    "display_name": "displayName",
    "given_name": "givenName",
    "family_name": "familyName",
    "email": "email",
    "external_id": "externalId",
    "status": "active",
    "scim_id": "id",
    "scim_attributes": "scimAttributes",
    "source": "source",
}
GROUP_COLUMNS = {
    "name": "displayName",
    "description": "description",
    "external_id": "externalId",
    "scim_id": "id",
    "source": "source",
}


def observed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed, in the plan's words."""
    changes: dict[str, Any] = {
        "users": {"create": set(), "update": {}, "disable": set()},
        "groups": {"create": set(), "update": {}},
        "memberships": {"create": set(), "update": set(), "remove": set()},
    }
    for ident, user in after["users"].items():
        old = before["users"].get(ident)
        if old is None:
            changes["users"]["create"].add(user["user_name"])
            continue
        changed = {USER_COLUMNS[c] for c in USER_COLUMNS if user[c] != old[c]}
        if old["status"] == "active" and user["status"] == "disabled":
            changes["users"]["disable"].add(user["user_name"])
        elif changed:
            changes["users"]["update"][user["user_name"]] = changed
    for ident, group in after["groups"].items():
        old = before["groups"].get(ident)
        if old is None:
            changes["groups"]["create"].add(group["name"])
        elif changed := {GROUP_COLUMNS[c] for c in GROUP_COLUMNS if group[c] != old[c]}:
            changes["groups"]["update"][group["name"]] = changed
    user_after, group_after = after["users"], after["groups"]
    for pair, expiry in after["memberships"].items():
        label = f"{user_after[pair[1]]['user_name']} in {group_after[pair[0]]['name']}"
        if pair not in before["memberships"]:
            changes["memberships"]["create"].add(label)
        elif before["memberships"][pair] != expiry:
            changes["memberships"]["update"].add(label)
    for pair in before["memberships"].keys() - after["memberships"].keys():
        changes["memberships"]["remove"].add(
            f"{before['users'][pair[1]]['user_name']} in {group_after[pair[0]]['name']}"
        )
    return changes


def said(result: ImportResult) -> dict[str, Any]:
    """What the plan says will change, in the shape of :func:`observed`."""
    plan = result.plan
    return {
        "users": {
            "create": set(plan.users.create),
            "update": {name: set(fields) for name, fields in plan.users.update.items()},
            "disable": set(plan.users.retire),
        },
        "groups": {
            "create": set(plan.groups.create),
            "update": {name: set(fields) for name, fields in plan.groups.update.items()},
        },
        "memberships": {
            "create": set(plan.memberships.create),
            "update": set(plan.memberships.update),
            "remove": set(plan.memberships.retire),
        },
    }


def run(directory: Directory, case: Case, *, dry_run: bool) -> ImportResult:
    return import_document(
        directory,
        case.document,
        file_name="file.json",
        raw=b"{}",
        source=case.source,
        dry_run=dry_run,
        sync=case.sync,
        allow_mass_disable=case.allow_mass_disable,
        allow_admin_changes=case.allow_admin_changes,
    )


def seed(directory: Directory, case: Case) -> None:
    """The directory the case starts from: its seed documents imported (refused ones change nothing), and
    the group 'admins', when it exists, made the admin group."""
    for document, source in case.seeds:
        try:
            import_document(
                directory,
                document,
                file_name="seed.json",
                raw=b"{}",
                source=source,
                allow_admin_changes=True,
            )
        except (ImportRefused, Refused):
            pass
    with directory.db.read() as conn:
        admins = conn.execute("SELECT id FROM groups WHERE name_key = 'admins'").fetchone()
    if admins is not None:
        directory.admins.set_admin_group(int(admins[0]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_the_dry_run_plan_is_the_change_and_a_second_run_changes_nothing(case: Case) -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Directory.open(Path(folder) / "directory.db", TEST_ACTOR)
        try:
            seed(directory, case)
            before, export_before = snapshot(directory), export_document(directory)
            try:
                dry = run(directory, case, dry_run=True)
            except ImportRefused as refused:
                event("refused")
                # Refused on paper, refused for real, for the same reasons, and nothing changed.
                try:
                    run(directory, case, dry_run=False)
                except ImportRefused as refused_again:
                    assert refused_again.problems == refused.problems
                else:
                    raise AssertionError("the dry run was refused but the import was not") from None
                assert snapshot(directory) == before
                return
            assert not dry.applied
            assert snapshot(directory) == before  # a dry run writes nothing
            if dry.plan.blocked:
                event("blocked")
                try:
                    run(directory, case, dry_run=False)
                except Refused as refused:
                    assert dry.plan.blocked in str(refused)
                else:
                    raise AssertionError("a blocked plan was applied") from None
                assert snapshot(directory) == before
                return

            event("applied" if not dry.plan.changes_nothing else "nothing to change")
            applied = run(directory, case, dry_run=False)
            after = snapshot(directory)
            assert applied.plan.describe(None) == dry.plan.describe(None)
            assert applied.applied == (not dry.plan.changes_nothing)
            assert observed(before, after) == said(dry)
            for concept, kinds in said(dry).items():
                for kind, items in kinds.items():
                    if items:
                        event(f"{kind} {concept}")
            # An import that changes something leaves one batch and one audit event; one that does not,
            # neither.
            wrote = 0 if dry.plan.changes_nothing else 1
            assert (after["batches"], after["events"]) == (
                before["batches"] + wrote,
                before["events"] + wrote,
            )
            if dry.plan.changes_nothing:
                assert export_document(directory) == export_before

            export_after = export_document(directory)
            again = run(directory, case, dry_run=False)
            assert again.plan.changes_nothing, again.plan.describe(None)
            assert not again.applied
            assert snapshot(directory) == after
            assert export_document(directory) == export_after
        finally:
            directory.close()


def test_a_change_made_while_the_plan_was_made_is_planned_again_under_the_lock(tmp_path: Path) -> None:
    """Another admin's commit between the plan and the write: the import plans again under the write lock
    and applies that plan (bob, created meanwhile, is updated rather than created twice), and a grant that
    became an admin grant meanwhile is refused, changing nothing."""
    db = tmp_path / "directory.db"
    mine, other = Directory.open(db, TEST_ACTOR), Directory.open(db, TEST_ACTOR)
    try:
        document = ImportDocument(
            users=[
                UserIn("users[0]", user_name="ann"),
                UserIn("users[1]", user_name="bob", display_name="Bob"),
            ]
        )
        meanwhile: list[str] = []

        def progress(phase: str, done: int, total: int) -> None:
            if phase == "plan" and done == total and not meanwhile:
                meanwhile.append("bob")
                other.users.create("bob", display_name="Robert")

        result = import_document(mine, document, file_name="f.json", raw=b"{}", progress=progress)
        assert result.applied and meanwhile
        assert result.plan.users.create == ["ann"]
        assert result.plan.users.update == {"bob": ["displayName"]}
        assert mine.users.get_by_name("bob").display_name == "Bob"

        # A group that becomes the admin group while the plan is made: its new member is an admin grant.
        grant = ImportDocument(
            groups=[
                GroupIn("groups[0]", name="ops", members=[MemberIn("groups[0]", user_name="ann", index=0)])
            ]
        )
        other.groups.create("ops")
        before = snapshot(mine)

        def promote(phase: str, done: int, total: int) -> None:
            if phase == "plan" and done == total and not mine.admins.admin_group():
                other.admins.set_admin_group(other.groups.get_by_name("ops").id)

        try:
            import_document(mine, grant, file_name="g.json", raw=b"{}", progress=promote)
        except Refused as refused:
            assert "would make administrators: 'ann in ops'" in str(refused)
        else:
            raise AssertionError("a grant that became an admin grant was applied")
        after = snapshot(mine)
        assert after["memberships"] == before["memberships"] and after["batches"] == before["batches"]
    finally:
        mine.close()
        other.close()
