"""Take-next latency with many inquiries in the database; prints one JSON line.

    .venv/bin/python bench/take_next.py [--rows 1000000] [--tenants 50] [--takes 500]
                                        [--database-url URL]

Fills a fresh database (SQLite by default, or the empty PostgreSQL database given, as its
owner) with ``--rows`` open inquiries spread over ``--tenants`` tenants and 3 queues each,
then times ``take_next`` (the service behind ``POST .../inquiries/take-next``) for random
tenants, each in its own tenant-bound transaction. Target: p99 under 20 ms at 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from core.db import migrate
from core.db.base import utcnow
from core.db.engine import Database
from core.settings import load_settings
from plugins.intake.services import take_next


def build(url: str, home: Path, rows: int, tenants: int) -> None:
    settings = load_settings(home=home, database_url=url)
    migrate.upgrade(settings)
    engine = sa.create_engine(migrate.sync_url(url))
    now = utcnow()
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO tenant (id, slug, display_name, display_name_en, color, status, retention_days,"
                " working_hours, role_templates, config_version, reveal_soft_limit, reveal_hard_limit,"
                " read_soft_limit, read_hard_limit, created_at, updated_at) VALUES (:id, :slug, :slug, '',"
                " '#000000', 'active', 1, '', '{}', 1, 0, 0, 0, 0, :t, :t)"
            ),
            [{"id": t, "slug": f"t{t}", "t": now} for t in range(1, tenants + 1)],
        )
    for tenant in range(1, tenants + 1):
        with engine.begin() as c:
            if c.dialect.name == "postgresql":
                c.execute(
                    sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)}
                )
            c.execute(
                sa.text(
                    "INSERT INTO intake_queue (tenant_id, id, slug, name, channels, keywords,"
                    " position) VALUES (:t, :id, :slug, :slug, '[]', '[]', :p)"
                ),
                [{"t": tenant, "id": tenant * 10 + q, "slug": f"q{q}", "p": q} for q in range(3)],
            )
            batch = []
            for n in range(rows // tenants):
                created = now - timedelta(seconds=n)
                batch.append(
                    {
                        "t": tenant,
                        "uid": str(uuid.uuid4()),
                        "r": f"R{tenant}-{n}",
                        "q": tenant * 10 + n % 3,
                        "p": 1 + n % 5,
                        "c": created,
                        "d": created + timedelta(hours=1),
                    }
                )
                if len(batch) == 20_000:
                    _insert(c, batch)
                    batch.clear()
            if batch:
                _insert(c, batch)
    with engine.begin() as c:  # statistics, as autovacuum (or sqlite's optimize) keeps them
        c.execute(sa.text("ANALYZE"))
    engine.dispose()


def _insert(c: sa.Connection, batch: list[dict[str, object]]) -> None:
    c.execute(
        sa.text(
            "INSERT INTO intake_inquiry (tenant_id, uid, receipt_no, channel, status, priority, queue_id,"
            " category, tags, first_response_due, resolution_due, created_at, updated_at) VALUES"
            " (:t, :uid, :r, 'web', 'new', :p, :q, '', '[]', :d, :d, :c, :c)"
        ),
        batch,
    )


async def measure(url: str, tenants: int, takes: int) -> dict[str, object]:
    db = Database(url)
    rng = random.Random(7)
    timings = []
    for n in range(takes):
        tenant = rng.randint(1, tenants)
        started = time.perf_counter()
        async with db.session(tenant) as session:
            taken = await take_next(session, 1000 + n, [tenant * 10 + q for q in range(3)])
        timings.append(time.perf_counter() - started)
        assert taken is not None and taken.priority == 1
    await db.dispose()
    cuts = statistics.quantiles(timings, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 2), "p99_ms": round(cuts[98] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--takes", type=int, default=500)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/var/madoguchi.db"
        t0 = time.perf_counter()
        build(url, Path(tmp), args.rows, args.tenants)
        result = asyncio.run(measure(url, args.tenants, args.takes))
        print(
            json.dumps(
                {
                    "bench": "take_next",
                    "engine": url.split(":")[0],
                    "rows": args.rows,
                    "tenants": args.tenants,
                    "takes": args.takes,
                    **result,
                    "build_seconds": round(time.perf_counter() - t0, 1),
                    "target_p99_ms": 20,
                }
            )
        )


if __name__ == "__main__":
    main()
