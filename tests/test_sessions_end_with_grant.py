"""A session ends with the grant that made it (issue 11, finding 9): removing the assignment or membership,
or bringing its expiry forward, ends the sessions it granted at once; verify refuses them and says why."""

from __future__ import annotations

import json

from tests.test_sessions import clock_fixture, creds_of, world_fixture  # noqa: F401  (fixtures)


def reason_of(directory, session_id: int) -> str | None:
    return directory.sessions.get(session_id).revoked_reason


def test_removing_the_membership_ends_the_session_it_granted(world, clock):
    d, w = world
    issued = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
    assert d.sessions.verify(*creds_of(issued)).valid
    d.groups.remove_member(w["readers"].id, w["bob"].id)
    verification = d.sessions.verify(*creds_of(issued))
    assert (verification.valid, verification.reason) == (False, "revoked")
    assert reason_of(d, issued.session_id) == "membership removed"
    [event] = [e for e in d.db.conn.execute("SELECT details FROM audit WHERE action = 'group.remove_member'")]
    assert json.loads(event[0])["sessions_ended"] == 1


def test_deleting_the_assignment_ends_only_what_nothing_else_grants(world, clock):
    d, w = world
    # bob holds S3Reader through Readers; give him a direct assignment too: two paths.
    direct = d.assignments.create("user", w["bob"].id, w["prod"].id, w["reader"].id)
    bobs = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
    alices = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)
    d.assignments.delete(direct.id, direct.version)
    assert d.sessions.verify(*creds_of(bobs)).valid  # the group still grants it
    group_grant = next(a for a in d.assignments.list().items if a.principal_type == "group")
    d.assignments.delete(group_grant.id, group_grant.version)
    assert not d.sessions.verify(*creds_of(bobs)).valid
    assert reason_of(d, bobs.session_id) == "assignment removed"
    assert d.sessions.verify(*creds_of(alices)).valid  # alice's own assignment was not touched


def test_deleting_the_group_ends_its_members_sessions(world, clock):
    d, w = world
    issued = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
    group = d.groups.get(w["readers"].id)
    d.groups.delete(group.id, group.version)
    assert not d.sessions.verify(*creds_of(issued)).valid
    assert reason_of(d, issued.session_id) == "group deleted"


def test_an_expiry_brought_forward_shortens_the_session_to_it(world, clock):
    d, w = world
    issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)  # 8 hours
    grant = next(
        a
        for a in d.assignments.for_user(w["alice"].id)
        if a.principal_type == "user" and a.permission_set_id == w["reader"].id
    )
    d.assignments.update_expiry(grant.id, grant.version, "2026-06-01T13:00:00Z")
    assert d.sessions.get(issued.session_id).expires_at == "2026-06-01T13:00:00Z"
    clock.advance(minutes=61)
    assert d.sessions.verify(*creds_of(issued)).reason == "expired"


def test_a_sync_that_drops_a_membership_ends_its_sessions(world, clock, tmp_path):
    from store.formats import read_file
    from store.importer import import_document

    d, w = world
    first = b"userName,groups\ndave,Contractors\n"
    import_document(
        d,
        read_file(first, "idp.csv", "csv").document,
        file_name="idp.csv",
        raw=first,
        source="idp",
        sync=True,
    )
    dave = d.users.get_by_name("dave")
    contractors = d.groups.get_by_name("Contractors")
    d.assignments.create("group", contractors.id, w["prod"].id, w["reader"].id)
    issued = d.sessions.issue(dave.id, w["prod"].id, w["reader"].id)
    second = b"userName,groups\ndave,\n"
    import_document(
        d,
        read_file(second, "idp.csv", "csv").document,
        file_name="idp.csv",
        raw=second,
        source="idp",
        sync=True,
    )
    assert not d.sessions.verify(*creds_of(issued)).valid
    assert reason_of(d, issued.session_id) == "membership removed by import"


def test_the_cli_refuses_the_ended_session_and_the_sessions_list_says_why(world, clock, run_tui, tmp_path):
    d, w = world
    issued = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
    d.groups.remove_member(w["readers"].id, w["bob"].id)
    env = {"TUI_DB": str(tmp_path / "d.db")}
    verified = run_tui("sessions", "verify", "--json", input=json.dumps(issued.credential_process()), env=env)
    assert verified.returncode == 1 and verified.json()["reason"] == "revoked"
    listed = run_tui("sessions", "list", "--json", env=env)
    [row] = [s for s in listed.json() if s["access_key_id"] == issued.access_key_id]
    assert (row["state"], row["revoked_reason"]) == ("revoked", "membership removed")


def reimport_changed(directory, change) -> None:
    """Export the whole directory, let ``change`` edit the document, import it back (as `tui import`)."""
    from store.directory_json import export_document
    from store.formats import read_file
    from store.importer import import_document

    document = export_document(directory)
    change(document)
    raw = json.dumps(document).encode()
    result = import_document(
        directory, read_file(raw, "directory.json", "json").document, file_name="directory.json", raw=raw
    )
    assert result.applied


def test_an_import_that_disables_the_account_ends_its_sessions(world, clock):
    d, w = world
    issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)

    def disable_prod(document):
        [prod] = [a for a in document["accounts"] if a["name"] == "prod"]
        prod["active"] = False

    reimport_changed(d, disable_prod)
    assert (d.accounts.get(w["prod"].id).status, d.sessions.verify(*creds_of(issued)).reason) == (
        "disabled",
        "revoked",
    )
    assert reason_of(d, issued.session_id) == "account disabled"


def test_an_import_that_brings_the_expiry_forward_shortens_the_session_to_it(world, clock):
    d, w = world
    issued = d.sessions.issue(w["alice"].id, w["prod"].id, w["reader"].id)  # 8 hours
    bobs = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)

    def bring_forward(document):
        for assignment in document["assignments"]:
            if assignment["permissionSet"] == "S3Reader":  # alice's own, and Readers' (bob's)
                assignment["expiresAt"] = "2026-06-01T13:00:00Z"

    reimport_changed(d, bring_forward)
    assert d.sessions.get(issued.session_id).expires_at == "2026-06-01T13:00:00Z"
    assert d.sessions.get(bobs.session_id).expires_at == "2026-06-01T13:00:00Z"
    clock.advance(minutes=61)
    assert d.sessions.verify(*creds_of(issued)).reason == "expired"
    assert d.sessions.verify(*creds_of(bobs)).reason == "expired"


def test_an_import_that_brings_a_membership_expiry_forward_shortens_the_session_to_it(world, clock):
    """The membership's own expiry, not only the assignment's (red-team replay): bob holds S3Reader through
    Readers; an import gives his membership an expiry an hour away, his 8-hour session ends with it."""
    d, w = world
    bobs = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)  # 8 hours

    def bring_forward(document):
        [readers] = [g for g in document["groups"] if g["displayName"] == "Readers"]
        readers["members"] = [{"userName": "bob", "expiresAt": "2026-06-01T13:00:00Z"}]

    reimport_changed(d, bring_forward)
    assert d.sessions.get(bobs.session_id).expires_at == "2026-06-01T13:00:00Z"
    assert d.sessions.verify(*creds_of(bobs)).valid
    clock.advance(minutes=61)
    assert d.sessions.verify(*creds_of(bobs)).reason == "expired"


def test_a_grant_taken_from_more_users_than_a_statement_takes_parameters(world, clock):
    """Deleting a group of 2,000 members (a sync emptying a big group names 100,000): the users are one
    parameter, not one each, which SQLite caps per statement (32,766 in many builds; 999 here)."""
    import sqlite3

    d, w = world
    with d.db.write() as conn:
        conn.executemany(
            "INSERT INTO users (user_name, user_name_key, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [(f"u{n}", f"u{n}", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z") for n in range(2000)],
        )
        conn.execute(
            "INSERT INTO memberships (group_id, user_id, created_at) SELECT ?, id, created_at FROM users "
            "WHERE user_name LIKE 'u%'",
            (w["readers"].id,),
        )
    issued = d.sessions.issue(w["bob"].id, w["prod"].id, w["reader"].id)
    d.db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    group = d.groups.get(w["readers"].id)
    d.groups.delete(group.id, group.version)
    assert reason_of(d, issued.session_id) == "group deleted"
