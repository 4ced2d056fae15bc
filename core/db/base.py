"""Shared model plumbing: the naming convention, column types and the tenant-scoped mixin.

Every table that holds a client's data inherits :class:`TenantScoped`. That one base is what
the tenant-filtered session, the flush check and PostgreSQL row-level security key on, so a
new table cannot opt out by forgetting a step: ``tests/core/db/test_tenant_tables.py`` lists
every table with a ``tenant_id`` column and fails for one that is not protected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
import uuid_utils
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

__all__ = [
    "JSONType",
    "TZDateTime",
    "TenantScoped",
    "metadata",
    "new_uid",
    "tenant_id_field",
    "tenant_scoped_models",
    "utcnow",
]

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class TZDateTime(sa.types.TypeDecorator[datetime]):
    """A UTC timestamp that comes back timezone-aware on every engine (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uid() -> str:
    """A row's public id: a UUIDv7 (time-ordered, 74 random bits), so rows created together
    share the last pages of a ``uid`` index instead of each dirtying a random one."""
    return str(uuid_utils.uuid7())


class TenantScoped(SQLModel):
    """Mixin for every table that belongs to one tenant.

    ``__cross_tenant__`` names a reason when a table may, exceptionally, be read across
    tenants by an explicit request (the job queue's claim); by default it may not.
    """

    __cross_tenant__: ClassVar[str | None] = None

    tenant_id: int = Field(foreign_key="tenant.id", index=True, nullable=False)


def tenant_id_field(*, index: bool) -> Any:
    """``tenant_id`` of a tenant-scoped table whose own indexes lead with it (``index=False``):
    a second index of the tenant alone costs every insert a page of its own, and on PostgreSQL
    a generic plan may pick it over the right one and scan the tenant's rows."""
    return Field(foreign_key="tenant.id", index=index, nullable=False)


_scoped_cache: tuple[int, list[type[TenantScoped]]] = (-1, [])


def tenant_scoped_models() -> list[type[TenantScoped]]:
    """Every concrete (table-backed) tenant-scoped model imported so far.

    Asked on every ORM statement, so the walk is cached until a new table is defined (every
    table model adds itself to the metadata when its class is created)."""
    global _scoped_cache
    if _scoped_cache[0] == len(metadata.tables):
        return _scoped_cache[1]
    found: list[type[TenantScoped]] = []
    stack: list[type[Any]] = list(TenantScoped.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "__table__", None) is not None and cls not in found:
            found.append(cls)
    models = sorted(found, key=lambda c: c.__tablename__)  # type: ignore[arg-type,return-value]
    _scoped_cache = (len(metadata.tables), models)
    return models
