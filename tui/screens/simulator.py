"""The policy simulator: pick a user (and an account) or a permission set, type an action and a resource (and
context keys), see the decision and the deciding statements highlighted in the policy text.

For a user, every permission set that applies in the account is decided on its own (each is a role the user
may assume); the request is allowed if any of them allows it. ``↑``/``↓`` in the results pick whose policy
text is shown.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Select, Static

from store.access import SetDecision, Simulation, simulate_permission_set, simulate_user
from store.errors import StoreError, ValidationError
from store.names import quoted
from store.policy import ALLOW, EXPLICIT_DENY, statement_lines
from store.policy.patterns import parse_date
from tui.literal import literal
from tui.screens.base import DirectoryScreen, is_field
from tui.screens.form import lookup_by_name
from tui.widgets.key_footer import KeyFooter
from tui.widgets.nav_bar import NavBar
from tui.widgets.suggesters import NameSuggester
from tui.widgets.text_fields import TextInput
from tui.workers import background

_TIME_KEYS = ("aws:currenttime", "aws:epochtime", "aws:tokenissuetime")
DECISION_STYLE: dict[str, str] = {
    ALLOW: "bold reverse green",
    EXPLICIT_DENY: "bold reverse red",
    "implicit_deny": "bold reverse yellow",
}
DECISION_WORDS: dict[str, str] = {
    ALLOW: "ALLOW",
    EXPLICIT_DENY: "EXPLICIT DENY",
    "implicit_deny": "IMPLICIT DENY",
}


def parse_context(text: str) -> dict[str, list[str]]:
    """``KEY=VALUE KEY=VALUE`` (spaces between pairs; a key repeated is multi-valued)
    → the request context."""
    context: dict[str, list[str]] = {}
    for item in text.split():
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise ValidationError(f"context: {quoted(item)} is not KEY=VALUE", "context")
        if key.lower() in _TIME_KEYS and parse_date(value) is None:
            raise ValidationError(
                f"context: {key} must be an ISO 8601 time or epoch seconds, not {quoted(value)}", "context"
            )
        context.setdefault(key, []).append(value)
    return context


def check_action(action: str) -> str:
    action = action.strip()
    if not action:
        raise ValidationError("action: type one in the Action field, for example s3:GetObject", "action")
    service, colon, name = action.partition(":")
    if not colon or not service or not name or ":" in name:
        raise ValidationError(
            f"action: {quoted(action)} is not service:Action (for example s3:GetObject)", "action"
        )
    return action


def policy_text(result: SetDecision) -> Text:
    """Every document of the set, numbered, the deciding statements marked (▶ and reversed)."""
    deciding: dict[str, set[int]] = {}
    for ref in result.decision.statements:
        deciding.setdefault(ref.policy, set()).add(ref.index)
    style = DECISION_STYLE[result.decision.decision]
    text = Text()
    for source in result.compiled.sources:
        kind = {"inline": "", "managed": "  (managed policy)", "boundary": "  (caps what the others allow)"}
        text.append_text(literal(f"── {source.label}{kind[source.kind]} ──", "bold"))
        text.append("\n")
        marked: set[int] = set()
        spans = statement_lines(source.text)
        for index in deciding.get(source.label, ()):
            if index < len(spans):
                first, last = spans[index]
                marked.update(range(first, last + 1))
        for number, line in enumerate(source.text.splitlines(), start=1):
            hit = number in marked
            text.append("▶ " if hit else "  ", style="bold" if hit else "")
            text.append(f"{number:>3} ", style="dim")
            text.append_text(literal(line, style if hit else ""))
            text.append("\n")
        text.append("\n")
    if not result.compiled.sources:
        text.append("This permission set has no policies: it allows nothing.\n", style="dim")
    return text


class SimulatorScreen(DirectoryScreen):
    nav_name = "simulator"

    BINDINGS = [
        Binding("ctrl+r", "simulate", "Simulate"),
        Binding("ctrl+t", "switch_kind", "User / permission set"),
        # Shown for what they do where the focus is (check_action): out of a field enter goes into the
        # fields, and esc goes back from a pushed simulator; in one, esc leaves it (every screen's footer
        # says so). "screen.": keys that make sense only with the screen in front of you, not in the palette.
        Binding("escape", "back", "Back"),
        Binding("enter", "screen.fill_in", "Fill in"),
    ]

    DEFAULT_CSS = """
    SimulatorScreen .sim-body { height: 1fr; padding: 0 1; }
    SimulatorScreen .sim-title { height: 1; text-style: bold; color: $accent; margin-bottom: 1; }
    SimulatorScreen .sim-row { height: 1; }
    SimulatorScreen .sim-label { width: 12; color: $text-muted; }
    SimulatorScreen .sim-row Input { border: none; height: 1; width: 1fr; padding: 0 1; background: $boost; }
    SimulatorScreen .sim-row Input:focus { background: $primary 30%; }
    SimulatorScreen .sim-row Select { width: 1fr; height: 1; }
    SimulatorScreen .sim-row SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
    SimulatorScreen .sim-row Select:focus > SelectCurrent { background: $primary 30%; }
    SimulatorScreen .sim-label-right { margin-left: 2; }
    SimulatorScreen #sim-decision { height: auto; margin-top: 1; }
    SimulatorScreen #sim-results { height: auto; max-height: 6; }
    SimulatorScreen #sim-policy { height: 1fr; border-top: solid $panel; }
    """

    def __init__(
        self,
        *,
        user: str = "",
        account: str = "",
        permission_set: str = "",
        action: str = "",
        resource: str = "",
    ) -> None:
        super().__init__()
        self._start = {
            "user": user,
            "account": account,
            "permissionSet": permission_set,
            "action": action,
            "resource": resource,
        }
        self.kind = "set" if permission_set and not user else "user"
        self.simulation: Simulation | None = None

    def compose(self) -> ComposeResult:
        d = self.directory
        yield NavBar(self.nav_name)
        with Vertical(classes="sim-body"):
            yield Static("Policy simulator", classes="sim-title")
            with Horizontal(classes="sim-row"):
                yield Label("Decide for", classes="sim-label")
                yield Select(
                    [("a user in an account", "user"), ("a permission set", "set")],
                    value=self.kind,
                    allow_blank=False,
                    id="field-kind",
                )
            with Horizontal(classes="sim-row", id="row-user"):
                yield Label("User", classes="sim-label")
                yield TextInput(
                    self._start["user"],
                    id="field-user",
                    placeholder="user name (→ completes)",
                    suggester=NameSuggester(d.users.complete),
                    select_on_focus=False,
                )
                yield Label("Account", classes="sim-label sim-label-right")
                yield TextInput(
                    self._start["account"],
                    id="field-account",
                    placeholder="account",
                    suggester=NameSuggester(d.accounts.complete),
                    select_on_focus=False,
                )
            with Horizontal(classes="sim-row", id="row-set"):
                yield Label("Perm. set", classes="sim-label")
                yield TextInput(
                    self._start["permissionSet"],
                    id="field-permissionSet",
                    placeholder="permission set name (→ completes)",
                    suggester=NameSuggester(d.permission_sets.complete),
                    select_on_focus=False,
                )
            with Horizontal(classes="sim-row"):
                yield Label("Action", classes="sim-label")
                yield TextInput(
                    self._start["action"],
                    id="field-action",
                    placeholder="e.g. s3:GetObject",
                    select_on_focus=False,
                )
                yield Label("Resource", classes="sim-label sim-label-right")
                yield TextInput(
                    self._start["resource"],
                    id="field-resource",
                    placeholder="empty: * (any) · or ARN",  # whole in the half row it has at 80 columns
                    select_on_focus=False,
                )
            with Horizontal(classes="sim-row"):
                yield Label("Context", classes="sim-label")
                yield TextInput(
                    "",
                    id="field-context",
                    select_on_focus=False,
                    placeholder="optional KEY=VALUE …, e.g. aws:MultiFactorAuthPresent=true",
                )
            yield Static(Text("enter: simulate", style="dim"), id="sim-decision")
            yield DataTable(id="sim-results", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="sim-policy"):
                yield Static("", id="sim-policy-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#sim-results", DataTable)
        table.add_columns("Permission set", "Granted by", "Decision", "Deciding statements")
        table.display = False
        self._show_kind()
        self.action_fill_in()  # a question is asked at once: focus on its first field (esc leaves it)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        in_field = is_field(self.focused)
        if action == "fill_in":
            return not in_field
        if action == "back":
            return not in_field and len(self.app.screen_stack) > 1
        return True

    def action_fill_in(self) -> None:
        first = "#field-user" if self.kind == "user" else "#field-permissionSet"
        self.query_one(first, Input).focus()

    def _show_kind(self) -> None:
        self.query_one("#row-user").display = self.kind == "user"
        self.query_one("#row-set").display = self.kind == "set"

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-kind" and event.value in ("user", "set"):
            self.kind = str(event.value)
            self._show_kind()

    def action_switch_kind(self) -> None:
        self.query_one("#field-kind", Select).value = "set" if self.kind == "user" else "user"

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_simulate()

    def values(self) -> dict[str, str]:
        return {
            name: self.query_one(f"#field-{name}", Input).value
            for name in ("user", "account", "permissionSet", "action", "resource", "context")
        }

    def action_simulate(self) -> None:
        self.query_one("#sim-decision", Static).update(Text("deciding…", style="dim"))
        self._simulate(self.kind, self.values())

    @background(group="simulate", exclusive=True)
    def _simulate(self, kind: str, values: dict[str, str]) -> None:
        d = self.directory
        try:
            action = check_action(values["action"])
            resource = values["resource"].strip() or "*"
            context = parse_context(values["context"])
            if kind == "set":
                pset = lookup_by_name(
                    d.permission_sets.get_by_name, values["permissionSet"], "permission set"
                )
                simulation = simulate_permission_set(d, pset.id, action, resource, context)
                who = f"permission set {pset.name}"
            else:
                user = lookup_by_name(d.users.get_by_name, values["user"], "user")
                account = lookup_by_name(d.accounts.get_by_name, values["account"], "account")
                simulation = simulate_user(d, user.id, account.id, action, resource, context)
                who = f"{user.user_name} in {account.name}"
        except StoreError as exc:
            self.app.call_from_thread(self._refused, exc)
            return
        self.app.call_from_thread(self._show, simulation, who, action, resource)

    def _refused(self, error: StoreError) -> None:
        self.simulation = None
        self.query_one("#sim-decision", Static).update(literal(error.message, "bold red"))
        self.query_one("#sim-results", DataTable).display = False
        self.query_one("#sim-policy-text", Static).update("")

    def _show(self, simulation: Simulation, who: str, action: str, resource: str) -> None:
        self.simulation = simulation
        decision = simulation.decision
        line = Text()
        line.append(f" {DECISION_WORDS[decision]} ", style=DECISION_STYLE[decision])
        line.append("  ")
        line.append_text(literal(f"{action} on {resource} for {who}"))
        if not simulation.results:
            line.append("\n")
            line.append_text(literal("No permission set applies: nothing is allowed.", "dim"))
            for why in simulation.not_applying:  # held, but not now: say why (a disabled user, an expiry)
                line.append("\n")
                line.append_text(literal(f"Not applying: {why}", "yellow"))
        else:
            deciding = simulation.deciding
            if decision != "implicit_deny":
                refs = [
                    f"{r.permission_set_name}: {ref.policy} statement {ref.index}"
                    + (f" (Sid {ref.sid})" if ref.sid else "")
                    for r in deciding
                    for ref in r.decision.statements
                ]
                line.append("\n")
                line.append_text(
                    literal(("allowed by " if decision == ALLOW else "denied by ") + "; ".join(refs))
                )
            else:
                line.append("\n")
                line.append_text(literal("no statement allows it", "dim"))
        self.query_one("#sim-decision", Static).update(line)
        table = self.query_one("#sim-results", DataTable)
        table.clear()
        table.display = self.kind == "user" and bool(simulation.results)
        for result in simulation.results:
            cited = (
                ", ".join(
                    f"{ref.policy} #{ref.index}" + (f" {ref.sid}" if ref.sid else "")
                    for ref in result.decision.statements
                )
                or "—"
            )
            table.add_row(
                literal(result.permission_set_name),
                literal(result.grant.granted_by if result.grant else "—"),
                Text(
                    DECISION_WORDS[result.decision.decision],
                    style=DECISION_STYLE[result.decision.decision].replace("reverse ", ""),
                ),
                literal(cited),
            )
        # show the policy that decided: the first allowing set, else the first denying one
        chosen = simulation.deciding[0] if simulation.results else None
        if chosen is not None and table.display:
            table.move_cursor(row=simulation.results.index(chosen))
        self._show_policy(chosen)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (
            event.data_table.id == "sim-results"
            and self.simulation is not None
            and 0 <= event.cursor_row < len(self.simulation.results)
        ):
            self._show_policy(self.simulation.results[event.cursor_row])

    def _show_policy(self, result: SetDecision | None) -> None:
        view = self.query_one("#sim-policy-text", Static)
        if result is None:
            view.update("")
            return
        text = policy_text(result)
        view.update(text)
        # scroll the first marked line into view
        plain = text.plain.splitlines()
        first = next((number for number, line in enumerate(plain) if line.startswith("▶")), 0)
        self.query_one("#sim-policy", VerticalScroll).scroll_to(y=max(0, first - 2), animate=False)

    def reload(self) -> None:
        """Another admin's change: decide again what is on screen (if anything was decided)."""
        if self.simulation is not None:
            self.action_simulate()
