"""The policy simulator screen through Pilot: decisions for a user in an account and for a permission set, the
deciding statements highlighted in the policy text, context keys, refusals, hostile text."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input, Select, Static

from tests.console_factory import make_app, settle, type_text
from tui.screens.simulator import SimulatorScreen


def decision(screen: SimulatorScreen) -> str:
    return str(screen.query_one("#sim-decision", Static).render())


def policy_lines(screen: SimulatorScreen) -> list[str]:
    return str(screen.query_one("#sim-policy-text", Static).render()).splitlines()


async def open_simulator(app, pilot, **kwargs) -> SimulatorScreen:
    app.push_screen(SimulatorScreen(**kwargs))
    await settle(pilot)
    assert isinstance(app.screen, SimulatorScreen)
    return app.screen


class TestSimulator:
    async def test_user_in_account_every_set_decides_and_the_statement_is_marked(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_simulator(app, pilot)
            assert screen.query_one("#field-user", Input).has_focus
            await type_text(pilot, "dave")
            await pilot.press("tab")
            await type_text(pilot, "prod")
            await pilot.press("tab")
            await type_text(pilot, "iam:CreateUser")
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen).startswith(" EXPLICIT DENY   iam:CreateUser on * for dave in prod")
            assert "denied by Developer: inline policy statement 1 (Sid NoIam)" in decision(screen)
            table = screen.query_one("#sim-results", DataTable)
            rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
            assert rows == [
                ("Developer", "group On-call", "EXPLICIT DENY", "inline policy #1 NoIam"),
                ("ReadOnly", "group Developers", "IMPLICIT DENY", "—"),
            ]
            marked = [line for line in policy_lines(screen) if line.startswith("▶")]
            assert len(marked) == 6 and any('"Sid": "NoIam"' in line for line in marked)
            assert not any('"Sid": "Build"' in line for line in marked)
            # the same user may s3:PutObject through Developer: allowed overall
            screen.query_one("#field-action", Input).value = "s3:PutObject"
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen).startswith(" ALLOW ")
            await pilot.press("tab", "tab", "tab")  # to the results table
            await pilot.press("down")  # ReadOnly's policy text, nothing marked in it
            await settle(pilot)
            assert any('"Sid": "ReadEverything"' in line for line in policy_lines(screen))
            assert not any(line.startswith("▶") for line in policy_lines(screen))

    async def test_a_user_whose_sets_do_not_apply_is_told_why(self, tmp_path):
        """A disabled user holds their sets but none applies: the screen says so, not only "no permission set
        applies" (found by a newcomer: the user page said why, the simulator did not)."""
        app, directory = make_app(tmp_path)
        dave = directory.users.get_by_name("dave")
        directory.users.disable(dave.id, dave.version)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_simulator(app, pilot)
            await type_text(pilot, "dave")
            await pilot.press("tab")
            await type_text(pilot, "prod")
            await pilot.press("tab")
            await type_text(pilot, "s3:GetObject")
            await pilot.press("enter")
            await settle(pilot)
            shown = decision(app.screen)
            assert shown.startswith(" IMPLICIT DENY ") and "No permission set applies" in shown
            assert "Not applying: Developer (group On-call): user disabled" in shown, shown

    async def test_permission_set_with_context_keys(self, tmp_path):
        app, directory = make_app(tmp_path)
        directory.permission_sets.create(
            "NeedsMfa",
            inline_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "WithMfa",
                            "Effect": "Allow",
                            "Action": "ec2:StopInstances",
                            "Resource": "*",
                            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                        }
                    ],
                }
            ),
        )
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_simulator(app, pilot)
            await pilot.press("ctrl+t")  # decide for a permission set
            await settle(pilot)
            assert screen.query_one("#field-kind", Select).value == "set"
            assert not screen.query_one("#row-user").display and screen.query_one("#row-set").display
            screen.query_one("#field-permissionSet", Input).value = "needsmfa"
            screen.query_one("#field-action", Input).value = "ec2:StopInstances"
            screen.query_one("#field-action", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen).startswith(" IMPLICIT DENY ")
            assert "no statement allows it" in decision(screen)
            assert not screen.query_one("#sim-results", DataTable).display
            screen.query_one("#field-context", Input).value = "aws:MultiFactorAuthPresent=true"
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen).startswith(" ALLOW ")
            assert "allowed by NeedsMfa: inline policy statement 0 (Sid WithMfa)" in decision(screen)

    async def test_refusals_are_shown_not_raised(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_simulator(app, pilot, user="nobody", account="prod", action="s3:GetObject")
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen) == "no user named 'nobody'"
            screen.query_one("#field-user", Input).value = "alice"
            screen.query_one("#field-action", Input).value = "GetObject"
            await pilot.press("enter")
            await settle(pilot)
            assert "is not service:Action" in decision(screen)
            screen.query_one("#field-action", Input).value = ""  # the example is a placeholder, not a value
            await pilot.press("enter")
            await settle(pilot)
            assert "type one in the Action field, for example s3:GetObject" in decision(screen)
            screen.query_one("#field-action", Input).value = "s3:GetObject"
            screen.query_one("#field-context", Input).value = "aws:CurrentTime=yesterday"
            await pilot.press("enter")
            await settle(pilot)
            assert "aws:CurrentTime must be an ISO 8601 time" in decision(screen)
            screen.query_one("#field-context", Input).value = ""
            screen.query_one("#field-account", Input).value = "dev"  # alice holds nothing in dev
            await pilot.press("enter")
            await settle(pilot)
            assert decision(screen).startswith(" IMPLICIT DENY ")
            assert "No permission set applies" in decision(screen)

    async def test_hostile_text_is_literal(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_simulator(
                app,
                pilot,
                user="alice",
                account="prod",
                action="s3:GetObject",
                resource="[bold red]arn\x1b[2J",
            )
            await pilot.press("enter")
            await settle(pilot)
            assert "s3:GetObject on [bold red]arn\\x1b[2J for alice in prod" in decision(screen)
            line = screen.query_one("#sim-decision", Static).content
            assert "\x1b" not in line.plain and "[bold red]" in line.plain  # text, not markup or an escape

    async def test_draws_at_80_by_24(self, tmp_path):
        app, _ = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_simulator(app, pilot, user="dave", account="prod", action="iam:CreateUser")
            await pilot.press("enter")
            await settle(pilot)
            view = screen.query_one("#sim-policy")
            assert view.region.height >= 5 and view.region.bottom <= 23
            assert "▶" in app.export_screenshot()  # the deciding statement is scrolled into view
