"""What a rogue administrator with database access could do to a tenant's audit chain: raw SQL
as the table owner, bypassing the app's role, its session filter and its privileges."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from core.audit.chain import HASHED_COLUMNS, event_hash
from core.db.engine import make_engine
from core.settings import Settings

COLUMNS = HASHED_COLUMNS


class Owner:
    """Raw SQL as the table owner on one tenant's rows."""

    def __init__(self, settings: Settings, tenant_id: int) -> None:
        self.engine = make_engine(settings.migration_database_url, poolclass=sa.pool.NullPool)
        self.tenant_id = tenant_id

    async def _as_owner(self, connection: sa.ext.asyncio.AsyncConnection) -> None:
        if connection.dialect.name == "postgresql":  # FORCE RLS binds the owner too
            await connection.execute(
                sa.text("SELECT set_config('app.tenant_id', :t, true)"),
                {"t": str(self.tenant_id)},
            )

    async def run(self, sql: str, **params: object) -> None:
        async with self.engine.begin() as connection:
            await self._as_owner(connection)
            await connection.execute(sa.text(sql), params)

    async def rows(self) -> list[sa.Row[object]]:
        async with self.engine.begin() as connection:
            await self._as_owner(connection)
            result = await connection.execute(
                sa.text(
                    f"SELECT id, {', '.join(COLUMNS)}, hash FROM audit_event "
                    "WHERE tenant_id = :t ORDER BY seq"
                ),
                {"t": self.tenant_id},
            )
            return list(result.all())

    async def rewrite(self, purpose: str, *, from_seq: int = 1) -> None:
        """Change every event's purpose from ``from_seq`` on and recompute every hash after
        it, and the head: a chain consistent in itself again."""
        prev = "0" * 64
        for row in await self.rows():
            values = list(row[1:14])
            if isinstance(values[1], str):  # SQLite hands raw timestamps back as text
                values[1] = datetime.fromisoformat(values[1])
            if isinstance(values[3], str):
                values[3], values[7] = json.loads(values[3]), json.loads(values[7])
            if values[0] >= from_seq:
                values[8] = purpose
            values[12] = prev
            digest = event_hash(f"t:{self.tenant_id}", values)
            await self.run(
                "UPDATE audit_event SET purpose = :p, prev_hash = :prev, hash = :h WHERE id = :id",
                p=values[8],
                prev=prev,
                h=digest,
                id=row[0],
            )
            prev = digest
        await self.run(
            "UPDATE audit_head SET hash = :h WHERE tenant_id = :t", h=prev, t=self.tenant_id
        )

    async def truncate(self, keep: int) -> None:
        """Delete the events after ``keep`` and make the head say the chain ends there."""
        last = next(r for r in await self.rows() if r.seq == keep)
        await self.run(
            "DELETE FROM audit_event WHERE seq > :k AND tenant_id = :t", k=keep, t=self.tenant_id
        )
        await self.run(
            "UPDATE audit_head SET seq = :k, hash = :h WHERE tenant_id = :t",
            k=keep,
            h=last.hash,
            t=self.tenant_id,
        )

    async def remove_tenant(self, *, keep: tuple[str, ...] = ()) -> None:
        """Delete the tenant and every row of it, except in the ``keep`` tables, with the
        foreign keys that would stop that out of the way."""
        async with self.engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            if not postgres:  # the first statement, so outside SQLite's transaction
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await self._as_owner(connection)

            def layout(c: sa.Connection) -> list[tuple[str, list[str]]]:
                inspector = sa.inspect(c)
                ordered = [t for t, _ in inspector.get_sorted_table_and_fkc_names() if t]
                return [
                    (t, [fk["name"] for fk in inspector.get_foreign_keys(t) if fk["name"]])
                    for t in reversed(ordered)  # dependants first
                    if "tenant_id" in {column["name"] for column in inspector.get_columns(t)}
                ]

            for table, foreign_keys in await connection.run_sync(layout):
                if table not in keep:
                    await connection.execute(
                        sa.text(f'DELETE FROM "{table}" WHERE tenant_id = :t'),
                        {"t": self.tenant_id},
                    )
                elif postgres:
                    for name in foreign_keys:
                        await connection.execute(
                            sa.text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                        )
            await connection.execute(
                sa.text("DELETE FROM tenant WHERE id = :t"), {"t": self.tenant_id}
            )

    async def dispose(self) -> None:
        await self.engine.dispose()
