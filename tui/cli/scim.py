"""``tui scim``: SCIM 2.0 provisioning (issue 15): bearer tokens for identity providers.

    tui scim token create --source NAME [--expires P90D]   the token, once, as the last line of stdout
    tui scim token list [--json]                            metadata only: the token itself is never kept
    tui scim token revoke ID
    tui scim serve [--listen 127.0.0.1:8080] [--tls-cert F --tls-key F] [--insecure-listen]
    tui scim resume --source NAME                           after the live sync guard paused a source

Exit codes (SPEC §5): 0 done, 1 refused (unknown token, bad source or duration), 2 usage error.
Never imports textual.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import click

from store.names import quoted
from store.scim_tokens import DEFAULT_EXPIRES
from tui.cli.access import _table
from tui.cli.base import (
    ROW_ID,
    AsciiFloat,
    AsciiInt,
    CommandGroup,
    Context,
    FilePath,
    fail,
    pass_context,
    say,
)
from tui.listen import host_and_port
from tui.literal import visible
from tui.scim_limits import BODY_TIMEOUT, HEADER_TIMEOUT, MAX_CONNECTIONS


@click.group("scim", cls=CommandGroup)
def scim() -> None:
    """SCIM 2.0 provisioning: identity providers (Okta, Entra ID) push users and groups."""


@scim.group("token", cls=CommandGroup)
def token() -> None:
    """Bearer tokens: each acts for exactly one identity-provider source."""


@token.command("create")
@click.option("--source", required=True, metavar="NAME", help="The identity-provider source it acts for.")
@click.option(
    "--expires",
    default=DEFAULT_EXPIRES,
    show_default=True,
    metavar="DURATION",
    help="How long it stays valid (ISO-8601: P90D, P365D, PT12H).",
)
@pass_context
def token_create(obj: Context, source: str, expires: str) -> None:
    """Create a token; it is printed once, as the last line of stdout, and stored only as a hash."""
    new = obj.directory().scim_tokens.create(source, expires)
    click.echo(
        visible(
            f"SCIM token #{new.token.id} for source {new.token.source}, expires {new.token.expires_at}. "
            "It is shown once: give it to the identity provider now (Authorization: Bearer …)."
        ),
        err=True,
    )
    click.echo(new.bearer)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@pass_context
def token_list(obj: Context, as_json: bool) -> None:
    """Every token's source, status, expiry and last use (never the token itself)."""
    directory = obj.directory()
    now = directory.now_text()
    tokens = directory.scim_tokens.list()
    if as_json:
        click.echo(json.dumps({"tokens": [t.as_dict(now) for t in tokens]}))
        return
    if not tokens:
        click.echo("no SCIM tokens: create one with tui scim token create --source NAME")
        return
    rows = [
        [
            str(t.id),
            t.source,
            t.status(now),
            t.created_at,
            t.expires_at,
            t.last_used_at or "never",
            t.created_by,
        ]
        for t in tokens
    ]
    headers = ["ID", "SOURCE", "STATUS", "CREATED", "EXPIRES", "LAST USED", "BY"]
    for line in _table(rows, headers):
        click.echo(line)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=ROW_ID)
@pass_context
def token_revoke(obj: Context, token_id: int) -> None:
    """Revoke a token: the identity provider's next request with it is refused (401)."""
    revoked = obj.directory().scim_tokens.revoke(token_id)
    click.echo(visible(f"revoked SCIM token #{revoked.id} of source {revoked.source}"))


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_tls(cert: Path, key: Path) -> None:
    """Refuse, in one line and before listening, a private key others may read or another user owns (as
    OpenSSH refuses one) and a certificate and key that do not load as a pair."""
    import ssl

    from store.files import private_problem

    problem = private_problem(key, key.stat(), "TLS key")  # the check the database and key file pass
    if problem is not None:
        fail(visible(f"--tls-key {problem}"))
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        fail(visible(f"--tls-cert {cert} and --tls-key {key} are not a certificate and its key: {reason}"))


@scim.command("serve")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen.",
)
@click.option("--tls-cert", type=FilePath(exists=True, dir_okay=False, path_type=Path), help="TLS cert.")
@click.option("--tls-key", type=FilePath(exists=True, dir_okay=False, path_type=Path), help="TLS key.")
@click.option(
    "--insecure-listen",
    is_flag=True,
    help="Listen beyond loopback without TLS (behind a TLS-terminating reverse proxy only).",
)
@click.option(
    "--header-timeout",
    type=AsciiFloat(min=0.1, max=300),
    default=HEADER_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Close a connection whose request line and headers have not all arrived in this time.",
)
@click.option(
    "--body-timeout",
    type=AsciiFloat(min=0.1, max=3600),
    default=BODY_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Answer 408 and close a request whose body has not all arrived in this time.",
)
@click.option(
    "--max-connections",
    type=AsciiInt(min=1, max=10_000),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Open connections at most; a request beyond them is answered 503.",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="ADDRESSES",
    help="Reverse proxies (comma-separated addresses) whose X-Forwarded-For names the client in the audit "
    "log. Without it the connection's own address is named: a client could write any address there.",
)
@pass_context
def serve(
    obj: Context,
    listen: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure_listen: bool,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve SCIM 2.0 provisioning at /scim/v2 for identity providers holding a token."""
    found = host_and_port(listen)
    if found is None or found[1] == 0:  # port 0 would serve at a port the printed address does not name
        raise click.BadParameter(
            f"{quoted(listen)} is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", param_hint="--listen"
        )
    address, port = found
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert is None and not _loopback(address) and not insecure_listen:
        fail(
            f"without TLS the SCIM server listens only on loopback: bearer tokens would cross the network in "
            f"clear to {address}. Give --tls-cert and --tls-key, or put a TLS reverse proxy in front and add "
            "--insecure-listen"
        )
    if tls_cert is not None and tls_key is not None:
        _check_tls(tls_cert, tls_key)
    import uvicorn

    from tui.scim_http import timely_protocol
    from tui.scim_server import build_app

    obj.directory()  # refuses now, with the usual message, a database or key file that cannot be opened
    # Bound here, so a port in use (or an address not ours) is one line and exit 1, as tui serve says it:
    # uvicorn printed its own error and exited 3.
    try:
        listener = socket.create_server((address, port), family=_family(address), reuse_port=False)
    except OSError as exc:
        fail(f"cannot listen on {listen}: {(exc.strerror or str(exc)).split(' (while')[0]}")
    app = build_app(obj.db_path, obj.key_path, body_timeout)
    scheme = "https" if tls_cert else "http"
    say(f"SCIM 2.0 at {scheme}://{listen}/scim/v2 (Ctrl-C stops)", err=True)
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        # The C parser and event loop: the pure-Python ones cost a push of 10,000 users about a fifth more
        # time (bench/bench_scim.py, 42 s against 35 s).
        http=timely_protocol(header_timeout),  # httptools, with a deadline for a request's head
        limit_concurrency=max_connections,
        # uvicorn believes X-Forwarded-For from loopback unless told otherwise: any local client (or one
        # behind a proxy that passes the header on) then chose the address the audit log names.
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        loop="uvloop",
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[listener])


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


@scim.command("resume")
@click.option("--source", required=True, metavar="NAME", help="The paused identity-provider source.")
@pass_context
def resume(obj: Context, source: str) -> None:
    """Resume a source the live sync guard paused (too many deactivations too fast)."""
    directory = obj.directory()
    state = directory.scim_sources.state(source)
    directory.scim_sources.resume(source)
    click.echo(
        visible(
            f"resumed provisioning of source {source} (paused since {state.paused_at}: {state.paused_reason})"
        )
    )
