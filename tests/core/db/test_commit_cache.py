"""A process cache sees what a transaction put only once that transaction committed."""

from __future__ import annotations

import pytest

from core.db.commit_cache import CommitCache, publish_on_commit
from core.db.engine import Database


async def test_a_put_is_seen_by_its_own_transaction_and_by_others_only_after_commit(
    db: Database,
) -> None:
    cache: CommitCache[str, int] = CommitCache()
    async with db.session() as writing:
        cache.put(writing, "queues", 1)
        assert cache.get(writing, "queues") == 1
        async with db.session() as other:
            assert cache.get(other, "queues") is None
    async with db.session() as later:
        assert cache.get(later, "queues") == 1


async def test_a_rolled_back_put_is_never_published(db: Database) -> None:
    cache: CommitCache[str, int] = CommitCache()
    published: list[str] = []
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            cache.put(session, "key", 1)
            publish_on_commit(session, lambda: published.append("key"))
            raise RuntimeError("the transaction fails")
    async with db.session() as session:
        assert cache.get(session, "key") is None
    assert published == []


async def test_a_put_inside_a_savepoint_that_rolled_back_is_dropped(db: Database) -> None:
    cache: CommitCache[str, int] = CommitCache()
    async with db.session() as session:
        await session.connection()
        cache.put(session, "kept", 1)
        savepoint = await session.begin_nested()
        cache.put(session, "undone", 2)
        await savepoint.rollback()
        assert cache.get(session, "undone") is None
        released = await session.begin_nested()
        cache.put(session, "released", 3)
        await released.commit()
        async with db.session() as other:  # a released savepoint is not a commit
            assert cache.get(other, "released") is None
    async with db.session() as later:
        assert [cache.get(later, k) for k in ("kept", "undone", "released")] == [1, None, 3]
