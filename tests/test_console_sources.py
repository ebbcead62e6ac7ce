"""The Sources screen (issue 15): identity providers' tokens, requests, errors and paused syncs, by keyboard
on a real directory; and the request statistics ``tui scim serve`` writes for it."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from textual.widgets import Static

from store.audit import Actor
from store.directory import Directory
from store.errors import Refused
from store.formats import read_file
from store.importer import import_document
from store.scim_sources import RequestError
from tests.console_factory import filter_list, make_app, other_admin, settle, type_text
from tui.app import TuiApp
from tui.screens.credentials import SecretsModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.form import FormModal
from tui.screens.modals import ConfirmModal
from tui.screens.sources import SourcesScreen


def screen_text(app: TuiApp) -> str:
    """Everything the terminal shows now, line by line, as plain text (from the screenshot Textual draws)."""
    svg = app.export_screenshot()
    lines: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        x, y, text = float(match.group(1)), float(match.group(2)), html.unescape(match.group(3))
        lines.setdefault(y, []).append((x, text.replace("\xa0", " ")))
    return "\n".join("".join(text for _, text in sorted(parts)) for _, parts in sorted(lines.items()))


def seed_source(directory: Directory, source: str, names: list[str]) -> None:
    raw = json.dumps({"users": [{"userName": name} for name in names]}).encode()
    document = read_file(raw, "seed.json", "json").document
    import_document(directory, document, file_name="seed.json", raw=raw, source=source)


async def test_a_new_token_is_shown_once_and_never_again(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, SourcesScreen)
        assert "No identity provider yet" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FormModal)
        await type_text(pilot, "okta")
        await pilot.press("tab")
        await type_text(pilot, "P30D")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SecretsModal)
        shown = str(app.screen.query_one("#secrets", Static).render())
        bearer = shown.split()[0]
        assert bearer.startswith("tuiscim_") and bearer in screen_text(app)
        with Directory.open(tmp_path / "directory.db", Actor("idp", "test")) as idp:
            assert idp.scim_tokens.authenticate(bearer) == "okta"  # the very token, valid for okta
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SourcesScreen)
        text = screen_text(app)
        assert bearer not in text and bearer[8:20] not in text
        assert "okta" in text and "#1" in text and "active" in text
        (token,) = directory.scim_tokens.list("okta")
        assert token.expires_at[:10] > token.created_at[:10]
        # Nowhere else either: not in the palette, not in the help, not in a notification.
        await pilot.press("question_mark")
        await settle(pilot)
        assert bearer not in screen_text(app)
        await pilot.press("escape", "ctrl+p")
        await settle(pilot)
        assert bearer not in screen_text(app)
        assert all(bearer not in str(note.message) for note in app._notifications)


async def test_a_bad_source_name_is_refused_under_its_field(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S", "n")
        await settle(pilot)
        await type_text(pilot, "local")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormModal)
        error = str(app.screen.query_one("#error-source", Static).render())
        assert "'local' names the users made in this directory" in error
        await pilot.press("escape")
        await settle(pilot)
        assert directory.scim_tokens.list() == []


async def test_revoke_a_token_after_confirming_and_see_another_consoles_token_live(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    first = directory.scim_tokens.create("okta")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert "#1" in screen_text(app)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # cancelled: nothing changes
        await settle(pilot)
        assert directory.scim_tokens.get(first.token.id).revoked_at is None
        await pilot.press("d", "y")
        await settle(pilot)
        assert directory.scim_tokens.get(first.token.id).revoked_at is not None
        assert any(
            line.split()[:2] == ["#1", "revoked"] for line in screen_text(app).splitlines() if line.split()
        )
        # Another administrator makes a token: this console shows it within its next look for changes.
        other = other_admin(tmp_path)
        try:
            other.scim_tokens.create("okta")
        finally:
            other.close()
        app._notice_changes()
        await settle(pilot)
        text = screen_text(app)
        assert "#2" in text and "active" in text
        await pilot.press("d")  # the newest token is first: #2
        await settle(pilot)
        assert "Revoke token #2 of okta?" in str(app.screen.query_one(".dialog-title", Static).render())
        await pilot.press("escape")


async def test_a_paused_source_is_flagged_on_the_dashboard_and_resumed_here(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    seed_source(directory, "entra", [f"user{n}@example.com" for n in range(10)])
    directory.scim_tokens.create("entra")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert "Provisioning paused" not in screen_text(app)
        assert "S Sources" not in screen_text(app)
        directory.scim_sources.pause("entra", "3 deactivations within 10 minutes would be more than 10%")
        app._notice_changes()
        await settle(pilot)
        text = screen_text(app)
        assert "Provisioning paused (source entra)" in text and "S Sources" in text
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, SourcesScreen)
        text = screen_text(app)
        assert "paused" in text and "3 deactivations within 10 minutes" in text
        assert any(
            line.split()[:3] == ["entra", "paused", "10"] for line in text.splitlines() if line.split()
        )
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert directory.scim_sources.state("entra").paused_at is None
        assert "paused" not in screen_text(app).split("Tokens")[0].replace("0 paused", "")
        await pilot.press("1")
        await settle(pilot)
        assert "Provisioning paused" not in screen_text(app)


def test_resume_needs_an_administrator_signed_in_with_mfa(tmp_path: Path) -> None:
    """The screen's resume is the store's, whose rights check refuses an admin-group member without MFA."""
    _, directory = make_app(tmp_path)
    seed_source(directory, "entra", ["a@example.com"])
    directory.scim_sources.pause("entra", "test")
    admins = directory.groups.get_by_name("Admins")
    directory.admins.set_admin_group(admins.id)
    ivan = directory.users.create("ivy-admin")
    directory.groups.add_member(admins.id, ivan.id)
    directory.act_as(ivan.id, Actor("ivy-admin", "console"), mfa=False, password=True)
    with pytest.raises(Refused, match="only when signed in with MFA"):
        directory.scim_sources.resume("entra")
    assert directory.scim_sources.state("entra").paused_at is not None


async def test_hostile_source_names_and_errors_show_literally(tmp_path: Path) -> None:
    app, directory = make_app(tmp_path)
    hostile = "[red]x\x1b[2J"
    # The store refuses such a source name; a file written by hand (or by an older program) may hold one.
    with sqlite3.connect(tmp_path / "directory.db") as raw:
        raw.execute(
            "INSERT INTO scim_sources (source, paused_at, paused_reason) VALUES (?, ?, ?)",
            (hostile, "2026-01-01T00:00:00Z", "[bold]reason\x07"),
        )
    raw.close()
    directory.scim_tokens.create("okta")
    directory.scim_sources.record_requests(
        "okta",
        3,
        1,
        "2026-01-02T00:00:00Z",
        RequestError("2026-01-02T00:00:00Z", 400, "[b]bad[/b] \x1b]0;x\x07"),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        text = screen_text(app)
        assert "[red]x\\x1b[2J" in text  # the markup as typed, the escape shown, not run
        assert "[bold]reason\\x07" in text
        await pilot.press("down")  # okta (sorted after "[red]…")
        await settle(pilot)
        text = screen_text(app)
        assert "Last error 2026-01-02 00:00:00: 400 [b]bad[/b] \\x1b]0;x\\x07" in text
        assert "\x1b" not in app.export_screenshot()
        assert "3" in text
        await pilot.press("1")
        await settle(pilot)
        assert "[red]x\\x1b[2J" in screen_text(app)  # on the dashboard's flag as well


async def test_a_non_admin_has_no_sources(tmp_path: Path) -> None:
    from store.portal import SignedIn

    _, directory = make_app(tmp_path)
    dave = directory.users.get_by_name("dave")
    directory.scim_tokens.create("okta")
    signed = SignedIn(dave.id, "dave", False, True, "test", "console", "2026-01-01T00:00:00Z", None)
    app = TuiApp(directory, signed_in=signed)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert not isinstance(app.screen, SourcesScreen)
        assert " S " not in screen_text(app).splitlines()[0]


def test_the_server_counts_requests_and_errors_per_source(tmp_path: Path) -> None:
    """The ASGI app of tui scim serve (its lifespan included): what the Sources screen shows, with no
    token anywhere in it. A request without a valid token is not counted (no source to count it for)."""
    from tui.scim_server import build_app

    db_path = tmp_path / "directory.db"
    with Directory.open(db_path, Actor("t", "t")) as directory:
        bearer = directory.scim_tokens.create("okta").bearer
    headers = {"Authorization": f"Bearer {bearer}"}
    with TestClient(build_app(db_path)) as client:
        assert client.get("/scim/v2/Users", headers=headers).status_code == 200
        refused = client.get("/scim/v2/Users", params={"filter": "password eq 1"}, headers=headers)
        assert refused.status_code == 400
        assert client.get("/scim/v2/Users/nobody", headers=headers).status_code == 404
        assert client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # Written at shutdown at the latest.
    with Directory.open(db_path, Actor("t", "t")) as directory:
        (okta,) = directory.scim_sources.overview()
        assert (okta.source, okta.requests, okta.errors) == ("okta", 3, 2)
        assert okta.last_error is not None and okta.last_error.status == 404
        assert okta.last_request_at is not None and okta.last_request_at >= okta.tokens[0].created_at
        stored = json.dumps(
            [list(row) for row in directory.db.conn.execute("SELECT * FROM scim_request_stats")]
        )
        assert bearer not in stored and bearer[8:] not in stored


async def open_users_page(app, pilot, name: str) -> str:
    """Users (2), the list filtered to ``name``, its page opened (enter): what the screen shows."""
    from tui.screens.user_detail import UserDetailScreen

    await pilot.press("2")
    await settle(pilot)
    await filter_list(pilot, name)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, UserDetailScreen)
    return screen_text(app)


async def test_a_user_deactivated_over_scim_shows_the_groups_held_for_their_return(tmp_path: Path) -> None:
    """What a SCIM deactivation took and the source gives back is said on the user's page, not kept hidden."""
    from store.scim_resources import ScimGroups, ScimUsers

    app, directory = make_app(tmp_path)
    seed_source(directory, "okta", [f"staff{n}@example.com" for n in range(30)])  # the guard's population
    okta = Directory.open(tmp_path / "directory.db")
    okta.act_for_source("okta", Actor("scim:okta", "scim"))
    users, groups = ScimUsers(okta, "okta"), ScimGroups(okta, "okta")
    body = {"schemas": [users.core], "userName": "ann@example.com", "active": True}
    ann = users.create(body, json.dumps(body).encode(), "test")["id"]
    for name in ("[b]eng[/b]", "ops"):
        group = {"schemas": [groups.core], "displayName": name, "members": [{"value": ann}]}
        groups.create(group, json.dumps(group).encode(), "test")
    off = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    users.patch(ann, off, json.dumps(off).encode(), "test")
    async with app.run_test(size=(120, 40)) as pilot:
        text = await open_users_page(app, pilot, "ann@")
        assert "Held while disabled: [b]eng[/b], ops (given back if okta reactivates ann@example.com)" in text
        # Reactivated, the groups are back and nothing is held any more.
        on = {**off, "Operations": [{"op": "replace", "path": "active", "value": True}]}
        users.patch(ann, on, json.dumps(on).encode(), "test")
        await pilot.press("r")
        await settle(pilot)
        text = screen_text(app)
        assert "Held while disabled" not in text
        assert "[b]eng[/b]" in text and "ops" in text
    okta.close()


async def test_a_users_page_shows_what_its_source_sent_beyond_the_columns(tmp_path: Path) -> None:
    """The other addresses and the enterprise extension an identity provider sent are kept (and exported):
    the user's page shows them, literally, at 80×24."""
    from store.scim_resources import ScimUsers

    app, directory = make_app(tmp_path)
    okta = Directory.open(tmp_path / "directory.db")
    okta.act_for_source("okta", Actor("scim:okta", "scim"))
    users = ScimUsers(okta, "okta")
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = {
        "schemas": [users.core, enterprise],
        "userName": "ann@work.example",
        "emails": [
            {"value": "ann@work.example", "type": "work", "primary": True},
            {"value": "ann@home.example", "type": "home"},
        ],
        enterprise: {"department": "[b]Finance[/b]", "manager": {"value": "boss-1"}},
    }
    users.create(body, json.dumps(body).encode(), "test")
    async with app.run_test(size=(80, 24)) as pilot:
        text = await open_users_page(app, pilot, "ann@")
        assert "Other emails  ann@home.example (home)" in text
        assert "Enterprise  department: [b]Finance[/b] · manager: boss-1" in text
    okta.close()
