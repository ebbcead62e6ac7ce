"""A signed-in user acts only while their sign-in lasts: checked in every change's transaction, not once.

Red-team replay: a portal sign-in was checked (``tui credentials`` read the login cache, SSH ``credentials``
found a recent MFA sign-in, the console opened) and then used in a later transaction; a sign-out, a password
or MFA reset or a disable in between did not stop the credentials issued after it. The principal now names
its sign-in, and the one rights check finds it live (unrevoked, unexpired, its user active) in the change's
own transaction, as it does an identity provider's token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from store.audit import Actor
from store.demo import seed_demo, seed_demo_credentials, seed_demo_root
from store.directory import Directory
from store.portal import SignedIn
from store.rights import CredentialEnded


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seeded(open_directory: Callable[..., Directory], clock: Clock) -> Directory:
    directory = open_directory(clock=clock)
    seed_demo_root(directory)
    seed_demo(directory)
    seed_demo_credentials(directory)
    return directory


def _carol_signed_in(
    directory: Directory, *, mfa: bool = False, lifetime: timedelta | None = None
) -> SignedIn:
    """Carol's sign-in, as the sign-in screen or tui login leaves it (made by the owner's program here)."""
    carol = directory.users.get_by_name("carol")
    extra = {"lifetime": lifetime} if lifetime is not None else {}
    return directory.portal.issue_for(carol.id, client="cli", method="password", mfa=False, **extra)


def _counts(directory: Directory) -> tuple[int, int]:
    with directory.db.read() as conn:
        sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    return sessions, events


def _grant_of(directory: Directory, user_id: int) -> tuple[int, int]:
    grant = directory.assignments.for_user(user_id)[0]
    return grant.account_id, grant.permission_set_id


def _issue_carols_credentials(directory: Directory) -> object:
    carol = directory.users.get_by_name("carol")
    return directory.sessions.issue(carol.id, *_grant_of(directory, carol.id))


def test_credentials_are_not_issued_under_a_sign_in_ended_after_it_was_checked(
    seeded: Directory, open_directory: Callable[..., Directory], clock: Clock
) -> None:
    signed_in = _carol_signed_in(seeded)
    seeded.act_under(signed_in, Actor("carol", "cli"))  # checked: tui credentials read the login cache
    assert _issue_carols_credentials(seeded)  # while it lasts, credentials come

    elsewhere = open_directory(clock=clock)  # carol signs out in another terminal
    assert signed_in.token is not None and elsewhere.portal.revoke(signed_in.token, "signed out")
    before = _counts(seeded)
    with pytest.raises(CredentialEnded, match="sign-in was ended or has expired"):
        _issue_carols_credentials(seeded)
    assert _counts(seeded) == before  # no session, no audit event


def test_nothing_changes_under_a_sign_in_whose_user_was_disabled_or_that_expired(
    seeded: Directory, open_directory: Callable[..., Directory], clock: Clock
) -> None:
    carol = seeded.users.get_by_name("carol")
    seeded.act_under(_carol_signed_in(seeded), Actor("carol", "console"))
    assert _issue_carols_credentials(seeded)  # her own: allowed while the sign-in lasts

    admin = open_directory(clock=clock)
    disabled = admin.users.disable(carol.id, carol.version)
    admin.users.enable(carol.id, disabled.version)  # enabled again: that sign-in is over all the same
    with pytest.raises(CredentialEnded):
        _issue_carols_credentials(seeded)

    seeded.act_as(None, Actor("owner", "cli"))
    short = _carol_signed_in(seeded, lifetime=timedelta(minutes=5))
    seeded.act_under(short, Actor("carol", "cli"))
    assert _issue_carols_credentials(seeded)
    clock.now += timedelta(minutes=6)
    before = _counts(seeded)
    with pytest.raises(CredentialEnded):
        _issue_carols_credentials(seeded)
    assert _counts(seeded) == before


def test_acting_under_a_sign_in_binds_this_thread_only_and_gives_the_principal_back(
    seeded: Directory,
) -> None:
    """SSH `credentials` issues under the recent MFA sign-in it found, with the key's rights it has; the
    connection's other channels (other threads sharing the Directory) act as they did, and so does this one
    after the command (never with that sign-in's MFA)."""
    carol = seeded.users.get_by_name("carol")
    signed_in = _carol_signed_in(seeded)
    seeded.act_as(carol.id, Actor("carol", "ssh"))
    before = seeded.principal
    with seeded.acting_under(signed_in):
        assert seeded.principal == replace(before, sign_in_id=signed_in.sign_in_id)
        elsewhere: list[object] = []
        other = threading.Thread(target=lambda: elsewhere.append(seeded.principal))
        other.start()
        other.join()
        assert elsewhere == [before]
        assert _issue_carols_credentials(seeded)
    assert seeded.principal == before and seeded.actor == Actor("carol", "ssh")
    assert signed_in.token is not None and seeded.portal.revoke(signed_in.token)
    with pytest.raises(CredentialEnded), seeded.acting_under(signed_in):
        _issue_carols_credentials(seeded)
    assert seeded.principal == before


def test_the_cli_acts_as_the_owner_but_only_while_the_login_lasts(
    seeded: Directory, open_directory: Callable[..., Directory], clock: Clock
) -> None:
    """tui credentials: the directory's owner (SPEC's trust model), bound to the cached login it read."""
    signed_in = _carol_signed_in(seeded)
    seeded.act_as(None, Actor("carol", "cli"))
    with seeded.acting_under(signed_in):
        assert seeded.principal.owner
        assert _issue_carols_credentials(seeded)
    elsewhere = open_directory(clock=clock)
    assert signed_in.token is not None and elsewhere.portal.revoke(signed_in.token, "signed out")
    before = _counts(seeded)
    with pytest.raises(CredentialEnded), seeded.acting_under(signed_in):
        _issue_carols_credentials(seeded)
    assert _counts(seeded) == before
    assert seeded.principal.owner and seeded.principal.sign_in_id is None  # the owner again, unbound


def test_a_sign_in_binds_only_its_own_users_principal(seeded: Directory) -> None:
    """A user's principal bound to someone else's live sign-in changes nothing."""
    bob = seeded.users.get_by_name("bob")
    carols = _carol_signed_in(seeded)
    seeded.act_as(bob.id, Actor("bob", "ssh"))
    with seeded.acting_under(carols), pytest.raises(CredentialEnded):
        seeded.sessions.issue(bob.id, *_grant_of(seeded, bob.id))
    assert seeded.sessions.issue(bob.id, *_grant_of(seeded, bob.id))  # unbound again: his own, allowed


def test_a_sign_in_read_back_from_its_token_names_its_row(seeded: Directory) -> None:
    signed_in = _carol_signed_in(seeded)
    assert signed_in.token is not None and signed_in.sign_in_id is not None
    assert seeded.portal.verify(signed_in.token).sign_in_id == signed_in.sign_in_id
