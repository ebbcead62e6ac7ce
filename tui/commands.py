"""Every action of the console by name, wherever it lives: what the command palette offers from any screen.

The keys of a screen are its bindings; the palette also offers the actions of the other screens ("Set
password", "Enrol authenticator", "Enable user") and takes the person there: a section's action runs in that
section, a user's action (credentials, groups, sessions) runs for the user selected where the palette was
opened (the Users list, a user, a group's members), and one that needs a row chosen first says which key to
press there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen

from tui.bindings import EXPLAIN, UNLISTED_ACTIONS, screen_actions

if TYPE_CHECKING:
    from tui.app import TuiApp

# Not offered by name: moving about, and keys that only make sense with the screen in front of you.
UNOFFERED = UNLISTED_ACTIONS | {"back", "refresh", "mark", "activate", "cancel"}
UNOFFERED |= {"sources"}  # the dashboard's way to a paused source: "Go to Sources" says it for every screen
UNOFFERED |= {"app.audit_log"}  # the app offers "Audit log (events)" from every screen
# One-word actions that need the place's noun to say what they act on ("Delete" → "Delete group").
GENERIC_VERBS = {"New", "Edit", "Delete", "Disable", "Enable", "Copy", "Revoke", "Filter"}
# Actions that act on the row under the cursor: from elsewhere the palette takes you there and says the key.
ROW_ACTIONS = {"edit", "delete", "disable", "enable", "admin_group", "copy", "revoke", "toggle_key"}
ROW_ACTIONS |= {"get_credentials", "revoke_token", "resume"}
# A user's actions on a row of their own (a group, an access key): the user's screen opens, the row is theirs.
SUB_ROW_ACTIONS = {"remove_group", "toggle_key", "delete_key"}


@dataclass(frozen=True)
class Place:
    screen: type[Screen[Any]]
    noun: str  # added to one-word actions: "Enable" → "Enable user"
    plural: str
    where: str  # how the palette names the place: "Users", "a user's credentials"
    mode: str | None  # the section; None: a user's screen, opened for a selected user


def places() -> list[Place]:
    """Every screen with actions of its own (imported here: the screens import nothing of this module)."""
    from tui.screens.accounts import AccountsScreen
    from tui.screens.assignments import AssignmentsScreen
    from tui.screens.credentials import CredentialsScreen
    from tui.screens.dashboard import DashboardScreen
    from tui.screens.groups import GroupsScreen
    from tui.screens.my_access import MyAccessScreen
    from tui.screens.permission_sets import PermissionSetsScreen
    from tui.screens.policies import PoliciesScreen
    from tui.screens.sessions import SessionsScreen
    from tui.screens.simulator import SimulatorScreen
    from tui.screens.sources import SourcesScreen
    from tui.screens.user_detail import UserDetailScreen
    from tui.screens.users import UsersScreen

    return [
        Place(DashboardScreen, "", "", "Dashboard", "dashboard"),
        Place(UsersScreen, "user", "users", "Users", "users"),
        Place(UserDetailScreen, "user", "users", "a user", None),
        Place(CredentialsScreen, "", "", "a user's credentials", None),
        Place(GroupsScreen, "group", "groups", "Groups", "groups"),
        Place(AccountsScreen, "account", "accounts", "Accounts", "accounts"),
        Place(
            PermissionSetsScreen, "permission set", "permission sets", "Permission sets", "permission_sets"
        ),
        Place(AssignmentsScreen, "assignment", "assignments", "Assignments", "assignments"),
        Place(PoliciesScreen, "policy", "policies", "Policies", "policies"),
        Place(SessionsScreen, "session", "sessions", "Sessions", "sessions"),
        Place(SimulatorScreen, "", "", "Simulator", "simulator"),
        Place(MyAccessScreen, "", "", "My access", "my_access"),
        Place(SourcesScreen, "", "", "Sources", "sources"),
    ]


def title(description: str, place: Place | None) -> str:
    """The name the palette shows: one-word actions get the place's noun ("New" → "New user")."""
    if place is None or not place.noun or description not in GENERIC_VERBS:
        return description
    if description == "Filter":
        return f"Filter {place.plural}"
    return f"{description} {place.noun}"


def explain(action: str, key: str, where: str = "") -> str:
    """The palette's second line: where and by which key, then what it does."""
    head = f"key {key}" + (f" in {where}" if where else "")
    what = EXPLAIN.get(action.removeprefix("app."), "")
    return f"{head} · {what}" if what else head


def place_of(screen: Screen[Any], all_places: list[Place]) -> Place | None:
    return next((place for place in all_places if type(screen) is place.screen), None)


def selected_user(screen: Screen[Any]) -> int | None:
    """The user the screen is about or has selected (Users list, a user, credentials, a group's members)."""
    from tui.screens.credentials import CredentialsScreen
    from tui.screens.groups import GroupMembersScreen
    from tui.screens.user_detail import UserDetailScreen
    from tui.screens.users import UsersScreen

    if isinstance(screen, (UserDetailScreen, CredentialsScreen)):
        return screen.user_id
    if isinstance(screen, (UsersScreen, GroupMembersScreen)):
        item = screen.table.current
        if item is not None:
            return int(item.id if isinstance(screen, UsersScreen) else item.user_id)
    return None


def commands(app: TuiApp, screen: Screen[Any]) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """(name, help, run) for the current screen's keys, then every other screen's actions."""
    all_places = places()
    here = place_of(screen, all_places)
    offered: set[str] = set()
    for key, description, action, node, enabled in screen_actions(app, screen):
        if (
            not enabled
            or action.startswith(("switch_mode", "screen.", "app.focus"))
            or action in UNOFFERED
            or action == "help"
        ):
            continue
        name = title(description, here)
        offered.add(name)
        yield name, explain(action, key), functools.partial(app.run_action, action, node)
    for place in all_places:
        if place is here or (not app.is_admin and place.mode != "my_access"):
            continue
        seen: set[str] = set()
        for binding in place.screen._merge_bindings().key_to_bindings.values():
            for entry in binding:
                action = entry.action
                if (
                    not entry.description
                    or action in UNOFFERED
                    or action in seen
                    or action.startswith(("app.focus", "screen."))
                ):
                    continue
                seen.add(action)
                name = title(entry.description, place)
                if name in offered:
                    continue
                offered.add(name)
                key = app.get_key_display(entry)
                yield (
                    name,
                    explain(action, key, place.where),
                    functools.partial(go_and_run, app, place, action, name, key),
                )


async def go_and_run(app: TuiApp, place: Place, action: str, name: str, key: str) -> None:
    """Take the person to ``place`` and run ``action`` there (or say which row to pick and which key)."""
    if action.startswith("app."):
        await app.run_action(action)
        return
    if place.mode is None:  # a user's screen: for the user selected here
        user_id = selected_user(app.screen)
        if user_id is None:
            app.switch_mode("users")
            app.notify(f"{name}: pick a user first (enter opens one), then press {key} there.", timeout=6)
            return
        # A user's place (mode None) holds a screen class that takes the user's id.
        target = cast(Callable[[int], Screen[Any]], place.screen)(user_id)
        app.push_screen(target)
        if action in SUB_ROW_ACTIONS:
            app.notify(f"{name}: select the row, then press {key}.", timeout=6)
            return
    else:
        if action in ROW_ACTIONS:
            app.switch_mode(place.mode)
            app.notify(f"{name}: select the {place.noun or 'row'}, then press {key}.", timeout=6)
            return
        app.switch_mode(place.mode)
        target = None
    app.call_after_refresh(_run_on_screen, app, place, action, target)


async def _run_on_screen(app: TuiApp, place: Place, action: str, target: Screen[Any] | None) -> None:
    screen = target or app.screen
    if isinstance(screen, place.screen):
        await app.run_action(action, screen)
