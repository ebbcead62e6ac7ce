"""The Sources screen: the identity providers that provision users (issue 15).

Each source the directory knows of (a SCIM token, a pause, requests seen by ``tui scim serve``, or users and
groups imported from it): its users and groups, the requests and errors ``tui scim serve`` counted, the last
request and the last error, and whether the live sync guard paused it. Below, the selected source's tokens.
``n`` creates a token (shown once, in a dialog, never again), ``d`` revokes the token highlighted below,
``u`` resumes a paused source. Every store call runs in a worker; the rights check is the store's.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from store.scim_sources import SourceOverview
from store.scim_tokens import DEFAULT_EXPIRES, NewScimToken, ScimToken
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.screens.credentials import SecretsModal
from tui.screens.form import FormField, FormModal
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.workers import background

EMPTY = (
    "No identity provider yet. n creates a SCIM token for one (Okta, Entra ID…); then run tui scim serve "
    "and give the identity provider its URL and the token."
)


def when(value: str | None) -> str:
    """A stored UTC time, shorter: ``2026-12-04 09:41:07``; ``—`` for never."""
    return value.replace("T", " ").removesuffix("Z") if value else "—"


class SourcesScreen(DirectoryScreen):
    nav_name = "sources"

    BINDINGS = [
        Binding("n", "new_token", "New token"),
        Binding("d", "revoke_token", "Revoke token"),
        Binding("u", "resume", "Resume source"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "back", "Back", show=False),
    ]

    CSS = """
    SourcesScreen #sources { height: auto; max-height: 10; margin-top: 1; }
    SourcesScreen #tokens { height: auto; max-height: 8; }
    SourcesScreen #source-detail { height: auto; margin-top: 1; }
    SourcesScreen #tokens-title { margin-top: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[SourceOverview] = []
        self.now = ""

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="list-body"):
            yield Static("Sources", id="list-title", classes="list-title")
            yield DataTable(id="sources", cursor_type="row", zebra_stripes=True)
            yield Static("", id="source-detail")
            yield Static("Tokens", id="tokens-title", classes="section-title")
            yield DataTable(id="tokens", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#sources", DataTable).add_columns(
            "Source", "State", "Users", "Groups", "Requests", "Errors", "Last request (UTC)"
        )
        self.query_one("#tokens", DataTable).add_columns(
            "Token", "Status", "Created", "Expires", "Last used", "Revoked", "Created by"
        )
        self.query_one("#sources", DataTable).focus()
        self.reload()

    def home_widget(self) -> Widget | None:
        return self.query_one("#sources", DataTable)

    # -- loading ----------------------------------------------------------------------------------------

    def reload(self) -> None:
        self._load()

    def action_refresh(self) -> None:
        self.reload()
        self.notify("Refreshed", timeout=1.5)

    @background(group="sources", exclusive=True)
    def _load(self) -> None:
        sources = self.directory.scim_sources.overview()
        self.app.call_from_thread(self._show, sources, self.directory.now_text())

    def _show(self, sources: list[SourceOverview], now: str) -> None:
        self.sources = sources
        self.now = now
        table = self.query_one("#sources", DataTable)
        keep = self.selected_source()
        table.clear()
        for source in sources:
            state = literal("paused", "bold red") if source.paused else literal("active")
            table.add_row(
                literal(source.source),
                state,
                # "12 (3 active)" only when some are disabled: at 80 columns every cell counts.
                literal(
                    f"{source.users:,}"
                    + (f" ({source.active_users:,} active)" if source.active_users != source.users else "")
                ),
                literal(f"{source.groups:,}"),
                literal(f"{source.requests:,}"),
                literal(f"{source.errors:,}", "bold" if source.errors else ""),
                literal(when(source.last_request_at)),
                key=source.source,
            )
        names = [source.source for source in sources]
        if keep is not None and keep.source in names:
            table.move_cursor(row=names.index(keep.source))
        paused = sum(source.paused for source in sources)
        count = f"{len(sources)} source{'s' if len(sources) != 1 else ''}"
        note = f"  ·  {paused} paused" if paused else ""
        self.query_one("#list-title", Static).update(literal(f"Sources  ·  {count}{note}"))
        self._show_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "sources":
            self._show_selected()

    def selected_source(self) -> SourceOverview | None:
        table = self.query_one("#sources", DataTable)
        if not self.sources or table.row_count == 0:
            return None
        return self.sources[min(max(table.cursor_row, 0), len(self.sources) - 1)]

    def selected_token(self) -> ScimToken | None:
        source = self.selected_source()
        table = self.query_one("#tokens", DataTable)
        if source is None or not source.tokens or table.row_count == 0:
            return None
        return source.tokens[min(max(table.cursor_row, 0), len(source.tokens) - 1)]

    def _show_selected(self) -> None:
        source = self.selected_source()
        detail = self.query_one("#source-detail", Static)
        tokens = self.query_one("#tokens", DataTable)
        keep = self.selected_token()
        tokens.clear()
        if source is None:
            detail.update(literal(EMPTY))
            self.query_one("#tokens-title", Static).update("Tokens")
            return
        lines = []
        if source.paused:
            lines.append(
                literal(
                    f"Paused since {when(source.paused_at)}: {source.paused_reason}. u resumes it.", "bold"
                )
            )
        if source.last_error is not None:
            error = source.last_error
            lines.append(literal(f"Last error {when(error.at)}: {error.status} {error.detail}"))
        elif source.requests:
            lines.append(literal("No error since tui scim serve started counting.", "dim"))
        if not lines:
            lines.append(literal("No request from this source yet.", "dim"))
        detail.update(Text("\n").join(lines))
        title = literal("Tokens of ")
        title.append_text(literal(source.source))
        self.query_one("#tokens-title", Static).update(title)
        for token in source.tokens:
            status = token.status(self.now)
            tokens.add_row(
                literal(f"#{token.id}"),
                literal(status, "bold" if status == "active" else "dim"),
                literal(when(token.created_at)),
                literal(when(token.expires_at)),
                literal(when(token.last_used_at)),
                literal(when(token.revoked_at)),
                literal(token.created_by),
                key=str(token.id),
            )
        if not source.tokens:
            tokens.add_row(literal("none: n creates one", "dim"), "", "", "", "", "", "")
        elif keep is not None and keep in source.tokens:
            tokens.move_cursor(row=source.tokens.index(keep))

    # -- actions ----------------------------------------------------------------------------------------

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_new_token(self) -> None:
        selected = self.selected_source()
        tokens = self.directory.scim_tokens

        def save(values: dict[str, str], version: int | None) -> NewScimToken:
            return tokens.create(values["source"].strip(), values["expires"].strip() or DEFAULT_EXPIRES)

        form = FormModal(
            "New SCIM token",
            [
                FormField(
                    "source",
                    "Source",
                    selected.source if selected is not None else "",
                    placeholder="okta (letters, digits, . _ -)",
                ),
                FormField("expires", "Expires after", placeholder=f"{DEFAULT_EXPIRES} (ISO-8601: P30D, P1Y)"),
            ],
            save,
        )

        def created(new: NewScimToken | None) -> None:
            if new is not None:
                self._show_bearer(new)

        self.app.push_screen(form, created)

    def _show_bearer(self, new: NewScimToken) -> None:
        token = new.token
        self.app.push_screen(
            SecretsModal(
                f"New SCIM token #{token.id} for {token.source}",
                [new.bearer, "", f"Expires {when(token.expires_at)} UTC"],
                "Paste it now into the identity provider's provisioning settings (Secret Token, API token) "
                "with the URL of tui scim serve. It is shown only now and stored only as a hash: lost, it "
                "cannot be recovered; create another and revoke this one.",
                saved="I have saved it",
            ),
            lambda _: self.reload(),
        )

    def action_revoke_token(self) -> None:
        token = self.selected_token()
        if token is None:
            self.notify(
                "No token selected: the tokens of the selected source are listed below", severity="warning"
            )
            return
        if token.revoked_at is not None:
            self.notify(f"Token #{token.id} is already revoked", severity="warning")
            return
        tokens = self.directory.scim_tokens
        self.confirm_then(
            f"Revoke token #{token.id} of {token.source}?",
            "The identity provider's next request with it is refused (401): provisioning from it stops "
            "until it is given a new token.",
            lambda: tokens.revoke(token.id),
            f"Revoked token #{token.id}",
            confirm_label="Revoke",
        )

    def action_resume(self) -> None:
        source = self.selected_source()
        if source is None:
            self.notify("No source selected", severity="warning")
            return
        if not source.paused:
            self.notify(f"{source.source} is not paused", severity="warning", markup=False)
            return
        sources = self.directory.scim_sources
        self.confirm_then(
            f"Resume provisioning from {source.source}?",
            f"Paused since {when(source.paused_at)}: {source.paused_reason}.\n\nIts identity provider's "
            "changes are applied again, deactivations included; the guard counts from now.",
            lambda: sources.resume(source.source),
            f"Resumed {source.source}",
            confirm_label="Resume",
        )
