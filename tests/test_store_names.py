"""Names and durations: one name in many spellings, hostile characters, reserved names, session lengths."""

from __future__ import annotations

import re
import sqlite3

import pytest

from store import names
from store.directory import Directory
from store.durations import format_duration, parse_duration
from store.errors import AlreadyExists, ValidationError

# -- one name, many spellings --------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["alice", "ALICE", "aLiCe", "Ａｌｉｃｅ", "ＡＬＩＣＥ"])
def test_user_names_differing_only_in_case_or_width_collide(directory: Directory, spelling: str) -> None:
    directory.users.create("Alice")
    with pytest.raises(AlreadyExists) as refused:
        directory.users.create(spelling)
    message = str(refused.value)
    assert "already exists" in message
    assert refused.value.field == "userName"
    assert "'Alice'" in message and "case" in message and "width" in message  # says *why* they collide
    assert directory.users.count() == 1
    assert directory.users.get_by_name(spelling).user_name == "Alice"


@pytest.mark.parametrize(
    "first, second",
    [("Open", "Ｏｐｅｎ"), ("Open", "OPEN"), ("ＤＥＶ-ops", "dev-OPS"), ("Straße", "STRASSE")],
)
def test_group_names_differing_only_in_case_or_width_collide(
    directory: Directory, first: str, second: str
) -> None:
    directory.groups.create(first)
    with pytest.raises(AlreadyExists, match="already exists") as refused:
        directory.groups.create(second)
    assert repr(first) in str(refused.value)
    assert directory.groups.list().total == 1


def test_account_and_permission_set_names_collide_in_canonical_form(directory: Directory) -> None:
    directory.accounts.create("Prod")
    with pytest.raises(AlreadyExists, match="already exists"):
        directory.accounts.create("PROD")
    directory.permission_sets.create("Admin")
    with pytest.raises(AlreadyExists, match="already exists"):
        directory.permission_sets.create("ADMIN")


def test_renaming_onto_another_users_name_is_refused(directory: Directory) -> None:
    directory.users.create("alice")
    bob = directory.users.create("bob")
    with pytest.raises(AlreadyExists, match="already exists"):
        directory.users.update(bob.id, bob.version, user_name="ＡＬＩＣＥ")
    assert directory.users.get(bob.id) == bob
    # Changing only the case of one's own name is fine.
    renamed = directory.users.update(bob.id, bob.version, user_name="Bob")
    assert renamed.user_name == "Bob" and renamed.version == bob.version + 1


def test_canonical_form() -> None:
    assert names.canonical("Ａｌｉｃｅ") == "alice"
    assert names.canonical("Straße") == names.canonical("STRASSE") == "strasse"
    assert names.canonical("ﬁle") == "file"  # the ligature decomposes
    assert names.canonical("Å") == names.canonical("Å")  # composed and decomposed


# -- hostile characters ------------------------------------------------------------------------------------

HOSTILE = [
    ("\x07", "U+0007"),  # bell
    ("\x1b", "U+001B"),  # escape: terminal control sequences
    ("\x00", "U+0000"),  # NUL
    ("\x7f", "U+007F"),  # delete
    ("\x85", "U+0085"),  # next line (C1 control)
    ("\u202e", "U+202E"),  # right-to-left override
    ("\u200b", "U+200B"),  # zero width space
    ("\u2066", "U+2066"),  # left-to-right isolate
    ("\ufeff", "U+FEFF"),  # zero width no-break space (BOM)
    ("\u00ad", "U+00AD"),  # soft hyphen
]


@pytest.mark.parametrize("char, code", HOSTILE, ids=[code for _, code in HOSTILE])
def test_control_and_format_characters_are_refused_in_user_names(
    directory: Directory, char: str, code: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        directory.users.create(f"ev{char}il")
    assert code in str(refused.value)
    assert "userName" in str(refused.value)
    assert refused.value.field == "userName"
    assert char not in str(refused.value)  # named, never echoed raw
    assert directory.users.count() == 0


@pytest.mark.parametrize("char, code", HOSTILE, ids=[code for _, code in HOSTILE])
def test_control_and_format_characters_are_refused_in_group_names(
    directory: Directory, char: str, code: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        directory.groups.create(f"ops{char}team")
    assert code in str(refused.value)
    assert char not in str(refused.value)
    assert directory.groups.list().total == 0


def test_a_rename_to_a_hostile_name_is_refused_and_changes_nothing(directory: Directory) -> None:
    user = directory.users.create("mallory")
    with pytest.raises(ValidationError, match="U\\+001B"):
        directory.users.update(user.id, user.version, user_name="mallory\x1b[2J")
    group = directory.groups.create("ops")
    with pytest.raises(ValidationError, match="U\\+202E"):
        directory.groups.update(group.id, group.version, name="ops\u202etxt.exe")
    assert directory.users.get(user.id) == user
    assert directory.groups.get(group.id) == group


@pytest.mark.parametrize("name", ["ev il", " alice", "alice ", "a\u3000b", ""])
def test_user_names_without_spaces(directory: Directory, name: str) -> None:
    with pytest.raises(ValidationError):
        directory.users.create(name)


DISPLAY_TEXTS = [
    "👩🏽‍💻 Ada Lovelace",  # skin tone + ZWJ sequence
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈",  # variation selector + ZWJ
    "שלום עולם",  # right-to-left script
    "[bold]not markup[/]",
    "Zoë Ångström",
]


@pytest.mark.parametrize("text", DISPLAY_TEXTS)
def test_display_names_are_stored_verbatim(directory: Directory, db_path, text: str) -> None:
    user = directory.users.create("ada", display_name=text, given_name=text, family_name=text)
    assert directory.users.get(user.id).display_name == text
    raw = sqlite3.connect(db_path)
    try:
        stored = raw.execute(
            "SELECT display_name, given_name, family_name FROM users WHERE id = ?", (user.id,)
        ).fetchone()
    finally:
        raw.close()
    assert stored == (text, text, text)  # same code points: no normalisation, no stripping of joiners


@pytest.mark.parametrize(
    "name", ["a\ufe0fb", "a\u3164b", "a\u115fb", "a\u034fb", "a\u180bb", "a\U000e0100b", "\ufe0fab"]
)
def test_invisible_characters_are_refused_in_names(directory: Directory, name: str) -> None:
    """Six users that all showed as "ab" (variation selectors, the Hangul fillers, the combining grapheme
    joiner, a Mongolian variation selector: drawn as nothing, and not format characters): hostile inputs."""
    directory.users.create("ab")
    code = f"U+{ord(name[1] if name[0] == 'a' else name[0]):04X}"
    for create in (directory.users.create, directory.groups.create):
        with pytest.raises(ValidationError, match=f"invisible character {code.replace('+', '[+]')}"):
            create(name)
    with pytest.raises(ValidationError, match="invisible character"):
        directory.users.create("ada", display_name=name)
    assert directory.users.count() == 1


@pytest.mark.parametrize(
    "name, message",
    [
        ("\u0301", "must not begin with a combining mark"),
        ("\u0301abc", "must not begin with a combining mark"),
        ("Z" + "\u0336\u0334\u0335" * 4, "more than 8 combining marks on one character"),
    ],
)
def test_a_name_of_combining_marks_alone_or_stacked_is_refused(directory: Directory, name, message) -> None:
    with pytest.raises(ValidationError, match=message):
        directory.users.create(name)
    for fine in ("Nguyễn", "Zoe\u0308", "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd"):  # Hebrew with points
        assert directory.users.create(fine.replace(" ", "")).user_name == fine


def test_an_emoji_keeps_its_presentation_selector_in_display_text_and_on_screen() -> None:
    heart = "\u2764\ufe0f team"
    assert names.display_text(heart, "displayName") == heart
    assert names.visible(heart) == heart
    assert names.visible("a\ufe0fb") == "a<U+FE0F>b"  # an invisible one planted in the file is shown
    with pytest.raises(ValidationError, match="invisible character"):
        names.display_text(" \ufe0f", "displayName")  # styling nothing


@pytest.mark.parametrize(
    "char, code",
    [("\x1b", "U+001B"), ("\x07", "U+0007"), ("\x00", "U+0000"), ("\n", "U+000A"), ("\x9b", "U+009B")],
)
def test_display_names_refuse_control_characters(directory: Directory, char: str, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        directory.users.create("ada", display_name=f"Ada{char}[31mLovelace")
    assert code in str(refused.value) and "displayName" in str(refused.value)
    user = directory.users.create("ada", display_name="Ada")
    with pytest.raises(ValidationError, match=code.replace("+", "\\+")):
        directory.users.update(user.id, user.version, display_name=f"x{char}")
    assert directory.users.get(user.id).display_name == "Ada"


@pytest.mark.parametrize("name", ["root", "ROOT", "Root", "ｒｏｏｔ"])
def test_root_is_a_reserved_user_name(directory: Directory, name: str) -> None:
    with pytest.raises(AlreadyExists, match="reserved"):
        directory.users.create(name)
    alice = directory.users.create("alice")
    with pytest.raises(AlreadyExists, match="reserved"):
        directory.users.update(alice.id, alice.version, user_name=name)
    assert directory.users.get(alice.id).user_name == "alice"


# -- session durations -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, seconds",
    [
        (900, 900),
        (129_600, 129_600),
        ("900", 900),
        ("129600", 129_600),
        ("PT15M", 900),
        ("PT8H", 28_800),
        ("PT1H30M", 5_400),
        ("P1D", 86_400),
        ("P1DT12H", 129_600),
        ("PT36H", 129_600),
        ("PT3600S", 3_600),
    ],
)
def test_durations_in_range_are_accepted(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [899, 129_601, "899", "PT14M59S", "PT36H1S", "P1DT12H1S", "P2D", 0, -900])
def test_durations_out_of_range_are_refused_not_clamped(value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_duration(value)
    message = str(refused.value)
    assert "sessionDuration" in message
    assert "15 minutes" in message and "36 hours" in message


@pytest.mark.parametrize(
    "value", ["garbage", "", "PT", "P", "8 hours", "1.5h", "PT1.5H", "T1H", "P1H", 900.5, None, True, [3600]]
)
def test_garbage_durations_are_refused_with_a_message(value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_duration(value)
    assert "sessionDuration" in str(refused.value)
    assert "PT8H" in str(refused.value) or "ISO-8601" in str(refused.value)


def test_permission_sets_keep_exactly_the_duration_given(directory: Directory) -> None:
    with pytest.raises(ValidationError):
        directory.permission_sets.create("TooShort", session_duration=899)
    with pytest.raises(ValidationError):
        directory.permission_sets.create("TooLong", session_duration="PT36H1S")
    assert directory.permission_sets.list().total == 0

    eight = directory.permission_sets.create("Eight", session_duration="PT8H")
    assert eight.session_duration == 28_800 and eight.session_duration_iso == "PT8H"
    longest = directory.permission_sets.create("Longest", session_duration=129_600)
    assert longest.session_duration == 129_600
    shortest = directory.permission_sets.create("Shortest", session_duration="PT15M")
    assert shortest.session_duration == 900
    default = directory.permission_sets.create("Default")
    assert default.session_duration == 3_600

    with pytest.raises(ValidationError):
        directory.permission_sets.update(eight.id, eight.version, session_duration=129_601)
    assert directory.permission_sets.get(eight.id).session_duration == 28_800


def test_durations_are_shown_in_iso_8601() -> None:
    assert format_duration(3_600) == "PT1H"
    assert format_duration(5_400) == "PT1H30M"
    assert format_duration(900) == "PT15M"
    assert format_duration(129_600) == "PT36H"
    assert parse_duration(format_duration(5_430)) == 5_430
    # ASCII digits only: "３６００" and "PT１H" are digits to str.isdigit and \d.
    for unicode_digits in ("\uff13\uff16\uff10\uff10", "\u0663\u0666\u0660\u0660", "PT\uff11H"):
        with pytest.raises(ValidationError, match="is not a duration"):
            parse_duration(unicode_digits)
    # A negative value (refused, but said as given): not PT-2H…
    assert format_duration(-7_195) == "-PT1H59M55S"
    with pytest.raises(ValidationError, match=r"-PT1H59M55S \(-7195 s\) is outside"):
        parse_duration(-7_195)


@pytest.mark.parametrize(
    ("value", "shown"), [(None, "null"), ([3600], "a list"), ({}, "an object"), (1.5, "1.5")]
)
def test_a_duration_of_another_json_kind_is_named_in_json_words(value: object, shown: str) -> None:
    """A file's ``"sessionDuration": null`` was "None is not a duration" (Python's word)."""
    with pytest.raises(ValidationError, match=f"^sessionDuration: {re.escape(shown)} is not a duration"):
        parse_duration(value)
