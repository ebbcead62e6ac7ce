"""The Permission sets screen, and the permission-set editor: name, description, session duration, an inline
policy and a permissions boundary that validate as you type, managed policies picked from the library. Saving
an edit first shows its blast radius (who gains or loses which actions where) and asks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.strip import Strip
from textual.widgets import Input, SelectionList, Static, TabbedContent, TabPane, Tabs
from textual.widgets.option_list import OptionDoesNotExist
from textual.widgets.selection_list import Selection

from store import names
from store.blast_radius import BlastRadius, permission_set_change, permission_set_removal
from store.durations import DEFAULT_SECONDS, format_duration, parse_duration
from store.errors import StoreError
from store.permission_sets import PermissionSet
from store.policies import Policy
from store.service import Page
from tui.literal import literal
from tui.screens.base import ListScreen, on_current_row
from tui.screens.policy_editor import (
    EDITOR_CSS,
    BlastRadiusModal,
    EditorScreen,
    PolicyEditor,
    labelled,
)
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.paged_table import Column
from tui.widgets.text_fields import TextInput
from tui.workers import background

# Whole at 80 columns (62 cells of input): the limits were cut off at "seconds (15".
SESSION_HINT = f"empty: default {format_duration(DEFAULT_SECONDS)} · PT8H, PT1H30M or seconds · 15 min…36 h"
# The store's field names (ValidationError.field) → the tab holding the widget.
TAB_OF = {
    "inlinePolicy": "tab-inline",
    "managedPolicies": "tab-managed",
    "permissionsBoundary": "tab-boundary",
}


def permission_set_values(pset: PermissionSet | None) -> dict[str, Any]:
    if pset is None:
        return {
            "name": "",
            "description": "",
            # Empty: the default (a real "PT1H" here read as a hint and was typed onto).
            "sessionDuration": "",
            "managedPolicies": [],
            "inlinePolicy": "",  # the example is behind a key, never saved unasked
            "permissionsBoundary": "",
        }
    return {
        "name": pset.name,
        "description": pset.description,
        "sessionDuration": pset.session_duration_iso,
        "managedPolicies": list(pset.managed_policies),
        "inlinePolicy": pset.inline_policy or "",
        "permissionsBoundary": pset.boundary_policy or "",
    }


def session_duration(values: dict[str, Any]) -> str | int:
    """The duration typed, or the default when the field was left empty (as its placeholder says)."""
    return values["sessionDuration"].strip() or DEFAULT_SECONDS


def describe_permission_set(item: Any) -> str:
    if not isinstance(item, PermissionSet):
        return ""
    managed = ", ".join(item.managed_policies) or "no managed policies"
    return (
        f"Saved now: {item.name}  ·  session {item.session_duration_iso}  ·  {managed}  ·  "
        f"{item.description or '—'}  (version {item.version})"
    )


class TickList(SelectionList[str]):
    """A SelectionList whose boxes read ``[x]`` and ``[ ]``: Textual draws ``▐X▌`` for both, ticked or not,
    told apart only by colour (invisible in a plain terminal)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        segments = list(strip)
        if len(segments) < 4:
            return strip
        mark = "[x]" if selection.value in self._selected else "[ ]"
        return Strip([Segment(mark, segments[1].style), *segments[3:]])


class PermissionSetEditorScreen(EditorScreen):
    """Create (``pset`` None) or edit a permission set."""

    nav_name = "permission_sets"
    BINDINGS = [
        Binding("f2", "tab('tab-inline')", "Inline policy"),
        Binding("f3", "tab('tab-managed')", "Managed"),
        Binding("f4", "tab('tab-boundary')", "Boundary"),
    ]
    DEFAULT_CSS = (
        EDITOR_CSS
        + """
    PermissionSetEditorScreen TabbedContent { height: 1fr; margin-top: 1; }
    PermissionSetEditorScreen TabPane { padding: 0; height: 1fr; }
    PermissionSetEditorScreen TabbedContent > ContentSwitcher { height: 1fr; }
    PermissionSetEditorScreen SelectionList { height: 1fr; border: none; }
    /* What is attached, whole: at 80 columns it wrapped onto a second line that a one-line hint cut off. */
    PermissionSetEditorScreen #managed-help { height: auto; max-height: 4; }
    """
    )

    def __init__(self, pset: PermissionSet | None) -> None:
        super().__init__()
        self.pset = pset
        self.version = pset.version if pset else None
        self._start = permission_set_values(pset)
        self._managed: list[str] = list(self._start["managedPolicies"])  # until the library has loaded
        self._library: list[Policy] | None = None

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="editor-body"):
            title = "New permission set" if self.pset is None else f"Edit permission set {self.pset.name}"
            yield Static(literal(title), classes="editor-title")
            yield from labelled(
                "Name",
                TextInput(
                    self._start["name"],
                    id="field-name",
                    select_on_focus=False,
                    placeholder="ReadOnly (letters, digits, + = , . @ - _)",
                ),
            )
            yield from labelled(
                "Description",
                TextInput(self._start["description"], id="field-description", select_on_focus=False),
            )
            yield from labelled(
                "Session",
                TextInput(
                    self._start["sessionDuration"],
                    id="field-sessionDuration",
                    select_on_focus=False,
                    placeholder=SESSION_HINT,
                ),
            )
            with TabbedContent(initial="tab-inline"):
                with TabPane("Inline policy  f2", id="tab-inline"):
                    yield PolicyEditor(
                        self._start["inlinePolicy"],
                        id="field-inlinePolicy",
                        empty_text="empty: no inline policy",
                    )
                with TabPane("Managed policies  f3", id="tab-managed"):
                    yield Static(
                        "space attaches or detaches the highlighted policy",
                        id="managed-help",
                        classes="editor-help",
                    )
                    yield TickList(id="field-managedPolicies")
                with TabPane("Boundary  f4", id="tab-boundary"):
                    yield Static(
                        "Optional: the most this set may grant, whatever its policies allow.",
                        classes="editor-help",
                    )
                    yield PolicyEditor(
                        self._start["permissionsBoundary"],
                        id="field-permissionsBoundary",
                        empty_text="empty: no permissions boundary",
                    )
            yield Static("", id="editor-error")
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        # The tab strip is no Tab stop: Tab from Session goes into the policy shown (f2 f3 f4 and a click
        # switch tabs). Focused, it let the letters typed next run section keys (i opened Import).
        self.query_one(TabbedContent).query_one(Tabs).can_focus = False
        self.query_one("#field-name", Input).focus()
        self._load_library()

    @background(group="policy-library", exclusive=True)
    def _load_library(self) -> None:
        try:
            library = self.directory.policies.library()
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(self._show_library, library)

    def _show_library(self, library: list[Policy]) -> None:
        self._library = library
        chosen = {names.canonical(name) for name in self._managed}
        selections = []
        for policy in library:
            prompt = Text()
            prompt.append_text(literal(policy.name, "bold"))
            prompt.append(f"  {policy.kind}", style="dim")
            if policy.description and not policy.builtin:
                prompt.append("  ")
                prompt.append_text(literal(policy.description, "dim"))
            selections.append(Selection(prompt, policy.name, names.canonical(policy.name) in chosen))
        box = self.query_one("#field-managedPolicies", SelectionList)
        box.clear_options()
        box.add_options(selections)
        if self.initial is not None:
            self.initial["managedPolicies"] = self._chosen()
        self._show_attached()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        self._show_attached()
        self.field_changed("managedPolicies")

    def _show_attached(self) -> None:
        chosen = self._chosen()
        help_text = literal("space attaches or detaches the highlighted policy  ·  attached: ")
        help_text.append_text(literal(", ".join(chosen) or "none", "bold"))
        self.query_one("#managed-help", Static).update(help_text)

    def _chosen(self) -> list[str]:
        if self._library is None:
            return list(self._managed)
        return list(self.query_one("#field-managedPolicies", SelectionList).selected)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(f"#{tab}", TabPane)
        focusable = list(pane.query("PolicyTextArea, SelectionList"))
        if focusable:
            focusable[0].focus()
            if (
                isinstance(focusable[0], SelectionList)
                and focusable[0].highlighted is None
                and focusable[0].option_count
            ):
                focusable[0].highlighted = 0

    def _reveal(self, widget: Any) -> None:
        for pane in widget.ancestors_with_self:
            if isinstance(pane, TabPane) and pane.id:
                self.query_one(TabbedContent).active = pane.id
                return

    def focus_field(self, field: str) -> None:
        name = field.split("[")[0].split(".")[0]
        if name in TAB_OF:
            self.action_tab(TAB_OF[name])
            return
        super().focus_field(field)

    # -- values -------------------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        return {
            "name": self.query_one("#field-name", Input).value,
            "description": self.query_one("#field-description", Input).value,
            "sessionDuration": self.query_one("#field-sessionDuration", Input).value.strip(),
            "managedPolicies": self._chosen(),
            "inlinePolicy": self.query_one("#field-inlinePolicy", PolicyEditor).text,
            "permissionsBoundary": self.query_one("#field-permissionsBoundary", PolicyEditor).text,
        }

    def field_checks(self) -> dict[str, Callable[[str], object]]:
        return {
            "name": names.permission_set_name,
            "description": lambda text: names.display_text(text, "description", names.DESCRIPTION_MAX),
            "sessionDuration": lambda text: parse_duration(text.strip() or DEFAULT_SECONDS),
        }

    def fill(self, values: dict[str, Any]) -> None:
        self.query_one("#field-name", Input).value = values["name"]
        self.query_one("#field-description", Input).value = values["description"]
        self.query_one("#field-sessionDuration", Input).value = values["sessionDuration"]
        self.query_one("#field-inlinePolicy", PolicyEditor).load(values["inlinePolicy"])
        self.query_one("#field-permissionsBoundary", PolicyEditor).load(values["permissionsBoundary"])
        self._managed = list(values["managedPolicies"])
        if self._library is not None:
            self._show_library(self._library)

    # -- saving -------------------------------------------------------------------------------------------

    def preview(self, values: dict[str, Any]) -> BlastRadius | None:
        names.permission_set_name(values["name"])
        names.display_text(values["description"], "description", names.DESCRIPTION_MAX)
        parse_duration(session_duration(values))
        radius = permission_set_change(
            self.directory,
            self.pset.id if self.pset else None,
            inline_policy=values["inlinePolicy"] or None,
            managed_policies=values["managedPolicies"],
            boundary_policy=values["permissionsBoundary"] or None,
            name=values["name"],
        )
        return None if self.pset is None else radius  # a new set is held by nobody: nothing to confirm

    def store_save(self, values: dict[str, Any], version: int | None) -> PermissionSet:
        sets = self.directory.permission_sets
        inline = values["inlinePolicy"].strip() or None
        boundary = values["permissionsBoundary"].strip() or None
        if self.pset is None:
            return sets.create(
                values["name"],
                description=values["description"],
                session_duration=session_duration(values),
                inline_policy=inline,
                managed_policies=values["managedPolicies"],
                boundary_policy=boundary,
            )
        return sets.update(
            self.pset.id,
            version or self.pset.version,
            name=values["name"],
            description=values["description"],
            session_duration=session_duration(values),
            inline_policy=inline,
            clear_inline=inline is None,
            managed_policies=values["managedPolicies"],
            boundary_policy=boundary,
            clear_boundary=boundary is None,
        )

    def load_current(self) -> tuple[dict[str, Any], int]:
        assert self.pset is not None
        current = self.directory.permission_sets.get(self.pset.id)
        return permission_set_values(current), current.version

    def describe_current(self, current: Any) -> str:
        return describe_permission_set(current)

    def confirm_question(self) -> str:
        return f"Save permission set {self.pset.name if self.pset else ''}?"

    def saved_message(self) -> str:
        return "Permission set created" if self.pset is None else "Permission set saved"


class PermissionSetsScreen(ListScreen):
    nav_name = "permission_sets"
    heading = "Permission sets"
    noun = "permission set"
    plural = "permission sets"

    def columns(self) -> list[Column[PermissionSet]]:
        return [
            Column("Name", lambda p: p.name, 24),
            Column("Session", lambda p: p.session_duration_iso, 9),
            Column("Managed policies", lambda p: ", ".join(p.managed_policies) or "—", 24, least=10),
            Column("Inline", lambda p: "yes" if p.inline_policy else "—", 6),
            Column("Boundary", lambda p: "yes" if p.boundary_policy else "—", 8),
            Column("Description", lambda p: p.description),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[PermissionSet]:
        return self.directory.permission_sets.list(filter=filter, after=after, offset=offset, limit=limit)

    def _open_editor(self, pset: PermissionSet | None) -> None:
        def closed(item: Any) -> None:
            if item is not None:
                self.reload()

        self.app.push_screen(PermissionSetEditorScreen(pset), closed)

    def action_new(self) -> None:
        self._open_editor(None)

    @on_current_row
    def action_edit(self) -> None:
        if (pset := self.selected()) is not None:
            self._open_editor(pset)

    @on_current_row
    def action_delete(self) -> None:
        if (pset := self.selected()) is not None:
            self._delete_preview(pset)

    @background(group="permission-set-delete", exclusive=True)
    def _delete_preview(self, pset: PermissionSet) -> None:
        try:
            radius = permission_set_removal(self.directory, pset.id)
        except StoreError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error", markup=False)
            return
        self.app.call_from_thread(self._confirm_delete, pset, radius)

    def _confirm_delete(self, pset: PermissionSet, radius: BlastRadius) -> None:
        sets = self.directory.permission_sets

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_store(lambda: sets.delete(pset.id, pset.version), f"Deleted {pset.name}")

        self.app.push_screen(
            BlastRadiusModal(
                f"Delete permission set {pset.name}? Every assignment of it goes with it.",
                radius,
                confirm_label="Delete",
            ),
            answered,
        )
