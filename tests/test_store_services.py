"""The services: users, groups and memberships, accounts, permission sets, assignments.

Create, read, list (keyset pages, totals, filters), update (versioned), disable/enable, delete, and the rules
that protect root and imported users.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from store import names
from store.directory import Directory
from store.errors import AlreadyExists, Conflict, NotFound, Refused, StoreError, ValidationError
from store.service import Page

NOW = "2025-01-01T00:00:00Z"
FUTURE = "2031-01-31T09:00:00Z"
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


def all_pages(
    list_page: Callable[..., Page[Any]], limit: int, **kwargs: Any
) -> tuple[list[Any], set[int], int]:
    """Follow ``next_after`` to the end: every item, the set of totals reported, and the number of pages."""
    items: list[Any] = []
    totals: set[int] = set()
    after, pages = None, 0
    while True:
        page = list_page(after=after, limit=limit, **kwargs)
        pages += 1
        assert len(page.items) <= limit
        items += page.items
        totals.add(page.total)
        if page.next_after is None:
            return items, totals, pages
        after = page.next_after
        assert pages < 10_000, "paging never ends"


def insert_root(directory: Directory) -> int:
    """Root as ``tui init`` will create it: a users row flagged is_root (raw SQL: no service creates root)."""
    with directory.db.write() as conn:
        cursor = conn.execute(
            "INSERT INTO users (user_name, user_name_key, is_root, created_at, updated_at) "
            "VALUES ('root', 'root', 1, ?, ?)",
            (NOW, NOW),
        )
        return int(cursor.lastrowid or 0)


def insert_policy(directory: Directory, name: str, document: str = POLICY) -> None:
    with directory.db.write() as conn:
        conn.execute(
            "INSERT INTO policies (name, name_key, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (name, names.canonical(name), document, NOW, NOW),
        )


def count(directory: Directory, sql: str, *args: Any) -> int:
    with directory.db.read() as conn:
        return int(conn.execute(sql, args).fetchone()[0])


# -- users -------------------------------------------------------------------------------------------------


def test_user_lifecycle(directory: Directory) -> None:
    alice = directory.users.create(
        "Alice",
        display_name="Alice Liddell",
        given_name="Alice",
        family_name="Liddell",
        email="alice@example.org",
        external_id="emp-1",
    )
    assert (
        alice.user_name,
        alice.display_name,
        alice.given_name,
        alice.family_name,
        alice.email,
        alice.external_id,
        alice.source,
        alice.status,
        alice.is_root,
        alice.version,
    ) == (
        "Alice",
        "Alice Liddell",
        "Alice",
        "Liddell",
        "alice@example.org",
        "emp-1",
        "local",
        "active",
        False,
        1,
    )
    assert directory.users.get(alice.id) == alice
    assert directory.users.get_by_name("alice") == alice

    updated = directory.users.update(alice.id, alice.version, display_name="Alice L.", email="al@example.org")
    assert (updated.display_name, updated.email, updated.version) == ("Alice L.", "al@example.org", 2)
    assert updated.given_name == "Alice"  # fields not named stay as they were
    assert directory.users.get(alice.id) == updated

    disabled = directory.users.disable(updated.id, updated.version)
    assert disabled.status == "disabled" and not disabled.active and disabled.version == 3
    enabled = directory.users.enable(disabled.id, disabled.version)
    assert enabled.status == "active" and enabled.version == 4

    directory.users.delete(enabled.id, enabled.version)
    with pytest.raises(NotFound):
        directory.users.get(alice.id)
    with pytest.raises(NotFound):
        directory.users.get_by_name("alice")
    assert directory.users.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not-an-email"},
        {"email": "two@@example.org"},
        {"email": "a b@example.org"},
        {"display_name": "x" * 257},
        {"external_id": "bad\x1bid"},
    ],
)
def test_invalid_user_fields_are_refused(directory: Directory, fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        directory.users.create("alice", **fields)
    assert directory.users.count() == 0


def test_an_update_with_unknown_fields_is_refused(directory: Directory) -> None:
    alice = directory.users.create("alice")
    with pytest.raises(ValidationError, match="unknown"):
        directory.users.update(alice.id, alice.version, status="disabled")
    assert directory.users.get(alice.id) == alice


def test_an_update_without_changes_is_handled(directory: Directory) -> None:
    """Saving a form nobody changed must not crash with an SQL error: it is a no-op or a clear refusal."""
    alice = directory.users.create("alice")
    group = directory.groups.create("ops")
    account = directory.accounts.create("prod")
    for save in (
        lambda: directory.users.update(alice.id, alice.version),
        lambda: directory.groups.update(group.id, group.version),
        lambda: directory.accounts.update(account.id, account.version),
    ):
        try:
            save()
        except StoreError:
            pass
    assert directory.users.get(alice.id).display_name == ""


def test_users_list_in_keyset_pages_covering_every_user_once(directory: Directory) -> None:
    rng = random.Random(42)
    created = [f"user{i:03d}" for i in range(230)] + ["Zed", "ＺＥＴＡ", "aaron", "Émile", "ABBY", "zz-top"]
    rng.shuffle(created)
    for name in created:
        directory.users.create(name)
    insert_root(directory)

    expected = sorted(created, key=names.canonical)
    for limit in (1, 7, 50, 236, 1000):
        items, totals, pages = all_pages(directory.users.list, limit)
        assert [u.user_name for u in items] == expected, f"limit {limit}"
        assert totals == {len(created)}
        assert pages >= -(-len(created) // limit)
    assert directory.users.count() == len(created)


def test_keyset_paging_is_not_thrown_by_inserts_behind_the_cursor(directory: Directory) -> None:
    for i in range(20):
        directory.users.create(f"m{i:02d}")
    first = directory.users.list(limit=10)
    directory.users.create("a-newcomer")  # sorts before everything already seen
    second = directory.users.list(after=first.next_after, limit=10)
    assert [u.user_name for u in first.items + second.items] == [f"m{i:02d}" for i in range(20)]
    assert second.total == 21


@pytest.fixture
def people(directory: Directory) -> Directory:
    for name, display, mail in [
        ("alice", "Alice Liddell", "alice@wonder.land"),
        ("alfred", "Alfred Pennyworth", "alfred@manor.example"),
        ("bob", "Bob Builder", "bob@build.example"),
        ("carol", "Carol Wonder", "carol@example.org"),
        ("dave", "Dave", "dave@wonder.land"),
        ("sal", "Sal", "sal@example.org"),
        ("ＡＬＢＥＲＴ", "Albert", ""),
    ]:
        directory.users.create(name, display_name=display, email=mail)
    insert_root(directory)
    return directory


@pytest.mark.parametrize(
    "text, expected",
    [
        ("wonder", ["alice", "carol", "dave"]),  # email, display name, email
        ("WONDER", ["alice", "carol", "dave"]),  # case does not matter
        ("lidd", ["alice"]),
        ("builder", ["bob"]),
        ("example.org", ["carol", "sal"]),
        ("ice", ["alice"]),  # inside the user name
        ("zzz", []),
        ("roo", []),  # root is never listed
        # 1–2 characters (below the trigram index): still anywhere in the same three columns, by a scan
        ("al", ["alice", "alfred", "sal", "ＡＬＢＥＲＴ"]),
        ("AL", ["alice", "alfred", "sal", "ＡＬＢＥＲＴ"]),
        ("ａｌ", ["alice", "alfred", "sal", "ＡＬＢＥＲＴ"]),
        ("ic", ["alice"]),
        ("s", ["sal"]),
        ("oo", []),  # root is never listed
    ],
)
def test_users_filter(people: Directory, text: str, expected: list[str]) -> None:
    expected_order = sorted(expected, key=names.canonical)
    page = people.users.list(filter=text)
    assert sorted(u.user_name for u in page.items) == sorted(expected)
    assert [u.user_name for u in page.items] == expected_order
    assert page.total == len(expected)
    items, totals, _ = all_pages(people.users.list, 1, filter=text)
    assert [u.user_name for u in items] == expected_order
    assert totals == {len(expected)}


def test_users_filter_follows_edits_and_deletes(people: Directory) -> None:
    carol = people.users.get_by_name("carol")
    people.users.update(carol.id, carol.version, display_name="Carol Looking-Glass")
    assert [u.user_name for u in people.users.list(filter="wonder").items] == ["alice", "dave"]
    assert [u.user_name for u in people.users.list(filter="glass").items] == ["carol"]
    dave = people.users.get_by_name("dave")
    people.users.delete(dave.id, dave.version)
    assert [u.user_name for u in people.users.list(filter="wonder").items] == ["alice"]


def test_users_filter_pages_through_many_matches(directory: Directory) -> None:
    for i in range(120):
        directory.users.create(f"u{i:03d}", email=f"u{i:03d}@{'match' if i % 3 == 0 else 'other'}.example")
    items, totals, pages = all_pages(directory.users.list, 15, filter="match")
    assert [u.user_name for u in items] == [f"u{i:03d}" for i in range(0, 120, 3)]
    assert totals == {40} and pages >= 3


def test_a_stale_user_update_is_a_conflict_and_changes_nothing(directory: Directory) -> None:
    alice = directory.users.create("alice", display_name="v1")
    fresh = directory.users.update(alice.id, alice.version, display_name="v2")
    with pytest.raises(Conflict) as lost:
        directory.users.update(alice.id, alice.version, display_name="stale", email="x@example.org")
    assert lost.value.current == fresh
    assert "nothing was saved" in str(lost.value)
    assert directory.users.get(alice.id) == fresh
    for stale_call in (directory.users.disable, directory.users.delete):
        with pytest.raises(Conflict):
            stale_call(alice.id, alice.version)
    assert directory.users.get(alice.id) == fresh


def test_an_update_of_a_deleted_user_says_not_found(directory: Directory) -> None:
    alice = directory.users.create("alice")
    directory.users.delete(alice.id, alice.version)
    with pytest.raises(NotFound):
        directory.users.update(alice.id, alice.version, display_name="x")


def test_deleting_a_user_removes_their_memberships_and_assignments(directory: Directory) -> None:
    alice = directory.users.create("alice")
    bob = directory.users.create("bob")
    ops = directory.groups.create("ops")
    directory.groups.add_member(ops.id, alice.id)
    directory.groups.add_member(ops.id, bob.id)
    prod = directory.accounts.create("prod")
    admin = directory.permission_sets.create("Admin")
    directory.assignments.create("user", alice.id, prod.id, admin.id)
    directory.assignments.create("user", bob.id, prod.id, admin.id)
    group_grant = directory.assignments.create("group", ops.id, prod.id, admin.id)

    directory.users.delete(alice.id, directory.users.get(alice.id).version)

    assert [m.user_name for m in directory.groups.members(ops.id).items] == ["bob"]
    assert directory.groups.groups_of(alice.id) == []
    assert count(directory, "SELECT count(*) FROM memberships WHERE user_id = ?", alice.id) == 0
    assert count(directory, "SELECT count(*) FROM assignments WHERE user_id = ?", alice.id) == 0
    remaining = {(a.principal_type, a.principal_name) for a in directory.assignments.list().items}
    assert remaining == {("user", "bob"), ("group", "ops")}
    assert directory.assignments.get(group_grant.id) == group_grant
    assert directory.groups.get(ops.id).member_count == 1


def test_root_is_protected_and_never_listed(directory: Directory) -> None:
    root_id = insert_root(directory)
    directory.users.create("alice")
    root = directory.users.get(root_id)
    assert root.is_root

    with pytest.raises(Refused, match="root"):
        directory.users.update(root_id, root.version, display_name="Mallory")
    with pytest.raises(Refused, match="root"):
        directory.users.disable(root_id, root.version)
    with pytest.raises(Refused, match="root"):
        directory.users.delete(root_id, root.version)
    assert directory.users.get(root_id) == root  # untouched

    assert [u.user_name for u in directory.users.list().items] == ["alice"]
    assert directory.users.list().total == 1
    assert directory.users.list(filter="root").total == 0
    assert directory.users.list(filter="ro").total == 0
    assert directory.users.count() == 1

    ops = directory.groups.create("ops")
    with pytest.raises(Refused):
        directory.groups.add_member(ops.id, root_id)
    prod = directory.accounts.create("prod")
    admin = directory.permission_sets.create("Admin")
    with pytest.raises(Refused):
        directory.assignments.create("user", root_id, prod.id, admin.id)
    assert directory.assignments.list().total == 0


def test_an_imported_user_can_be_disabled_but_not_edited(directory: Directory) -> None:
    okta = directory.users.create("ian", display_name="Ian", source="okta")
    with pytest.raises(Refused, match="okta"):
        directory.users.update(okta.id, okta.version, display_name="Changed here")
    assert directory.users.get(okta.id) == okta
    disabled = directory.users.disable(okta.id, okta.version)
    assert disabled.status == "disabled" and disabled.display_name == "Ian"
    assert directory.users.enable(disabled.id, disabled.version).status == "active"


# -- groups and memberships --------------------------------------------------------------------------------


def test_group_lifecycle(directory: Directory) -> None:
    ops = directory.groups.create("Ops", description="Operations")
    assert (ops.name, ops.description, ops.member_count, ops.version, ops.source) == (
        "Ops",
        "Operations",
        0,
        1,
        "local",
    )
    assert directory.groups.get(ops.id) == ops
    assert directory.groups.get_by_name("OPS") == ops
    renamed = directory.groups.update(ops.id, ops.version, name="SRE", description="Site reliability")
    assert (renamed.name, renamed.description, renamed.version) == ("SRE", "Site reliability", 2)
    with pytest.raises(NotFound):
        directory.groups.get_by_name("ops")
    with pytest.raises(Conflict) as lost:
        directory.groups.update(ops.id, ops.version, description="stale")
    assert lost.value.current == renamed
    directory.groups.delete(renamed.id, renamed.version)
    with pytest.raises(NotFound):
        directory.groups.get(ops.id)


def test_an_imported_group_cannot_be_edited(directory: Directory) -> None:
    group = directory.groups.create("okta-admins", source="okta")
    with pytest.raises(Refused, match="okta"):
        directory.groups.update(group.id, group.version, description="x")


def test_groups_list_and_filter(directory: Directory) -> None:
    created = [f"team-{i:02d}" for i in range(45)] + ["Ａｌｐｈａ", "beta", "Gamma"]
    random.Random(1).shuffle(created)
    for name in created:
        directory.groups.create(name, description="the on-call rota" if name == "beta" else "")
    items, totals, _ = all_pages(directory.groups.list, 8)
    assert [g.name for g in items] == sorted(created, key=names.canonical)
    assert totals == {len(created)}
    assert [g.name for g in directory.groups.list(filter="team-1").items] == [
        f"team-{i}" for i in range(10, 20)
    ]
    assert [g.name for g in directory.groups.list(filter="ALPHA").items] == ["Ａｌｐｈａ"]
    assert [g.name for g in directory.groups.list(filter="on-call").items] == ["beta"]  # the description
    assert directory.groups.list(filter="%").total == 0  # LIKE wildcards are literal
    assert directory.groups.list(filter="_").total == 0


def test_memberships_with_and_without_expiry(directory: Directory) -> None:
    alice = directory.users.create("alice")
    bob = directory.users.create("bob")
    ops = directory.groups.create("ops")
    dev = directory.groups.create("dev")

    timed = directory.groups.add_member(ops.id, alice.id, expires_at="2031-01-31T09:00:00+02:00")
    assert timed.expires_at == "2031-01-31T07:00:00Z"  # stored in UTC
    assert (timed.group_name, timed.user_name) == ("ops", "alice")
    assert not timed.expired("2031-01-31T06:59:59Z")
    assert timed.expired("2031-01-31T07:00:00Z")
    permanent = directory.groups.add_member(ops.id, bob.id)
    assert permanent.expires_at is None and not permanent.expired("2999-01-01T00:00:00Z")
    directory.groups.add_member(dev.id, alice.id, expires_at="2030-06-01")

    assert [(m.user_name, m.expires_at) for m in directory.groups.members(ops.id).items] == [
        ("alice", "2031-01-31T07:00:00Z"),
        ("bob", None),
    ]
    assert [(m.group_name, m.expires_at) for m in directory.groups.groups_of(alice.id)] == [
        ("dev", "2030-06-01T00:00:00Z"),
        ("ops", "2031-01-31T07:00:00Z"),
    ]
    assert directory.groups.get(ops.id).member_count == 2
    assert {g.name: g.member_count for g in directory.groups.list().items} == {"dev": 1, "ops": 2}

    with pytest.raises(AlreadyExists, match="already a member"):
        directory.groups.add_member(ops.id, alice.id)
    with pytest.raises(ValidationError, match="future"):
        directory.groups.add_member(dev.id, bob.id, expires_at="2001-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match="expiresAt"):
        directory.groups.add_member(dev.id, bob.id, expires_at="next tuesday")
    with pytest.raises(NotFound):
        directory.groups.add_member(dev.id, 999_999)
    with pytest.raises(NotFound):
        directory.groups.add_member(999_999, bob.id)
    assert [m.user_name for m in directory.groups.members(dev.id).items] == ["alice"]

    directory.groups.remove_member(ops.id, alice.id)
    assert [m.user_name for m in directory.groups.members(ops.id).items] == ["bob"]
    with pytest.raises(NotFound):
        directory.groups.remove_member(ops.id, alice.id)


def test_group_members_in_keyset_pages(directory: Directory) -> None:
    big = directory.groups.create("everyone")
    created = [f"member{i:03d}" for i in range(57)] + ["Ａｄａ", "zoe"]
    for name in created:
        directory.groups.add_member(big.id, directory.users.create(name).id)
    items, totals, _ = all_pages(lambda **kw: directory.groups.members(big.id, **kw), 10)
    assert [m.user_name for m in items] == sorted(created, key=names.canonical)
    assert totals == {len(created)}


def test_deleting_a_group_removes_its_memberships_and_assignments(directory: Directory) -> None:
    alice = directory.users.create("alice")
    ops = directory.groups.create("ops")
    directory.groups.add_member(ops.id, alice.id)
    prod = directory.accounts.create("prod")
    admin = directory.permission_sets.create("Admin")
    directory.assignments.create("group", ops.id, prod.id, admin.id)
    directory.groups.delete(ops.id, directory.groups.get(ops.id).version)
    assert directory.groups.groups_of(alice.id) == []
    assert directory.assignments.list().total == 0
    assert directory.users.get(alice.id).user_name == "alice"


# -- accounts ----------------------------------------------------------------------------------------------


def test_account_lifecycle(directory: Directory) -> None:
    prod = directory.accounts.create("123456789012", description="Production")
    assert (prod.name, prod.description, prod.status, prod.version) == (
        "123456789012",
        "Production",
        "active",
        1,
    )
    assert directory.accounts.get_by_name("123456789012") == prod
    with pytest.raises(ValidationError):  # twelve digits, but not ASCII ones (\d took them)
        directory.accounts.create("\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10\uff11\uff12")
    updated = directory.accounts.update(prod.id, prod.version, name="prod-main", description="Prod")
    assert (updated.name, updated.version) == ("prod-main", 2)
    disabled = directory.accounts.set_status(updated.id, updated.version, False)
    assert disabled.status == "disabled"
    enabled = directory.accounts.set_status(disabled.id, disabled.version, True)
    assert enabled.status == "active"
    with pytest.raises(Conflict) as lost:
        directory.accounts.update(prod.id, updated.version, description="stale")
    assert lost.value.current == enabled
    directory.accounts.delete(enabled.id, enabled.version)
    with pytest.raises(NotFound):
        directory.accounts.get(prod.id)


@pytest.mark.parametrize("name", ["has space", "-leading-dash", ".dot", "x" * 65, "ünïcode", "a/b", ""])
def test_invalid_account_names_are_refused(directory: Directory, name: str) -> None:
    with pytest.raises(ValidationError):
        directory.accounts.create(name)
    assert directory.accounts.list().total == 0


def test_accounts_list_and_filter(directory: Directory) -> None:
    created = [f"{i:012d}" for i in range(30)] + ["staging", "Prod", "dev"]
    for name in created:
        directory.accounts.create(name, description="customer data" if name == "Prod" else "")
    items, totals, _ = all_pages(directory.accounts.list, 4)
    assert [a.name for a in items] == sorted(created, key=names.canonical)
    assert totals == {len(created)}
    assert [a.name for a in directory.accounts.list(filter="PROD").items] == ["Prod"]
    assert [a.name for a in directory.accounts.list(filter="customer").items] == ["Prod"]


# -- permission sets ---------------------------------------------------------------------------------------


def test_permission_set_lifecycle(directory: Directory) -> None:
    insert_policy(directory, "ReadOnly")
    insert_policy(directory, "Billing")
    pset = directory.permission_sets.create(
        "Admin",
        description="Full access",
        session_duration="PT8H",
        inline_policy=POLICY,
        managed_policies=["readonly", "Billing"],
        boundary_policy=POLICY,
    )
    assert (pset.name, pset.description, pset.session_duration, pset.inline_policy, pset.boundary_policy) == (
        "Admin",
        "Full access",
        28_800,
        POLICY,
        POLICY,
    )
    assert pset.managed_policies == ["Billing", "ReadOnly"]
    assert directory.permission_sets.get_by_name("ADMIN") == pset

    updated = directory.permission_sets.update(
        pset.id, pset.version, session_duration=900, managed_policies=["ReadOnly"], clear_boundary=True
    )
    assert (updated.session_duration, updated.managed_policies, updated.boundary_policy, updated.version) == (
        900,
        ["ReadOnly"],
        None,
        2,
    )
    assert updated.inline_policy == POLICY

    with pytest.raises(Conflict) as lost:
        directory.permission_sets.update(pset.id, pset.version, description="stale")
    assert lost.value.current == updated
    directory.permission_sets.delete(updated.id, updated.version)
    with pytest.raises(NotFound):
        directory.permission_sets.get(pset.id)


def test_a_permission_set_with_an_unknown_policy_is_not_created(directory: Directory) -> None:
    with pytest.raises(ValidationError, match="NoSuchPolicy"):
        directory.permission_sets.create("Admin", managed_policies=["NoSuchPolicy"])
    with pytest.raises(NotFound):
        directory.permission_sets.get_by_name("Admin")
    assert count(directory, "SELECT count(*) FROM permission_sets") == 0


@pytest.mark.parametrize(
    "policy", ["{not json", "[]", '{"Version": "2012-10-17"}', '{"Statement": [], "Statement": []}']
)
def test_invalid_inline_policies_are_refused(directory: Directory, policy: str) -> None:
    with pytest.raises(ValidationError, match="inlinePolicy"):
        directory.permission_sets.create("Admin", inline_policy=policy)
    assert directory.permission_sets.list().total == 0


@pytest.mark.parametrize("name", ["has space", "x" * 33, "ünïcode", "a/b", "a:b"])
def test_invalid_permission_set_names_are_refused(directory: Directory, name: str) -> None:
    with pytest.raises(ValidationError):
        directory.permission_sets.create(name)


def test_permission_sets_list(directory: Directory) -> None:
    created = [f"Set{i:02d}" for i in range(25)] + ["admin", "ReadOnly"]
    for name in created:
        directory.permission_sets.create(name)
    items, totals, _ = all_pages(directory.permission_sets.list, 6)
    assert [p.name for p in items] == sorted(created, key=names.canonical)
    assert totals == {len(created)}
    assert [p.name for p in directory.permission_sets.list(filter="READ").items] == ["ReadOnly"]


# -- assignments -------------------------------------------------------------------------------------------


@pytest.fixture
def estate(directory: Directory) -> dict[str, Any]:
    users = {n: directory.users.create(n) for n in ("alice", "bob", "carol")}
    groups = {n: directory.groups.create(n) for n in ("ops", "dev")}
    accounts = {n: directory.accounts.create(n) for n in ("prod", "staging")}
    sets = {n: directory.permission_sets.create(n) for n in ("Admin", "ReadOnly")}
    directory.groups.add_member(groups["ops"].id, users["alice"].id)
    directory.groups.add_member(groups["dev"].id, users["bob"].id)
    return {"d": directory, **users, **groups, **accounts, **sets}


def test_assignment_lifecycle(estate: dict[str, Any]) -> None:
    d = estate["d"]
    grant = d.assignments.create(
        "user",
        estate["alice"].id,
        estate["prod"].id,
        estate["Admin"].id,
        expires_at="2031-01-31T09:00:00+01:00",
    )
    assert (
        grant.principal_type,
        grant.principal_name,
        grant.account_name,
        grant.permission_set_name,
        grant.expires_at,
        grant.version,
    ) == ("user", "alice", "prod", "Admin", "2031-01-31T08:00:00Z", 1)
    assert d.assignments.get(grant.id) == grant
    extended = d.assignments.update_expiry(grant.id, grant.version, "2032-01-01T00:00:00Z")
    assert (extended.expires_at, extended.version) == ("2032-01-01T00:00:00Z", 2)
    with pytest.raises(Conflict) as lost:
        d.assignments.update_expiry(grant.id, grant.version, None)
    assert lost.value.current == extended
    permanent = d.assignments.update_expiry(extended.id, extended.version, None)
    assert permanent.expires_at is None
    d.assignments.delete(permanent.id, permanent.version)
    with pytest.raises(NotFound):
        d.assignments.get(grant.id)


def test_assignments_refuse_duplicates_past_expiry_and_unknown_targets(estate: dict[str, Any]) -> None:
    d = estate["d"]
    alice, prod, admin = estate["alice"].id, estate["prod"].id, estate["Admin"].id
    d.assignments.create("user", alice, prod, admin)
    with pytest.raises(AlreadyExists):
        d.assignments.create("user", alice, prod, admin)
    with pytest.raises(AlreadyExists):
        d.assignments.create("user", alice, prod, admin, expires_at=FUTURE)
    with pytest.raises(ValidationError, match="future"):
        d.assignments.create("user", estate["bob"].id, prod, admin, expires_at="2020-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match="expiresAt"):
        d.assignments.create("user", estate["bob"].id, prod, admin, expires_at="soon")
    with pytest.raises(ValidationError):
        d.assignments.create("role", alice, prod, admin)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(NotFound):
        d.assignments.create("user", 999_999, prod, admin)
    with pytest.raises(NotFound):
        d.assignments.create("group", 999_999, prod, admin)
    with pytest.raises(NotFound):
        d.assignments.create("user", alice, 999_999, admin)
    with pytest.raises(NotFound):
        d.assignments.create("user", alice, prod, 999_999)
    assert d.assignments.list().total == 1
    # The same user may hold the set through a group as well: that is a different assignment.
    d.assignments.create("group", estate["ops"].id, prod, admin)
    assert d.assignments.list().total == 2


def test_for_user_includes_access_granted_through_groups(estate: dict[str, Any]) -> None:
    d = estate["d"]
    d.assignments.create("user", estate["alice"].id, estate["staging"].id, estate["ReadOnly"].id)
    d.assignments.create("group", estate["ops"].id, estate["prod"].id, estate["Admin"].id)
    d.assignments.create("group", estate["dev"].id, estate["staging"].id, estate["Admin"].id)
    d.assignments.create("user", estate["carol"].id, estate["prod"].id, estate["ReadOnly"].id)

    def held(user: str) -> list[tuple[str, str, str, str]]:
        return [
            (a.account_name, a.permission_set_name, a.principal_type, a.principal_name)
            for a in d.assignments.for_user(estate[user].id)
        ]

    assert held("alice") == [("prod", "Admin", "group", "ops"), ("staging", "ReadOnly", "user", "alice")]
    assert held("bob") == [("staging", "Admin", "group", "dev")]
    assert held("carol") == [("prod", "ReadOnly", "user", "carol")]
    d.groups.remove_member(estate["ops"].id, estate["alice"].id)
    assert held("alice") == [("staging", "ReadOnly", "user", "alice")]


def test_assignments_list_pages_and_filters(estate: dict[str, Any]) -> None:
    d = estate["d"]
    created = []
    for user in ("alice", "bob", "carol"):
        for account in ("prod", "staging"):
            for pset in ("Admin", "ReadOnly"):
                created.append(
                    d.assignments.create("user", estate[user].id, estate[account].id, estate[pset].id).id
                )
    for group in ("ops", "dev"):
        created.append(
            d.assignments.create("group", estate[group].id, estate["prod"].id, estate["Admin"].id).id
        )
    items, totals, _ = all_pages(d.assignments.list, 5)
    assert [a.id for a in items] == sorted(created)
    assert totals == {14}
    by_user, totals, _ = all_pages(d.assignments.list, 3, user_id=estate["bob"].id)
    assert {(a.account_name, a.permission_set_name) for a in by_user} == {
        ("prod", "Admin"),
        ("prod", "ReadOnly"),
        ("staging", "Admin"),
        ("staging", "ReadOnly"),
    }
    assert totals == {4}
    assert d.assignments.list(account_id=estate["staging"].id).total == 6
    assert d.assignments.list(filter="readonly").total == 6
    assert d.assignments.list(filter="ops").total == 1
    assert d.assignments.list(filter="staging", permission_set_id=estate["Admin"].id).total == 3
