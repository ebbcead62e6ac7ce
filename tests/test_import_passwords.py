"""Passwords arriving in an import: hashes kept as they are, cleartext dropped unless --with-passwords."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from store.crypto import needs_rehash, verify_password
from tests.test_import_support import DATA, assert_refused, one, rows

ARGON2 = "$argon2id$v=19$m=19456,t=2,p=1$3BuD0JrTmtOaEyLkXAuBcA$WYwLbw1C2sqiOfkjOcHyqCfz+2I6pKy2j6cbD2uXHrk"
BCRYPT = "$2b$10$sC9xqtZXSfC1TwKjGpBfE.N5xLmsyDJHntc9PwDouUcWsNJ2yFo5u"
PBKDF2 = "$pbkdf2-sha256$29000$GEMoRUiJUepdyxmD0Ppfyw$ikCj7fV86VJdUvcEjUuPYcxr0zT.sJNOlJbz2Nkmeow"
SECRETS = {
    ARGON2: "open sesame, says ali",
    BCRYPT: "correct horse battery staple",
    PBKDF2: "Tr0ub4dor&3-but-longer",
}


def scim_users(path: Path, passwords: dict[str, str]) -> Path:
    resources = [
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "password": secret}
        for name, secret in passwords.items()
    ]
    path.write_text(
        json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": len(resources),
                "Resources": resources,
            }
        ),
        encoding="utf-8",
    )
    return path


def stored(db: Path) -> dict[str, tuple[str | None, int]]:
    return {
        name: (digest, must)
        for name, digest, must in rows(db, "SELECT user_name, password_hash, must_change_password FROM users")
    }


def test_pre_hashed_passwords_are_kept_for_rehash_at_sign_in(run_tui, db_path: Path, tmp_path: Path) -> None:
    path = scim_users(tmp_path / "hashes.json", {"argon": ARGON2, "bcrypt": BCRYPT, "pbkdf2": PBKDF2})
    result = run_tui("import", "--json", path)
    assert result.returncode == 0, result
    report = result.json()
    assert report["passwords"]["hashes_kept"] == 3 and report["passwords"]["initial_dropped"] == 0
    hashes = stored(db_path)
    for name, digest in (("argon", ARGON2), ("bcrypt", BCRYPT), ("pbkdf2", PBKDF2)):
        assert hashes[name] == (digest, 0)  # verbatim; the user knows the password: no forced change
        ok, _ = verify_password(SECRETS[digest], hashes[name][0])
        assert ok
    assert needs_rehash(BCRYPT) and needs_rehash(PBKDF2) and not needs_rehash(ARGON2)


def test_cleartext_initial_passwords_are_dropped_with_one_notice(run_tui, db_path: Path) -> None:
    result = run_tui("import", DATA / "entra-bulk-create.csv")
    assert result.returncode == 0, result
    notices = [line for line in result.stderr.splitlines() if "initial password" in line]
    assert notices == [
        (
            "tui: note: 5 cleartext initial password(s) dropped: give --with-passwords to hash them "
            "(the users then change them at first sign-in), or set passwords in tui"
        )
    ]
    assert {digest for digest, _ in stored(db_path).values()} == {None}
    assert "Welcome-2026" not in result.stdout + result.stderr  # never echoed


def test_with_passwords_hashes_them_in_worker_processes(run_tui, db_path: Path, tmp_path: Path) -> None:
    # Enough passwords (argon2id, ~50 ms each) that every worker process is up before the work runs out.
    lines = (DATA / "entra-bulk-create.csv").read_text(encoding="utf-8").splitlines()
    extra = [
        f"Temp {i},temp{i}@contoso.onmicrosoft.com,Temp-Password-{i}!,No,,,,,,,,,,,,," for i in range(30)
    ]
    many = tmp_path / "entra-many.csv"
    many.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    result = run_tui("import", "--with-passwords", "--json", many)
    assert result.returncode == 0, result
    passwords = result.json()["passwords"]
    assert passwords["initial_to_hash"] == 35 and passwords["set"] == 35
    assert passwords["workers"] >= min(2, os.cpu_count() or 1)  # distinct worker processes did the hashing
    assert verify_password(
        "Temp-Password-29!",
        one(db_path, "SELECT password_hash FROM users WHERE user_name = 'temp29@contoso.onmicrosoft.com'"),
    )[0]
    hashes = stored(db_path)
    digest, must_change = hashes["JoseN@contoso.onmicrosoft.com"]
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and must_change == 1
    assert verify_password("Welcome-2026-José!", digest)[0]
    assert not verify_password("Welcome-2026-Adele!", digest)[0]
    assert all(must == 1 for _, must in hashes.values())
    # Again: the users have passwords now, which an import never replaces.
    again = run_tui("import", "--with-passwords", many)
    assert "nothing to change" in again.stdout
    assert "35 user(s) already have a password" in again.stderr
    assert stored(db_path) == hashes


def test_passwords_are_only_set_for_users_without_one(run_tui, db_path: Path, tmp_path: Path) -> None:
    assert run_tui("import", DATA / "entra-bulk-create.csv").returncode == 0  # dropped: no passwords
    result = run_tui("import", "--with-passwords", DATA / "entra-bulk-create.csv")
    assert result.returncode == 0, result
    assert "update user 'AdeleV@contoso.onmicrosoft.com': password" in result.stdout
    assert all(digest and digest.startswith("$argon2id$") for digest, _ in stored(db_path).values())


def test_an_over_long_password_is_refused(run_tui, db_path: Path, tmp_path: Path) -> None:
    assert run_tui("import", DATA / "users.csv").returncode == 0
    path = scim_users(tmp_path / "long.json", {"longpw": "x" * 1025})
    assert_refused(
        run_tui, db_path, path, ["Resources[0]", "password: is 1025 characters long; the limit is 1024"]
    )


def test_passwords_never_reach_the_audit_log(run_tui, db_path: Path) -> None:
    assert run_tui("import", "--with-passwords", DATA / "entra-bulk-create.csv").returncode == 0
    details = rows(db_path, "SELECT details FROM audit")[0][0]
    assert "Welcome" not in details and "argon2" not in details
    assert json.loads(details)["passwords"] == {"initial_to_hash": 5, "set": 5}


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("crypt", BCRYPT, BCRYPT),
        ("SHA-1", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", None),
        ("", "****", None),
    ],
)
def test_google_password_hash_functions(
    run_tui, db_path: Path, tmp_path: Path, column: str, value: str, expected: str | None
) -> None:
    header = (DATA / "google-users.csv").read_text(encoding="utf-8").splitlines()[0]
    row = ["Ada", "Lovelace", "ada@example.com", value, column, "/"] + [""] * 22
    path = tmp_path / "google.csv"
    path.write_text(header + "\n" + ",".join(row) + "\n", encoding="utf-8")
    result = run_tui("import", "--with-passwords", path)
    assert result.returncode == 0, result
    assert stored(db_path)["ada@example.com"][0] == expected


def test_a_librarys_warning_never_reaches_the_person(run_tui, tmp_path: Path) -> None:
    """passlib warned about a bcrypt salt's padding bits with a path into site-packages and a line of its
    source, on stderr, when it met such a hash in a file (hostile-input testing)."""
    odd = "$2b$12$" + "a" * 53  # padding bits set in the salt's last character
    path = tmp_path / "users.json"
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob", "password": odd}
    path.write_text(json.dumps(user), encoding="utf-8")
    result = run_tui("import", "--dry-run", path)
    assert result.returncode in (0, 1), result
    assert "Warning" not in result.stderr and "site-packages" not in result.stderr, result
