"""A user's effective access, with the path that grants each permission set and why a path no longer applies.

Mount it on any screen of the console (the app must have ``.directory``, as ``TuiApp`` does)::

    yield EffectiveAccess(user_id, id="user-access")        # in compose()
    self.query_one(EffectiveAccess).reload()                 # after a change (e.g. in the screen's reload())
    self.query_one(EffectiveAccess).show_user(other_id)      # show someone else

Rows: account · permission set · granted by ("direct" or "group X") · until ("never", a time, or why it does
not apply: "not applying: membership in group Ops expired 2026-01-01"). Paths that apply come first. Loading
runs in a worker; :class:`EffectiveAccess.Loaded` is posted when the rows are on screen.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from store.access import EffectiveAccess as Access
from store.access import Grant, effective_access, moment
from store.errors import StoreError
from tui.literal import literal
from tui.workers import background


class EffectiveAccess(Vertical):
    """What a user can reach: the table of paths and a one-line summary above it."""

    DEFAULT_CSS = """
    EffectiveAccess { height: auto; }
    EffectiveAccess > .effective-access--summary { height: auto; color: $text-muted; }
    EffectiveAccess > DataTable { height: auto; max-height: 12; }
    """

    class Loaded(Message):
        """The access of ``access.user_name`` is on screen."""

        def __init__(self, widget: EffectiveAccess, access: Access) -> None:
            super().__init__()
            self.widget = widget
            self.access = access

        @property
        def control(self) -> EffectiveAccess:
            return self.widget

    def __init__(
        self,
        user_id: int | None = None,
        *,
        account_id: int | None = None,
        show_inactive: bool = True,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.user_id = user_id
        self.account_id = account_id
        self.show_inactive = show_inactive
        self.access: Access | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="effective-access--summary")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    def on_mount(self) -> None:
        self.table.add_columns("Account", "Permission set", "Granted by", "Until / why not")
        if self.user_id is not None:
            self.reload()

    def show_user(self, user_id: int, account_id: int | None = None) -> None:
        self.user_id, self.account_id = user_id, account_id
        self.reload()

    def reload(self) -> None:
        if self.user_id is not None:
            self._load(self.user_id, self.account_id)

    @background(group="effective-access", exclusive=True)
    def _load(self, user_id: int, account_id: int | None) -> None:
        directory = self.app.directory  # type: ignore[attr-defined]  # shown only inside TuiApp
        try:
            access = effective_access(directory, user_id, account_id=account_id)
        except StoreError as exc:
            self.app.call_from_thread(self._failed, exc.message)
            return
        self.app.call_from_thread(self._fill, access)

    def _failed(self, message: str) -> None:
        self.access = None
        self.table.clear()
        self.query_one(".effective-access--summary", Static).update(literal(message, "bold"))

    def _fill(self, access: Access) -> None:
        self.access = access
        table = self.table
        table.clear()
        for grant in access.applying:
            table.add_row(
                literal(grant.account_name),
                literal(grant.permission_set_name),
                literal(grant.granted_by),
                literal(_until(grant)),
            )
        if self.show_inactive:
            for grant in access.not_applying:
                table.add_row(
                    literal(grant.account_name, "dim"),
                    literal(grant.permission_set_name, "dim"),
                    literal(grant.granted_by, "dim"),
                    literal(f"not applying: {grant.why_not}", "red"),
                )
        self.query_one(".effective-access--summary", Static).update(_summary(access))
        self.post_message(self.Loaded(self, access))

    def rows(self) -> list[tuple[str, ...]]:
        """What the table shows, as plain text (for tests and the command palette)."""
        return [tuple(str(cell) for cell in self.table.get_row_at(i)) for i in range(self.table.row_count)]


def _until(grant: Grant) -> str:
    return "never" if grant.expires_at is None else moment(grant.expires_at)


def _summary(access: Access) -> Text:
    if access.is_root:
        return literal("root is the directory's root identity: it holds no assignments")
    sets = len({grant.permission_set_id for grant in access.applying})
    accounts = len({grant.account_id for grant in access.applying})
    text = literal(
        f"{sets} permission set{'s' if sets != 1 else ''} in {accounts} account{'s' if accounts != 1 else ''}"
    )
    if access.user_status != "active":
        text.append("  ·  user disabled: nothing applies", style="bold red")
    elif access.not_applying:
        count = len(access.not_applying)
        text.append(
            f"  ·  {count} path{'s' if count != 1 else ''} no longer appl{'y' if count != 1 else 'ies'}"
        )
    return text
