"""The one rights check: every change passes it, found by introspection so a new method is covered at once.

Every public method of every service on a ``Directory`` is called as a user who does not administer (a plain
user with MFA, and an admin-group member signed in without MFA), with arguments that name other people's
rows. A method that changes anything must refuse with the rights check's own message before it writes a row;
the only exceptions are listed below by name: self-service (a user's own credentials and sessions, refused on
someone else's) and authentication itself (sign-in attempts, tokens, access-key use).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from store.audit import Actor
from store.crypto import PasswordPolicy
from store.demo import seed_demo, seed_demo_credentials, seed_demo_root
from store.directory import Directory
from store.errors import Refused, StoreError

ROOT = Path(__file__).resolve().parent.parent
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJvVa7fdHwqvRzpjcKxHPZ0LIbNYeDJv4Iv4vMZPk9c"
DOCUMENT = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}'
)
ED25519_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

# A user's own credentials and sessions: allowed on their own, refused on anyone else's.
SELF_SERVICE = {
    ("credentials", "change_password"),
    ("credentials", "complete_password_change"),
    ("credentials", "begin_totp"),
    ("credentials", "confirm_totp"),
    ("credentials", "regenerate_recovery_codes"),
    ("access_keys", "create"),
    ("access_keys", "set_status"),
    ("access_keys", "activate"),
    ("access_keys", "deactivate"),
    ("access_keys", "delete"),
    ("sessions", "issue"),
    ("sessions", "revoke"),
    ("portal", "issue_for"),
}
# Authentication: the caller proves a secret (password, code, token, access key) in the same transaction.
AUTHENTICATION = {
    ("sign_in", "attempt"),
    ("sign_in", "step_up"),
    ("portal", "issue"),
    ("portal", "touch"),
    ("portal", "revoke"),
    ("access_keys", "authenticate"),
    ("scim_tokens", "authenticate"),
}
RIGHTS_MESSAGES = ("only administrators", "only when signed in with MFA")


class World:
    """A seeded directory with root, an admin group, and rows that belong to bob (not the actor)."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        seed_demo_root(directory)
        seed_demo(directory)
        seed_demo_credentials(directory)
        directory.admins.set_admin_group(directory.groups.get_by_name("Admins").id)
        users = directory.users
        self.bob = users.get_by_name("bob")
        self.carol = users.get_by_name("carol")
        self.alice = users.get_by_name("alice")
        self.group = directory.groups.get_by_name("Developers")
        grant = next(a for a in directory.assignments.list().items if a.principal_type == "group")
        self.assignment = grant
        self.permission_set = directory.permission_sets.get(grant.permission_set_id)
        self.policy = directory.policies.create("Custom", document=DOCUMENT)
        self.bob_key = directory.access_keys.create(self.bob.id).key
        self.bob_ssh = directory.ssh_keys.add(self.bob.id, ED25519)
        directory.access_keys.create(self.carol.id)
        dev_grant = directory.assignments.for_user(self.bob.id)[0]
        self.carol_session = directory.sessions.issue(
            self.carol.id, dev_grant.account_id, dev_grant.permission_set_id
        )
        self.bob_session = directory.sessions.issue(
            self.bob.id, dev_grant.account_id, dev_grant.permission_set_id
        )
        self.scim_token = directory.scim_tokens.create("okta").token

    def sample(self, service: str, method: str, name: str, subject: int) -> Any:
        """An argument named ``name``: ids name rows of ``subject`` (another user) or shared ones."""
        directory = self.directory
        samples: dict[str, Callable[[], Any]] = {
            "user_id": lambda: subject,
            "group_id": lambda: self.group.id,
            "account_id": lambda: self.assignment.account_id,
            "permission_set_id": lambda: self.assignment.permission_set_id,
            "policy_id": lambda: self.policy.id,
            "assignment_id": lambda: self.assignment.id,
            "key_row_id": lambda: self._key_of(subject),
            "key_id": lambda: self.bob_ssh.id,
            "session_id": lambda: self._session_of(subject),
            "version": lambda: 1,
            "active": lambda: False,
            "name": lambda: "intruder",
            "user_name": lambda: "intruder" if method != "attempt" else "bob",
            "prefix": lambda: "a",
            "key_text": lambda: ED25519_2,
            "document": lambda: DOCUMENT,
            "password": lambda: "a long enough passphrase 1",
            "new_password": lambda: "a long enough passphrase 2",
            "current_password": lambda: "demo-user-passphrase",
            "code": lambda: "000000",
            "secret": lambda: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "token": lambda: "not-a-token",
            "access_key_id": lambda: self.bob_key.key_id,
            "secret_access_key": lambda: "x",
            "session_token": lambda: "x",
            "action": lambda: "s3:GetObject",
            "resource": lambda: "*",
            "policy": lambda: PasswordPolicy(min_length=20),
            "expires_at": lambda: "2031-01-01T00:00:00Z",
            "fingerprint": lambda: self.bob_ssh.fingerprint,
            "verification": lambda: directory.sessions.verify("x", "x", "x"),
            "policy_names": lambda: ["ReadOnlyAccess"],
            "row_id": lambda: subject,
            "client": lambda: "console",
            "method": lambda: "password+mfa",
            "mfa": lambda: True,
            "retention": lambda: timedelta(days=1),
            "reason": lambda: "test",
            "principal_type": lambda: "user",
            "principal_id": lambda: subject,
            "conn": lambda: None,
            "user": lambda: None,
            "sign_in": lambda: None,
            "source": lambda: "okta",
            "token_id": lambda: self.scim_token.id,
            "deactivating": lambda: 1,
        }
        if name not in samples:
            pytest.fail(
                f"{service}.{method} takes {name!r}, which tests/test_rights.py has no sample for: add one "
                "so the new method is checked"
            )
        return samples[name]()

    def _key_of(self, user_id: int) -> int:
        keys = self.directory.access_keys.list(user_id)
        return keys[0].id if keys else 0

    def _session_of(self, user_id: int) -> int:
        return (self.bob_session if user_id == self.bob.id else self.carol_session).session_id


def services(directory: Directory) -> Iterator[tuple[str, Any]]:
    for name, value in vars(directory).items():
        if type(value).__name__.endswith("Service") and type(value).__module__.startswith("store."):
            yield name, value


def public_methods(service: Any) -> Iterator[tuple[str, Callable[..., Any], inspect.Signature]]:
    for name, member in inspect.getmembers(type(service), inspect.isfunction):
        if name.startswith("_") or not member.__module__.startswith("store."):
            continue
        owners = {klass.__name__ for klass in type(service).__mro__}
        if isinstance(inspect.getattr_static(type(service), name), staticmethod) or (
            member.__qualname__.split(".")[0] not in owners
        ):
            continue  # static, or another class's (from_row = Group.from_row): no directory to change
        bound = getattr(service, name)
        yield name, bound, inspect.signature(bound)


def call(
    world: World, service: str, method: str, bound: Callable[..., Any], sig: inspect.Signature, subject: int
):
    args, kwargs = [], {}
    for parameter in sig.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is not parameter.empty:
            continue
        value = world.sample(service, method, parameter.name, subject)
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return bound(*args, **kwargs)


def total_changes(directory: Directory) -> int:
    return int(directory.db.conn.total_changes)


@pytest.fixture
def world(directory: Directory) -> World:
    return World(directory)


@pytest.mark.parametrize("who", ["plain user with MFA", "admin-group member without MFA"])
def test_every_public_change_refuses_someone_who_does_not_administer(world: World, who: str) -> None:
    directory = world.directory
    actor = world.carol if who.startswith("plain") else world.alice
    directory.act_as(actor.id, Actor(actor.user_name, "console"), mfa=who.startswith("plain"))
    assert not directory.acting_is_admin
    checked: list[str] = []
    for service_name, service in services(directory):
        for method, bound, sig in public_methods(service):
            if (service_name, method) in AUTHENTICATION:
                continue
            before = total_changes(directory)
            try:
                call(world, service_name, method, bound, sig, subject=world.bob.id)
            except Refused as refused:
                assert total_changes(directory) == before, f"{service_name}.{method} wrote before refusing"
                if any(message in refused.message for message in RIGHTS_MESSAGES):
                    checked.append(f"{service_name}.{method}")
                    continue
            except Exception:  # noqa: BLE001 - any other failure is fine here, as long as nothing was written
                pass
            # Not refused by the rights check: then it must not have changed anything.
            assert total_changes(directory) == before, (
                f"{service_name}.{method} changed the directory for {who} without the rights check "
                "refusing it: it must open its transaction with Directory.change()"
            )
    # The enumeration really reached the directory's changes, self-service on bob's rows included.
    assert len(checked) >= 40, " ".join(checked)


def test_self_service_is_allowed_on_ones_own_and_refused_on_anyone_elses(world: World) -> None:
    directory = world.directory
    directory.act_as(world.carol.id, Actor("carol", "console"), mfa=True)
    listed = dict.fromkeys(SELF_SERVICE, False)
    for service_name, service in services(directory):
        for method, bound, sig in public_methods(service):
            if (service_name, method) not in SELF_SERVICE:
                continue
            listed[(service_name, method)] = True
            with pytest.raises(Refused, match="only administrators") as refused:
                call(world, service_name, method, bound, sig, subject=world.bob.id)
            assert refused.value  # on bob's: refused by the rights check
            try:
                call(world, service_name, method, bound, sig, subject=world.carol.id)
            except StoreError as exc:  # e.g. a wrong code, no key to delete: never the rights check
                assert not any(message in exc.message for message in RIGHTS_MESSAGES), (service_name, method)
    assert all(listed.values()), [name for name, found in listed.items() if not found]


def test_an_import_as_a_non_admin_is_refused_before_it_plans(world: World) -> None:
    from store.formats import read_file
    from store.importer import import_document

    directory = world.directory
    directory.act_as(world.carol.id, Actor("carol", "console"), mfa=True)
    raw = b'{"users": [{"userName": "intruder", "groups": ["Admins"]}]}'
    document = read_file(raw, "evil.json", "json").document
    before = total_changes(directory)
    for dry_run in (True, False):
        with pytest.raises(Refused, match="only administrators can import"):
            import_document(directory, document, file_name="evil.json", raw=raw, dry_run=dry_run)
    assert total_changes(directory) == before
    with pytest.raises(StoreError):
        directory.users.get_by_name("intruder")


def test_nothing_opens_a_write_transaction_but_directory_change() -> None:
    """Database.write is called in one place: Directory.change, which checks rights first."""
    offenders = []
    for path in [*ROOT.joinpath("store").rglob("*.py"), *ROOT.joinpath("tui").rglob("*.py")]:
        if path.name == "db.py" and path.parent.name == "store":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "write"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "db"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(offenders) == 1 and offenders[0].startswith("store/directory.py:"), offenders


def test_an_ssh_key_alone_cannot_enrol_an_admins_first_authenticator(directory: Directory) -> None:
    """A key-only console of an admin-group member must not turn into administration by enrolling an
    authenticator and stepping up: the first enrolment needs a sign-in that proved the password."""
    from store.crypto import totp_code

    admins = directory.groups.create("Admins")
    directory.admins.set_admin_group(admins.id)
    from store.identity import initialise, new_root_enrolment

    initialise(directory, "glass box standing by 7", new_root_enrolment())
    ivan = directory.users.create("ivan")
    directory.groups.add_member(admins.id, ivan.id)
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    code = totp_code(secret, directory.clock())
    directory.act_as(ivan.id, Actor("ivan", "ssh"), mfa=False, password=False)
    with pytest.raises(Refused, match="after signing in with their password"):
        directory.credentials.confirm_totp(ivan.id, secret, code)
    assert not directory.credentials.status(ivan.id).mfa
    directory.act_as(ivan.id, Actor("ivan", "console"), mfa=False, password=True)
    assert len(directory.credentials.confirm_totp(ivan.id, secret, code)) == 10


async def test_a_key_only_sign_in_handed_to_the_console_process_stays_key_only(directory: Directory) -> None:
    """tui serve issues a key-only console's sign-in (method publickey) and hands its token to the console
    process, which reads it back with portal.verify: the method came back as "password", and the admin-group
    member's key alone enrolled their first authenticator (then stepped up to administration)."""
    from store.crypto import totp_code
    from store.identity import initialise, new_root_enrolment
    from tui.app import TuiApp

    admins = directory.groups.create("Admins")
    directory.admins.set_admin_group(admins.id)
    initialise(directory, "glass box standing by 7", new_root_enrolment())
    ivan = directory.users.create("ivan")
    directory.groups.add_member(admins.id, ivan.id)
    issued = directory.portal.issue_for(ivan.id, client="ssh", method="publickey", mfa=False)  # tui serve
    handed = directory.portal.verify(issued.token)  # the console process (tui ssh-console --token-fd)
    assert handed.method == "publickey"
    app = TuiApp(directory, signed_in=handed, exit_on_sign_out=True)
    async with app.run_test(size=(100, 30)):
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        with pytest.raises(Refused, match="after signing in with their password"):
            directory.credentials.confirm_totp(ivan.id, secret, totp_code(secret, directory.clock()))
    assert not directory.credentials.status(ivan.id).mfa


def test_an_identity_providers_principal_imports_only_its_own_users_and_groups(world: World) -> None:
    """A provisioning principal (a SCIM token) passes the rights check only for imports of its own source:
    never another source's, never local groups or the admin group, never accounts or policies."""
    from store.formats import read_file
    from store.importer import ImportRefused, import_document

    directory = world.directory
    directory.act_for_source("okta", Actor("scim:okta", "scim"))

    def run(text: str, fmt: str = "json", **options: Any) -> Any:
        raw = text.encode()
        document = read_file(raw, f"push.{fmt}", fmt).document
        return import_document(directory, document, file_name="push", raw=raw, source="okta", **options)

    result = run(
        '{"users": [{"userName": "olive"}], "groups": [{"displayName": "okta-eng", "members": ["olive"]}]}'
    )
    assert result.applied and directory.users.get_by_name("olive").source == "okta"
    with pytest.raises(Refused, match="only its own groups"):
        run('{"users": [{"userName": "olive", "groups": ["Developers"]}]}')  # a local group
    with pytest.raises(Refused, match="only its own groups"):
        run('{"users": [{"userName": "olive", "groups": ["Admins"]}]}', allow_admin_changes=True)
    with pytest.raises(Refused, match="users and groups only"):
        run('{"accounts": [{"name": "evil"}]}')
    raw = b'{"users": [{"userName": "mo"}]}'
    with pytest.raises(Refused, match="can change only its own"):
        import_document(
            directory, read_file(raw, "x.json", "json").document, file_name="x", raw=raw, source="entra"
        )
    with pytest.raises(Refused, match="can change only its own"):
        directory.users.create("direct")
    with pytest.raises((Refused, ImportRefused)):
        run('{"users": [{"userName": "bob"}]}')  # a local user's name is never taken over
    assert directory.users.get_by_name("bob").source == "local"


def test_an_mfa_sign_in_is_issued_only_on_a_second_factor_the_store_saw(world: World) -> None:
    """``portal.issue_for(mfa=True)`` ran under the self-service rule alone: a signed-in user's own code path
    could mint itself an MFA sign-in, and with it administration. The store now wants the step-up's proof."""
    directory = world.directory
    directory.act_as(world.carol.id, Actor("carol", "console"), mfa=False)
    with pytest.raises(Refused, match="second factor checked first"):
        directory.portal.issue_for(world.carol.id, client="ssh", method="publickey+totp", mfa=True)
    with pytest.raises(Refused, match="only administrators"):  # someone else's: the rights check says so
        directory.portal.issue_for(world.bob.id, client="ssh", method="publickey+totp", mfa=True)
    plain = directory.portal.issue_for(world.carol.id, client="ssh", method="publickey", mfa=False)
    assert not plain.mfa


def test_a_sign_in_made_before_sign_ins_kept_their_method_is_not_a_password_one(db_path) -> None:
    """Version 16 keeps how a portal sign-in was made; one made before it reads back "unknown", not as a
    password sign-in (it might have been a key's)."""
    import sqlite3

    from store import schema
    from store.crypto.tokens import hash_secret, new_portal_token
    from store.db import Database

    Database(db_path, migrate_to=schema.MIGRATIONS.index(schema.V16)).close()  # version 15
    token = new_portal_token()
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO users (id, user_name, user_name_key, created_at, updated_at) "
        "VALUES (5, 'ivan', 'ivan', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
    )
    raw.execute(
        "INSERT INTO portal_tokens (user_id, token_hash, mfa, created_at, expires_at, client) "
        "VALUES (5, ?, 0, '2026-01-01T00:00:00Z', '2999-01-01T00:00:00Z', 'ssh')",
        (hash_secret(token),),
    )
    raw.commit()
    raw.close()
    with Directory.open(db_path, Actor("owner", "test")) as upgraded:
        assert upgraded.portal.verify(token).method == "unknown"
