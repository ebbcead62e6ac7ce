"""What ``tui scim serve`` says about itself (RFC 7643 §5–7): ServiceProviderConfig, Schemas, ResourceTypes.

The documents are built with ``scim2-models`` from its RFC 7643 User and Group schemas, cut down to the
attributes tui keeps: a client that reads /Schemas (scim2-client, scim2-tester, an IdP's attribute mapping)
sends and expects back only what the directory really stores. Nothing here is invented by hand; what tui
changes from the RFC's definitions is listed in :data:`USER_ATTRIBUTES` and said in each document.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    External,
    Filter,
    Group,
    Meta,
    Patch,
    Reference,
    Required,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
    User,
)

from store.scim_bulk import MAX_OPERATIONS
from store.scim_resources import MAX_COUNT

PREFIX = "/scim/v2"
MAX_BODY = 1024 * 1024  # bytes of a request body (bulk.maxPayloadSize says so too)

# Top-level attribute → the sub-attributes kept (None: it has none). tui holds a user's status at all
# times, so ``active`` is required here: a user created without it is active, and removing it is refused
# (RFC 7644 §3.5.2.2).
USER_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "userName": None,
    "name": ("givenName", "familyName"),
    "displayName": None,
    "active": None,
    # Kept as sent; the directory's one email (SPEC §1) is the primary, else the first.
    "emails": ("value", "display", "type", "primary"),
    # Read-only: the user's groups of the same source (a member group is flattened, so all are direct).
    "groups": ("value", "$ref", "display", "type"),
}
# The enterprise extension, kept as sent; ``manager.displayName`` is made by a server that resolves managers,
# which tui does not.
ENTERPRISE_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "employeeNumber": None,
    "costCenter": None,
    "organization": None,
    "division": None,
    "department": None,
    "manager": ("value", "$ref"),
}
GROUP_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "displayName": None,
    # RFC 7643 §8.7.1's members: value, $ref, type (a ``display`` a client sends, as Okta does, is not kept).
    # Members are users of the same source; a member group is flattened into its users by the import.
    "members": ("value", "$ref", "type"),
}


def _dump(model: Any) -> dict[str, Any]:
    document: dict[str, Any] = model.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return document


def _cut(schema: Schema, kept: dict[str, tuple[str, ...] | None]) -> Schema:
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name not in kept:
            continue
        subs = kept[attribute.name]
        if subs is not None and attribute.sub_attributes:
            attribute.sub_attributes = [a for a in attribute.sub_attributes if a.name in subs]
        attributes.append(attribute)
    schema.attributes = attributes
    return schema


@cache
def user_schema() -> dict[str, Any]:
    schema = _cut(User.to_schema(), USER_ATTRIBUTES)
    for attribute in schema.attributes or []:
        if attribute.name == "active":
            attribute.required = Required.true
            attribute.description = (
                "Whether the user may sign in. tui always holds it: a user created without it is active."
            )
        if attribute.name == "emails":
            attribute.description = (
                "The user's email addresses as sent; the directory's email is the primary, else the first."
            )
    schema.meta = Meta(resource_type="Schema", location=f"{PREFIX}/Schemas/{schema.id}")
    return _dump(schema)


@cache
def group_schema() -> dict[str, Any]:
    schema = _cut(Group.to_schema(), GROUP_ATTRIBUTES)
    for attribute in schema.attributes or []:
        if attribute.name == "displayName":
            attribute.uniqueness = Uniqueness.server  # group names are unique in the directory
    schema.meta = Meta(resource_type="Schema", location=f"{PREFIX}/Schemas/{schema.id}")
    return _dump(schema)


@cache
def enterprise_schema() -> dict[str, Any]:
    schema = _cut(EnterpriseUser.to_schema(), ENTERPRISE_ATTRIBUTES)
    schema.meta = Meta(resource_type="Schema", location=f"{PREFIX}/Schemas/{schema.id}")
    return _dump(schema)


def schemas() -> list[dict[str, Any]]:
    return [user_schema(), group_schema(), enterprise_schema()]


def _resource_type(model: Any, name: str) -> dict[str, Any]:
    resource_type = ResourceType.from_resource(model)
    resource_type.meta = Meta(resource_type="ResourceType", location=f"{PREFIX}/ResourceTypes/{name}")
    return _dump(resource_type)


@cache
def resource_types() -> list[dict[str, Any]]:
    return [_resource_type(User[EnterpriseUser], "User"), _resource_type(Group, "Group")]


@cache
def service_provider_config() -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=Reference[External]("https://github.com/tui/tui#scim"),
        patch=Patch(supported=True),
        bulk=Bulk(supported=True, max_operations=MAX_OPERATIONS, max_payload_size=MAX_BODY),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token made by tui scim token create --source NAME",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{PREFIX}/ServiceProviderConfig"),
    )
    return _dump(config)
