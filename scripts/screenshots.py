"""Drive the console with Pilot and save a PNG of every main screen into screenshots/ (``make screenshots``).

Textual writes SVG; cairosvg turns it into PNG. The SVG asks for the Fira Code web font, which is not here
(and nothing may be fetched), so the font is pinned to DejaVu Sans Mono, which every machine of ours has, and
columns line up.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# E402 below: imported after the line above puts the repository on the path (run as a plain script).
import cairosvg  # noqa: E402

from store.audit import Actor  # noqa: E402
from store.crypto import totp_code  # noqa: E402
from store.demo import DEMO_ROOT  # noqa: E402
from store.directory import Directory  # noqa: E402
from tests.demo_directory import demo_directory  # noqa: E402
from tui.app import TuiApp  # noqa: E402
from tui.screens.my_access import MyAccessScreen  # noqa: E402

OUT = ROOT / "screenshots"
FONT = "DejaVu Sans Mono"


def svg_to_png(svg: str, target: Path) -> None:
    svg = re.sub(r"@font-face\s*{[^}]*}", "", svg)
    svg = svg.replace("Fira Code, monospace", f"{FONT}, monospace").replace('"Fira Code"', f'"{FONT}"')
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(target), output_width=1600)


async def shoot(directory: Directory, size: tuple[int, int], suffix: str = "") -> list[Path]:
    app = TuiApp(directory, demo=DEMO_ROOT)
    written = []

    async def save(name: str) -> None:
        await pilot.pause(0.6)
        target = OUT / f"{name}{suffix}.png"
        svg_to_png(app.export_screenshot(), target)
        written.append(target)

    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        await pilot.press(*DEMO_ROOT.user_name, "tab")
        await save("sign-in")
        await pilot.press(
            *DEMO_ROOT.password, "tab", *totp_code(DEMO_ROOT.totp_secret, directory.clock()), "enter"
        )
        await pilot.pause(1.0)
        app.clear_notifications()  # the banner on the dashboard says it; the toast would hide the flags
        await save("dashboard")
        await pilot.press("2")
        await save("users")
        await pilot.press("slash", *"dev")
        await save("users-filter")
        await pilot.press("escape", "escape", "down", "enter")
        await save("user-detail")
        await pilot.press("c")
        await save("user-credentials")
        await pilot.press("t")
        await save("enrol-authenticator")
        await pilot.press("escape", "escape", "escape", "n")
        await pilot.press(*"new user")
        await pilot.press("enter")
        await save("user-form-error")
        await pilot.press("escape", "y", "3")  # esc on a filled form asks: y discards
        await save("groups")
        await pilot.press("4")
        await save("accounts")
        await pilot.press("5")
        await save("permission-sets")
        await pilot.press("e")
        await save("permission-set-form")
        await pilot.press("escape", "6")
        await save("assignments")
        await pilot.press("2", "d")
        await save("confirm-disable")
        await pilot.press("n", "question_mark")
        await save("help")
        await pilot.press("escape", "ctrl+p")
        await save("command-palette")
        await pilot.press("escape", "8")
        await save("sessions")
        await pilot.press("1", "l")
        await save("audit-log")
        await pilot.press("enter")
        await save("audit-event")
        await pilot.press("escape", "escape")
        dave = directory.users.get_by_name("dave")
        await app.push_screen(MyAccessScreen(dave.id))
        await save("my-access")
    return written


async def shoot_policy_screens(directory: Directory, size: tuple[int, int], suffix: str = "") -> list[Path]:
    """The policy library, the permission-set editor with a live error, the blast-radius confirmation and the
    simulator (issue 4), pushed directly: the app wires their keys separately."""
    import json

    from store.demo import DEVELOPER
    from tui.screens.permission_sets import PermissionSetEditorScreen
    from tui.screens.policies import PoliciesScreen
    from tui.screens.policy_editor import PolicyEditor
    from tui.screens.simulator import SimulatorScreen

    app = TuiApp(directory)
    written = []

    async def save(name: str) -> None:
        await pilot.pause(0.6)
        target = OUT / f"{name}{suffix}.png"
        svg_to_png(app.export_screenshot(), target)
        written.append(target)

    async with app.run_test(size=size) as pilot:
        if not suffix:
            app.push_screen(PoliciesScreen())
            await save("policies")
            app.pop_screen()
        app.push_screen(PermissionSetEditorScreen(directory.permission_sets.get_by_name("Developer")))
        await pilot.pause(0.3)
        area = app.screen.query_one("#field-inlinePolicy", PolicyEditor).text_area
        area.focus()
        area.move_cursor((5, 0))
        await pilot.press(*'"Oops": 1')
        await pilot.pause(0.5)
        area.move_cursor((1, 0))  # off the marked line, so its colour shows
        await save("permission-set-editor-error")
        document = json.loads(json.dumps(DEVELOPER))
        document["Statement"][0]["Action"] = ["s3:*", "lambda:*", "logs:*", "sqs:*"]
        area.load_text(json.dumps(document, indent=2))
        await pilot.pause(0.5)
        await pilot.press("ctrl+s")
        await save("blast-radius")
        await pilot.press("n", "escape", "y")
        await pilot.pause(0.3)
        app.push_screen(SimulatorScreen(user="dave", account="prod", action="iam:CreateUser"))
        await pilot.pause(0.3)
        await pilot.press("enter")
        await save("simulator")
    return written


async def shoot_first_run(size: tuple[int, int]) -> list[Path]:
    """The first-run wizard of a directory without root, at its QR-code step."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Directory.open(Path(folder) / "new.db", Actor("console:admin", "console"))
        app = TuiApp(directory)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)
            await pilot.press(*"glass box standing by", "tab", *"glass box standing by", "enter")
            await pilot.pause(0.6)
            target = OUT / "first-run-qr.png"
            svg_to_png(app.export_screenshot(), target)
        directory.close()
    return [target]


async def shoot_import_screen(directory: Directory, size: tuple[int, int], suffix: str = "") -> list[Path]:
    """The Import screen (issue 6), pushed directly (the app wires its key separately): a plan, then a
    refusal. The plan is a dry run: the demo directory is left as it was."""
    from store.portal import SignedIn
    from tui.screens.import_screen import ImportScreen

    admin = SignedIn(
        user_id=None,
        user_name="console:admin",
        is_root=False,
        mfa=True,
        method="screenshots",
        client="console",
        signed_in_at=directory.now_text(),
        expires_at=None,
    )
    app = TuiApp(directory, signed_in=admin)
    written = []
    here = os.getcwd()
    os.chdir(ROOT)  # the paths on screen are the repository's test files, relative

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        target = OUT / f"{name}{suffix}.png"
        svg_to_png(app.export_screenshot(), target)
        written.append(target)

    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            app.push_screen(ImportScreen("tests/data/import/users.csv"))
            await pilot.pause(0.3)
            await pilot.press("enter")
            await save("import-plan")
            path = app.screen.query_one("#import-path")
            path.value = "tests/data/import/bad-users.csv"
            path.cursor_position = len(path.value)
            await pilot.press("enter")
            await save("import-refused")
    finally:
        os.chdir(here)
    return written


def seed_sources(directory: Directory) -> None:
    """Two identity providers: okta busy with an error, entra paused by the live sync guard (issue 15)."""
    import json

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
    at = directory.now_text()
    error = RequestError(at, 409, "userName: 'erin@example.com' is already taken")
    directory.scim_sources.record_requests("okta", 1204, 3, at, error)
    directory.scim_sources.pause("entra", "5 deactivations within 10 minutes would be more than 10%")


async def shoot_sources_screen(directory: Directory, size: tuple[int, int], suffix: str = "") -> list[Path]:
    """The dashboard's flag of a paused source and the Sources screen (issue 15); a new token's dialog."""
    from store.portal import SignedIn

    admin = SignedIn(None, "console:admin", False, True, "screenshots", "console", directory.now_text(), None)
    app = TuiApp(directory, signed_in=admin)
    written = []

    async def save(name: str) -> None:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        target = OUT / f"{name}{suffix}.png"
        svg_to_png(app.export_screenshot(), target)
        written.append(target)

    async with app.run_test(size=size) as pilot:
        await save("dashboard-source-paused")
        await pilot.press("S")
        await save("sources")
        await pilot.press("down", "n")
        await pilot.press("tab", *"P30D", "enter")
        await save("sources-new-token")
    return written


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        directory = demo_directory(Path(folder) / "demo.db")
        # Each size signs in as root with a code of its own directory: a code is accepted once, and both runs
        # can fall in the same 30-second step.
        (Path(folder) / "80x24").mkdir()
        small = demo_directory(Path(folder) / "80x24" / "demo.db")
        written = asyncio.run(shoot_first_run((120, 36)))
        written += asyncio.run(shoot(directory, (120, 36)))
        written += asyncio.run(shoot(small, (80, 24), "-80x24"))
        small.close()
        written += asyncio.run(shoot_policy_screens(directory, (120, 36)))
        written += asyncio.run(shoot_policy_screens(directory, (80, 24), "-80x24"))
        written += asyncio.run(shoot_import_screen(directory, (120, 36)))
        written += asyncio.run(shoot_import_screen(directory, (80, 24), "-80x24"))
        seed_sources(directory)  # last: the other pictures show a directory without identity providers
        written += asyncio.run(shoot_sources_screen(directory, (120, 36)))
        written += asyncio.run(shoot_sources_screen(directory, (80, 24), "-80x24"))
        directory.close()
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
