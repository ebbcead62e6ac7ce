"""`tui import`, `tui export`, `tui backup` through the real command: round trips, refusals, exit codes."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import sqlite3
import stat
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from store.db import Database
from tests.conftest import TUI_COMMAND
from tui import __version__


def _ed25519_key(seed: int, comment: str) -> str:
    blob = (
        struct.pack(">I", 11)
        + b"ssh-ed25519"
        + struct.pack(">I", 32)
        + bytes((seed + i) % 256 for i in range(32))
    )
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadAll", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
}
BOUNDARY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}

# A whole directory, written exactly as `tui export --format json` writes it (order included), so that the
# export after importing it must equal it.
SAMPLE: dict[str, Any] = {
    "users": [
        {
            "userName": "Ａｄａ",
            "displayName": "👩🏽‍💻 Ada",
            "givenName": "Ada",
            "familyName": "Lovelace",
            "email": "ada@example.org",
            "externalId": "emp-0001",
            "active": True,
            "groups": ["Developers", "ops"],
            "sshPublicKeys": [_ed25519_key(1, "ada@laptop")],
        },
        {"userName": "bob", "displayName": "Bob Builder", "active": False, "groups": []},
        {"userName": "carol", "email": "carol@example.org", "active": True, "groups": ["ops"]},
        {
            "userName": "Zoë",
            "displayName": "Zoë Ångström [bold]x[/]",
            "active": True,
            "groups": ["Developers"],
        },
    ],
    "groups": [
        {
            "displayName": "Developers",
            "description": "Writes the code",
            "members": [{"userName": "Ａｄａ", "expiresAt": "2031-01-31T07:00:00Z"}, "Zoë"],
        },
        {"displayName": "ops", "externalId": "grp-ops", "members": ["Ａｄａ", "carol"]},
    ],
    "accounts": [
        {"name": "123456789012", "description": "Production", "active": True},
        {"name": "staging", "description": "", "active": False},
    ],
    "policies": [
        {"name": "ReadOnly", "description": "Read everything", "document": POLICY},
    ],
    "permission_sets": [
        {
            "name": "Admin",
            "description": "Full access",
            "sessionDuration": "PT8H",
            "inlinePolicy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
            "managedPolicies": [],
            "permissionsBoundary": BOUNDARY,
        },
        {
            "name": "ReadOnly",
            "description": "",
            "sessionDuration": "PT1H30M",
            "inlinePolicy": None,
            "managedPolicies": ["ReadOnly"],
        },
    ],
    "assignments": [
        {"principalType": "group", "principal": "ops", "account": "123456789012", "permissionSet": "Admin"},
        {
            "principalType": "user",
            "principal": "Ａｄａ",
            "account": "123456789012",
            "permissionSet": "Admin",
            "expiresAt": "2030-12-31T23:00:00Z",
        },
        {
            "principalType": "group",
            "principal": "Developers",
            "account": "123456789012",
            "permissionSet": "ReadOnly",
        },
        {"principalType": "user", "principal": "carol", "account": "staging", "permissionSet": "ReadOnly"},
    ],
}
EMPTY: dict[str, Any] = {
    "users": [],
    "groups": [],
    "accounts": [],
    "policies": [],
    "permission_sets": [],
    "assignments": [],
}


def write_json(path: Path, document: Any, **dump_options: Any) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, **dump_options), encoding="utf-8")
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def audit_count(db: Path) -> int:
    raw = sqlite3.connect(db)
    try:
        return int(raw.execute("SELECT count(*) FROM audit").fetchone()[0])
    finally:
        raw.close()


def export(run_tui, *db_args: Any) -> str:
    result = run_tui(*db_args, "export", "--format", "json")
    assert result.returncode == 0, result
    return result.stdout


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "directory.json", SAMPLE, indent=2)


@pytest.fixture
def populated(run_tui, sample_file: Path) -> str:
    """The test database holding SAMPLE; returns its export."""
    result = run_tui("import", sample_file)
    assert result.returncode == 0, result
    return export(run_tui)


# -- round trips -------------------------------------------------------------------------------------------


def test_import_then_export_gives_back_the_directory(run_tui, sample_file: Path) -> None:
    result = run_tui("import", sample_file)
    assert result.returncode == 0, result
    assert "users: 4 to create" in result.stdout
    assert "applied" in result.stdout
    exported = json.loads(export(run_tui))
    assert exported == SAMPLE
    # Spot checks a reader would make: the membership expiry, the policies, the time-bound assignment.
    assert exported["groups"][0]["members"][0] == {"userName": "Ａｄａ", "expiresAt": "2031-01-31T07:00:00Z"}
    assert exported["permission_sets"][1]["managedPolicies"] == ["ReadOnly"]
    assert exported["permission_sets"][0]["permissionsBoundary"] == BOUNDARY
    assert exported["assignments"][1]["expiresAt"] == "2030-12-31T23:00:00Z"


def test_export_import_export_is_byte_identical(run_tui, tmp_path: Path, populated: str) -> None:
    first = tmp_path / "first.json"
    first.write_text(populated, encoding="utf-8")
    second_db = tmp_path / "second.db"
    result = run_tui("--db", second_db, "import", first)
    assert result.returncode == 0, result
    assert export(run_tui, "--db", second_db).encode() == populated.encode()


def test_times_with_offsets_are_stored_in_utc(run_tui, tmp_path: Path) -> None:
    document = copy.deepcopy(SAMPLE)
    document["groups"][0]["members"][0]["expiresAt"] = "2031-01-31T09:00:00+02:00"
    document["assignments"][1]["expiresAt"] = "2031-01-01T00:00:00+01:00"
    result = run_tui("import", write_json(tmp_path / "offsets.json", document))
    assert result.returncode == 0, result
    assert json.loads(export(run_tui)) == SAMPLE


def test_export_to_a_private_file(run_tui, tmp_path: Path, populated: str) -> None:
    target = tmp_path / "out" / "export.json"
    target.parent.mkdir()
    result = run_tui("export", "--format", "json", "--output", target)
    assert result.returncode == 0, result
    assert mode(target) == 0o600
    assert target.read_text(encoding="utf-8") == populated


def test_an_output_is_never_the_directorys_own_database_or_key_file(
    run_tui, tmp_path: Path, db_path: Path
) -> None:
    """`export -o directory.db` replaced the directory with its JSON, and `-o directory.db.key` lost the key
    that seals every authenticator (hostile inputs). Refused, however the name is spelt, for every -o."""
    from tests.test_identity_init import make_root

    make_root(db_path).directory.close()  # root, its authenticator sealed with the key file
    (tmp_path / "sub").mkdir()
    (tmp_path / "here").symlink_to(tmp_path)
    own = [
        db_path,
        Path(f"{db_path}.key"),
        Path(f"{db_path}-wal"),
        tmp_path / "sub" / ".." / db_path.name,
        tmp_path / "here" / f"{db_path.name}.key",
    ]
    before = {path.name: path.read_bytes() for path in (db_path, Path(f"{db_path}.key"))}
    for output in own:
        for command in (("export", "--format", "json"), ("access", "matrix")):
            refused = run_tui(*command, "-o", output)
            assert refused.returncode == 1, refused
            assert "is the directory's own" in refused.stderr and "choose another file name" in refused.stderr
    assert {path.name: path.read_bytes() for path in (db_path, Path(f"{db_path}.key"))} == before
    assert run_tui("audit", "verify").returncode == 0
    beside = run_tui("export", "-o", tmp_path / "directory.db.json")  # a name beside them is fine
    assert beside.returncode == 0, beside
    # A backup never overwrites a file, but one named directory.db-wal would be read as the directory's WAL.
    wal = run_tui("backup", Path(f"{db_path}-wal"))
    assert wal.returncode == 1 and "is the directory's own database" in wal.stderr, wal
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0
    dash = run_tui("backup", "-", cwd=tmp_path)
    assert dash.returncode == 2 and "not a file name here" in dash.stderr and not (tmp_path / "-").exists()


def test_reimporting_the_same_file_changes_nothing(
    run_tui, sample_file: Path, tmp_path: Path, db_path: Path, populated: str
) -> None:
    events = audit_count(db_path)
    again = run_tui("import", sample_file)
    assert again.returncode == 0, again
    assert "nothing to change" in again.stdout
    (tmp_path / "export.json").write_text(populated, encoding="utf-8")
    from_export = run_tui("import", tmp_path / "export.json")
    assert "nothing to change" in from_export.stdout
    assert audit_count(db_path) == events
    assert export(run_tui) == populated


def test_an_import_updates_what_the_file_changes(run_tui, tmp_path: Path, populated: str) -> None:
    document = copy.deepcopy(SAMPLE)
    document["users"][1]["displayName"] = "Robert Builder"
    document["accounts"][1]["active"] = True
    result = run_tui("import", write_json(tmp_path / "changed.json", document))
    assert result.returncode == 0, result
    assert "update user 'bob': displayName" in result.stdout
    assert json.loads(export(run_tui)) == document


def test_dry_run_changes_nothing(run_tui, sample_file: Path, tmp_path: Path, db_path: Path) -> None:
    result = run_tui("import", "--dry-run", sample_file)
    assert result.returncode == 0, result
    assert "users: 4 to create" in result.stdout and "groups: 2 to create" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert json.loads(export(run_tui)) == EMPTY
    assert audit_count(db_path) == 0

    assert run_tui("import", sample_file).returncode == 0
    before = export(run_tui)
    document = copy.deepcopy(SAMPLE)
    document["users"][2]["email"] = "carol@new.example"
    planned = run_tui("import", "--dry-run", write_json(tmp_path / "changed.json", document))
    assert planned.returncode == 0, planned
    assert "update user 'carol': email" in planned.stdout
    assert export(run_tui) == before
    assert audit_count(db_path) == 1


def test_import_reports_as_json(run_tui, sample_file: Path) -> None:
    result = run_tui("import", "--json", sample_file)
    assert result.returncode == 0, result
    report = result.json()
    assert report["applied"] is True and report["dry_run"] is False and report["changes_nothing"] is False
    # Not initialised: no key to name the file by (never by its plain SHA-256: test_import_file_digest.py).
    assert report["file_digest"] is None
    assert hashlib.sha256(sample_file.read_bytes()).hexdigest() not in result.stdout
    assert report["plan"]["users"] == {"create": 4, "update": 0, "disable": 0, "unchanged": 0}
    assert report["plan"]["assignments"]["create"] == 4
    again = run_tui("import", "--json", sample_file).json()
    assert again["applied"] is False and again["changes_nothing"] is True


def test_a_utf8_bom_is_accepted(run_tui, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SAMPLE, ensure_ascii=False).encode())
    result = run_tui("import", path)
    assert result.returncode == 0, result
    assert json.loads(export(run_tui)) == SAMPLE


def test_the_db_option_wins_over_tui_db(run_tui, tmp_path: Path, sample_file: Path) -> None:
    other = tmp_path / "other.db"
    assert run_tui("--db", other, "import", sample_file).returncode == 0
    assert json.loads(export(run_tui)) == EMPTY  # TUI_DB's directory untouched
    assert json.loads(export(run_tui, "--db", other)) == SAMPLE
    via_env = run_tui("export", env={"TUI_DB": str(other)})
    assert json.loads(via_env.stdout) == SAMPLE


# -- refusals ----------------------------------------------------------------------------------------------


def with_new_user(document: dict[str, Any]) -> dict[str, Any]:
    """Every bad file also carries valid new entries: none of them may be applied."""
    document["users"].append({"userName": "newbie", "active": True, "groups": ["ops"]})
    document["accounts"].append({"name": "sandbox", "description": "", "active": True})
    return document


def mutate(change) -> Any:
    def build() -> bytes:
        document = with_new_user(copy.deepcopy(SAMPLE))
        change(document)
        return json.dumps(document, ensure_ascii=False, indent=2).encode()

    return build


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    target[key] = value


def _latin1() -> bytes:
    text = '{\n  "users": [\n    {"userName": "newbie"},\n    {"userName": "josé"}\n  ]\n}\n'
    return text.encode("latin-1")


INVALID: list[tuple[str, Any, list[str]]] = [
    (
        "unknown-field",
        mutate(lambda d: _set(d["users"][1], "nickName", "Bobby")),
        ["users[1]", "nickName", "unknown field"],
    ),
    (
        "control-char-in-user-name",
        mutate(lambda d: _set(d["users"][1], "userName", "bob\x1b[31m")),
        ["users[1]", "userName", "U+001B"],
    ),
    (
        "bidi-override-in-group-name",
        mutate(lambda d: _set(d["groups"][1], "displayName", "ops\u202etxt")),
        ["groups[1]", "displayName", "U+202E"],
    ),
    (
        "control-char-in-display-name",
        mutate(lambda d: _set(d["users"][2], "displayName", "Carol\x07")),
        ["users[2]", "displayName", "U+0007"],
    ),
    (
        "names-collide-after-casefold",
        mutate(lambda d: d["users"].append({"userName": "ＣＡＲＯＬ"})),
        ["users[5]", "userName", "users[2]"],
    ),
    (
        "unknown-group-member",
        mutate(lambda d: d["groups"][1]["members"].append("nobody")),
        ["groups[1].members[2]", "members", "nobody"],
    ),
    (
        "unknown-group-of-user",
        mutate(lambda d: d["users"][2]["groups"].append("nogroup")),
        ["users[2].groups[1]", "nogroup"],
    ),
    (
        "unknown-account-in-assignment",
        mutate(lambda d: _set(d["assignments"][0], "account", "nowhere")),
        ["assignments[0]", "account", "nowhere"],
    ),
    (
        "duration-out-of-range",
        mutate(lambda d: _set(d["permission_sets"][0], "sessionDuration", "PT37H")),
        ["permission_sets[0]", "sessionDuration", "36 hours"],
    ),
    (
        "bad-membership-expiry",
        mutate(lambda d: _set(d["groups"][0]["members"][0], "expiresAt", "tomorrow")),
        ["groups[0].members[0]", "expiresAt", "tomorrow"],
    ),
    (
        "root-in-file",
        mutate(lambda d: d["users"].append({"userName": "ROOT"})),
        ["users[5]", "userName", "reserved"],
    ),
    (
        "wrong-type",
        mutate(lambda d: _set(d["users"][0], "active", "yes")),
        ["users[0].active", "true or false"],
    ),
    ("unknown-top-level-key", mutate(lambda d: _set(d, "usrs", [])), ["usrs", "unknown top-level key"]),
    (
        "duplicate-json-keys",
        lambda: (
            b'{"users": [{"userName": "newbie"},\n {"userName": "b1", "email": "b@example.org", "userName": '
            b'"b2"}]}'
        ),
        ["users[1]", "userName", "duplicate"],
    ),
    (
        "nan",
        lambda: (
            b'{"users": [{"userName": "newbie"}],\n "permission_sets": [{"name": "P", "sessionDuration": '
            b"NaN}]}"
        ),
        ["permission_sets[0]", "sessionDuration", "NaN"],
    ),
    (
        "syntax-error",
        lambda: b'{"users": [\n  {"userName": "newbie"},\n  {"userName" "b"}\n]}',
        ["line 3", "column 15", "not valid JSON"],
    ),
    ("truncated", lambda: b'{"users": [\n  {"userName": "newbie"},\n', ["line 3", "not valid JSON"]),
    ("utf-16", lambda: json.dumps(with_new_user(copy.deepcopy(SAMPLE))).encode("utf-16"), ["UTF-16"]),
    ("latin-1", _latin1, ["line 4", "0xe9", "UTF-8"]),
    (
        "nested-too-deep",
        mutate(lambda d: _set(d["users"][1], "displayName", deep(40))),
        ["nested deeper than 32"],
    ),
    ("nested-hostile-depth", lambda: b"[" * 200_000 + b"]" * 200_000, ["nested deeper than 32"]),
    ("top-level-list", lambda: b'[{"userName": "newbie"}]', ["top level"]),
    ("empty-file", lambda: b"", []),
]


@pytest.mark.parametrize("build, expected", [(c[1], c[2]) for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_file_is_refused_and_changes_nothing(
    run_tui, tmp_path: Path, db_path: Path, populated: str, build, expected: list[str]
) -> None:
    events = audit_count(db_path)
    path = tmp_path / "bad input.json"
    path.write_bytes(build())
    result = run_tui("import", path)
    assert result.returncode == 1, result
    assert str(path) in result.stderr, result  # names the file
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} missing from the message:\n{result.stderr}"
    # Control characters from the file never reach the terminal raw.
    assert not [ch for ch in result.stderr if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n"], result
    assert result.stdout == ""
    assert export(run_tui) == populated
    assert audit_count(db_path) == events


def test_a_utf16_file_is_named_as_such_with_format_json(run_tui, tmp_path: Path) -> None:
    path = tmp_path / "utf16.json"
    path.write_bytes(json.dumps(SAMPLE).encode("utf-16"))
    result = run_tui("import", "--format", "json", path)
    assert result.returncode == 1, result
    assert str(path) in result.stderr and "UTF-16" in result.stderr and "UTF-8" in result.stderr
    assert json.loads(export(run_tui)) == EMPTY


def test_every_problem_in_a_file_is_reported_at_once(run_tui, tmp_path: Path) -> None:
    document = copy.deepcopy(SAMPLE)
    document["users"][0]["nickName"] = "x"
    document["users"][3]["email"] = "not-an-email"
    document["accounts"][0]["name"] = "not valid"
    result = run_tui("import", write_json(tmp_path / "many.json", document))
    assert result.returncode == 1, result
    for fragment in ("users[0]", "nickName", "users[3]", "email", "accounts[0]", "nothing was changed"):
        assert fragment in result.stderr, result
    assert json.loads(export(run_tui)) == EMPTY


# -- backup ------------------------------------------------------------------------------------------------


def test_backup_writes_a_private_consistent_copy(run_tui, tmp_path: Path, populated: str) -> None:
    target = tmp_path / "backups" / "directory-backup.db"
    target.parent.mkdir()
    old_umask = os.umask(0)  # the most open there is: the copy is still its owner's alone
    try:
        result = run_tui("backup", target)
    finally:
        os.umask(old_umask)
    assert result.returncode == 0, result
    assert str(target) in result.stdout
    assert "key" in result.stderr  # reminds that the key file is not in the backup
    assert mode(target) == 0o600
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # its staging folder is gone
    assert export(run_tui, "--db", target) == populated
    with Database(target) as copy_db:
        assert copy_db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_refuses_to_overwrite(run_tui, tmp_path: Path, populated: str) -> None:
    target = tmp_path / "backup.db"
    assert run_tui("backup", target).returncode == 0
    original = target.read_bytes()
    again = run_tui("backup", target)
    assert again.returncode == 1, again
    assert "already exists" in again.stderr and str(target) in again.stderr
    assert target.read_bytes() == original
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    refused = run_tui("backup", unrelated)
    assert refused.returncode == 1, refused
    assert unrelated.read_text() == "keep me"


def test_backup_into_a_missing_folder_is_refused(run_tui, tmp_path: Path, populated: str) -> None:
    result = run_tui("backup", tmp_path / "no" / "such" / "backup.db")
    assert result.returncode == 1, result
    assert "no such folder" in result.stderr
    assert not (tmp_path / "no").exists()
    # An export says it the same way, naming the folder given (it named its own temporary file).
    exported = run_tui("export", "--output", tmp_path / "no" / "export.json")
    assert exported.returncode == 1 and exported.stderr == f"tui: {tmp_path / 'no'}: no such folder\n", (
        exported
    )


def test_backup_copies_only_committed_changes(run_tui, tmp_path: Path, db_path: Path, populated: str) -> None:
    """A writer in the middle of a transaction neither blocks the backup nor leaks into it."""
    writer = sqlite3.connect(db_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO users (user_name, user_name_key, created_at, updated_at) "
            "VALUES ('halfway', 'halfway', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')"
        )
        result = run_tui("backup", tmp_path / "during.db", timeout=30)
        assert result.returncode == 0, result
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert export(run_tui, "--db", tmp_path / "during.db") == populated


# -- usage and entry point -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("import",),
        ("import", "no-such-file.json"),
        ("import", "--format", "xml", "x.json"),
        ("export", "--format", "xml"),
        ("export", "--bogus"),
        ("bogus",),
        ("backup",),
        ("audit", "export", "--format", "xml"),
        ("audit", "nope"),
    ],
    ids=lambda args: " ".join(args),
)
def test_usage_errors_exit_2(run_tui, db_path: Path, args: tuple[str, ...]) -> None:
    result = run_tui(*args)
    assert result.returncode == 2, result
    assert "Usage:" in result.stderr and "Error:" in result.stderr
    assert result.stdout == ""


def test_version(run_tui) -> None:
    result = run_tui("--version")
    assert result.returncode == 0, result
    assert __version__ in result.stdout


def test_the_console_script_is_installed() -> None:
    """`make test` runs against the editable install: the `tui` command is the real entry point."""
    assert TUI_COMMAND[0].endswith("tui"), TUI_COMMAND


def test_commands_without_a_console_never_import_textual(tmp_path: Path, sample_file: Path) -> None:
    db = tmp_path / "plain.db"
    script = f"""
import json, sys
from tui.cli import main

codes = []
for argv in (["import", {str(sample_file)!r}], ["export", "--format", "json"], ["audit", "verify"],
             ["audit", "export", "--format", "csv"], ["backup", {str(tmp_path / "b.db")!r}],
             ["export", "--format", "scim"], ["export", "--format", "csv"],
             ["import", "--dry-run", {str(Path(__file__).parent / "data" / "import" / "okta-import.csv")!r}]):
    sys.argv = ["tui", "--db", {str(db)!r}, *argv]
    try:
        main()
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code or 0)
loaded = sorted(name for name in sys.modules if name == "textual" or name.startswith("textual."))
print("RESULT " + json.dumps({{"codes": codes, "textual": loaded}}), file=sys.stderr)
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert completed.returncode == 0, completed.stderr
    line = next(line for line in completed.stderr.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["codes"] == [0] * 8, completed.stderr
    assert result["textual"] == []
    # The work really happened in that process.
    assert "Zoë" in completed.stdout and "applied" in completed.stdout


@pytest.mark.parametrize(
    "command",
    [("export", "--format", "csv"), ("export", "--format", "scim"), ("report", "credentials")],
    ids=" ".join,
)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    run_tui, tui_env, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """`tui export --format csv | head`: the command said "tui: Broken pipe", exit 1, and Python printed a
    traceback for the export left holding its read transaction after the directory closed."""
    users = {"users": [{"userName": f"user{n:05d}", "displayName": f"User {n}"} for n in range(3_000)]}
    (tmp_path / "users.json").write_text(json.dumps(users), encoding="utf-8")
    assert run_tui("import", tmp_path / "users.json").returncode == 0
    process = subprocess.Popen(
        [*TUI_COMMAND, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tui_env
    )
    assert process.stdout is not None and process.stderr is not None
    assert len(process.stdout.read(100)) == 100  # what `head -c 100` reads, then it leaves
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=60) == 0
    assert error == b""
