"""What a user of a SCIM source keeps beyond the directory's columns (``users.scim_attributes``, JSON): all
its emails as its source sent them (the ``email`` column holds the primary, else the first) and the
enterprise extension. Validated with scim2-models, every string by the importer's rules.

``tui scim serve`` keeps them for each request (:mod:`store.scim_resources`); the whole-directory JSON export
writes them (``scimAttributes``) and its import reads them back through :func:`from_resource`, so a round trip
through a file loses nothing the backup would keep.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from store import names
from store.errors import StoreError, ValidationError
from store.formats.scim import CORE_USER, ENTERPRISE_USER, extension_of

MAX_EMAILS = 100  # addresses kept for one user: a person has a few, a request may not fill the row


class Invalid(ValidationError):
    """What is given to keep is invalid: ``message`` names where and why; ``scim_type`` is RFC 7644
    §3.12's scimType for a SCIM client."""

    def __init__(self, message: str, scim_type: str = "invalidValue") -> None:
        super().__init__(message)
        self.scim_type = scim_type


@cache
def models() -> tuple[Any, Any]:
    """scim2-models' Email and User (with the enterprise extension), but an address is checked by tui's own
    rule (store.names.email), as the importer checks it: EmailStr refuses names such as ``x@corp.local``."""
    from scim2_models import Email as Scim2Email
    from scim2_models import EnterpriseUser
    from scim2_models import User as Scim2User

    class Email(Scim2Email):
        value: str | None = None

    class User(Scim2User[EnterpriseUser]):
        emails: list[Email] | None = None  # type: ignore[assignment]  # the same, with a plain value

    return Email, User


def check(kept: dict[str, Any]) -> None:
    """Every kept string by the rules the importer applies to what it keeps: addresses as emails, the rest
    as display text (no control or format characters, bounded)."""
    if len(kept.get("emails", [])) > MAX_EMAILS:
        raise Invalid(f"emails: at most {MAX_EMAILS} addresses are kept for a user")
    try:
        for index, email in enumerate(kept.get("emails", [])):
            names.email(email.get("value", ""), f"emails[{index}].value")
            for key in ("display", "type"):
                if key in email:
                    names.display_text(email[key], f"emails[{index}].{key}")
        for key, value in kept.get(ENTERPRISE_USER, {}).items():
            for sub, text in value.items() if isinstance(value, dict) else [("", value)]:
                names.display_text(text, f"{ENTERPRISE_USER}:{key}{'.' + sub if sub else ''}")
    except StoreError as exc:
        raise Invalid(exc.message) from None


def chosen(emails: list[dict[str, Any]]) -> str | None:
    """The address tui keeps as the user's email: the primary, else the first (as the reader picks it)."""
    if not emails:
        return None
    value = next((e for e in emails if e.get("primary") is True), emails[0]).get("value")
    return value if isinstance(value, str) else None


def explained(exc: Exception, where: str) -> Invalid:
    """scim2-models' or pydantic's refusal in our words: each problem with where it is, no library noise."""
    from pydantic import ValidationError as PydanticValidationError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, PydanticValidationError):
            problems = []
            for problem in cause.errors():
                loc = tuple(problem["loc"])
                if loc[:2] == ("Operations", 0):  # one operation at a time: ``where`` names it
                    loc = loc[2:]
                problems.append(f"{'.'.join(str(p) for p in (where, *loc))}: {problem['msg']}")
            return Invalid("; ".join(problems))
        cause = cause.__cause__ or cause.__context__
    lines = [
        line.strip()
        for line in str(exc).splitlines()
        if line.strip()
        and not line.strip().startswith("For further information")
        and "validation error" not in line
    ]
    return Invalid(f"{where}: {' '.join(lines)}", getattr(exc, "scim_type", None) or "invalidValue")


def dumped(model: Any) -> dict[str, Any] | None:
    """The emails and the extension of a scim2-models user, as kept (None: nothing to keep)."""
    from scim2_models import Context

    document = model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, exclude_none=True)
    kept: dict[str, Any] = {}
    if document.get("emails"):
        kept["emails"] = document["emails"]
    extension = {k: v for k, v in (document.get(ENTERPRISE_USER) or {}).items() if k != "schemas"}
    if isinstance(extension.get("manager"), dict):
        extension["manager"].pop("displayName", None)  # made by a server that resolves managers: not tui
        if not extension["manager"]:
            del extension["manager"]
    if extension:
        kept[ENTERPRISE_USER] = extension
    check(kept)
    return kept or None


def entra_manager(extension: Any) -> Any:
    """Entra ID sends the manager as its id alone ("manager": "…"): the RFC's {"value": "…"}."""
    if isinstance(extension, dict) and isinstance(extension.get("manager"), str):
        return {**extension, "manager": {"value": extension["manager"]}}
    return extension


def from_resource(body: dict[str, Any]) -> dict[str, Any] | None:
    """What a whole User resource (or a ``scimAttributes`` object) gives to keep, validated by scim2-models
    (None: nothing). Raises :class:`Invalid`, naming the attribute, when it is not valid."""
    from scim2_models import EnterpriseUser

    model = models()[1](user_name="-")
    emails = body.get("emails")
    if emails is not None and not isinstance(emails, list):
        raise Invalid('emails: must be a list of {"value": …} objects')
    if emails:
        kept_emails = []
        for index, email in enumerate(emails):
            try:
                kept_emails.append(models()[0].model_validate(email))
            except Exception as exc:  # noqa: BLE001 - pydantic's errors and scim2-models' own
                raise explained(exc, f"emails[{index}]") from None
        model.emails = kept_emails
    key, extension = extension_of(body)
    if key is not None and extension is not None:
        try:
            model[EnterpriseUser] = EnterpriseUser.model_validate(entra_manager(extension))
        except Exception as exc:  # noqa: BLE001 - pydantic's errors and scim2-models' own
            raise explained(exc, key) from None
    return dumped(model)


def as_text(kept: dict[str, Any] | None) -> str | None:
    """The column's text for ``kept``: canonical JSON (equal attributes, equal text); None for none."""
    return json.dumps(kept, ensure_ascii=False, sort_keys=True) if kept else None


def loaded(text: str | None) -> dict[str, Any]:
    """The column's text as the attributes it keeps ({} for none)."""
    return json.loads(text) if text else {}


def on_resource(resource: dict[str, Any], row: Any) -> dict[str, Any]:
    """A User resource made from ``row`` (:func:`store.formats.scim.user_resource`) with what the user keeps:
    the emails as sent, while they agree with the address tui holds (else that address alone), and the
    enterprise extension."""
    kept = loaded(row["scim_attributes"])
    emails = kept.get("emails") or []
    if emails:  # else the resource's own: the address tui holds, primary
        if not row["email"]:
            resource.pop("emails", None)
        elif chosen(emails) == row["email"]:
            # Each address first, as the resource's own shows it (the column keeps keys sorted).
            resource["emails"] = [{"value": e["value"], **e} if "value" in e else e for e in emails]
        else:
            resource["emails"] = [{"value": row["email"], "primary": True}]
    extension = kept.get(ENTERPRISE_USER)
    if extension:
        meta = resource.pop("meta", None)
        resource["schemas"] = [CORE_USER, ENTERPRISE_USER]
        resource[ENTERPRISE_USER] = extension
        if meta is not None:
            resource["meta"] = meta
    return resource
