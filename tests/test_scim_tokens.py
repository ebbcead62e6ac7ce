"""SCIM provisioning tokens (issue 15): shown once, stored hashed, listed without the token, revocable, and
refused with one message when unknown, expired or revoked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store.audit import Actor
from store.directory import Directory
from store.errors import Refused, ValidationError
from store.scim_tokens import INVALID


def test_create_prints_the_token_once_and_list_never_shows_it(run_tui, db_path: Path) -> None:
    created = run_tui("scim", "token", "create", "--source", "okta")
    assert created.returncode == 0, created
    bearer = created.stdout.strip().splitlines()[-1]
    assert bearer.startswith("tuiscim_") and len(bearer) >= 40
    assert "shown once" in created.stderr and bearer not in created.stderr
    assert "source okta" in created.stderr

    listed = run_tui("scim", "token", "list")
    assert listed.returncode == 0, listed
    assert "okta" in listed.stdout and "active" in listed.stdout
    as_json = run_tui("scim", "token", "list", "--json")
    (token,) = as_json.json()["tokens"]
    assert token["source"] == "okta" and token["status"] == "active" and token["last_used_at"] is None
    audit = run_tui("audit", "export")
    for text in (listed.stdout, as_json.stdout, audit.stdout, db_path.read_bytes().decode("latin-1")):
        assert bearer not in text

    with Directory.open(db_path, Actor("scim-test", "test")) as directory:
        assert directory.scim_tokens.authenticate(bearer) == "okta"
    used = run_tui("scim", "token", "list", "--json").json()["tokens"][0]
    assert used["last_used_at"] is not None


def test_revoke_makes_the_token_fail_and_is_listed(run_tui, db_path: Path) -> None:
    bearer = run_tui("scim", "token", "create", "--source", "entra").stdout.strip().splitlines()[-1]
    revoked = run_tui("scim", "token", "revoke", "1")
    assert revoked.returncode == 0, revoked
    assert "revoked SCIM token #1 of source entra" in revoked.stdout
    assert run_tui("scim", "token", "list", "--json").json()["tokens"][0]["status"] == "revoked"
    with Directory.open(db_path, Actor("scim-test", "test")) as directory:
        with pytest.raises(Refused, match="not valid"):
            directory.scim_tokens.authenticate(bearer)
    again = run_tui("scim", "token", "revoke", "1")
    assert again.returncode == 1 and "already revoked" in again.stderr
    unknown = run_tui("scim", "token", "revoke", "7")
    assert unknown.returncode == 1 and "#7 does not exist" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "bad name"], "is not a source name"),
        (["--source", " "], "source: required: the identity provider's name"),
        (["--source", "local"], "'local' names the users made in this directory"),
        (["--source", "LOCAL"], "'LOCAL' is 'local' in other letters"),
        (["--source", "okta", "--expires", "P1000D"], "outside the allowed 1 hour to 730 days"),
        (["--source", "okta", "--expires", "90 days"], "is not an ISO-8601 duration"),
    ],
)
def test_bad_input_is_one_line_and_creates_nothing(run_tui, args: list[str], message: str) -> None:
    result = run_tui("scim", "token", "create", *args)
    assert result.returncode == 1, result
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert run_tui("scim", "token", "list", "--json").json()["tokens"] == []


def test_unknown_expired_and_revoked_tokens_are_refused_alike(
    open_directory: Callable[..., Directory],
) -> None:
    moment = [datetime(2027, 1, 1, tzinfo=UTC)]
    directory = open_directory(clock=lambda: moment[0])
    short = directory.scim_tokens.create("okta", "PT2H")
    long = directory.scim_tokens.create("okta", "P90D")
    revoked = directory.scim_tokens.create("okta")
    directory.scim_tokens.revoke(revoked.token.id)
    assert short.token.expires_at == "2027-01-01T02:00:00Z"
    assert directory.scim_tokens.authenticate(short.bearer) == "okta"
    moment[0] += timedelta(hours=2)
    for bearer in (short.bearer, revoked.bearer, "tuiscim_" + "x" * 43, ""):
        with pytest.raises(Refused) as refused:
            directory.scim_tokens.authenticate(bearer)
        assert refused.value.message == INVALID
    assert directory.scim_tokens.authenticate(long.bearer) == "okta"
    now = directory.now_text()
    assert [t.status(now) for t in directory.scim_tokens.list()] == ["revoked", "active", "expired"]


def test_a_user_who_does_not_administer_cannot_create_or_revoke(directory: Directory) -> None:
    made = directory.scim_tokens.create("okta")
    carol = directory.users.create("carol")
    directory.act_as(carol.id, Actor("carol", "console"), mfa=True)
    with pytest.raises(Refused, match="only administrators"):
        directory.scim_tokens.create("okta")
    with pytest.raises(Refused, match="only administrators"):
        directory.scim_tokens.revoke(made.token.id)
    with pytest.raises(ValidationError):
        directory.scim_tokens.create("okta", "forever")
    assert len(directory.scim_tokens.list()) == 1
    # An identity provider's own principal cannot mint tokens either.
    directory.act_for_source("okta", Actor("scim:okta", "scim"))
    with pytest.raises(Refused, match="only its own users and groups"):
        directory.scim_tokens.create("okta")
