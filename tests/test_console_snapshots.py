"""Every main screen and modal of the console at 120×36 and 80×24, compared with the SVGs committed under
tests/__snapshots__/test_console_snapshots/ (pytest-textual-snapshot): a change in what a screen draws fails
the test, and the failure report (snapshot_report.html) shows both pictures side by side.

After a deliberate change of the console, look at the report, then redraw the pictures:
``.venv/bin/python -m pytest tests/test_console_snapshots.py -n 2 --snapshot-update``.

Deterministic by construction: the seeded demo directory (tests/demo_directory.py, shared with ``make
screenshots``) on a fixed clock, so every countdown, date and sign-in code is the same, with fixed session
key ids and a relative file name; the keys of scripts/screenshots.py; every worker finished, toasts cleared
(they expire on a timer) and cursors held visible (Textual blinks them on a timer, test mode or not) before
the picture is taken. The first-run wizard is left out: its QR code and secret are random on purpose.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TextArea

from store.crypto import totp_code
from store.demo import DEMO_ROOT
from store.directory import Directory
from tests.console_factory import ADMIN, TESTER, settle
from tests.demo_directory import demo_directory, fixed_clock
from tui.app import TuiApp
from tui.screens.import_screen import ImportScreen
from tui.screens.my_access import MyAccessScreen
from tui.screens.simulator import SimulatorScreen

ROOT = Path(__file__).resolve().parent.parent
SIZES = [pytest.param((120, 36), id="120x36"), pytest.param((80, 24), id="80x24")]

Steps = Callable[[Pilot[object], Directory], Awaitable[None]]


def keys(*pressed: str) -> Steps:
    """Press each key, letting the screen catch up after each but a typed character."""

    async def steps(pilot: Pilot[object], _: Directory) -> None:
        for key in pressed:
            await pilot.press(key)
            if len(key) > 1:
                await settle(pilot)

    return steps


async def signed_in_as_root(pilot: Pilot[object], directory: Directory) -> None:
    await keys(*DEMO_ROOT.user_name, "tab", *DEMO_ROOT.password, "tab")(pilot, directory)
    await keys(*totp_code(DEMO_ROOT.totp_secret, directory.clock()), "enter")(pilot, directory)


async def simulated(pilot: Pilot[object], directory: Directory) -> None:
    # Pushed with its fields filled, as scripts/screenshots.py does: a decision with the statements behind it.
    await pilot.app.push_screen(SimulatorScreen(user="dave", account="prod", action="iam:CreateUser"))
    await settle(pilot)
    await keys("enter")(pilot, directory)


async def my_access(pilot: Pilot[object], directory: Directory) -> None:
    await pilot.app.push_screen(MyAccessScreen(directory.users.get_by_name("dave").id))


async def import_plan(pilot: Pilot[object], directory: Directory) -> None:
    # A dry run of a copy of a file of the repository, in the test's folder (the working directory).
    shutil.copy(ROOT / "tests/data/import/users.csv", "users.csv")
    await pilot.app.push_screen(ImportScreen("users.csv"))
    await settle(pilot)
    await keys("enter")(pilot, directory)


async def conflict(pilot: Pilot[object], directory: Directory) -> None:
    """Edit alice while another administrator changes her: saving finds the conflict."""
    await keys("2", "e")(pilot, directory)
    other = Directory.open(directory.db.path, ADMIN, fixed_clock)
    try:
        alice = other.users.get_by_name("alice")
        other.users.update(alice.id, alice.version, display_name="Changed by other")
    finally:
        other.close()
    pilot.app.screen.query_one("#field-displayName", Input).value = "Mine"
    await keys("ctrl+s")(pilot, directory)


async def sources(pilot: Pilot[object], directory: Directory) -> None:
    """Two identity providers: okta busy with one error, entra paused by the live sync guard."""
    from store.formats import read_file
    from store.importer import import_document
    from store.scim_sources import RequestError

    for source, count in (("entra", 12), ("okta", 40)):
        raw = json.dumps({"users": [{"userName": f"{source}{n}@example.com"} for n in range(count)]}).encode()
        document = read_file(raw, "seed.json", "json").document
        import_document(directory, document, file_name="seed.json", raw=raw, source=source)
    directory.scim_tokens.create("okta")
    directory.scim_tokens.create("okta", "P30D")
    directory.scim_tokens.create("entra")
    at = "2026-06-15T09:29:41Z"
    error = RequestError(at, 409, "userName: 'erin@example.com' is already taken")
    directory.scim_sources.record_requests("okta", 1204, 3, at, error)
    directory.scim_sources.pause("entra", "5 deactivations within 10 minutes would be more than 10%")
    await keys("S")(pilot, directory)


# name → (signed in before the first key?, what brings the screen up, the screen it must be on). The last
# keeps --snapshot-update from recording the wrong screen when a key stops doing what it did.
SCENES: dict[str, tuple[bool, Steps, str]] = {
    "sign-in": (False, keys(*DEMO_ROOT.user_name, "tab"), "SignInScreen"),
    "dashboard": (False, signed_in_as_root, "DashboardScreen"),
    "users": (True, keys("2"), "UsersScreen"),
    "user-detail": (True, keys("2", "enter"), "UserDetailScreen"),
    "credentials": (True, keys("2", "enter", "c"), "CredentialsScreen"),
    "groups": (True, keys("3"), "GroupsScreen"),
    "accounts": (True, keys("4"), "AccountsScreen"),
    "permission-sets": (True, keys("5"), "PermissionSetsScreen"),
    "permission-set-editor": (True, keys("5", "e"), "PermissionSetEditorScreen"),
    "assignments": (True, keys("6"), "AssignmentsScreen"),
    "policies": (True, keys("7"), "PoliciesScreen"),
    "sessions": (True, keys("8"), "SessionsScreen"),
    "sources": (True, sources, "SourcesScreen"),
    "simulator": (True, simulated, "SimulatorScreen"),
    "my-access": (True, my_access, "MyAccessScreen"),
    "import-plan": (True, import_plan, "ImportScreen"),
    "help": (True, keys("2", "question_mark"), "HelpScreen"),
    "audit-log": (True, keys("l"), "AuditLogScreen"),
    # Filtered to an event whose details hold no random key id: the newest group created.
    "audit-event": (True, keys("l", "slash", *"group.create", "enter", "enter"), "AuditEventModal"),
    "confirm": (True, keys("2", "d"), "ConfirmModal"),
    "new-user-form": (True, keys("2", "n"), "FormModal"),
    "conflict": (True, conflict, "ConflictModal"),
    "command-palette": (True, keys("2", "ctrl+p"), "CommandPalette"),
}


async def still(pilot: Pilot[object]) -> None:
    """Nothing left that changes with time: workers done, toasts gone, the cursor shown and not blinking."""
    await settle(pilot)
    # The console looks for commits once a second and reloads the screen: take that look now (the sign-in's
    # and the other administrator's commits), so no reload starts while the picture is taken.
    pilot.app._notice_changes()
    await settle(pilot)
    pilot.app.clear_notifications()
    for field in pilot.app.screen.query(Input).results():
        field.cursor_blink = False
    for area in pilot.app.screen.query(TextArea).results():
        area.cursor_blink = False
    # Textual's DataTable caches a line drawn between add_row and its idle-time column sizing, and keeps it:
    # My access showed its header a few columns short in one run of 16 under load. Redraw from scratch.
    for table in pilot.app.screen.query(DataTable).results():
        table.notify_style_update()
    await settle(pilot)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo directory, seeded once per worker; each test works on a copy."""
    folder = tmp_path_factory.mktemp("seeded")
    directory = demo_directory(folder / "demo.db", fixed_clock)
    with directory.change() as conn:  # session key ids are random by design: fixed ones for the pictures
        conn.execute("UPDATE sessions SET access_key_id = 'ASIASNAPSHOT' || printf('%08d', id)")
    directory.close()
    return folder


@pytest.fixture
def demo(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Directory]:
    for name in ("demo.db", "demo.db.key"):
        shutil.copy(seeded / name, tmp_path / name)
    # A relative path: the sign-in screen names the file, and tmp_path differs from run to run.
    monkeypatch.chdir(tmp_path)
    directory = Directory.open(Path("demo.db"), ADMIN, fixed_clock)
    yield directory
    directory.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", list(SCENES))
def test_screen(scene: str, size: tuple[int, int], demo: Directory, snap_compare) -> None:
    signed_in, steps, screen = SCENES[scene]
    app = TuiApp(demo, signed_in=TESTER if signed_in else None, demo=DEMO_ROOT)

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await steps(pilot, demo)
        await still(pilot)
        assert type(app.screen).__name__ == screen

    assert snap_compare(app, terminal_size=size, run_before=run_before)
