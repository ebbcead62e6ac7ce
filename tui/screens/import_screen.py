"""The Import screen: choose a file, see the dry-run plan as a diff, apply it with a progress bar.

Everything the file says reaches the screen through :func:`tui.literal.literal`: names, problems and notices
are shown character for character (control characters made visible), never parsed as markup. The work runs in
a worker thread that reports back with messages (thread-safe, never waiting for the screen), so input never
freezes and a long import never holds the screen while it holds the directory's lock.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Checkbox, Input, ProgressBar, RichLog, Static

from store.errors import StoreError
from store.importer import ImportPlan, ImportRefused, ImportResult, Problem
from tui.literal import literal
from tui.screens.base import DirectoryScreen
from tui.screens.modals import ConfirmModal
from tui.widgets.check_box import PlainCheckbox
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.text_fields import TextInput
from tui.workers import background

DIFF_LIMIT = 500  # changes listed per kind and concept; the counts above them are always complete
STYLES = {"+": "green", "~": "yellow", "-": "red", "…": "dim"}
# The plan speaks of what an import would do; once applied, the same lines say what it did.
DONE = {
    "to create": "created",
    "to update": "updated",
    "to disable": "disabled",
    "to empty": "emptied",
    "to remove": "removed",
    "create": "created",
    "update": "updated",
    "disable": "disabled",
    "empty": "emptied",
    "remove": "removed",
}
PHASES = {
    "read": "Reading the file",
    "check": "Validating",
    "plan": "Planning",
    "hash": "Hashing passwords",
    "write": "Applying",
}


def complete_path(value: str) -> str | None:
    """The first file or folder that completes ``value`` (folders end in ``/``); hidden
    ones only when asked."""
    if not value:
        return None
    expanded = os.path.expanduser(value)
    folder, prefix = os.path.split(expanded)
    try:
        names = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in os.scandir(folder or "."))
    except OSError:
        return None
    for name in names:
        if (
            name.startswith(prefix)
            and len(name) > len(prefix)
            and (prefix.startswith(".") or not name.startswith("."))
        ):
            return value + name[len(prefix) :]
    return None


def done_words(line: str, *, first_only: bool = False) -> str:
    """A plan line in the past tense: "users: 4 to create, …" → "users: 4 created, …"; with ``first_only``
    only the leading verb of a change line ("create user 'ada'" → "created user 'ada'")."""
    if first_only:
        verb, space, rest = line.partition(" ")
        return DONE.get(verb, verb) + space + rest
    for future in ("to create", "to update", "to disable", "to empty", "to remove"):
        line = line.replace(f" {future}", f" {DONE[future]}")
    return line


class PathSuggester(Suggester):
    """Completes file paths as they are typed (→ accepts), reading folders off the UI thread."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value)


class ImportScreen(DirectoryScreen):
    """Import a file of users and groups: plan (a dry run), look, then apply."""

    nav_name = ""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "Apply", priority=True),
        Binding("ctrl+r", "plan", "Plan again", priority=True),
        Binding("escape", "back", "Back"),  # not priority: esc in a field first leaves the field
    ]

    CSS = """
    ImportScreen .import-body { height: 1fr; padding: 0 1; }
    ImportScreen .import-row { height: auto; }
    ImportScreen .import-label { width: 7; padding: 1 1 0 0; }
    ImportScreen #import-path { width: 1fr; }
    ImportScreen #import-source { width: 22; }
    ImportScreen Checkbox { border: none; padding: 1 0 0 1; height: 3; background: $background; }
    ImportScreen #import-status { height: auto; margin: 0 0 0 1; }
    ImportScreen #import-progress { margin: 0 0 0 1; }
    ImportScreen #import-plan { height: 1fr; border: round $primary; background: $surface; overflow-x: hidden;
                                scrollbar-gutter: stable; }
    """

    class Planned(Message):
        """A dry run finished: the plan, or nothing to change."""

        def __init__(self, description: str, result: ImportResult) -> None:
            super().__init__()
            self.description = description
            self.result = result

    class Applied(Message):
        def __init__(self, description: str, result: ImportResult) -> None:
            super().__init__()
            self.description = description
            self.result = result

    class Refused(Message):
        """The file (or the change) was refused: every problem, with its line or path."""

        def __init__(self, description: str, problems: list[Problem], more: int, message: str = "") -> None:
            super().__init__()
            self.description = description
            self.problems = problems
            self.more = more
            self.message = message

    class Progressed(Message):
        def __init__(self, phase: str, done: int, total: int) -> None:
            super().__init__()
            self.phase = phase
            self.done = done
            self.total = total

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.initial_path = path
        self.planned: tuple[Any, ...] | None = None  # the options the shown plan was made with
        self.plan: ImportPlan | None = None
        self.busy = False
        self.phases: list[str] = []  # the phases of the work under way, in order

    def compose(self) -> ComposeResult:
        yield NavBar(self.nav_name)
        with Vertical(classes="import-body"):
            yield Static("Import users and groups", classes="list-title")
            yield Static(
                "tui CSV/JSON, SCIM 2.0, Entra ID, Okta or Google Workspace CSV  ·  enter: plan (a dry "
                "run)  ·  ctrl+s: apply",
                classes="list-subtitle",
                markup=False,
            )
            with Horizontal(classes="import-row"):
                yield Static("File", classes="import-label")
                yield TextInput(
                    self.initial_path,
                    placeholder="path of the file (→ accepts a completion)",
                    suggester=PathSuggester(),
                    id="import-path",
                    select_on_focus=False,
                )
            with Horizontal(classes="import-row"):
                yield Static("Source", classes="import-label")
                yield TextInput(placeholder="by format", id="import-source", select_on_focus=False)
                yield PlainCheckbox(
                    "Sync: disable the gone",
                    id="import-sync",
                    tooltip="Make the directory match the file for this source: disable its users "
                    "and remove its memberships that the file no longer has",
                )
                yield PlainCheckbox(
                    "Hash passwords",
                    id="import-passwords",
                    tooltip="Hash cleartext initial passwords (users change them at first sign-in); "
                    "without this they are dropped",
                )
            yield Static("", id="import-status")
            yield ProgressBar(id="import-progress", show_eta=False, classes="hidden")
            yield RichLog(
                id="import-plan", wrap=True, markup=False, highlight=False, auto_scroll=False, min_width=20
            )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#import-path", Input).focus()
        self._status("Choose a file and press enter to see what importing it would change.")

    # -- helpers ----------------------------------------------------------------------------------------

    @property
    def log_view(self) -> RichLog:
        return self.query_one("#import-plan", RichLog)

    def _write(self, line: Text) -> None:
        """One line of the plan view, wrapped to the view's width (RichLog measures against the console's)."""
        view = self.log_view
        width = view.scrollable_content_region.width
        view.write(line, width=width if width > 0 else None)

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#import-status", Static).update(literal(text, style))

    def _options(self) -> tuple[str, str | None, bool, bool]:
        path = os.path.expanduser(self.query_one("#import-path", Input).value.strip())
        source = self.query_one("#import-source", Input).value.strip() or None
        return (
            path,
            source,
            self.query_one("#import-sync", Checkbox).value,
            self.query_one("#import-passwords", Checkbox).value,
        )

    # -- actions ----------------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_plan()

    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _options_changed(self, event: Message) -> None:
        if self.planned is not None and self._options() != self.planned:
            self._status("The file or the options changed: press enter to plan again.", "yellow")

    def action_plan(self) -> None:
        if self.busy:
            return
        path, source, sync, with_passwords = self._options()
        if not path:
            self._status("Type the path of a file first.", "yellow")
            return
        if sync and not source:
            self._status(
                "A sync needs a source: type the identity provider the file comes from (e.g. okta) in the "
                "Source field.",
                "red",
            )
            self.query_one("#import-source", Input).focus()
            return
        self.busy, self.phases = True, ["read", "check", "plan"]
        self._show_progress()
        self._status(f"Planning the import of {path} …")
        self._run(path, source, sync, with_passwords, dry_run=True)

    def action_apply(self) -> None:
        if self.busy:
            return
        if self.plan is None or self.planned != self._options():
            self._status("Plan first (enter): apply writes what the plan shows.", "yellow")
            return
        if self.plan.changes_nothing:
            self._status("Nothing to apply: the directory already matches the file.")
            return
        path, source, sync, with_passwords = self.planned
        grants = frozenset(self.plan.admin_grants)

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self.phases = ["read", "check", "plan", *(["hash"] if with_passwords else []), "write"]
                self._show_progress()
                self._status(f"Applying {path} …")
                self._run(path, source, sync, with_passwords, dry_run=False, admin_grants=grants)

        summary = "\n".join(self.plan.summary())

        def then_apply(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(
                    ConfirmModal(f"Apply the import of {path}?", summary, confirm_label="Apply"), answered
                )

        if not grants:
            then_apply(True)
            return
        # An identity provider's file never makes administrators on its own: each is named and confirmed.
        self.app.push_screen(
            ConfirmModal(
                f"This import makes {len(grants)} administrator(s)",
                "Each gets full control of the directory (membership of the admin group):\n"
                + "\n".join(f"  {grant}" for grant in self.plan.admin_grants)
                + "\nMake them administrators?",
                confirm_label="Make them administrators",
            ),
            then_apply,
        )

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1 and not self.busy:
            self.app.pop_screen()

    def unsaved_changes(self) -> bool:
        """While a file is read, planned or applied, a section's key does not close this screen (its worker
        would lose where to say how the import ended), and quitting asks first."""
        return self.busy

    # -- the work, off the UI thread --------------------------------------------------------------------

    @background(group="import", exclusive=True)
    def _run(
        self,
        path: str,
        source: str | None,
        sync: bool,
        with_passwords: bool,
        *,
        dry_run: bool,
        admin_grants: frozenset[str] = frozenset(),
    ) -> None:
        """Plan (``dry_run``) or apply. A plan shows every admin grant, marked, as if allowed; an apply makes
        only the ``admin_grants`` the person confirmed by name."""
        from store.formats import read_file
        from store.importer import import_document
        from store.textfile import read_limited

        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(self.Progressed(phase, done, total))

        description = ""
        try:
            # The reading has the file's digest: the bytes are not kept beside the document.
            reading = read_file(read_limited(Path(path)), path, "auto", progress)
            description = reading.describe()
            result = import_document(
                self.directory,
                reading.document,
                file_name=path,
                sha256=reading.sha256,
                source=source,
                dry_run=dry_run,
                sync=sync,
                with_passwords=with_passwords,
                allow_admin_changes=True if dry_run else admin_grants,
                format_name=reading.format,
                progress=progress,
            )
        except ImportRefused as refused:
            self.post_message(self.Refused(description, refused.problems, refused.more))
        except StoreError as error:
            self.post_message(self.Refused(description, [], 0, error.message))
        else:
            message = self.Planned if dry_run else self.Applied
            self.post_message(message(description, result))

    # -- results ----------------------------------------------------------------------------------------

    def _show_progress(self) -> None:
        """The bar, empty, for work about to start; each phase then fills it from the start."""
        bar = self.query_one("#import-progress", ProgressBar)
        bar.remove_class("hidden")
        bar.update(total=None, progress=0)

    def on_import_screen_progressed(self, event: Progressed) -> None:
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=max(event.total, 1), progress=event.done)
        # Which phase of how many: a plan reads, validates and plans; an apply does it again, then writes.
        phases = self.phases
        step = f"{phases.index(event.phase) + 1}/{len(phases)} " if event.phase in phases else ""
        label = PHASES.get(event.phase, event.phase)
        self._status(f"{step}{label} … {event.done:,} of {event.total:,}")

    def on_import_screen_planned(self, event: Planned) -> None:
        self.busy = False
        self.query_one("#import-progress", ProgressBar).add_class("hidden")
        self.plan = event.result.plan
        self.planned = self._options()
        self._show_plan(event.description, event.result.plan)
        if event.result.plan.changes_nothing:
            self._status("Nothing to change: the directory already matches the file.", "green")
        elif event.result.plan.blocked:
            self._status("This sync would be refused (see below).", "red")
        elif event.result.plan.admin_grants:
            self._status(
                f"Dry run. This import makes {len(event.result.plan.admin_grants)} administrator(s) "
                "(marked ⚠): ctrl+s asks you to confirm each by name.",
                "bold yellow",
            )
        else:
            self._status("Dry run: nothing was changed. Press ctrl+s to apply this plan.", "bold")

    def on_import_screen_applied(self, event: Applied) -> None:
        self.busy = False
        self.query_one("#import-progress", ProgressBar).add_class("hidden")
        self.plan, self.planned = None, None
        result = event.result
        if not result.applied:
            self._status("Nothing to change: the directory already matches the file.", "green")
            return
        self._show_plan(event.description, result.plan, applied=True)
        workers = (
            f"; passwords hashed in {result.password_workers} processes" if result.password_workers else ""
        )
        self._status(f"Applied (import batch {result.batch_id}){workers}.", "green")
        done = ", ".join(done_words(line) for line in result.plan.summary()[:2])
        self.notify(f"Imported: {done}", markup=False)  # what was done, as the panel says it

    def on_import_screen_refused(self, event: Refused) -> None:
        self.busy = False
        self.query_one("#import-progress", ProgressBar).add_class("hidden")
        self.plan, self.planned = None, None
        view = self.log_view
        view.clear()
        if event.description:
            self._write(literal(event.description, "dim"))
        self._write(Text("Refused: nothing was changed.", style="bold red"))
        if event.message:
            for line in event.message.splitlines():
                self._write(literal(line, "red"))
        for problem in event.problems:
            self._write(literal(str(problem), "red"))
        if event.more:
            self._write(literal(f"… and {event.more} more problem(s)", "red"))
        count = len(event.problems) + event.more
        self._status(
            f"The file was refused: {count or 1} problem{'s' if count > 1 else ''} below. Nothing changed.",
            "red",
        )

    def _show_plan(self, description: str, plan: ImportPlan, *, applied: bool = False) -> None:
        view = self.log_view
        view.clear()
        self._write(literal(description, "dim"))
        if applied:
            self._write(Text("Applied: the directory now holds these changes.", style="bold green"))
        for notice in plan.notices:
            self._write(literal(f"note: {notice}", "italic"))
        if plan.blocked:
            self._write(literal(plan.blocked, "bold red"))
        for line in plan.summary():
            self._write(literal(done_words(line) if applied else line, "bold"))
        for mark, text in plan.diff(DIFF_LIMIT):
            if applied and mark != "…":
                text = done_words(text, first_only=True)
            self._write(literal(f"{mark} {text}" if mark != "…" else f"  {text}", STYLES.get(mark, "")))
        view.scroll_home(animate=False)
