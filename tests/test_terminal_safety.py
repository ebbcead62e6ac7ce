"""Terminal safety (issue 11, findings 7 and 8): one validator refuses control, bidi and invisible characters
in every stored string; what was never validated (a failed sign-in's name, a value planted in the database
file) is stored and exported escaped; the command palette offers none of Textual's system commands
(Screenshot wrote an SVG of the screen on the server)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.command import CommandList, CommandPalette
from textual.keys import _character_to_key
from textual.widgets import Static

from store.directory import Directory
from store.errors import NotFound, ValidationError
from store.sign_in import SignInFailed
from tests.conftest import TEST_ACTOR
from tests.console_factory import make_app, settle, type_text
from tests.test_cli_transfer import _ed25519_key
from tui.screens.form import FormModal

# What must never reach a terminal raw: controls (C0 but the line breaks of the output's own layout, DEL, C1),
# format characters (bidi overrides and isolates, zero-width characters, soft hyphen, BOM, tags) and the
# Unicode line separators.
UNSAFE = {"Cc", "Cf", "Zl", "Zp"}


def raw_unsafe(text: str) -> list[str]:
    """The unsafe characters in ``text`` as U+XXXX (none: empty); a joiner inside an emoji is fine."""
    found = []
    for index, ch in enumerate(text):
        if ch in "\n\r" or unicodedata.category(ch) not in UNSAFE:
            continue
        if ch == "\u200d" and 0 < index < len(text) - 1 and unicodedata.category(text[index + 1]) == "So":
            continue
        found.append(f"U+{ord(ch):04X}")
    return found


# -- one validator for every stored string -------------------------------------------------------------------

HOSTILE = {
    "\x85": "U+0085",  # NEXT LINE (C1)
    "\x9b": "U+009B",  # CONTROL SEQUENCE INTRODUCER (C1): ESC [ in one byte
    "\u202e": "U+202E",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066": "U+2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200b": "U+200B",  # ZERO WIDTH SPACE
    "\u200e": "U+200E",  # LEFT-TO-RIGHT MARK
    "\u00ad": "U+00AD",  # SOFT HYPHEN
    "\ufeff": "U+FEFF",  # ZERO WIDTH NO-BREAK SPACE
    "\u2028": "U+2028",  # LINE SEPARATOR
    "\U000e0041": "U+E0041",  # TAG LATIN CAPITAL LETTER A: invisible text smuggling
}


def _user_field(column: str) -> Callable[[Directory, str], Any]:
    return lambda d, bad: d.users.create("ada", **{column: bad})


# field → (the name its ValidationError gives, an attempt to store ``bad`` in it, the table it would land in)
FIELDS: dict[str, tuple[str, Callable[[Directory, str], Any], str]] = {
    "displayName": ("displayName", _user_field("display_name"), "users"),
    "givenName": ("givenName", _user_field("given_name"), "users"),
    "familyName": ("familyName", _user_field("family_name"), "users"),
    "email": ("email", lambda d, bad: d.users.create("ada", email=f"ada{bad}@example.com"), "users"),
    "externalId": ("externalId", _user_field("external_id"), "users"),
    "group description": (
        "description",
        lambda d, bad: d.groups.create("ops", description=f"on call{bad}"),
        "groups",
    ),
    "account description": (
        "description",
        lambda d, bad: d.accounts.create("prod", description=f"p{bad}"),
        "accounts",
    ),
    "SSH key comment": (
        "publicKey",
        lambda d, bad: d.ssh_keys.add(d.users.create("ada").id, _ed25519_key(3, f"ada@laptop{bad}txt.exe")),
        "ssh_keys",
    ),
}


def _rows(db_path: Path, table: str) -> int:
    raw = sqlite3.connect(db_path)
    try:
        return int(raw.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        raw.close()


@pytest.mark.parametrize("char", HOSTILE, ids=HOSTILE.values())
@pytest.mark.parametrize("field", FIELDS)
def test_every_stored_string_refuses_control_bidi_and_invisible_characters(
    directory: Directory, db_path: Path, field: str, char: str
) -> None:
    name, attempt, table = FIELDS[field]
    with pytest.raises(ValidationError) as refused:
        attempt(directory, char)
    message = str(refused.value)
    assert message.startswith(f"{name}") and HOSTILE[char] in message and "is not allowed" in message, message
    assert refused.value.field == name
    assert not raw_unsafe(message)  # named, never echoed raw
    assert _rows(db_path, table) == 0


def test_the_message_names_the_field_the_character_and_where(directory: Directory) -> None:
    with pytest.raises(ValidationError) as refused:
        directory.users.create("ada", display_name="Ada\u202egpj.exe")
    assert str(refused.value) == (
        "displayName: invisible formatting character U+202E RIGHT-TO-LEFT OVERRIDE at position 4 "
        "is not allowed"
    )


def test_a_joiner_is_kept_inside_an_emoji_and_refused_between_letters(directory: Directory) -> None:
    assert directory.users.create("dev", display_name="👩🏽\u200d💻 Dev").display_name == "👩🏽\u200d💻 Dev"
    with pytest.raises(ValidationError, match="U\\+200D"):
        directory.users.create("ops", display_name="Ops\u200devil")
    with pytest.raises(ValidationError, match="U\\+200D"):
        directory.users.create("ops\u200d")  # never in a name


def test_an_imported_ssh_key_comment_with_a_bidi_control_is_refused(run_tui, tmp_path: Path) -> None:
    document = {"users": [{"userName": "ada", "sshPublicKeys": [_ed25519_key(3, "ada\u202egpj.exe")]}]}
    path = tmp_path / "users.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    result = run_tui("import", path)

    assert result.returncode == 1, result
    assert "sshPublicKeys" in result.stderr and "U+202E" in result.stderr, result
    assert not raw_unsafe(result.stderr)
    assert json.loads(run_tui("export").stdout)["users"] == []


def test_a_failed_sign_in_under_a_name_nobody_has_keeps_no_trace_of_it(
    directory: Directory, db_path: Path, run_tui
) -> None:
    """What was typed as the name is often a password typed one field early, or escape codes: the audit log
    says "(unknown)", as CloudTrail hides it, and keeps neither."""
    for typed in ("\x1b]0;pwned\x07mallory\u202e\x9b2J", "Tr0ub4dor&3-my-password"):
        with pytest.raises(SignInFailed):
            directory.sign_in.attempt(typed, "wrong password")

    raw = sqlite3.connect(db_path)
    try:
        targets = [row[0] for row in raw.execute("SELECT target FROM audit WHERE action = 'sign_in.failure'")]
        everything = " ".join(str(row) for row in raw.execute("SELECT * FROM audit"))
    finally:
        raw.close()
    assert targets == ["user:(unknown)", "user:(unknown)"]
    assert "mallory" not in everything and "Tr0ub4dor" not in everything
    for fmt in ("csv", "jsonl"):
        exported = run_tui("audit", "export", "--format", fmt)
        assert exported.returncode == 0 and "user:(unknown)" in exported.stdout, exported
        assert "Tr0ub4dor" not in exported.stdout and not raw_unsafe(exported.stdout), fmt


# -- exports escape what was planted in the database file ----------------------------------------------------

PLANTED = "A\x1b]0;owned\x07\x1b[2J\x85\x9b31m\u202eZ\u2066\u200b\u00ad\ufeff\u2028\x7f\U000e0041end"


@pytest.fixture
def planted(db_path: Path) -> Path:
    """A directory whose file an attacker wrote to directly (no validation): every text column of alice, her
    group, her SSH key (a line break and a second key in the comment) and an audit event hold PLANTED."""
    directory = Directory.open(db_path, TEST_ACTOR)
    try:
        alice = directory.users.create("alice", display_name="Alice")
        group = directory.groups.create("ops", description="on call")
        directory.groups.add_member(group.id, alice.id)
        directory.ssh_keys.add(alice.id, _ed25519_key(1, "alice@laptop"))
    finally:
        directory.close()
    raw = sqlite3.connect(db_path)
    try:
        with raw:
            raw.execute(
                "UPDATE users SET display_name = ?, given_name = ?, family_name = ?, email = ?, "
                "external_id = ? WHERE user_name = 'alice'",
                (PLANTED, PLANTED, PLANTED, PLANTED, PLANTED),
            )
            raw.execute("UPDATE groups SET description = ?", (PLANTED,))
            comment = "x\n" + _ed25519_key(2, "mallory") + " " + PLANTED
            raw.execute(
                "UPDATE ssh_keys SET comment = ?, public_key = public_key || ' ' || ?", (comment, comment)
            )
            raw.execute("UPDATE audit SET actor = ?, target = ? WHERE seq = 1", (PLANTED, "user:" + PLANTED))
    finally:
        raw.close()
    return db_path


def _check(result: Any) -> str:
    assert result.returncode == 0, result
    assert raw_unsafe(result.stdout) == [], result.args
    return str(result.stdout)


def test_the_json_export_escapes_planted_characters_and_round_trips(run_tui, planted: Path) -> None:
    out = _check(run_tui("export", "--format", "json"))
    (alice,) = json.loads(out)["users"]
    assert alice["displayName"] == PLANTED  # JSON escapes: the same value comes back
    assert json.loads(out)["groups"][0]["description"] == PLANTED


def test_the_scim_export_escapes_planted_characters_and_round_trips(run_tui, planted: Path) -> None:
    out = _check(run_tui("export", "--format", "scim"))
    users = [r for r in json.loads(out)["Resources"] if r.get("userName") == "alice"]
    assert users[0]["displayName"] == PLANTED


def test_the_csv_export_shows_planted_characters_escaped(run_tui, planted: Path) -> None:
    out = _check(run_tui("export", "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    shown = rows[0]["displayName"]
    assert shown.startswith("A\\x1b]0;owned\\x07\\x1b[2J\\x85\\x9b31m<U+202E>Z<U+2066><U+200B>"), shown


def test_authorized_keys_output_escapes_planted_characters_and_adds_no_line(run_tui, planted: Path) -> None:
    out = _check(run_tui("ssh-authorized-keys"))
    lines = out.splitlines()
    assert len(lines) == 1, out  # the planted line break did not make a second key line
    assert "x\\x0assh-ed25519" in lines[0] and "<U+202E>" in lines[0]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_audit_export_escapes_planted_characters(run_tui, planted: Path, fmt: str) -> None:
    out = _check(run_tui("audit", "export", "--format", fmt))
    if fmt == "jsonl":
        first = json.loads(out.splitlines()[0])
        assert first["actor"] == PLANTED and first["target"] == "user:" + PLANTED
    else:
        first = next(csv.DictReader(io.StringIO(out)))
        assert first["actor"].startswith("A\\x1b]0;owned\\x07")


# -- the console --------------------------------------------------------------------------------------------


async def type_from_terminal(pilot: Any, character: str) -> None:
    """The key event a terminal's input gives for a typed character (Textual's parser: the key's name and the
    character); Pilot.press loses the character of keys such as zero_width_space."""
    event = events.Key(_character_to_key(character), character)
    event.set_sender(pilot.app)
    pilot.app._driver.send_message(event)
    await pilot.pause()


async def test_a_form_refuses_an_invisible_character_under_its_field(tmp_path: Path) -> None:
    """Typed into a field, U+200B was dropped without a word ("Ops<U+200B>evil" saved as "Opsevil")."""
    app, directory = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FormModal)
        await type_text(pilot, "opsevil")
        await pilot.press("tab")
        await type_text(pilot, "Ops")
        await type_from_terminal(pilot, "\u200b")
        await type_text(pilot, "evil")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormModal)  # still open: refused
        error = str(app.screen.query_one("#error-displayName", Static).render())
        assert "U+200B ZERO WIDTH SPACE at position 4 is not allowed" in error, error
        with pytest.raises(NotFound):
            directory.users.get_by_name("opsevil")


async def _palette_titles(pilot: Any, query: str) -> list[str]:
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    palette.query_one("#--input Input").value = ""
    await type_text(pilot, query)
    await pilot.pause(0.8)  # the palette searches in the background
    await settle(pilot)
    options = palette.query_one(CommandList)
    titles = []
    for index in range(options.option_count):
        option = options.get_option_at_index(index)
        if option.id != "--no-matches":
            titles.append(str(option.prompt).split("\n")[0])
    return titles


async def test_the_palette_offers_none_of_textuals_system_commands(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for textual_own in ("Screenshot", "Theme", "Keys", "Maximize", "Minimize"):
            assert textual_own not in titles
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert await _palette_titles(pilot, "screenshot") == []
        assert await _palette_titles(pilot, "theme") == []
        assert any("Go to Groups" in title for title in await _palette_titles(pilot, "groups"))
