"""What ``tui scim serve`` allows a client, by default (each an option of the command): light enough for the
CLI to read without loading the server."""

from __future__ import annotations

# A request line and headers take milliseconds, over a slow link a second or two: a client still sending them
# after this holds a connection on purpose (slowloris; tui/scim_http.py).
HEADER_TIMEOUT = 10.0
# A body is 1 MiB at most: in 60 s that is 17 KB/s, slower than any identity provider sends.
BODY_TIMEOUT = 60.0
MAX_CONNECTIONS = 100  # beyond them uvicorn answers 503: what a slow or hostile client can hold at most
