"""A user's credentials in the console (Pilot): password with the policy's reasons, authenticator enrolment
with its QR code, recovery codes, the access key rotation flow, root's limits, and the dashboard's flags."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Input, Static

from store.crypto import totp_code
from tests.console_factory import make_app, open_credentials, settle, type_text
from tests.test_identity_init import make_root
from tui.screens.credentials import CredentialsScreen, NewPasswordModal, SecretsModal, TotpEnrolModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.modals import ConfirmModal
from tui.widgets.key_footer import KeyFooter


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def app_with_root(tmp_path, *, as_root: bool = False):
    root = make_root(tmp_path / "directory.db")
    signed_in = None
    if as_root:
        signed_in = root.directory.portal.issue_for(
            root.directory.users.root().id, client="console", method="password+totp", mfa=True
        )
    options = {"signed_in": signed_in} if as_root else {}
    app, directory = make_app(tmp_path, clock=root.clock, **options)
    return app, directory, root


class TestPasswordAndAuthenticator:
    async def test_set_password_shows_why_it_is_refused_then_saves(self, tmp_path):
        app, directory, root = app_with_root(tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_credentials(pilot)  # alice
            assert "none (cannot sign in with a password)" in text(screen, "#cred-fields")
            await pilot.press("p")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, NewPasswordModal)
            await type_text(pilot, "alice2024")
            await pilot.press("tab")
            await type_text(pilot, "alice2024")
            await pilot.press("ctrl+s")
            await settle(pilot)
            refused = text(form, "#error-password")
            assert "at least 12 characters" in refused and "must not contain the user name" in refused
            form.query_one("#field-password", Input).value = "wonderland rabbit hole 42"
            form.query_one("#field-repeat", Input).value = "wonderland rabbit hole 41"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "differ" in text(form, "#error-repeat")
            form.query_one("#field-repeat", Input).value = "wonderland rabbit hole 42"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is screen
            fields = text(screen, "#cred-fields")
            assert "set 2026-05-04" in fields and "must be changed at next sign-in" in fields
        assert directory.credentials.status(directory.users.get_by_name("alice").id).must_change_password
        root.directory.close()

    async def test_enrol_an_authenticator_from_its_qr_code_then_reset_it(self, tmp_path):
        app, directory, root = app_with_root(tmp_path)
        alice = directory.users.get_by_name("alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_credentials(pilot)
            await pilot.press("t")
            await settle(pilot)
            modal = app.screen
            assert isinstance(modal, TotpEnrolModal)
            qr = text(modal, "#qr")
            assert "█" in qr and len(qr.splitlines()) == 19
            await type_text(
                pilot, "000000" if totp_code(modal.enrolment.secret, root.clock()) != "000000" else "111111"
            )
            await pilot.press("enter")
            await settle(pilot)
            assert "does not match" in text(modal, "#enrol-error")
            await type_text(pilot, totp_code(modal.enrolment.secret, root.clock()))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecretsModal)
            codes = text(app.screen, "#secrets").split()
            assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-z]{5}-[0-9a-z]{5}", c) for c in codes)
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is screen
            assert "TOTP enrolled" in text(screen, "#cred-fields") and "10 of 10 left" in text(
                screen, "#cred-fields"
            )
            await pilot.press("g", "y")
            await settle(pilot)
            assert isinstance(app.screen, SecretsModal)
            new_codes = text(app.screen, "#secrets").split()
            assert set(new_codes).isdisjoint(codes)
            await pilot.press("enter")
            await pilot.press("T")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert "none: no MFA" in text(screen, "#cred-fields")
        assert not directory.credentials.status(alice.id).mfa
        root.directory.close()


class TestAccessKeys:
    async def test_rotation_create_second_deactivate_first_delete_it(self, tmp_path):
        app, directory, root = app_with_root(tmp_path)
        alice = directory.users.get_by_name("alice")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_credentials(pilot)
            assert "No access keys" in text(screen, "#cred-rotation")
            await pilot.press("n", "y")
            await settle(pilot)
            shown = text(app.screen, "#secrets")
            first_id = re.search(r"AKIA[A-Z2-7]{16}", shown).group(0)
            first_secret = shown.split("Secret access key")[1].split()[0]
            assert len(first_secret) == 40
            await pilot.press("enter")
            await settle(pilot)
            table = screen.query_one("#cred-keys", DataTable)
            assert table.row_count == 1 and str(table.get_row_at(0)[0]) == first_id
            assert "create a second key" in text(screen, "#cred-rotation")
            # The secret is never on the screen again.
            assert first_secret not in app.export_screenshot()

            await pilot.press("R")  # step 1: a second key
            await settle(pilot)
            assert "Create an access key" in text(app.screen, ".dialog-title")
            await pilot.press("y")
            await settle(pilot)
            second_id = re.search(r"AKIA[A-Z2-7]{16}", text(app.screen, "#secrets")).group(0)
            await pilot.press("enter")
            await settle(pilot)
            assert table.row_count == 2
            assert f"deactivate {first_id}" in text(screen, "#cred-rotation")

            await pilot.press("R")  # step 2: deactivate the old one
            await settle(pilot)
            assert f"deactivate the old key {first_id}" in text(app.screen, ".dialog-title")
            await pilot.press("y")
            await settle(pilot)
            assert str(table.get_row_at(0)[1]) == "inactive"
            assert f"delete the inactive key {first_id}" in text(screen, "#cred-rotation")

            await pilot.press("R")  # step 3: delete it
            await settle(pilot)
            await pilot.press("y")
            await settle(pilot)
            assert table.row_count == 1 and str(table.get_row_at(0)[0]) == second_id
        assert [k.key_id for k in directory.access_keys.list(alice.id)] == [second_id]
        root.directory.close()

    async def test_a_third_key_and_deleting_an_active_key_are_not_offered(self, tmp_path):
        """Neither is asked for, to be refused after the confirmation: the keys are not offered (nor run)."""
        app, directory, root = app_with_root(tmp_path)
        alice = directory.users.get_by_name("alice")
        directory.access_keys.create(alice.id)
        directory.access_keys.create(alice.id)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            screen = await open_credentials(pilot)
            shown = [key.description for key in screen.query_one(KeyFooter).keys]
            assert "New access key" not in shown and "Delete key" not in shown
            await pilot.press("n")
            await pilot.press("D")
            await settle(pilot)
            assert app.screen is screen
        assert len(directory.access_keys.list(alice.id)) == 2
        root.directory.close()


class TestRoot:
    async def test_root_sees_the_flags_and_its_own_credentials_without_keys_or_mfa_reset(self, tmp_path):
        app, directory, root = app_with_root(tmp_path, as_root=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            dashboard = app.screen
            assert isinstance(dashboard, DashboardScreen)
            assert "root is for break-glass: create an admin user" in text(dashboard, "#root-banner")
            flags = [text(dashboard, f"#flag-{i}") for i in range(6)]
            assert flags[0] == "✓ Root MFA on" and flags[1] == "✓ Root has no access keys"
            assert flags[2] == "✓ Root never signed in"
            assert flags[3] == "✓ Every password user has MFA"
            await pilot.press("c")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CredentialsScreen)
            assert "(root)" in text(screen, "#cred-title")
            assert "cannot hold access keys" in text(screen, "#cred-rotation")
            shown = [key.description for key in screen.query_one(KeyFooter).keys]
            for absent in ("New access key", "Rotate keys", "Reset MFA", "Remove password"):
                assert absent not in shown, shown
            await pilot.press("n")
            await pilot.press("T")
            await settle(pilot)
            assert app.screen is screen  # nothing asked, for what root cannot do
        assert directory.credentials.status(directory.users.root().id).mfa
        root.directory.close()
