"""``INSERT ... ON CONFLICT DO NOTHING`` on both engines: create a row unless a concurrent
transaction created it first (on PostgreSQL the loser waits for the winner, then yields)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["insert_ignore"]


async def insert_ignore(
    session: Any, model: Any, values: dict[str, Any], conflict: Sequence[str]
) -> None:
    """Insert ``values`` into ``model``'s table unless a row with the same ``conflict``
    columns exists; the caller reads the row back either way."""
    dialect = session.sync_session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.exec(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    )
