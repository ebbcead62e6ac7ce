"""The schema as a list of migrations. ``PRAGMA user_version`` holds how many have been applied.

Never edit a migration that has shipped: add a new one. Each runs inside the transaction that opens the
directory, so an upgrade is all or nothing. A migration is SQL, or a function of a ``sqlite_utils.Database``
for what ALTER TABLE cannot do (change a column's type, default, NOT NULL or foreign key, drop or reorder
columns): :func:`rebuild_table`, over sqlite-utils' ``transform``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlite_utils

# SQL, or a function run on the upgrade's connection.
Migration = str | Callable[[sqlite_utils.Database], None]


def rebuild_table(db: sqlite_utils.Database, table: str, **changes: Any) -> None:
    """Rebuild ``table`` with sqlite-utils' ``transform(**changes)``, keeping what a rebuild would lose.

    ``transform`` copies the rows into a new table, drops the old one and renames the new one; its indexes
    are re-created, but dropping a table drops its triggers, so they are re-created here, and a full-text
    index kept from the table (``content='table'``) is rebuilt from the new rows. The upgrade runs with
    foreign keys off (:meth:`store.db.Database._migrate`), so rows pointing at this table are not deleted by
    ``ON DELETE CASCADE`` when the old table goes; the upgrade checks every foreign key before it commits.
    """
    triggers = db.table(table).triggers
    db.table(table).transform(**changes)
    for trigger in triggers:
        if trigger.name not in db.triggers_dict:
            db.execute(trigger.sql)
    for name in db.table_names(fts5=True):
        if f"content='{table}'" in db[name].schema:
            db.table(name).rebuild_fts()


# Version 1: every concept of the model. Times are UTC ISO-8601 strings ("2026-11-29T14:15:45Z"), which
# sort and compare as text. Every row an admin can edit carries ``version`` for optimistic concurrency.
V1 = """
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    counts TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    external_id TEXT,
    source TEXT NOT NULL DEFAULT 'local',
    import_batch_id INTEGER REFERENCES import_batches(id) ON DELETE SET NULL,
    is_root INTEGER NOT NULL DEFAULT 0 CHECK (is_root IN (0, 1)),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash TEXT,
    password_changed_at TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    totp_secret_sealed TEXT,
    totp_last_step INTEGER,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    last_sign_in_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_one_root ON users(is_root) WHERE is_root = 1;
CREATE UNIQUE INDEX users_source_external_id ON users(source, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE password_history (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE INDEX password_history_user ON password_history(user_id, set_at);

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

CREATE TABLE ssh_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX ssh_keys_user ON ssh_keys(user_id);

CREATE TABLE access_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX access_keys_user ON access_keys(user_id);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    external_id TEXT,
    source TEXT NOT NULL DEFAULT 'local',
    import_batch_id INTEGER REFERENCES import_batches(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE memberships (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships(user_id, group_id);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE policies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    document TEXT NOT NULL,
    builtin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE permission_sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    session_duration INTEGER NOT NULL DEFAULT 3600 CHECK (session_duration BETWEEN 900 AND 129600),
    inline_policy TEXT,
    boundary_policy TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE permission_set_policies (
    permission_set_id INTEGER NOT NULL REFERENCES permission_sets(id) ON DELETE CASCADE,
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE RESTRICT,
    PRIMARY KEY (permission_set_id, policy_id)
) WITHOUT ROWID;

CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    permission_set_id INTEGER NOT NULL REFERENCES permission_sets(id) ON DELETE CASCADE,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    CHECK ((user_id IS NULL) != (group_id IS NULL))
);
CREATE UNIQUE INDEX assignments_user_unique ON assignments(user_id, account_id, permission_set_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX assignments_group_unique ON assignments(group_id, account_id, permission_set_id)
    WHERE group_id IS NOT NULL;
CREATE INDEX assignments_account ON assignments(account_id, permission_set_id);
CREATE INDEX assignments_permission_set ON assignments(permission_set_id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    permission_set_id INTEGER NOT NULL REFERENCES permission_sets(id) ON DELETE CASCADE,
    access_key_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    mfa INTEGER NOT NULL DEFAULT 0,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE portal_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    mfa INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX portal_tokens_user ON portal_tokens(user_id);

-- Append-only, hash-chained: each row's hash covers the previous row's hash and its own fields.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""

# Version 2: substring search for the Users screen filter. A trigram index answers "contains" queries of
# three or more characters from an index instead of a scan of every user. It shipped as SQL: sqlite-utils'
# enable_fts would name the table and its triggers differently (users_fts, users_ai…), so it stays as it is;
# rebuild_table rebuilds it with rebuild_fts.
V2 = """
CREATE VIRTUAL TABLE users_search USING fts5(
    user_name, display_name, email, content='users', content_rowid='id', tokenize='trigram'
);
INSERT INTO users_search(rowid, user_name, display_name, email)
    SELECT id, user_name, display_name, email FROM users;
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search(users_search, rowid, user_name, display_name, email)
    VALUES ('delete', old.id, old.user_name, old.display_name, old.email);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name, display_name, email ON users BEGIN
    INSERT INTO users_search(users_search, rowid, user_name, display_name, email)
    VALUES ('delete', old.id, old.user_name, old.display_name, old.email);
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
"""


def _builtin_policies_sql() -> str:
    from store.policy.builtins import BUILTIN_POLICIES

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    rows = ",\n".join(
        f"({quoted(name)}, {quoted(name.casefold())}, {quoted('Built-in: ' + name)}, {quoted(document)}, 1, "
        "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"
        for name, document in BUILTIN_POLICIES.items()
    )
    return (
        "INSERT OR IGNORE INTO policies (name, name_key, description, document, builtin, created_at, "
        f"updated_at) VALUES\n{rows};"
    )


# Version 3: the policy library starts with AWS's three job-function policies, marked built-in (read-only).
V3 = _builtin_policies_sql()

# Version 4: credentials (issue 3). A recovery-code sign-in leaves the identity owing a new authenticator
# (``mfa_reenrol``); failures older than a day stop counting toward a lock (``last_failed_sign_in_at``);
# portal sign-ins say which client holds them (``cli``, ``console``, ``ssh``), why they ended, and when last
# used.
V4 = """
ALTER TABLE users ADD COLUMN mfa_reenrol INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failed_sign_in_at TEXT;
ALTER TABLE portal_tokens ADD COLUMN client TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE portal_tokens ADD COLUMN revoked_reason TEXT;
ALTER TABLE portal_tokens ADD COLUMN last_used_at TEXT;
CREATE INDEX portal_tokens_expires ON portal_tokens(expires_at);
"""

# Version 5: imports (issue 6). A SCIM resource's ``id`` at its source, so that later files (a Group whose
# members name users by id, a bulk PUT/PATCH/DELETE of /Users/{id}) can refer to what an earlier file brought
# in; unique per source like external_id.
V5 = """
ALTER TABLE users ADD COLUMN scim_id TEXT;
ALTER TABLE groups ADD COLUMN scim_id TEXT;
CREATE UNIQUE INDEX users_source_scim_id ON users(source, scim_id) WHERE scim_id IS NOT NULL;
CREATE UNIQUE INDEX groups_source_scim_id ON groups(source, scim_id) WHERE scim_id IS NOT NULL;
"""

# Version 6: a bulk import fills the search index once instead of row by row (issue 14). While
# ``users_search_paused`` holds its one row the insert and update triggers stand aside; the importer writes
# that row, its users and their index entries in one transaction and deletes the row before it commits, so
# outside a transaction the table is always empty and every other write keeps its triggers
# (store/search_index.py). A TEMP table cannot be the flag: a main-schema trigger cannot see the temp schema.
V6 = """
CREATE TABLE users_search_paused (id INTEGER PRIMARY KEY CHECK (id = 1));
DROP TRIGGER users_search_insert;
CREATE TRIGGER users_search_insert AFTER INSERT ON users
WHEN NOT EXISTS (SELECT 1 FROM users_search_paused) BEGIN
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
DROP TRIGGER users_search_update;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name, display_name, email ON users
WHEN NOT EXISTS (SELECT 1 FROM users_search_paused) BEGIN
    INSERT INTO users_search(users_search, rowid, user_name, display_name, email)
    VALUES ('delete', old.id, old.user_name, old.display_name, old.email);
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
"""

# Version 7: SCIM provisioning tokens (issue 15). A bearer token acts for one identity-provider source; only
# its SHA-256 is kept (the token is shown once). Revoked and expired rows stay for the audit trail.
V7 = """
CREATE TABLE scim_tokens (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT,
    created_by TEXT NOT NULL
);
CREATE INDEX scim_tokens_source ON scim_tokens(source);
"""

# Version 8: the live sync guard of SCIM provisioning (issue 15). A source whose identity provider deactivated
# too many users too fast is paused (its writes refused) until an admin resumes it; deactivations counted for
# the guard start again at the resume.
V8 = """
CREATE TABLE scim_sources (
    source TEXT PRIMARY KEY,
    paused_at TEXT,
    paused_reason TEXT,
    resumed_at TEXT
);
"""

# Version 9: what ``tui scim serve`` saw of each source (issue 15), for the console's Sources screen: requests
# and errors counted, the last request, the last error (its status and the detail the client was sent; never a
# token). Telemetry apart from scim_sources (an admin's pause/resume): written in coalesced batches by the
# server (store/scim_sources.py RequestTally), never audited.
V9 = """
CREATE TABLE scim_request_stats (
    source TEXT PRIMARY KEY,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    last_request_at TEXT,
    last_error_at TEXT,
    last_error_status INTEGER,
    last_error TEXT
);
"""

# Version 10: a SCIM DELETE (issue 15). The row stays for the audit trail (a user disabled, a group emptied)
# but the resource is gone for its source: 404 and never listed (RFC 7644 §3.6) from ``scim_deleted_at`` on,
# until the source creates the same name again.
V10 = """
ALTER TABLE users ADD COLUMN scim_deleted_at TEXT;
ALTER TABLE groups ADD COLUMN scim_deleted_at TEXT;
"""

# Version 11: what a SCIM source sends of a user beyond the columns (issue 15): all its emails as sent (with
# type and primary; ``email`` holds the primary, else the first) and the enterprise extension, as one JSON
# object, returned to that source as it gave them (store/scim_resources.py).
V11 = """
ALTER TABLE users ADD COLUMN scim_attributes TEXT;
"""

# Version 12: the memberships a SCIM deactivation took away (issue 15), given back when the same source
# reactivates the user. Identity providers deactivate a person without removing them from its groups and
# reactivate without sending the memberships again (they never changed for the provider), so a deactivation
# that removes access must remember what it removed. Forgotten on a DELETE, when the source removes the member
# or replaces the group's members, and with the user's or the group's row.
V12 = """
CREATE TABLE scim_suspended_memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    expires_at TEXT,
    suspended_at TEXT NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX scim_suspended_memberships_group ON scim_suspended_memberships(group_id);
"""

# Version 13: a source's users by status (issue 15). The live sync guard counts a source's active and newly
# disabled users at each deactivation, and the Sources screen counts each source's users: both read every user
# of the directory without it.
V13 = """
CREATE INDEX users_source_status ON users(source, status, updated_at);
"""

# Version 14: a bulk import sets the search triggers aside (drops them and makes them again in its
# transaction, store/search_index.py) instead of pausing them with a flag row: the flag's test in every
# trigger run cost a third of a 100,000-user insert (issue 14). The triggers as in version 2.
V14 = """
DROP TRIGGER users_search_insert;
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
DROP TRIGGER users_search_update;
CREATE TRIGGER users_search_update AFTER UPDATE OF user_name, display_name, email ON users BEGIN
    INSERT INTO users_search(users_search, rowid, user_name, display_name, email)
    VALUES ('delete', old.id, old.user_name, old.display_name, old.email);
    INSERT INTO users_search(rowid, user_name, display_name, email)
    VALUES (new.id, new.user_name, new.display_name, new.email);
END;
DROP TABLE users_search_paused;
"""

# Version 15: the admin group is named by its row id in settings, and SQLite gives a new row the largest
# id + 1: deleting the admin group when it had the largest id made the next group created (by anyone, a SCIM
# source included) the admin group, its members administrators. Deleting the group now unsets the choice in
# the same statement, whatever path deletes it; a choice left pointing at no group is unset now.
V15 = """
DELETE FROM settings WHERE key = 'admin_group'
    AND NOT EXISTS (SELECT 1 FROM groups WHERE id = CAST(settings.value AS INTEGER));
CREATE TRIGGER groups_admin_group_deleted AFTER DELETE ON groups
WHEN old.id = (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'admin_group') BEGIN
    DELETE FROM settings WHERE key = 'admin_group';
END;
"""

# Version 16: a portal sign-in keeps how it was made. Read back, its method was made up from its MFA flag
# ("password" or "password+mfa"): tui serve's key-only console (method publickey), handed to the console
# process as a token, came back as a password sign-in, and an admin-group member's SSH key alone could enrol
# their first authenticator and step up to administration. Sign-ins made before it say "unknown" (not a
# password: such a console signs in again to enrol).
V16 = """
ALTER TABLE portal_tokens ADD COLUMN method TEXT NOT NULL DEFAULT 'unknown';
"""

# Version 17: a time a file gave before the year 1000 was kept as strftime wrote it, "999-01-01T00:00:00Z"
# (its year not padded), which sorts after every four-digit year: a grant that expired in the year 999 was in
# force, and reading it back failed. Such times (expiries, a source's deletion marks) get their four digits.
V17 = "\n".join(
    f"UPDATE {table} SET {column} = substr('000' || {column}, -20) WHERE length({column}) BETWEEN 17 AND 19 "
    f"AND {column} GLOB '*-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z';"
    for table, column in (
        ("memberships", "expires_at"),
        ("assignments", "expires_at"),
        ("users", "scim_deleted_at"),
        ("groups", "scim_deleted_at"),
    )
)

# Version 18: the dashboard asks when root last changed anything (root's changes are audited under its user
# name): an index by actor, so that look stays one step however long the log grows.
V18 = """
CREATE INDEX audit_actor ON audit(actor, seq);
"""

MIGRATIONS: list[Migration] = [
    *(V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17),
    V18,
]
LATEST = len(MIGRATIONS)
