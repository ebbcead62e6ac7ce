"""Every refusal of issue 6, through the real `tui import`: exit 1, the file, the place and the reason on
stderr, and the directory exactly as before (a full `tui export` compared, and the audit log)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from store.textfile import MAX_IMPORT_BYTES
from tests.conftest import TUI_COMMAND
from tests.test_import_support import DATA, assert_refused, copy_directory, export_json

HEADER = "userName,displayName,email,groups,active,externalId\n"
GOOD = "newbie,New Person,newbie@example.org,Newcomers,true,n-1\n"  # every bad file also holds a good row


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A directory with users and groups from two sources (built once), and its export."""
    folder = tmp_path_factory.mktemp("template")
    db = folder / "directory.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_")} | {
        "TUI_DB": str(db),
        "NO_COLOR": "1",
    }
    for name in ("users.csv", "scim-list-response.json"):
        completed = subprocess.run(
            [*TUI_COMMAND, "import", str(DATA / name)], env=env, capture_output=True, check=False, cwd=folder
        )
        assert completed.returncode == 0, completed.stderr
    exported = subprocess.run([*TUI_COMMAND, "export"], env=env, capture_output=True, check=True, cwd=folder)
    return db, exported.stdout.decode()


@pytest.fixture
def populated(template: tuple[Path, str], db_path: Path) -> str:
    """This test's directory: a copy of the template. Returns its export."""
    copy_directory(template[0], db_path)
    return template[1]


def csv_file(tmp_path: Path, *rows: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + GOOD + "".join(rows), encoding="utf-8")
    return path


def scim_user(**fields: object) -> dict:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "newbie", **fields}


def scim_list(*resources: dict) -> str:
    return json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(resources),
            "Resources": list(resources),
        },
        ensure_ascii=False,
    )


# Each case: (id, writes the file into tmp_path, fragments the message must hold, extra options).
CASES: list[tuple[str, Callable[[Path], Path], list[str], tuple[str, ...]]] = []


def case(name: str, fragments: list[str], *options: str) -> Callable[[Callable[[Path], Path]], Callable]:
    def register(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES.append((name, build, fragments, options))
        return build

    return register


# -- encodings ---------------------------------------------------------------------------------------------


@case("utf-16-with-bom", ["is UTF-16", "tui reads UTF-8 only", "iconv -f UTF-16 -t UTF-8"])
def _utf16(tmp: Path) -> Path:
    path = tmp / "utf16.csv"
    path.write_bytes((HEADER + GOOD).encode("utf-16"))
    return path


@case("utf-16-without-bom", ["line 1, column 2", "NUL", "UTF-16 without a byte-order mark", "iconv"])
def _utf16le(tmp: Path) -> Path:
    path = tmp / "utf16le.csv"
    path.write_bytes((HEADER + GOOD).encode("utf-16-le"))
    return path


@case("latin-1", ["line 3, column 4", "byte 0xe9 is not UTF-8", "Latin-1", "iconv -f WINDOWS-1252 -t UTF-8"])
def _latin1(tmp: Path) -> Path:
    path = tmp / "latin1.csv"
    path.write_bytes((HEADER + GOOD + "jos\u00e9,Jos\u00e9,,,true,\n").encode("latin-1"))
    return path


@case("latin-1-in-okta-csv", ["line 2, column 14", "byte 0xf1", "UTF-8"])
def _latin1_okta(tmp: Path) -> Path:
    path = tmp / "okta.csv"
    path.write_bytes(
        "login,firstName,lastName,email\nnunez,Jose,Nu\u00f1ez,n@example.org\n".encode("latin-1")
    )
    return path


# -- NUL and control characters ----------------------------------------------------------------------------


@case("nul-byte", ["line 3, column 4", "NUL character (U+0000) is not allowed"])
def _nul(tmp: Path) -> Path:
    path = tmp / "nul.csv"
    path.write_bytes((HEADER + GOOD + "bob\x00,Bob,,,true,\n").encode())
    return path


@case("escape-in-user-name", ["line 3", "userName: control character U+001B at position 4"])
def _escape(tmp: Path) -> Path:
    return csv_file(tmp, "bob\x1b[31m,Bob,,,true,\n")


@case("bell-in-display-name", ["line 3", "displayName: control character U+0007 at position 4"])
def _bell(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob\x07,,,true,\n")


@case("control-character-in-scim-json", ["Resources[1]", "userName: control character U+0008 at position 3"])
def _scim_control(tmp: Path) -> Path:
    path = tmp / "control.json"
    path.write_text(scim_list(scim_user(), scim_user(userName="ev\bil")), encoding="utf-8")
    return path


# -- invisible and reordering characters in names ----------------------------------------------------------


@case(
    "bidi-override-in-user-name",
    ["line 3", ("userName: invisible formatting character U+202E RIGHT-TO-LEFT OVERRIDE at position 4")],
)
def _bidi(tmp: Path) -> Path:
    return csv_file(tmp, "bob\u202egpj.exe,Bob,,,true,\n")


@case(
    "zero-width-space-in-group-name", ["Resources[1]", "displayName: invisible formatting character U+200B"]
)
def _zwsp(tmp: Path) -> Path:
    path = tmp / "zwsp.json"
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins\u200b"}
    path.write_text(scim_list(scim_user(), group), encoding="utf-8")
    return path


@case("bidi-isolate-in-group-column", ["line 3", "groups: invisible formatting character U+2066"])
def _isolate(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob,,\u2066admins\u2069,true,\n")


@case(
    "bidi-override-in-entra-upn",
    ["line 4", ("User name [userPrincipalName] Required: invisible formatting character U+202E")],
)
def _entra_bidi(tmp: Path) -> Path:
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("AdeleV@", "Adele\u202eV@")
    path = tmp / "entra.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- names that collide after NFKC + casefold --------------------------------------------------------------


@case(
    "collision-within-the-file",
    ["line 4", "userName: 'ＢＯＢ' is the same name as line 3", "ignoring case and width"],
)
def _collide(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob,,,true,\n", "ＢＯＢ,Other Bob,,,true,\n")


@case("collision-ß-and-ss", ["line 4", "'STRASSE' is the same name as line 3"])
def _sharp_s(tmp: Path) -> Path:
    return csv_file(tmp, "straße,,,,true,\n", "STRASSE,,,,true,\n")


@case(
    "collision-with-a-user-of-another-source",
    [
        "line 3",
        "login: 'ADA.LOVELACE' is the same name as the existing user 'ada.lovelace' from source 'local'",
        "never takes over",
    ],
)
def _other_source(tmp: Path) -> Path:
    path = tmp / "okta.csv"
    path.write_text(
        "login,firstName,lastName,email\nnew@example.org,New,Person,new@example.org\n"
        "ADA.LOVELACE,Ada,L,ada@example.org\n",
        encoding="utf-8",
    )
    return path


@case(
    "collision-with-a-group-of-another-source",
    [
        "Resources[1]",
        (
            "displayName: 'ENGINEERING' is the same name as the existing group 'Engineering' from "
            "source 'local'"
        ),
    ],
)
def _group_other_source(tmp: Path) -> Path:
    path = tmp / "groups.json"
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ENGINEERING"}
    path.write_text(scim_list(scim_user(), group), encoding="utf-8")
    return path


@case(
    "collision-with-root",
    ["line 3", "userName: 'ｒｏｏｔ' is reserved for the directory's root identity", "line 4", "'Root'"],
)
def _root(tmp: Path) -> Path:
    return csv_file(tmp, "ｒｏｏｔ,Fullwidth root,,,true,\n", "Root,,,,true,\n")


@case(
    "rename-onto-an-existing-name",
    [
        "Operations[0]",
        "renaming 'mpepperidge@example.com' to 'BJENSEN@example.com'",
        "would take the name of the existing user 'bjensen@example.com'",
    ],
)
def _rename(tmp: Path) -> Path:
    path = tmp / "rename.json"
    path.write_text(
        json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {
                        "method": "PATCH",
                        "path": "/Users/902c246b-6245-4190-8e05-00816be7344a",
                        "data": [{"op": "replace", "path": "userName", "value": "BJENSEN@example.com"}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


# -- references and cycles ---------------------------------------------------------------------------------


@case("unknown-group-member", ["Resources[1].members[1]", "value: no user with id 'u-404'"])
def _unknown_member(tmp: Path) -> Path:
    path = tmp / "members.json"
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Newcomers",
        "members": [{"value": "2819c223-7f76-453a-919d-413861904646"}, {"value": "u-404", "type": "User"}],
    }
    path.write_text(scim_list(scim_user(), group), encoding="utf-8")
    return path


@case("group-cycle-of-three", ["members: groups contain each other in a cycle", "'A' → 'B' → 'C' → 'A'"])
def _cycle(tmp: Path) -> Path:
    def group(name: str, member: str) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": name,
            "displayName": name,
            "members": [{"value": member, "type": "Group"}],
        }

    path = tmp / "cycle.json"
    path.write_text(
        scim_list(scim_user(), group("A", "B"), group("B", "C"), group("C", "A")), encoding="utf-8"
    )
    return path


def chain_of_groups(tmp: Path, length: int, *, closed: bool) -> Path:
    """Groups g0 … g(length-1), each holding the next as a member (the last holds g0 when ``closed``)."""
    groups = []
    for n in range(length):
        after = f"g{n + 1}" if n + 1 < length else "g0" if closed else None
        groups.append(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": f"g{n}",
                "displayName": f"g{n}",
                "members": [] if after is None else [{"value": after, "type": "Group"}],
            }
        )
    path = tmp / "chain.json"
    path.write_text(scim_list(scim_user(), *groups), encoding="utf-8")
    return path


@case("a-cycle-of-5000-groups", ["a cycle: 'g0' → 'g1'", "(5,000 groups)", "→ 'g0'"])
def _long_cycle(tmp: Path) -> Path:
    return chain_of_groups(tmp, 5000, closed=True)


@case("duplicate-scim-ids", ["Resources[1]", "id: 'x1' is the same as Resources[0]'s"])
def _duplicate_ids(tmp: Path) -> Path:
    path = tmp / "ids.json"
    path.write_text(scim_list(scim_user(id="x1"), scim_user(id="x1", userName="other")), encoding="utf-8")
    return path


# -- JSON that parsers accept and we do not ----------------------------------------------------------------


@case("duplicate-json-keys", ["Resources[1]", "duplicate key 'userName' in one object"])
def _duplicate_keys(tmp: Path) -> Path:
    path = tmp / "dup.json"
    path.write_text(
        '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": [\n'
        '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "newbie"},\n'
        '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a", "userName": "b"}'
        "]}",
        encoding="utf-8",
    )
    return path


@case("nan", ["Resources[0].active", "NaN is not a number JSON allows"])
def _nan(tmp: Path) -> Path:
    path = tmp / "nan.json"
    path.write_text(
        '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": [\n'
        '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "n", "active": NaN}]}',
        encoding="utf-8",
    )
    return path


@case("infinity", ["Resources[0].id", "Infinity is not a number JSON allows"])
def _infinity(tmp: Path) -> Path:
    path = tmp / "inf.json"
    path.write_text('{"Resources": [{"userName": "n", "id": -Infinity}]}', encoding="utf-8")
    return path


@case("over-deep-json", ["nested deeper than 32 levels"])
def _deep(tmp: Path) -> Path:
    value: object = "x"
    for _ in range(40):
        value = {"nested": value}
    path = tmp / "deep.json"
    path.write_text(scim_list(scim_user(), scim_user(userName="deep", nickName=value)), encoding="utf-8")
    return path


@case("hostile-depth", ["nested deeper than 32 levels"])
def _hostile(tmp: Path) -> Path:
    path = tmp / "hostile.json"
    path.write_bytes(b'{"schemas": [], "Resources": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    return path


@case("truncated-json", ["line 3", "not valid JSON"])
def _truncated(tmp: Path) -> Path:
    path = tmp / "truncated.json"
    path.write_text(
        scim_list(scim_user()).replace('"Resources": [', '"Resources": [\n\n')[:-6], encoding="utf-8"
    )
    return path


# -- lengths and sizes -------------------------------------------------------------------------------------


@case("user-name-too-long", ["line 3", "userName: is 129 characters long; the limit is 128"])
def _long_name(tmp: Path) -> Path:
    return csv_file(tmp, "u" * 129 + ",,,,true,\n")


@case(
    "display-name-too-long",
    ["line 5", "Name [displayName] Required: is 257 characters long; the limit is 256"],
)
def _long_display(tmp: Path) -> Path:
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = "D" * 257 + "," + lines[4].split(",", 1)[1]
    path = tmp / "entra.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@case("email-too-long", ["line 2", "email: is 255 characters long; the limit is 254"])
def _long_email(tmp: Path) -> Path:
    path = tmp / "okta.csv"
    path.write_text(
        f"login,firstName,lastName,email\nlong,Long,Mail,{'m' * 243}@example.org\n", encoding="utf-8"
    )
    return path


@case("external-id-too-long", ["line 3", "externalId: is 257 characters long; the limit is 256"])
def _long_external(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob,,,true," + "e" * 257 + "\n")


@case("group-name-too-long", ["Resources[1]", "displayName: is 129 characters long; the limit is 128"])
def _long_group(tmp: Path) -> Path:
    path = tmp / "group.json"
    path.write_text(
        scim_list(
            scim_user(),
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G" * 129},
        ),
        encoding="utf-8",
    )
    return path


@case("scim-id-too-long", ["Resources[0]", "id: is 257 characters long; the limit is 256"])
def _long_id(tmp: Path) -> Path:
    path = tmp / "id.json"
    path.write_text(scim_list(scim_user(id="i" * 257)), encoding="utf-8")
    return path


@case("value-over-the-csv-cell-limit", ["line 3", "a value is longer than 131,072 characters"])
def _huge_cell(tmp: Path) -> Path:
    return csv_file(tmp, "bob," + "x" * 140_000 + ",,,true,\n")


# -- CSV structure -----------------------------------------------------------------------------------------


@case(
    "ragged-rows",
    ["line 3: has 5 value(s) but the header (line 1) has 6 column(s)", "line 4: has 7 value(s)"],
)
def _ragged(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob,,,true\n", "carol,Carol,,,true,,extra\n")


@case("ragged-entra-row", ["line 5: has 16 value(s) but the header (line 2) has 17 column(s)"])
def _ragged_entra(tmp: Path) -> Path:
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0]
    path = tmp / "entra.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@case("unterminated-quote", ["line 3", "never closed (unterminated quote)"])
def _unterminated(tmp: Path) -> Path:
    return csv_file(tmp, 'bob,"Bob the builder,,,true,\n', "carol,Carol,,,true,\n")


@case("text-after-a-closing-quote", ["line 4", "text follows a closing quote"])
def _after_quote(tmp: Path) -> Path:
    return csv_file(tmp, "bob,Bob,,,true,\n", 'carol,"Carol" Danvers,,,true,\n')


@case("empty-csv-user-name", ["line 3", "userName: is required"])
def _empty_name(tmp: Path) -> Path:
    return csv_file(tmp, ",Nobody,,,true,\n")


@case("spaces-around-a-user-name", ["line 3", "userName: must not start or end with spaces"])
def _spaces(tmp: Path) -> Path:
    return csv_file(tmp, " bob ,Bob,,,true,\n")


@case("a-bulk-path-of-100-KB", ["Operations[0] (POST /Users/", "… (100,007 characters)", "<U+202E>"])
def _long_bulk_path(tmp: Path) -> Path:
    """The client's path and bulkId, echoed whole (twice a problem) and raw (a bidi control) before."""
    path = tmp / "bulk.json"
    operation = {"method": "POST", "path": "/Users/" + "x" * 100_000, "bulkId": "b\u202eevil", "data": {}}
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [operation]}
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


@case("a-number-of-5000-digits", ["directory.json: not valid JSON: a number has more than"])
def _huge_number(tmp: Path) -> Path:
    path = tmp / "directory.json"
    path.write_text('{"users": [{"userName": "newbie", "n": 1' + "0" * 5000 + "}]}")
    return path


@case("a-source-that-passes-for-local", ["users[0]", "'Local' is 'local' in other letters"])
def _local_in_other_letters(tmp: Path) -> Path:
    path = tmp / "directory.json"
    path.write_text(json.dumps({"users": [{"userName": "mallory", "source": "Local"}]}))
    return path


@pytest.mark.parametrize("build, fragments, options", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_file_is_refused_and_changes_nothing(
    run_tui,
    db_path: Path,
    tmp_path: Path,
    populated: str,
    build,
    fragments: list[str],
    options: tuple[str, ...],
) -> None:
    assert_refused(run_tui, db_path, build(tmp_path), fragments, *options, before=populated)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    run_tui, db_path: Path, tmp_path: Path, populated: str
) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # sparse: the size is real, the disk is not used
        handle.write(HEADER.encode())
        handle.truncate(MAX_IMPORT_BYTES + 1)
    assert_refused_without_plan = assert_refused
    stderr = assert_refused_without_plan(
        run_tui,
        db_path,
        path,
        [f"is {MAX_IMPORT_BYTES + 1:,} bytes", "the import limit is 268,435,456 bytes (256 MiB)"],
    )
    assert "split the file" in stderr


def test_at_most_fifty_problems_are_listed(run_tui, db_path: Path, tmp_path: Path, populated: str) -> None:
    path = csv_file(tmp_path, *(f"bad\x07{i},,,,true,\n" for i in range(60)))
    stderr = assert_refused(
        run_tui,
        db_path,
        path,
        ["line 3: userName: control character U+0007", "line 52: userName", "… and 10 more problem(s)"],
    )
    assert "line 53:" not in stderr


def test_every_problem_is_listed_at_once(run_tui, db_path: Path, tmp_path: Path, populated: str) -> None:
    path = csv_file(
        tmp_path,
        "bob\u202e,,,,true,\n",
        "carol,,not-an-email,,true,\n",
        "dave,,,,maybe,\n",
        "ＢＯＢ\u202e,,,,true,\n",
        "ada.lovelace,,,,true,\n",
    )
    assert_refused(
        run_tui,
        db_path,
        path,
        [
            "line 3: userName: invisible",
            "line 4: email: 'not-an-email' is not",
            "line 5: active: 'maybe' must be true or false",
            "line 6: userName",
        ],
    )


def test_format_characters_are_allowed_in_display_text(run_tui, tmp_path: Path) -> None:
    """Names refuse format characters; display names keep them (emoji sequences need the joiner)."""
    path = csv_file(tmp_path, "dev,👩🏽\u200d💻 Dev,,,true,\n")
    result = run_tui("import", path)
    assert result.returncode == 0, result
    users = {u["userName"]: u for u in json.loads(export_json(run_tui))["users"]}
    assert users["dev"]["displayName"] == "👩🏽\u200d💻 Dev"


def test_a_refusal_never_shows_a_traceback_even_for_an_unreadable_file(run_tui, tmp_path: Path) -> None:
    # A file that exists but cannot be read, even by root (CI runs as root, so chmod 0 would not do):
    # reading /proc/self/mem from offset 0 fails with an I/O error.
    result = run_tui("import", "--format", "csv", "/proc/self/mem")
    assert result.returncode == 1 and "cannot be read" in result.stderr, result


def test_a_chain_of_2000_nested_groups_is_flattened(run_tui, tmp_path: Path, populated: str) -> None:
    """Each group a member of the one before, 2,000 deep: Python's recursion gave out at 1,000 (exit 70)."""
    result = run_tui("import", "--dry-run", chain_of_groups(tmp_path, 2000, closed=False))
    assert result.returncode == 0, result
    assert "nested groups flattened: 'g0' gets the members of 'g1'" in result.stdout + result.stderr
