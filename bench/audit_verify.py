"""Verify an audit chain of N events (default 1,000,000); prints one JSON line.

    .venv/bin/python bench/audit_verify.py [--events N] [--database-url URL]

Builds a fresh SQLite database in a temporary folder (or uses the PostgreSQL URL given, as
owner), writes one tenant's chain with correct hashes in bulk, then times
``core.audit.verify.verify_tenant`` end to end (database read included). Target: at least
200,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from core.audit.chain import event_hash
from core.audit.models import GENESIS
from core.audit.verify import verify_tenant
from core.db import migrate
from core.db.base import utcnow
from core.db.engine import Database
from core.settings import load_settings


def build(settings_url: str, home: Path, events: int) -> None:
    settings = load_settings(home=home, database_url=settings_url)
    migrate.upgrade(settings)
    engine = sa.create_engine(migrate.sync_url(settings.migration_database_url))
    start = utcnow()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO tenant (id, slug, display_name, display_name_en, color, status, "
                "retention_days, working_hours, role_templates, config_version, reveal_soft_limit, "
                "reveal_hard_limit, read_soft_limit, read_hard_limit, created_at, updated_at) VALUES "
                "(1, 'bench', 'ベンチ', '', '#000000', 'active', 1, '', '{}', 1, 0, 0, 0, 0, :t, :t)"
            ),
            {"t": start},
        )
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT set_config('app.tenant_id', '1', true)"))
        prev, batch = GENESIS, []
        insert = sa.text(
            "INSERT INTO audit_event (tenant_id, seq, at, actor_user_id, actor_roles, action, "
            "object_type, object_id, fields, purpose, outcome, request_id, client_addr, "
            "prev_hash, hash) VALUES (1, :seq, :at, :actor, :roles, :action, :otype, :oid, "
            ":fields, :purpose, :outcome, :rid, :addr, :prev, :hash)"
        )
        for seq in range(1, events + 1):
            at = start + timedelta(microseconds=seq)
            values = [
                seq,
                at,
                7,
                ["operator"],
                "pii.read",
                "customer",
                f"c-{seq % 5000}",
                ["name", "phone"],
                "問い合わせ対応",
                "ok",
                f"req-{seq}",
                "10.0.0.7",
                prev,
            ]
            digest = event_hash("t:1", values)
            batch.append(
                {
                    "seq": seq,
                    "at": at,
                    "actor": 7,
                    "roles": '["operator"]',
                    "action": "pii.read",
                    "otype": "customer",
                    "oid": values[6],
                    "fields": '["name","phone"]',
                    "purpose": values[8],
                    "outcome": "ok",
                    "rid": values[10],
                    "addr": values[11],
                    "prev": prev,
                    "hash": digest,
                }
            )
            prev = digest
            if len(batch) == 50_000:
                connection.execute(insert, batch)
                batch.clear()
        if batch:
            connection.execute(insert, batch)
        connection.execute(
            sa.text("INSERT INTO audit_head (tenant_id, seq, hash) VALUES (1, :s, :h)"),
            {"s": events, "h": prev},
        )
    engine.dispose()


async def measure(url: str, events: int) -> dict[str, object]:
    db = Database(url)
    started = time.perf_counter()
    verifier = await verify_tenant(db, 1)
    elapsed = time.perf_counter() - started
    await db.dispose()
    assert verifier.report.ok, verifier.report.reason
    assert verifier.report.events == events
    return {
        "bench": "audit_verify",
        "engine": url.split(":")[0],
        "events": events,
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed),
        "target_events_per_s": 200_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="PostgreSQL (owner) URL; default a temp SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{home / 'var' / 'madoguchi.db'}"
        t0 = time.perf_counter()
        build(url, home, args.events)
        built = time.perf_counter() - t0
        result = asyncio.run(measure(url, args.events))
        result["build_seconds"] = round(built, 1)
        # the same hashing without the database, for comparison in the same run
        rows = [
            [
                n,
                utcnow(),
                7,
                ["operator"],
                "pii.read",
                "customer",
                "c",
                ["name"],
                "p",
                "ok",
                "r",
                "a",
                GENESIS,
            ]
            for n in range(200_000)
        ]
        t0 = time.perf_counter()
        for row in rows:
            event_hash("t:1", row)
        result["hash_only_events_per_s"] = round(len(rows) / (time.perf_counter() - t0))
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
