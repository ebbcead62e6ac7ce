"""The keys a screen offers, in the order people look for them: shared by the help screen and the palette."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen

# Scrolling sideways means nothing in our tables; Textual's scroll containers bind it anyway.
UNLISTED_ACTIONS = {"scroll_left", "scroll_right", "page_left", "page_right"}

# What each action does, in a line: the help screen's third column and the palette's second line.
EXPLAIN = {
    "filter": "show only the rows whose name or text holds what you type",
    "new": "create one (a form; ctrl+s saves, esc cancels)",
    "edit": "change the selected row (a form; a concurrent change is detected)",
    "delete": "delete the selected row, after a confirmation",
    "disable": "stop the selected one from being used (it stays, and can be enabled again)",
    "enable": "let the selected one be used again",
    "activate": "open the selected row",
    "admin_group": "make the selected group the one whose members administer the directory",
    "copy": "start a new policy from the selected one",
    "revoke": "end the selected (or marked) sessions now",
    "mark": "mark the row for an action on many",
    "toggle_all": "show every session, or only the active ones",
    "add_group": "add this user to a group, optionally until a date",
    "remove_group": "take this user out of the selected group",
    "sessions": "this user's temporary credentials",
    "credentials": "this user's password, authenticator, recovery codes and access keys",
    "set_password": "give the user a password (they choose a new one at their next sign-in)",
    "remove_password": "remove the password: no sign-in with it, current sign-ins end",
    "enrol_totp": "pair an authenticator app (shows a QR code and recovery codes)",
    "reset_totp": "remove the authenticator: the user enrols a new one",
    "recovery_codes": "new single-use recovery codes (the old ones stop working)",
    "new_key": "a new access key and secret for the CLI (the secret is shown once)",
    "toggle_key": "activate or deactivate the selected access key",
    "delete_key": "delete the selected access key",
    "rotate": "the next step of replacing the user's access keys",
    "get_credentials": "temporary credentials for the selected role, as export lines",
    "my_credentials": "your own password, authenticator and access keys",
    "open_import": "import users and groups from a file: plan first, then apply",
    "plan": "a dry run: what importing the file would change",
    "apply": "write what the plan shows",
    "simulate": "decide the request and show the statements that decide it",
    "switch_kind": "simulate for a user in an account, or for a permission set alone",
    "save": "save (edits that change access show who gains or loses what first)",
    "goto_error": "move the cursor to the line of the first problem",
    "insert_example": "put an example policy in the empty policy text, to start from",
    "select_all": "select the whole policy text (typing replaces it)",
    "clear": "empty the policy text (ctrl+z brings it back)",
    "refresh": "fetch again what the screen shows",
    "back": "leave a field; then back to the screen before",
    "sign_out": "end this sign-in",
    "new_token": "a SCIM bearer token for an identity provider's source (shown once, stored as a hash)",
    "revoke_token": "stop the selected SCIM token: its identity provider's next request is refused",
    "resume": "let a source the sync guard paused provision again (its deactivations included)",
    "help": "this list",
}


def screen_actions(app: App[Any], screen: Screen[Any]) -> list[tuple[str, str, str, DOMNode, bool]]:
    """(key, description, action, node, enabled) for every described binding: the screen's own first,
    then its widgets', then the app's; each action once."""
    rows: list[tuple[int, str, str, str, DOMNode, bool]] = []
    seen: set[str] = set()
    for _key, (node, binding, enabled, _tooltip) in screen.active_bindings.items():
        if not binding.description or binding.action in seen or binding.action in UNLISTED_ACTIONS:
            continue
        seen.add(binding.action)
        rank = 0 if node is screen else 2 if isinstance(node, App) else 1
        rows.append((rank, app.get_key_display(binding), binding.description, binding.action, node, enabled))
    rows.sort(key=lambda row: row[0])
    return [row[1:] for row in rows]
