"""An import names its file in the audit log by a digest keyed with the key file, never by its SHA-256.

Red-team: the audit event (and ``import_batches``) held the file's plain SHA-256. An identity provider's
template is predictable but for its passwords, so whoever read the log (or an audit export) could test
guesses of a password at the speed of SHA-256 and recover it. The same for a SCIM request's body."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from store.audit import Actor
from store.directory import Directory
from store.identity import initialise, new_root_enrolment
from tests.test_identity_init import ROOT_PASSWORD

ENTRA = (
    "version:v1.0\n"
    "Name [displayName] Required,User name [userPrincipalName] Required,"
    "Initial password [passwordProfile] Required,Block sign in (Yes/No) [accountEnabled] Required\n"
    "Gina G,gina@example.com,Summer2024!xq,No\n"
)


def test_the_log_names_an_imported_file_by_a_keyed_digest(db_path: Path, tmp_path: Path, run_tui) -> None:
    with Directory.open(db_path, Actor("cli:test", "cli")) as directory:
        initialise(directory, ROOT_PASSWORD, new_root_enrolment())
    path = tmp_path / "entra.csv"
    path.write_text(ENTRA)
    plain = hashlib.sha256(path.read_bytes()).hexdigest()
    imported = run_tui("import", str(path), "--source", "entra", "--with-passwords", "--json")
    assert imported.returncode == 0, imported
    digest = imported.json()["file_digest"]
    assert digest.startswith("hmac-sha256:") and plain not in digest
    # The owner finds the file's event by the digest tui gives for it.
    looked_up = run_tui("audit", "digest", str(path))
    assert looked_up.returncode == 0 and looked_up.stdout.strip() == digest
    exported = run_tui("audit", "export")
    (event,) = [json.loads(line) for line in exported.stdout.splitlines() if "directory.import" in line]
    assert event["details"]["file_digest"] == digest
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT sha256 FROM import_batches").fetchall() == [(digest,)]
    conn.close()
    files = [p.read_bytes().decode("latin-1") for p in tmp_path.iterdir() if p.name.startswith(db_path.name)]
    for text in (exported.stdout, imported.stdout, imported.stderr, *files):
        assert plain not in text and "Summer2024!xq" not in text
    assert run_tui("audit", "verify").returncode == 0
    # Another file has another digest; a file that is not there is named as such.
    other = tmp_path / "other.csv"
    other.write_text(ENTRA.replace("Gina", "Hana"))
    assert run_tui("audit", "digest", str(other)).stdout.strip() != digest
    missing = run_tui("audit", "digest", str(tmp_path / "gone.csv"))
    assert missing.returncode != 0 and "gone.csv" in missing.stderr
