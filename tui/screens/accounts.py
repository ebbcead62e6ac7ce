"""The Accounts screen: the targets of access."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from store.accounts import Account
from store.service import Page
from tui.screens.base import ListScreen, on_current_row
from tui.screens.form import FormField, FormModal
from tui.screens.users import toggle_shown
from tui.widgets.paged_table import Column


def account_form(screen: Any, account: Account | None) -> FormModal:
    accounts = screen.directory.accounts

    def save(values: dict[str, str], version: int | None) -> Account:
        if account is None:
            return accounts.create(values["name"], description=values["description"])
        return accounts.update(
            account.id, version or account.version, name=values["name"], description=values["description"]
        )

    def load() -> tuple[dict[str, str], int]:
        current = accounts.get(account.id)  # type: ignore[union-attr]  # load is given only for an edit
        return {"name": current.name, "description": current.description}, current.version

    def describe(item: Any) -> str:
        return f"Saved now: {item.name}  ·  {item.description or '—'}" if isinstance(item, Account) else ""

    return FormModal(
        "New account" if account is None else f"Edit account {account.name}",
        [
            FormField("name", "Name", account.name if account else "", "prod, or a 12-digit AWS account id"),
            FormField("description", "Description", account.description if account else ""),
        ],
        save,
        version=account.version if account else None,
        load=load if account else None,
        describe=describe,
    )


class AccountsScreen(ListScreen):
    nav_name = "accounts"
    heading = "Accounts"
    noun = "account"
    plural = "accounts"

    BINDINGS = [
        Binding("d", "disable", "Disable"),
        Binding("d", "enable", "Enable"),
        Binding("D", "delete", "Delete"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return toggle_shown(action, self.table.current if self.is_mounted else None)

    def columns(self) -> list[Column[Account]]:
        return [
            Column("Name", lambda a: a.name, 24),
            Column("Status", lambda a: a.status, 9),
            Column("Description", lambda a: a.description),
        ]

    def fetch(self, filter: str, after: str | None, offset: int, limit: int) -> Page[Account]:
        return self.directory.accounts.list(filter=filter, after=after, offset=offset, limit=limit)

    def action_new(self) -> None:
        self.open_form(account_form(self, None), "Account created")

    @on_current_row
    def action_edit(self) -> None:
        if (account := self.selected()) is not None:
            self.open_form(account_form(self, account), "Account saved")

    @on_current_row
    def action_disable(self) -> None:
        if (account := self.selected()) is None:
            return
        accounts = self.directory.accounts
        active = account.status == "active"
        self.confirm_then(
            f"{'Disable' if active else 'Enable'} account {account.name}?",
            "Nobody can assume access in it, and its temporary credentials stop working now."
            if active
            else "Its assignments grant access again.",
            lambda: accounts.set_status(account.id, account.version, not active),
            f"{'Disabled' if active else 'Enabled'} {account.name}",
            confirm_label="Disable" if active else "Enable",
        )

    action_enable = action_disable

    @on_current_row
    def action_delete(self) -> None:
        if (account := self.selected()) is not None:
            accounts = self.directory.accounts
            self.confirm_then(
                f"Delete account {account.name}?",
                "Its assignments and sessions go with it.",
                lambda: accounts.delete(account.id, account.version),
                f"Deleted {account.name}",
                confirm_label="Delete",
            )
