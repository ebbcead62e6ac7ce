"""The console's gate through Pilot: first-run wizard, sign-in and each way it fails, lockout, recovery codes,
forced password change, timeouts, sign-out, and a sign-in ended from elsewhere. Real files, injected clock."""

from __future__ import annotations

import stat

import pytest
from textual.widgets import Input, Static

from store import audit
from store.audit import Actor
from store.crypto import totp_code
from store.demo import DEMO_ROOT, seed_demo_root
from store.directory import Directory
from store.errors import Refused
from store.sign_in import FAILED_MESSAGE
from tests.console_factory import burst, make_app, settle, type_text
from tests.test_identity_init import ROOT_PASSWORD, FakeClock, make_root, other_code
from tui.app import TuiApp
from tui.screens.credentials import NewPasswordModal, SecretsModal, TotpEnrolModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.first_run import FirstRunScreen
from tui.screens.my_access import MyAccessScreen
from tui.screens.sign_in import SignInScreen
from tui.screens.users import UsersScreen
from tui.widgets.key_footer import KeyFooter

ALICE_PASSWORD = "wonderland rabbit hole 42"
ALICE_TOTP = "KRUGS4ZANF4SA5DIMUQGCY3DN52W45BAMJQWE6JAORUGKIDBMRWWS3Q"


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def sign_in(pilot, user: str, password: str, code: str = "", *, typed: bool = False) -> None:
    """Fill the three fields and press enter. ``typed``: key by key, tab between fields, as a person does
    (slower: most tests fill the boxes directly)."""
    screen = pilot.app.screen
    boxes = [screen.query_one(f"#sign-in-{name}", Input) for name in ("user", "password", "code")]
    for box in boxes:
        box.value = ""
    boxes[0].focus()
    await pilot.pause()
    if typed:
        await type_text(pilot, user)
        await pilot.press("tab")
        await type_text(pilot, password)
        await pilot.press("tab")
        await type_text(pilot, code)
        assert boxes[2].has_focus
    else:
        for box, value in zip(boxes, (user, password, code), strict=True):
            box.value = value
        boxes[2].focus()
        await pilot.pause()
    await pilot.press("enter")
    await settle(pilot)


def gate_app(tmp_path, *, with_alice: bool = False, alice_mfa: bool = False, **options):
    """A seeded directory with root (and alice, password only unless ``alice_mfa``: then with the
    authenticator ALICE_TOTP), opened at the sign-in screen."""
    root = make_root(tmp_path / "directory.db")
    app, directory = make_app(tmp_path, signed_in=None, clock=root.clock, **options)
    if with_alice:
        alice = directory.users.get_by_name("alice")
        directory.credentials.set_password(alice.id, ALICE_PASSWORD)
        # alice is in the demo's Admins group; make it the admin group: with MFA she administers.
        directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
        if alice_mfa:
            directory.credentials.confirm_totp(alice.id, ALICE_TOTP, totp_code(ALICE_TOTP, other_step(root)))
    return app, directory, root


def other_step(root):
    """A moment one step before now: enrolment spends its step, so sign-in codes of now stay unused."""
    from datetime import timedelta

    return root.clock() - timedelta(seconds=30)


def alice_code(root) -> str:
    return totp_code(ALICE_TOTP, root.clock())


def wizard_app(tmp_path):
    """The console over a directory without root, on a clock the test moves: (app, directory, clock)."""
    clock = FakeClock()
    app, directory = make_app(tmp_path, seed=False, signed_in=None, clock=clock)
    return app, directory, clock


async def the_wizard(pilot) -> FirstRunScreen:
    await settle(pilot)
    wizard = pilot.app.screen
    assert isinstance(wizard, FirstRunScreen)
    return wizard


class TestFirstRun:
    async def test_the_wizard_takes_its_fields_in_one_burst(self, tmp_path):
        """The wizard's Enter moves on at once too: password⏎repeat⏎ then the code⏎, each sent in a burst."""
        app, directory, clock = wizard_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            wizard = await the_wizard(pilot)
            burst(app, [*"glass box standing by", "enter", *"glass box standing by", "enter"])
            await settle(pilot)
            assert "step 2 of 3" in text(wizard, "#wizard-title"), text(wizard, "#wizard-password-error")
            burst(app, [*totp_code(wizard.enrolment.secret, clock()), "enter"])
            await settle(pilot)
            assert "step 3 of 3" in text(wizard, "#wizard-title")
            assert directory.users.root() is not None
        directory.close()

    async def test_the_wizard_creates_root_shows_codes_once_and_signs_in(self, tmp_path):
        app, directory, clock = wizard_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            wizard = await the_wizard(pilot)
            assert "step 1 of 3" in text(wizard, "#wizard-title")
            assert text(wizard, "#wizard-where") == f"Directory file: {tmp_path / 'directory.db'}"
            await type_text(pilot, "password")
            await pilot.press("enter")
            await settle(pilot)
            error = text(wizard, "#wizard-password-error")
            assert "at least 12 characters" in error and "too common" in error
            wizard.query_one("#wizard-password", Input).value = ""
            await type_text(pilot, "glass box standing by")
            await pilot.press("tab")
            await type_text(pilot, "glass box standing bx")
            await pilot.press("enter")
            await settle(pilot)
            assert "differ" in text(wizard, "#wizard-password-error")
            await type_text(pilot, "glass box standing by")
            await settle(pilot)
            assert text(wizard, "#wizard-password-error") == ""  # about the value typed before: gone
            await pilot.press("enter")
            await settle(pilot)
            assert "step 2 of 3" in text(wizard, "#wizard-title")
            assert "█" in text(wizard, "#qr") and len(text(wizard, "#qr").splitlines()) == 19
            secret = wizard.enrolment.secret
            assert secret[:4] in text(wizard, "#secret")
            await type_text(pilot, other_code(totp_code(secret, clock())))
            await pilot.press("enter")
            await settle(pilot)
            assert "does not match" in text(wizard, "#enrol-error")
            assert directory.users.root() is None  # nothing written yet
            await type_text(pilot, totp_code(secret, clock()))
            await pilot.press("enter")
            await settle(pilot)
            assert "step 3 of 3" in text(wizard, "#wizard-title")
            codes = text(wizard, "#codes").split()
            assert len(codes) == 10
            key_file = tmp_path / "directory.db.key"
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and str(key_file) in text(
                wizard, "#codes-key"
            )
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert app.signed_in.is_root and directory.actor.name == "root"
            assert "break-glass" in text(app.screen, "#root-banner")
            # The wizard checked root's password and a code: that was root's first sign-in, and the flag says
            # so, as setting up (a warning seconds after creating root was noise).
            assert text(app.screen, "#flag-2") == "✓ Root used only to set up"
        # The codes shown are root's real recovery codes; the wizard's password is root's.
        clock.advance(seconds=30)
        assert (
            directory.sign_in.attempt("root", "glass box standing by", codes[0]).method
            == "password+recovery_code"
        )


class TestSignIn:
    async def test_success_opens_the_console_as_that_user(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert app.screen.query_one("#sign-in-user", Input).has_focus
            await sign_in(pilot, "alice", ALICE_PASSWORD, alice_code(root), typed=True)
            assert isinstance(app.screen, DashboardScreen)
            assert directory.actor == Actor("alice", "console")
            assert "acting as alice" in text(app.screen, "#dashboard-where")
            assert app.screen.query_one("#root-banner").has_class("hidden")
            await pilot.press("2")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
        with directory.db.read() as conn:
            row = conn.execute("SELECT client, revoked_at FROM portal_tokens").fetchone()
        assert row["client"] == "console"
        root.directory.close()

    async def test_enter_after_the_password_moves_to_the_code_and_again_signs_in_without(self, tmp_path):
        """Enter in the password field signed in at once, the code still empty: root (who always needs one)
        failed, and the failure counted towards the lock. It moves to the code, as Enter from the user name
        moves to the password; Enter on the empty code signs in a user without an authenticator."""
        app, directory, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            for user, password in (("root", ROOT_PASSWORD), ("alice", ALICE_PASSWORD)):
                await type_text(pilot, user)
                await pilot.press("enter")
                await type_text(pilot, password)
                await pilot.press("enter")
                await settle(pilot)
                assert (
                    isinstance(app.screen, SignInScreen)
                    and screen.query_one("#sign-in-code", Input).has_focus
                )
                assert "6 digits from your authenticator" in text(screen, "#sign-in-hint")
                # No attempt made, and root's "Signed out." is not left above alice's hint.
                assert text(screen, "#sign-in-message") == ""
                if user == "root":
                    await type_text(pilot, root.code())
                    await pilot.press("enter")
                    await settle(pilot)
                    assert isinstance(app.screen, DashboardScreen)
                    await pilot.press("ctrl+o")
                    await settle(pilot)
                    screen = app.screen
                    assert isinstance(screen, SignInScreen) and "Signed out" in text(
                        screen, "#sign-in-message"
                    )
            await pilot.press("enter")  # alice has no authenticator: Enter again signs her in
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)  # without MFA she administers nothing
            assert directory.actor == Actor("alice", "console")
        with directory.db.read() as conn:
            failures = conn.execute("SELECT count(*) FROM audit WHERE action = 'sign_in.failure'").fetchone()[
                0
            ]
        assert failures == 0
        root.directory.close()

    async def test_every_failure_shows_the_same_message_and_nothing_opens(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True)
        bob = directory.users.get_by_name("bob")
        directory.credentials.set_password(bob.id, "a disabled passphrase")
        directory.users.disable(bob.id, directory.users.get(bob.id).version)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            for user, password, code in (
                ("nobody", ROOT_PASSWORD, root.code()),
                ("root", "not the password at all", root.code()),
                ("root", ROOT_PASSWORD, other_code(root.code())),
                ("root", ROOT_PASSWORD, ""),
                ("bob", "a disabled passphrase", ""),
            ):
                await sign_in(pilot, user, password, code)
                assert app.screen is screen and app.signed_in is None
                assert text(screen, "#sign-in-message") == FAILED_MESSAGE, (user, password, code)
                assert screen.query_one("#sign-in-password", Input).value == ""
                assert screen.query_one("#sign-in-code", Input).value == ""
            # Nothing of the directory is reachable from the gate.
            for action in ("switch_mode('users')", "command_palette", "help"):
                await app.run_action(action)
                await settle(pilot)
                assert app.screen is screen, action
        root.directory.close()

    async def test_enter_on_an_empty_field_moves_there_instead_of_failing(self, tmp_path):
        app, directory, root = gate_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await type_text(pilot, "root")
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.query_one("#sign-in-password", Input).has_focus
            assert text(app.screen, "#sign-in-message") == ""
        assert directory.credentials.status(directory.users.root().id).failed_sign_ins == 0
        root.directory.close()

    async def test_lockout_refuses_the_right_code_then_lifts(self, tmp_path):
        app, _, root = gate_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for _ in range(5):
                await sign_in(pilot, "root", ROOT_PASSWORD, other_code(root.code()))
            await sign_in(pilot, "root", ROOT_PASSWORD, root.code())
            assert app.signed_in is None
            assert text(app.screen, "#sign-in-message") == FAILED_MESSAGE
            hint = text(app.screen, "#sign-in-hint")
            assert "6 failed attempts" in hint and "paused for 1 to 15 minutes" in hint
            root.clock.advance(minutes=1, seconds=30)
            await sign_in(pilot, "root", ROOT_PASSWORD, root.code())
            assert isinstance(app.screen, DashboardScreen) and app.signed_in.is_root
        root.directory.close()

    async def test_a_recovery_code_signs_in_and_a_new_authenticator_is_enrolled_first(self, tmp_path):
        app, directory, root = gate_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "root", ROOT_PASSWORD, root.created.recovery_codes[0])
            modal = app.screen
            assert isinstance(modal, TotpEnrolModal) and app.signed_in is None
            assert "recovery code" in str(modal.query_one(".enrol-title", Static).render())
            await type_text(pilot, totp_code(modal.enrolment.secret, root.clock()))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecretsModal)
            assert len(text(app.screen, "#secrets").split()) == 10
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and app.signed_in.is_root
        status = directory.credentials.status(directory.users.root().id)
        assert status.mfa and not status.mfa_reenrol and status.recovery_codes_left == 10
        root.directory.close()

    async def test_a_reset_password_must_be_changed_and_the_policy_says_why(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        alice = directory.users.get_by_name("alice")
        directory.credentials.set_password(alice.id, "temporary passphrase 1", must_change=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", "temporary passphrase 1", alice_code(root))
            form = app.screen
            assert isinstance(form, NewPasswordModal)
            assert "at least 12 characters" in text(form, "#form-error")  # the policy, up front
            await type_text(pilot, "alice12345678")
            await pilot.press("tab")
            await type_text(pilot, "alice12345678")
            await pilot.press("enter")
            await settle(pilot)
            assert "must not contain the user name" in text(form, "#error-password")
            form.query_one("#field-password", Input).value = "looking glass mirror 77"
            form.query_one("#field-repeat", Input).value = "looking glass mirror 77"
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and app.signed_in.user_name == "alice"
        root.clock.advance(seconds=30)  # (the code of that step is spent)
        directory.sign_in.attempt("alice", "looking glass mirror 77", alice_code(root))
        root.directory.close()

    async def test_what_a_sign_in_owes_is_done_after_someone_else_signed_out(self, tmp_path):
        """After a sign-out the gate acts as nobody: the password change a new user owes at first sign-in was
        refused ("only administrators can change another user's credentials") and the sign-in could not be
        finished; so was the new authenticator a recovery-code sign-in owes. The sign-in is the right."""
        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        alice = directory.users.get_by_name("alice")
        directory.credentials.set_password(alice.id, "temporary passphrase 1", must_change=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "root", ROOT_PASSWORD, root.code())
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen) and not directory.principal.owner
            # The sign-out is root's act (the audit named the console's operating-system account).
            with directory.db.read() as conn:
                (event,) = [e for e in audit.events(conn) if e.action == "portal.revoke"]
            assert (event.actor, event.target, event.details["reason"]) == ("root", "user:root", "signed out")
            await sign_in(pilot, "alice", "temporary passphrase 1", alice_code(root))
            assert isinstance(app.screen, NewPasswordModal)
            await type_text(pilot, "looking glass mirror 77")
            await pilot.press("tab")
            await type_text(pilot, "looking glass mirror 77")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and app.signed_in.user_name == "alice"
            await pilot.press("ctrl+o")
            await settle(pilot)
            root.clock.advance(seconds=30)
            await sign_in(pilot, "root", ROOT_PASSWORD, root.created.recovery_codes[0])
            modal = app.screen
            assert isinstance(modal, TotpEnrolModal)
            await type_text(pilot, totp_code(modal.enrolment.secret, root.clock()))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SecretsModal)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and app.signed_in.is_root
        directory.sign_in.attempt("alice", "looking glass mirror 77", alice_code(root))
        root.directory.close()

    async def test_keys_sent_in_one_burst_land_in_their_fields(self, tmp_path):
        """tmux's send-keys (or a paste) delivers "root⏎password⏎code⏎" at once: the focus moved on the
        field's Submitted message, after the keys behind it, and everything was typed into the user name."""
        app, directory, root = gate_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            burst(app, [*"root", "enter", *ROOT_PASSWORD, "enter", *root.code(), "enter"])
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen), app.screen.query_one("#sign-in-user", Input).value
        root.directory.close()

    async def test_alice_signs_in_at_once_with_the_code_the_demo_shows(self, tmp_path):
        """Seeding enrolled alice's authenticator with the code of that moment: the code the sign-in screen
        then showed was spent, and her sign-in failed for up to 30 seconds (a tmux walk right after start)."""
        from store.demo import DEMO_ALICE, seed_demo, seed_demo_credentials

        clock = FakeClock()
        directory = Directory.open(tmp_path / "demo.db", Actor("console:t", "console"), clock)
        seed_demo_root(directory)
        seed_demo(directory)
        seed_demo_credentials(directory)
        app = TuiApp(directory, demo=DEMO_ROOT)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            code = totp_code(DEMO_ALICE.totp_secret, clock())
            assert code in text(app.screen, "#sign-in-demo")
            await sign_in(pilot, "alice", DEMO_ALICE.password, code)
            assert not isinstance(app.screen, SignInScreen), text(app.screen, "#sign-in-message")
        directory.close()

    async def test_the_demo_shows_root_and_its_current_code(self, tmp_path):
        clock = FakeClock()
        directory = Directory.open(tmp_path / "demo.db", Actor("console:t", "console"), clock)
        seed_demo_root(directory)
        app = TuiApp(directory, demo=DEMO_ROOT)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            demo = text(app.screen, "#sign-in-demo")
            assert DEMO_ROOT.password in demo and totp_code(DEMO_ROOT.totp_secret, clock()) in demo
            await sign_in(pilot, "root", DEMO_ROOT.password, totp_code(DEMO_ROOT.totp_secret, clock()))
            assert isinstance(app.screen, DashboardScreen)
            # Root's My access: not told to wait for an assignment it can never have.
            await pilot.press("0")
            await settle(pilot)
            hint = text(app.screen, "#get-hint")
            assert "Root never takes temporary credentials" in hint and "assigns roles" not in hint
        directory.close()


class TestAdministrationNeedsMfa:
    async def test_an_admin_group_member_without_an_authenticator_gets_my_access_and_a_banner(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD)
            assert isinstance(app.screen, MyAccessScreen)
            banner = app.screen.query_one("#mfa-banner", Static)
            assert banner.display and "administration needs MFA" in str(banner.render())
            assert not app.is_admin and not directory.acting_is_admin
            assert "Press c, then t to enrol one" in str(banner.render())  # she signed in with her password
            await pilot.press("2")  # Users: administrators only
            await settle(pilot)
            assert isinstance(app.screen, MyAccessScreen)
        # The store refuses her changes too, whatever the console offers.
        with pytest.raises(Refused, match="only when signed in with MFA"):
            directory.users.create("sneaky")
        root.directory.close()

    async def test_ones_own_credentials_offer_only_what_a_user_may_do_and_ask_the_current_password(
        self, tmp_path
    ):
        app, directory, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD)
            await pilot.press("c")
            await settle(pilot)
            keys = [key.description for key in app.screen.query_one(KeyFooter).keys]
            assert "Enrol authenticator" in keys and "Set password" in keys
            assert "Reset MFA" not in keys and "Remove password" not in keys
            await pilot.press("p")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, NewPasswordModal) and form.query_one("#field-currentPassword", Input)
            form.query_one("#field-currentPassword", Input).value = "not her password"
            form.query_one("#field-password", Input).value = "looking glass mirror 77"
            form.query_one("#field-repeat", Input).value = "looking glass mirror 77"
            await pilot.press("enter")
            await settle(pilot)
            assert "current password is not right" in text(form, "#error-currentPassword")
            form.query_one("#field-currentPassword", Input).value = ALICE_PASSWORD
            await pilot.press("enter")
            await settle(pilot)
            assert not isinstance(app.screen, NewPasswordModal)
        assert directory.sign_in.attempt("alice", "looking glass mirror 77").user.user_name == "alice"
        root.directory.close()

    async def test_with_an_authenticator_the_same_member_administers_and_sees_no_banner(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD, alice_code(root))
            assert isinstance(app.screen, DashboardScreen)
            assert app.is_admin
        root.directory.close()


class TestSessionEnds:
    async def test_fifteen_minutes_idle_signs_out_and_forgets_the_screens(self, tmp_path):
        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD, alice_code(root))
            await pilot.press("2", "slash")
            await type_text(pilot, "ali")
            await settle(pilot)
            root.clock.advance(minutes=14)
            await pilot.pause(1.3)
            assert app.signed_in is not None  # not yet
            root.clock.advance(minutes=1)
            await pilot.pause(1.3)
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen) and app.signed_in is None
            assert "15 minutes without activity" in text(app.screen, "#sign-in-message")
            assert directory.actor.name == "console:tester"
            await sign_in(pilot, "alice", ALICE_PASSWORD, alice_code(root))  # 15 minutes on: a new code
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.query_one("#filter", Input).value == ""  # a fresh Users screen
        with directory.db.read() as conn:
            reasons = [r[0] for r in conn.execute("SELECT revoked_reason FROM portal_tokens ORDER BY id")]
        assert reasons == ["signed out", None]
        root.directory.close()

    async def test_twelve_hours_end_a_sign_in_even_when_busy(self, tmp_path):
        app, _, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD)
            for _ in range(52):  # 52 × 14 minutes: never 15 idle, 12 h 8 min in all
                root.clock.advance(minutes=14)
                await pilot.press("r")
            await pilot.pause(1.2)
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert "at most 12 hours" in text(app.screen, "#sign-in-message")
        root.directory.close()

    async def test_ctrl_o_signs_out(self, tmp_path):
        app, _, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD)
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen) and app.signed_in is None
            assert text(app.screen, "#sign-in-message") == "Signed out."
        root.directory.close()

    async def test_disabling_the_user_elsewhere_ends_their_console(self, tmp_path):
        app, _, root = gate_app(tmp_path, with_alice=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await sign_in(pilot, "alice", ALICE_PASSWORD)
            alice = root.directory.users.get_by_name("alice")
            root.directory.users.disable(alice.id, alice.version)  # another process, another admin
            await pilot.pause(2.2)
            await settle(pilot)
            assert isinstance(app.screen, SignInScreen)
            assert (
                text(app.screen, "#sign-in-message") == "Signed out: this sign-in was ended (user disabled)."
            )
        root.directory.close()

    async def test_a_console_opened_signed_in_ends_with_its_token(self, tmp_path):
        root = make_root(tmp_path / "directory.db")
        alice = root.directory.users.create("alice-ssh")
        signed_in = root.directory.portal.issue_for(alice.id, client="ssh", method="ssh-key", mfa=False)
        directory = Directory.open(tmp_path / "directory.db", Actor("ssh-server", "ssh"), root.clock)
        app = TuiApp(directory, signed_in=signed_in, exit_on_sign_out=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            # alice-ssh administers nothing: her console opens on My access.
            assert isinstance(app.screen, MyAccessScreen) and directory.actor == Actor("alice-ssh", "ssh")
            root.directory.portal.revoke(signed_in.token, "revoked by an admin")
            await pilot.pause(2.2)
        assert app.return_code == 0 and not app.is_running
        directory.close()
        root.directory.close()


class TestBurstTyping:
    async def test_user_tab_password_tab_code_enter_in_one_burst_signs_in(self, tmp_path):
        """As a password manager or a paste delivers it: every key before the first is handled."""
        from textual import events

        app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            keys = [*"alice", "tab", *ALICE_PASSWORD, "tab", *alice_code(root), "enter"]
            for key in keys:
                character = {"tab": "\t", "enter": "\r", " ": " "}.get(key, key)
                name = {" ": "space"}.get(key, key)
                app.post_message(events.Key(name, character))
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen), text(app.screen, "#sign-in-message")
            assert directory.actor == Actor("alice", "console")
        root.directory.close()


async def test_the_change_poll_between_screens_does_not_crash_the_console(tmp_path):
    """A timer that fires while no screen is shown (a sign-in switching modes, the console closing) waits for
    the next poll: CI once saw ScreenStackError from the change poll end a sign-in."""
    app, directory, root = gate_app(tmp_path, with_alice=True, alice_mfa=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    assert not app.screen_stack  # closed: no screen left to tell
    root.directory.users.create("zed")  # a change the poll would tell a screen about
    app._notice_changes()
    app._show_presence([])
    root.directory.close()


async def test_a_sign_out_or_a_change_of_rights_while_the_console_closes_does_not_crash_it(tmp_path):
    """A worker's or a timer's sign-out (revoked elsewhere, idle) or loss of adminship can arrive while
    Textual closes every mode's screens: switching modes then opened a mode under it (CI once: RuntimeError,
    dictionary changed size during iteration, ending the console). They now leave the screens alone then;
    the sign-in still ends."""
    app, directory = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        signed_in = app.signed_in
        assert signed_in is not None and app.is_admin
    assert not app.is_running and not app.screen_stack  # closed
    app._rights_changed(signed_in, False)  # lost adminship: would switch to My access
    assert not app.is_admin
    app.sign_out("Signed out: this sign-in was revoked.")  # would switch to the gate and reset every mode
    assert app.signed_in is None
