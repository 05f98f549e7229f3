"""Where an import writes: the external source that owns the keys, and the custom-field schemas.

Both are looked up (and the source optionally created) before any record is sent, so a misnamed source or
schema stops the run with one clear line instead of failing every record.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import ConfigError, TransientApiError

DEFAULT_EXTERNAL_SOURCE = "contacts-pipeline"

# Creating the external source is not replayed blindly by the client (a POST); after a transient failure
# we look again, since the first attempt may have been applied, and try again this many times.
SOURCE_CREATE_ATTEMPTS = 3


async def resolve_external_source(
    client: Any, name: str, *, create: bool, dry_run: bool = False
) -> str | None:
    """The id of the external source named exactly ``name``, created on request.

    ``None`` only in a dry run asked to create a missing source: a dry run changes nothing, so the
    source stays missing and every record keyed by it would be new.
    """
    for attempt in range(SOURCE_CREATE_ATTEMPTS):
        source = await client.find_external_source(name)
        if source is not None:
            return str(source["id"])
        if not create:
            raise ConfigError(
                f"external source {name!r} does not exist; pass --create-source to create it, "
                "or --external-source to name an existing one"
            )
        if dry_run:
            return None
        try:
            created = await client.create_external_source(name)
        except TransientApiError:
            if attempt + 1 == SOURCE_CREATE_ATTEMPTS:
                raise
            continue
        return str(created["id"])
    raise AssertionError("unreachable")  # pragma: no cover


def custom_fields(columns: list[str], kind: str) -> list[str]:
    prefix = f"{kind}.customFields."
    return [c.removeprefix(prefix) for c in columns if c.startswith(prefix)]


async def resolve_schema(client: Any, kind: str, wanted: str | None, fields: list[str]) -> dict | None:
    """The ``{id, version}`` reference for custom fields, after checking the schema has every field."""
    if not fields:
        return None
    schemas = await client.list_schemas(f"{kind}s")
    names = ", ".join(sorted(str(s.get("name")) for s in schemas)) or "none"
    flag = "--contact-schema" if kind == "contact" else "--organization-schema"
    if wanted is None:
        raise ConfigError(
            f"the file has {kind} custom fields ({', '.join(fields)}); name their schema with {flag} "
            f"(available: {names})"
        )
    match = [s for s in schemas if wanted in (s.get("id"), s.get("name"))]
    if not match:
        raise ConfigError(f"{kind} schema {wanted!r} not found (available: {names})")
    schema = match[0]
    properties = (schema.get("jsonSchema") or {}).get("properties") or {}
    missing = [f for f in fields if f not in properties]
    if missing:
        raise ConfigError(
            f"{kind} schema {schema.get('name')!r} has no field(s) {', '.join(missing)}; "
            f"it has {', '.join(sorted(properties)) or 'none'}"
        )
    return {"id": schema["id"], "version": schema.get("version")}
