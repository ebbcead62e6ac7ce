"""``--listen HOST:PORT``, read one way by both servers: tui serve (SSH) and tui scim serve (HTTP)."""

from __future__ import annotations


def host_and_port(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → (host, without brackets; port), or None when ``text`` is not one.
    The port is ASCII digits ("２２２２" is a digit to str.isdigit) up to 65535; a bare IPv6 address's
    colons cannot be told from the port's, so it goes in brackets."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    if (
        not host
        or "[" in host
        or "]" in host
        or (":" in host and not text.startswith("["))
        or not (port_text.isascii() and port_text.isdigit())
        or int(port_text) > 65535
    ):
        return None
    return host, int(port_text)
