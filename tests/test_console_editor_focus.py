"""What a newcomer met in the policy and permission-set editors, the simulator, the import screen and the
password dialog, driven key by key through the real console (Pilot): Tab reaches the policy text, a letter
typed on a form's control never runs a section key, ctrl+g lands on the problem's line and column, a message
about a problem goes once the problem is fixed, and the fields' hints read whole at 80×24."""

from __future__ import annotations

import json

from rich.cells import cell_len
from textual.widgets import Checkbox, Input, Select, SelectionList, Static, Tabs

from tests.console_factory import filter_list, make_app, settle, type_text
from tui.screens.credentials import NewPasswordModal
from tui.screens.import_screen import ImportScreen
from tui.screens.permission_sets import PermissionSetEditorScreen, PermissionSetsScreen
from tui.screens.policy_editor import PolicyEditor, PolicyEditorScreen, PolicyTextArea
from tui.screens.simulator import SimulatorScreen

WAIT = 0.4  # longer than the editor's quiet time before it validates
# The keys a newcomer typed into what they took for the policy text: JSON, then letters and digits that are
# section keys elsewhere (i Import, 1-0 sections, n new, d delete, ? help).
TYPED = '{"Version"'
SECTION_KEYS = ["i", "1", "2", "5", "n", "d", "e", "question_mark"]

ONE_LINE_MISSING_COMMA = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject" "Resource": "*"}]}'
)


def status(editor: PolicyEditor) -> str:
    return str(editor.query_one(".policy-status", Static).render())


def shown(screen, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


async def new_permission_set(pilot) -> PermissionSetEditorScreen:
    """Permission sets (5), new (n), as the newcomer opened it."""
    await pilot.press("5")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PermissionSetsScreen)
    await pilot.press("n")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PermissionSetEditorScreen)
    return screen


async def press_each(pilot, keys: list[str]) -> None:
    for key in keys:
        await pilot.press(key)
    await settle(pilot)


class TestTabReachesThePolicy:
    async def test_tab_tab_tab_from_the_name_lands_in_the_policy_text(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            await type_text(pilot, "Ops")
            await pilot.press("tab", "tab", "tab")
            inline = screen.query_one("#field-inlinePolicy", PolicyEditor).text_area
            assert app.focused is inline
            await type_text(pilot, TYPED)
            await press_each(pilot, ["i", "1", "n", "d"])
            assert app.screen is screen  # not thrown out to Import or Dashboard
            assert inline.text == TYPED + "i1nd"

    async def test_the_tab_strip_is_never_a_tab_stop(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            for tab_key in ("f2", "f3", "f4"):
                await pilot.press(tab_key)
                await settle(pilot)
                seen = []
                for _ in range(8):
                    await pilot.press("tab")
                    seen.append(app.focused)
                assert not any(isinstance(widget, Tabs) for widget in seen), tab_key
                assert any(isinstance(widget, (PolicyTextArea, SelectionList)) for widget in seen), tab_key
            assert app.screen is screen


class TestLettersStayOnTheForm:
    async def test_on_the_managed_policies_list(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            await pilot.press("f3")
            await settle(pilot)
            assert isinstance(app.focused, SelectionList)
            await press_each(pilot, SECTION_KEYS)
            assert app.screen is screen and isinstance(app.focused, SelectionList)
            await pilot.press("escape")  # leaves the list: back with nothing changed
            await settle(pilot)
            assert isinstance(app.screen, PermissionSetsScreen)

    async def test_on_a_built_in_policy_shown_read_only(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("enter")  # AdministratorAccess, built in: read-only
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PolicyEditorScreen) and screen.read_only
            await press_each(pilot, SECTION_KEYS)
            assert app.screen is screen

    async def test_on_the_simulators_choice(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("9")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SimulatorScreen)
            await pilot.press("shift+tab")
            assert isinstance(app.focused, Select)
            await press_each(pilot, SECTION_KEYS)
            assert app.screen is screen

    async def test_on_the_import_screens_check_boxes(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("i")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ImportScreen)
            await pilot.press("tab", "tab")
            assert isinstance(app.focused, Checkbox)
            await press_each(pilot, SECTION_KEYS)
            assert app.screen is screen

    async def test_section_keys_work_again_once_esc_left_the_field(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("9")
            await settle(pilot)
            await pilot.press("escape")  # leaves the user field
            await pilot.press("2")
            await settle(pilot)
            assert not isinstance(app.screen, SimulatorScreen)


class TestGoToError:
    async def test_ctrl_g_lands_on_the_line_and_the_column(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            editor = screen.query_one("#field-inlinePolicy", PolicyEditor)
            column = 0
            try:
                json.loads(ONE_LINE_MISSING_COMMA)
            except json.JSONDecodeError as error:
                column = error.colno
            await pilot.press("tab", "tab", "tab")
            await type_text(pilot, ONE_LINE_MISSING_COMMA)
            await pilot.pause(WAIT)
            await settle(pilot)
            assert f"(line 1, column {column})" in status(editor)
            await pilot.press("home")
            await pilot.press("ctrl+g")
            assert editor.text_area.cursor_location == (0, column - 1)
            assert ONE_LINE_MISSING_COMMA[column - 1 :].startswith('"Resource"')

    async def test_ctrl_g_on_a_rule_broken_goes_to_the_lines_first_character(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            editor = screen.query_one("#field-inlinePolicy", PolicyEditor)
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Alow", "Action": "s3:GetObject", "Resource": "*"}],
            }
            editor.text_area.load_text(json.dumps(document, indent=2))
            await pilot.pause(WAIT)
            await settle(pilot)
            assert status(editor).startswith("✗ line 5: ")
            await pilot.press("ctrl+g")
            assert editor.text_area.cursor_location == (4, 6)  # at "Effect", past the indentation


class TestStaleMessages:
    async def test_fix_the_policy_first_goes_when_the_policy_is_fixed(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            await type_text(pilot, "Ops")
            await pilot.press("tab", "tab", "tab")
            await type_text(pilot, ONE_LINE_MISSING_COMMA)
            await pilot.pause(WAIT)
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "Fix the policy first: line 1: " in shown(screen, "#editor-error")
            # the comma typed where ctrl+g put the cursor
            await pilot.press("ctrl+g", "comma")
            await pilot.pause(WAIT)
            await settle(pilot)
            editor = screen.query_one("#field-inlinePolicy", PolicyEditor)
            assert status(editor) == "✓ valid policy"
            assert shown(screen, "#editor-error") == ""

    async def test_a_field_message_goes_when_the_field_is_fixed(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await new_permission_set(pilot)
            await type_text(pilot, "Ops")
            await pilot.press("tab", "tab")
            await type_text(pilot, "PT99H")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "36" in shown(screen, "#error-sessionDuration")
            await pilot.press("backspace", "backspace", "backspace")
            await type_text(pilot, "8H")
            await settle(pilot)
            assert shown(screen, "#error-sessionDuration") == ""
            await pilot.press("shift+tab", "shift+tab")
            await type_text(pilot, " bad")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "use 1 to 32" in shown(screen, "#error-name")
            await type_text(pilot, "!")  # still wrong: still said
            await settle(pilot)
            assert "use 1 to 32" in shown(screen, "#error-name")
            for _ in " bad!":
                await pilot.press("backspace")
            await settle(pilot)
            assert shown(screen, "#error-name") == ""

    async def test_two_passwords_differ_goes_once_they_match_and_the_rules_stay(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await settle(pilot)
            await filter_list(pilot, "carol")
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, NewPasswordModal)
            rules = shown(form, "#form-error")
            assert "Policy:" in rules
            await type_text(pilot, "wonderland rabbit hole 42")
            await pilot.press("tab")
            await type_text(pilot, "wonderland rabbit hole 41")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "the two passwords differ" in shown(form, "#error-repeat")
            assert "Policy:" in shown(form, "#form-error")  # the rules stay in sight
            await pilot.press("backspace")
            await type_text(pilot, "4")  # ...hole 44: still differs
            await settle(pilot)
            assert "the two passwords differ" in shown(form, "#error-repeat")
            await pilot.press("backspace")
            await type_text(pilot, "2")
            await settle(pilot)
            assert shown(form, "#error-repeat") == ""
            assert "Policy:" in shown(form, "#form-error")
            # or fixed from the other field
            await pilot.press("backspace")
            await type_text(pilot, "1")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "differ" in shown(form, "#error-repeat")
            await pilot.press("shift+tab", "end", "backspace")
            await type_text(pilot, "1")
            await settle(pilot)
            assert shown(form, "#error-repeat") == ""


def input_line(field: Input) -> str:
    """What the input shows on its line (its placeholder when it is empty), as plain text: the placeholder's
    first line, as wide as the input (what does not fit wraps onto lines an input never shows)."""
    return field.render_line(0).text.split("\n")[0][: field.scrollable_content_region.width].rstrip()


class TestHintsAt80x24:
    async def test_the_permission_set_forms_hints_read_whole(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await new_permission_set(pilot)
            session = input_line(screen.query_one("#field-sessionDuration", Input))
            assert "15 min" in session and "36 h" in session
            for field in screen.query(Input):
                assert input_line(field) == field.placeholder, field.id
            area = screen.query_one("#field-inlinePolicy", PolicyEditor).text_area
            room = area.scrollable_content_region.width - area.gutter_width
            assert cell_len(str(area.placeholder)) <= room

    async def test_the_policy_editors_hints_read_whole(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("7")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, PolicyEditorScreen)
            name = screen.query_one("#field-name", Input)
            assert input_line(name) == name.placeholder

    async def test_the_simulators_hints_read_whole(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("9")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, SimulatorScreen)
            resource = input_line(screen.query_one("#field-resource", Input))
            assert "*" in resource and "ARN" in resource
            for field in screen.query(Input):
                if field.region.width and field.placeholder:  # the permission set's row is hidden
                    assert input_line(field) == field.placeholder, field.id
