"""The permission-set editor, the blast-radius confirmation, the policy library and the
effective-access widget, driven through Pilot on real directory files. Screens are pushed directly (the
app wires their keys later)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from rich.console import Console
from textual.app import ComposeResult
from textual.widgets import Input, SelectionList, Static

from store.demo import DEVELOPER
from store.directory import Directory
from tests.console_factory import ADMIN, filter_list, make_app, other_admin, settle, table_lines, type_text
from tui.app import TuiApp
from tui.screens.base import DirectoryScreen
from tui.screens.modals import ConfirmModal, ConflictModal
from tui.screens.permission_sets import PermissionSetEditorScreen, PermissionSetsScreen
from tui.screens.policies import PoliciesScreen
from tui.screens.policy_editor import BlastRadiusModal, PolicyEditor, PolicyEditorScreen
from tui.widgets.effective_access import EffectiveAccess

WAIT = 0.4  # longer than the editor's quiet time before it validates


def developer_with(*actions: str) -> str:
    document = json.loads(json.dumps(DEVELOPER))
    document["Statement"][0]["Action"] = list(actions)
    return json.dumps(document, indent=2)


def shown_radius(modal: BlastRadiusModal) -> str:
    """What the confirmation draws, as plain text (it is a Rich group of texts and grids)."""
    console = Console(width=90, record=True, file=io.StringIO())
    console.print(modal.query_one("#radius-text", Static).content)
    return console.export_text()


def status(editor: PolicyEditor) -> str:
    return str(editor.query_one(".policy-status", Static).render())


async def open_editor(app: TuiApp, pilot, name: str | None) -> PermissionSetEditorScreen:
    pset = app.directory.permission_sets.get_by_name(name) if name else None
    app.push_screen(PermissionSetEditorScreen(pset))
    await settle(pilot)
    assert isinstance(app.screen, PermissionSetEditorScreen)
    return app.screen


class TestPermissionSetEditor:
    async def test_validates_as_you_type_and_points_at_the_line(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_editor(app, pilot, "Developer")
            editor = screen.query_one("#field-inlinePolicy", PolicyEditor)
            assert status(editor) == "✓ valid policy"
            area = editor.text_area
            area.focus()
            area.move_cursor((5, 0))  # line 6: "Effect": "Allow",
            # (validation waits for a pause in the typing; how long the typing itself takes depends on the
            # machine's load, so the test does not assert on the state in between)
            await type_text(pilot, '"Oops": 1')
            await pilot.pause(WAIT)
            await settle(pilot)
            assert status(editor).startswith("✗ line 6: Syntax errors in policy. Not valid JSON")
            assert set(area.marked) == {5}  # the line is marked in the text
            area.move_cursor((0, 0))
            await pilot.press("ctrl+g")
            assert "(line 6, column 16)" in status(editor)
            assert area.cursor_location == (5, 15)  # at the column JSON names: the "Effect" after the 1
            # a document that parses but breaks a rule: named, with its line
            area.load_text(DEVELOPER_TEXT.replace('"Deny"', '"Dney"'))
            await pilot.pause(WAIT)
            await settle(pilot)
            assert status(editor).startswith("✗ line 17: ")
            assert "Effect" in status(editor)
            area.load_text(DEVELOPER_TEXT)
            await pilot.pause(WAIT)
            await settle(pilot)
            assert status(editor) == "✓ valid policy" and area.marked == {}

    async def test_an_invalid_policy_is_not_saved_or_previewed(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_editor(app, pilot, "Developer")
            editor = screen.query_one("#field-inlinePolicy", PolicyEditor)
            editor.text_area.load_text('{\n  "Version": "2012-10-17",\n  "Statement": [}\n')
            await pilot.pause(WAIT)
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetEditorScreen)
            assert "Fix the policy first: line 3" in str(screen.query_one("#editor-error", Static).render())
            assert directory.permission_sets.get_by_name("Developer").inline_policy == DEVELOPER_TEXT

    async def test_save_shows_the_blast_radius_then_saves(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_editor(app, pilot, "Developer")
            new_text = developer_with("s3:*", "lambda:*", "logs:*", "sqs:*")
            screen.query_one("#field-inlinePolicy", PolicyEditor).text_area.load_text(new_text)
            await pilot.pause(WAIT)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal)
            radius = app.screen.radius
            assert [(c.gained, c.lost) for c in radius.set_changes] == [(("sqs:*",), ("dynamodb:*",))]
            shown = shown_radius(app.screen)
            for expected in (
                "Developer itself",
                "+ gain",
                "sqs:*",
                "− lose",
                "dynamodb:*",
                "dev  ·  7 users via group Developers",
                "bob, carol, dave",
                "staging  ·  1 user via direct",
                "ci-deploy",
            ):
                assert expected in shown, expected
            await pilot.press("n")  # back to editing: nothing saved
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetEditorScreen)
            assert directory.permission_sets.get_by_name("Developer").inline_policy == DEVELOPER_TEXT
            assert "Not saved" in str(screen.query_one("#editor-error", Static).render())
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert not isinstance(app.screen, (BlastRadiusModal, PermissionSetEditorScreen))
            saved = directory.permission_sets.get_by_name("Developer")
            assert saved.inline_policy == new_text and saved.version == 2
            with directory.db.read() as conn:
                assert (
                    conn.execute("SELECT action FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
                    == "permission_set.update"
                )

    async def test_managed_policies_picked_by_keyboard_and_boundary(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_editor(app, pilot, "ReadOnly")
            await pilot.press("f3")
            await settle(pilot)
            picker = screen.query_one("#field-managedPolicies", SelectionList)
            assert picker.has_focus and picker.option_count == 3
            await pilot.press("down", "down", "space")  # the third: ReadOnlyAccess
            assert picker.selected == ["ReadOnlyAccess"]
            assert "attached: ReadOnlyAccess" in str(screen.query_one("#managed-help", Static).render())
            await pilot.press("f4")
            boundary = screen.query_one("#field-permissionsBoundary", PolicyEditor)
            assert boundary.text_area.has_focus
            boundary.text_area.load_text(
                json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
                    }
                )
            )
            await pilot.pause(WAIT)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal)
            # the boundary caps the read verbs of every service to EC2 describes
            assert app.screen.radius.set_changes[0].lost == ("*:Describe*", "*:Get*", "*:List*")
            await pilot.press("y")
            await settle(pilot)
            saved = directory.permission_sets.get_by_name("ReadOnly")
            assert saved.managed_policies == ["ReadOnlyAccess"]
            assert "ec2:Describe*" in (saved.boundary_policy or "")

    async def test_create_from_the_list_and_field_errors(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PermissionSetsScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PermissionSetEditorScreen)
            await type_text(pilot, "Bad Name")
            await pilot.press("ctrl+s")
            await settle(pilot)
            error = screen.query_one("#error-name", Static)
            assert error.display and "use 1 to 32 of the characters" in str(error.render())
            assert not str(error.render()).startswith("name:")  # under its field, the name is not repeated
            screen.query_one("#field-name", Input).value = "Billing"
            screen.query_one("#field-sessionDuration", Input).value = "PT12H"
            await pilot.press("ctrl+s")  # a new set is held by nobody: saved without a confirmation
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetsScreen)
            created = directory.permission_sets.get_by_name("Billing")
            assert created.session_duration == 12 * 3600 and created.inline_policy is None
            assert any(line.startswith("Billing") for line in table_lines(app.screen.table))

    async def test_conflict_reload_then_reapply(self, tmp_path):
        app, directory = make_app(tmp_path)
        other = other_admin(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_editor(app, pilot, "Developer")
            theirs = other.permission_sets.get_by_name("Developer")
            other.permission_sets.update(theirs.id, theirs.version, description="Changed by other")
            screen.query_one("#field-sessionDuration", Input).value = "PT2H"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal) and app.screen.radius.empty
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(app.screen, ConflictModal)
            assert "Changed by other" in str(app.screen.query_one(".dialog-current", Static).render())
            assert (
                directory.permission_sets.get_by_name("Developer").session_duration == 4 * 3600
            )  # not overwritten
            await pilot.press("r")  # reload theirs
            await settle(pilot)
            assert app.screen is screen
            assert screen.query_one("#field-description", Input).value == "Changed by other"
            assert screen.query_one("#field-sessionDuration", Input).value == "PT4H"
            # another race, and this time re-apply mine over theirs
            theirs = other.permission_sets.get_by_name("Developer")
            other.permission_sets.update(theirs.id, theirs.version, description="Changed again")
            screen.query_one("#field-sessionDuration", Input).value = "PT2H"
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert isinstance(app.screen, ConflictModal)
            await pilot.press("a")
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal)  # the preview again, against their version
            await pilot.press("y")
            await settle(pilot)
            saved = directory.permission_sets.get_by_name("Developer")
            assert (saved.session_duration, saved.description) == (2 * 3600, "Changed by other")
        other.close()

    async def test_escape_asks_before_throwing_edits_away(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PermissionSetsScreen())
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            screen = app.screen
            # Out of the name field, then back: nothing changed, so it closes.
            await pilot.press("escape", "escape")
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetsScreen)
            await pilot.press("e")
            await settle(pilot)
            await type_text(pilot, "X")
            await pilot.press("escape")  # leaves the field
            assert isinstance(app.screen, PermissionSetEditorScreen)
            await pilot.press("escape")  # back: asks first
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetEditorScreen) and app.screen is not screen
            # Focus is where it was before the question: out of the fields (Textual's auto-focus put it back
            # in the name, where a section key was then typed).
            assert not isinstance(app.focused, Input), app.focused
            await pilot.press("escape", "y")  # back, discard
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetsScreen)
            assert directory.permission_sets.list().total == 3

    async def test_delete_shows_who_loses_what(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PermissionSetsScreen())
            await settle(pilot)
            await pilot.press("d")  # the first row: AdministratorAccess
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal)
            assert {c.user_name for c in app.screen.radius.changes} == {"alice", "grace", "heidi"}
            assert "y  Delete" in str(app.screen.query_one(".dialog-keys", Static).render())
            await pilot.press("y")
            await settle(pilot)
            assert directory.permission_sets.list().total == 2

    async def test_draws_at_80_by_24(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_editor(app, pilot, "Developer")
            area = screen.query_one("#field-inlinePolicy", PolicyEditor).text_area
            assert area.size.height >= 8  # room to edit
            await pilot.press("ctrl+s")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, BlastRadiusModal)
            keys = modal.query_one(".dialog-keys", Static)
            assert keys.region.bottom <= 24  # the keys stay on screen however long the diff is


DEVELOPER_TEXT = json.dumps(DEVELOPER, indent=2)


class TestPolicyLibrary:
    async def test_lists_creates_copies_and_protects_builtins(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PoliciesScreen())
            await settle(pilot)
            screen = app.screen
            assert screen.table.total == 3
            assert table_lines(screen.table)[1].split()[:2] == ["AdministratorAccess", "built-in"]
            await pilot.press("enter")  # a built-in opens read-only
            await settle(pilot)
            assert isinstance(app.screen, PolicyEditorScreen)
            assert app.screen.query_one("#field-document", PolicyEditor).text_area.read_only
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert directory.policies.get_by_name("AdministratorAccess").version == 1
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("d")
            await settle(pilot)
            assert isinstance(app.screen, PoliciesScreen)  # refused before asking
            await pilot.press("c")  # copy it into a new policy
            await settle(pilot)
            editor = app.screen
            assert editor.query_one("#field-name", Input).value == "AdministratorAccessCopy"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, PoliciesScreen) and app.screen.table.total == 4
            assert not directory.policies.get_by_name("AdministratorAccessCopy").builtin

    async def test_new_policy_validates_live_and_needs_a_document(self, tmp_path):
        app, directory = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PoliciesScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            await type_text(pilot, "S3Team")
            editor = screen.query_one("#field-document", PolicyEditor)
            editor.text_area.load_text("")
            await pilot.pause(WAIT)
            await settle(pilot)
            assert status(editor) == "✗ a managed policy needs a policy document"
            editor.text_area.load_text(
                '{"Version": "2012-10-17", "Statement": '
                '{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
            )
            await pilot.pause(WAIT)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert directory.policies.get_by_name("S3Team").document.startswith('{"Version"')

    async def test_editing_an_attached_policy_shows_its_blast_radius(self, tmp_path):
        app, directory = make_app(tmp_path)
        policy = directory.policies.create(
            "Queues",
            document=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
                }
            ),
        )
        ro = directory.permission_sets.get_by_name("ReadOnly")
        directory.permission_sets.update(ro.id, ro.version, managed_policies=["Queues"])
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(PoliciesScreen())
            await settle(pilot)
            await filter_list(pilot, "queues")
            await pilot.press("e")
            await settle(pilot)
            editor = app.screen.query_one("#field-document", PolicyEditor)
            editor.text_area.load_text(
                json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
                    }
                )
            )
            await pilot.pause(WAIT)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, BlastRadiusModal)
            radius = app.screen.radius
            assert radius.subject == "policy Queues"
            assert {c.user_name for c in radius.changes} >= {"erin", "judy", "bob"}
            await pilot.press("y")
            await settle(pilot)
            assert directory.policies.get(policy.id).version == 2
            # deleting it while ReadOnly attaches it is refused, naming the set
            await pilot.press("d", "y")
            await settle(pilot)
            assert directory.policies.get(policy.id)
            assert any("attached to permission set ReadOnly" in n.message for n in app._notifications)


class Host(DirectoryScreen):
    """A screen holding only the widget, as the user detail screen will."""

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        yield EffectiveAccess(self.user_id, id="access")


class TestEffectiveAccessWidget:
    async def test_paths_and_why_not(self, tmp_path):
        # Built in 2020 so that a membership ending in 2021 is over now (the console itself runs on the real
        # clock: moving its clock would sign the tester out as idle).
        with Directory.open(
            tmp_path / "directory.db", ADMIN, clock=lambda: datetime(2020, 1, 1, tzinfo=UTC)
        ) as d:
            heidi = d.users.create("heidi")
            admins, oncall = d.groups.create("Admins"), d.groups.create("On-call")
            d.groups.add_member(admins.id, heidi.id, expires_at="2021-01-01")
            d.groups.add_member(oncall.id, heidi.id, expires_at="2099-06-30T18:00:00Z")
            prod, mgmt = d.accounts.create("prod"), d.accounts.create("123456789012")
            admin_set, developer = (
                d.permission_sets.create("AdministratorAccess"),
                d.permission_sets.create("Developer"),
            )
            d.assignments.create("group", admins.id, prod.id, admin_set.id)
            d.assignments.create("group", admins.id, mgmt.id, admin_set.id)
            d.assignments.create("group", oncall.id, prod.id, developer.id)
        app, directory = make_app(tmp_path, seed=False)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(Host(heidi.id))
            await settle(pilot)
            widget = app.screen.query_one(EffectiveAccess)
            assert widget.rows() == [
                ("prod", "Developer", "group On-call", "2099-06-30T18:00:00Z"),
                (
                    "123456789012",
                    "AdministratorAccess",
                    "group Admins",
                    "not applying: membership in group Admins expired 2021-01-01",
                ),
                (
                    "prod",
                    "AdministratorAccess",
                    "group Admins",
                    "not applying: membership in group Admins expired 2021-01-01",
                ),
            ]
            summary = widget.query_one(".effective-access--summary", Static)
            assert str(summary.render()) == "1 permission set in 1 account  ·  2 paths no longer apply"
            directory.groups.remove_member(admins.id, heidi.id)
            directory.groups.add_member(admins.id, heidi.id)  # back in Admins, for good
            widget.reload()
            await settle(pilot)
            assert [row[3] for row in widget.rows()] == ["never", "never", "2099-06-30T18:00:00Z"]
            assert str(summary.render()) == "2 permission sets in 2 accounts"
            user = directory.users.get(heidi.id)
            directory.users.disable(user.id, user.version)
            widget.show_user(heidi.id)
            await settle(pilot)
            assert "user disabled" in str(summary.render())
            assert all(row[3].startswith("not applying: user disabled") for row in widget.rows())

    async def test_hostile_names_are_literal(self, tmp_path):
        app, directory = make_app(tmp_path, seed=False)
        user = directory.users.create("[red]eve")
        group = directory.groups.create("[bold]ops[/]")
        directory.groups.add_member(group.id, user.id)
        account = directory.accounts.create("prod")
        pset = directory.permission_sets.create("Read")
        directory.assignments.create("group", group.id, account.id, pset.id)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(Host(user.id))
            await settle(pilot)
            assert app.screen.query_one(EffectiveAccess).rows() == [
                ("prod", "Read", "group [bold]ops[/]", "never")
            ]
