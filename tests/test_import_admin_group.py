"""An identity provider's file never makes an administrator on its own (issue 11, finding 5).

A membership of the admin group, from any format or a sync, is refused without ``--allow-admin-changes``;
the plan marks each such line; the console asks for a confirmation that names each user.
"""

from __future__ import annotations

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
