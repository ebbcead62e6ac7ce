"""An identity provider's file never makes an administrator on its own (issue 11, finding 5).

A membership of the admin group, from any format or a sync, is refused without ``--allow-admin-changes``;
the plan marks each such line; the console asks for a confirmation that names each user.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.audit import Actor
from store.directory import Directory
from store.importer import ADMIN_MARK
from tests.console_factory import make_app, settle, type_text
from tui.screens.import_screen import ImportScreen
from tui.screens.modals import ConfirmModal

FILES = {
    "csv": ("users.csv", "userName,displayName,groups\nmallory,Mallory,Admins;Staff\n"),
    "json users[].groups": ("users.json", '{"users": [{"userName": "mallory", "groups": ["Admins"]}]}'),
    "json groups[].members": (
        "groups.json",
        '{"users": [{"userName": "mallory"}], "groups": [{"displayName": "Admins", "members": ["mallory"]}]}',
    ),
}


@pytest.fixture
def with_admins(db_path: Path) -> Directory:
    directory = Directory.open(db_path, Actor("cli:test", "cli"))
    admins = directory.groups.create("Admins")
    directory.admins.set_admin_group(admins.id)
    directory.users.create("alice")
    directory.groups.add_member(admins.id, directory.users.get_by_name("alice").id)
    return directory


def members(directory: Directory) -> list[str]:
    group = directory.groups.get_by_name("Admins")
    return sorted(m.user_name for m in directory.groups.members(group.id).items)


@pytest.mark.parametrize("kind", ["csv", "json users[].groups", "json groups[].members"])
def test_a_file_that_adds_to_the_admin_group_is_refused_and_marked(with_admins, tmp_path, run_tui, kind):
    name, text = FILES[kind]
    path = tmp_path / name
    path.write_text(text)
    dry = run_tui("import", str(path), "--dry-run")
    assert dry.returncode == 0
    assert f"'mallory in Admins'  {ADMIN_MARK}" in dry.stdout
    assert "would be refused" in dry.stderr and "--allow-admin-changes" in dry.stderr
    refused = run_tui("import", str(path))
    assert refused.returncode == 1
    assert "would make administrators: 'mallory in Admins'" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert members(with_admins) == ["alice"]
    assert with_admins.users.list(filter="mallory").total == 0  # nothing of the file was applied

    allowed = run_tui("import", str(path), "--allow-admin-changes", "--json")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.json()["admin_grants"] == ["mallory in Admins"]
    assert members(with_admins) == ["alice", "mallory"]


def test_a_sync_from_an_identity_provider_cannot_make_an_admin(with_admins, tmp_path, run_tui):
    name, text = FILES["csv"]
    path = tmp_path / name
    path.write_text(text)
    refused = run_tui("import", str(path), "--sync", "--source", "okta")
    assert refused.returncode == 1 and "would make administrators" in refused.stderr
    assert members(with_admins) == ["alice"]


def test_files_without_admin_grants_import_as_before(with_admins, tmp_path, run_tui):
    path = tmp_path / "users.csv"
    path.write_text("userName,groups\nbob,Staff\n")
    result = run_tui("import", str(path))
    assert result.returncode == 0, result.stderr
    assert ADMIN_MARK not in result.stdout


async def test_the_console_names_each_new_administrator_before_applying(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
    path = tmp_path / "admins.json"
    path.write_text(
        '{"users": [{"userName": "eve.new", "groups": ["Admins"]},'
        ' {"userName": "frank.new", "groups": ["Admins"]},'
        ' {"userName": "gus.new"}]}'
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(ImportScreen())
        await settle(pilot)
        await type_text(pilot, str(path))
        await pilot.press("enter")
        await settle(pilot)
        assert "makes 2 administrator(s)" in str(app.screen.query_one("#import-status").render())

        # Declining the named confirmation changes nothing.
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        detail = app.screen.detail
        assert "eve.new in Admins" in detail and "frank.new in Admins" in detail
        await pilot.press("n")
        await settle(pilot)
        assert directory.users.list(filter="eve.new").total == 0

        # Confirming both questions applies the plan, administrators included.
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and "Apply the import" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        group = directory.groups.get_by_name("Admins")
        names = {m.user_name for m in directory.groups.members(group.id).items}
        assert {"eve.new", "frank.new"} <= names and "gus.new" not in names


def test_an_identity_provider_never_enables_an_administrator_nor_gives_one_a_password(with_admins) -> None:
    """An admin disabled carol (an okta user in the admin group); okta's next `active: true` enabled her, and
    her membership made her an administrator again. Okta could also give her a first password: she (or
    whoever holds okta) then signed in and enrolled a first authenticator. Both are grants (red-team)."""
    from store.crypto import hash_password
    from store.errors import Refused
    from store.formats import read_file
    from store.importer import import_document

    directory = with_admins
    carol = directory.users.create("carol", source="okta")
    directory.groups.add_member(directory.groups.get_by_name("Admins").id, carol.id)
    carol = directory.users.get(carol.id)
    directory.users.disable(carol.id, carol.version)

    def push(user: dict[str, object], **options: object) -> object:
        """A SCIM User resource for carol, as okta's request carries it."""
        resource = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "carol", **user}
        raw = json.dumps(resource).encode()
        document = read_file(raw, "push.json", "scim").document
        return import_document(directory, document, file_name="push", raw=raw, source="okta", **options)

    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    with pytest.raises(Refused, match="never makes administrators: 'carol enabled again \\(in Admins\\)'"):
        push({"active": True})
    with pytest.raises(Refused, match="'carol given a password by the identity provider \\(in Admins\\)'"):
        push({"active": False, "password": hash_password("a first password 1234")})
    owner = Directory.open(directory.db.path, Actor("cli:test", "cli"))
    assert owner.users.get(carol.id).status == "disabled"
    assert not owner.credentials.status(carol.id).has_password
    # An administrator's own file enables her only when told to, by name.
    with pytest.raises(Refused, match="would make administrators: 'carol enabled again \\(in Admins\\)'"):
        push_as = read_file(b'{"users": [{"userName": "carol", "active": true}]}', "f.json", "json").document
        import_document(owner, push_as, file_name="f.json", raw=b"", source="okta")
    import_document(owner, push_as, file_name="f.json", raw=b"", source="okta", allow_admin_changes=True)
    assert owner.users.get(carol.id).status == "active" and owner.admins.is_admin(carol.id)
    owner.close()


ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJvVa7fdHwqvRzpjcKxHPZ0LIbNYeDJv4Iv4vMZPk9c"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def test_a_file_that_gives_an_administrator_ssh_keys_is_refused_unless_confirmed(
    with_admins, tmp_path, run_tui
) -> None:
    """Red-team: `tui import frank.json --source okta` put okta's key on frank, an admin-group member: the key
    opens the shared console as him. A way in to an administrator's account is a grant, as joining is; taking
    keys away is not."""
    directory = with_admins
    frank = directory.users.create("frank", source="okta")
    directory.groups.add_member(directory.groups.get_by_name("Admins").id, frank.id)
    path = tmp_path / "frank.json"
    path.write_text(json.dumps({"users": [{"userName": "frank", "sshPublicKeys": [ADMIN_KEY, OTHER_KEY]}]}))
    refused = run_tui("import", str(path), "--source", "okta")
    assert refused.returncode == 1, refused
    assert "would make administrators: 'frank given SSH keys by the file (in Admins)'" in refused.stderr
    assert directory.ssh_keys.of_user(frank.id) == []
    assert run_tui("import", str(path), "--source", "okta", "--allow-admin-changes").returncode == 0
    keys = sorted(key.public_key for key in directory.ssh_keys.of_user(frank.id))
    assert keys == sorted([ADMIN_KEY, OTHER_KEY])
    path.write_text(json.dumps({"users": [{"userName": "frank", "sshPublicKeys": [ADMIN_KEY]}]}))
    taken_away = run_tui("import", str(path), "--source", "okta")
    assert taken_away.returncode == 0, taken_away
    assert [key.public_key for key in directory.ssh_keys.of_user(frank.id)] == [ADMIN_KEY]
