"""Permission checks per second with 1,000 tenants x 5 roles x 20 users; prints JSON lines.

    .venv/bin/python bench/authz.py [--tenants 1000]

Builds a temporary SQLite database with the tenants (each with its own role templates) and
their users' grants, then measures, with the app's own code:

* warm check: ``Authorizer.allows`` for a (roles, tenant, permission) seen before;
* cold tenant load: the first check for a tenant not seen yet, including reading its row and
  role templates from the database and building its enforcer;
* first check for a user in a warm tenant (the per-request grant lookup included).

Targets: warm check under 5 microseconds, cold tenant load under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from core.authz.policy import Authorizer
from core.authz.roles import TENANT_ROLES
from core.db import migrate
from core.db.base import utcnow
from core.db.engine import Database
from core.identity.models import User
from core.identity.service import principal_for, tenant_domain
from core.settings import load_settings
from core.tenancy.models import Tenant

ROLES = (*TENANT_ROLES, "security_officer")
PERMISSIONS = (
    "customer:read",
    "pii:reveal",
    "audit:read",
    "export:approve",
    "plugin:list",
    "inquiry:read",
    "report:read",
)


def build(home: Path, tenants: int, users_per_tenant: int) -> str:
    settings = load_settings(home=home)
    migrate.upgrade(settings)
    engine = sa.create_engine(migrate.sync_url(settings.database_url))
    now = utcnow()
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO tenant (id, slug, display_name, display_name_en, color, status, "
                "retention_days, working_hours, role_templates, config_version, reveal_soft_limit, "
                "reveal_hard_limit, read_soft_limit, read_hard_limit, created_at, updated_at) VALUES "
                "(:id, :slug, :name, '', '#000000', 'active', 1, '', :roles, 1, 0, 0, 0, 0, :t, :t)"
            ),
            [
                {
                    "id": n,
                    "slug": f"t{n:04d}",
                    "name": f"テナント{n}",
                    "t": now,
                    "roles": json.dumps(
                        {"client_viewer": ["plugin:list", "audit:read"]} if n % 2 else {}
                    ),
                }
                for n in range(1, tenants + 1)
            ],
        )
        users = [
            {"id": n, "email": f"u{n}@example.jp", "t": now}
            for n in range(1, tenants * users_per_tenant + 1)
        ]
        c.execute(
            sa.text(
                "INSERT INTO user_account (id, email, display_name, is_active, totp_last_step, "
                "failed_logins, language, created_at) VALUES (:id, :email, '', 1, 0, 0, 'ja', :t)"
            ),
            users,
        )
        c.execute(
            sa.text(
                "INSERT INTO role_grant (user_id, role, tenant_id, created_at) VALUES "
                "(:u, :role, :tenant, :t)"
            ),
            [
                {
                    "u": u["id"],
                    "role": TENANT_ROLES[u["id"] % 4],
                    "tenant": (u["id"] - 1) // users_per_tenant + 1,
                    "t": now,
                }
                for u in users
            ],
        )
    engine.dispose()
    return settings.database_url


async def measure(url: str, tenants: int, users_per_tenant: int) -> list[dict[str, object]]:
    db = Database(url)
    authorizer = Authorizer({"operator": ["inquiry:read"], "client_viewer": ["report:read"]})
    rng = random.Random(1)

    async def tenant_policy(tenant_id: int) -> tuple[int, dict[str, list[str]]]:
        async with db.session() as session:
            row = await session.get(Tenant, tenant_id)
        assert row is not None
        return row.config_version, dict(row.role_templates or {})

    # cold: first check for each of 200 tenants, database read of its policy included
    cold = []
    for tenant_id in rng.sample(range(1, tenants + 1), 200):
        started = time.perf_counter()
        version, templates = await tenant_policy(tenant_id)
        authorizer.allows(
            {"operator"},
            tenant_domain(tenant_id),
            "customer:read",
            version=version,
            templates=templates,
        )
        cold.append(time.perf_counter() - started)

    # warm: every role and permission of 50 loaded tenants, then timed in a tight loop
    loaded = [(t, *(await tenant_policy(t))) for t in range(1, 51)]
    cases = [
        (frozenset({role}), tenant_domain(t), perm, v, tpl)
        for t, v, tpl in loaded
        for role in ROLES
        for perm in PERMISSIONS
    ]
    for roles, domain, perm, v, tpl in cases:
        authorizer.allows(roles, domain, perm, version=v, templates=tpl)
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for roles, domain, perm, v, tpl in cases:
            authorizer.allows(roles, domain, perm, version=v, templates=tpl)
    warm = (time.perf_counter() - started) / (rounds * len(cases))

    # per request: the user's grants read fresh, then a warm decision
    per_request = []
    for user_id in rng.sample(range(1, 50 * users_per_tenant + 1), 300):
        started = time.perf_counter()
        async with db.session() as session:
            user = (await session.exec(select(User).where(User.id == user_id))).one()
            principal = await principal_for(session, user)
        [(domain, roles)] = principal.roles.items()
        tenant_id = int(domain[2:])
        version, templates = loaded[tenant_id - 1][1], loaded[tenant_id - 1][2]
        authorizer.allows(roles, domain, "customer:read", version=version, templates=templates)
        per_request.append(time.perf_counter() - started)
    await db.dispose()

    def ms(values: list[float], q: float) -> float:
        return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 3)

    base = {
        "bench": "authz",
        "tenants": tenants,
        "roles": len(ROLES),
        "users_per_tenant": users_per_tenant,
    }
    return [
        {
            **base,
            "measure": "warm_check",
            "microseconds": round(warm * 1e6, 3),
            "checks_per_s": round(1 / warm),
            "target_microseconds": 5,
        },
        {
            **base,
            "measure": "cold_tenant_load",
            "p50_ms": ms(cold, 50),
            "p99_ms": ms(cold, 99),
            "target_ms": 20,
        },
        {
            **base,
            "measure": "request_grants_plus_check",
            "p50_ms": ms(per_request, 50),
            "p99_ms": ms(per_request, 99),
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp), args.tenants, args.users)
        for line in asyncio.run(measure(url, args.tenants, args.users)):
            print(json.dumps(line))


if __name__ == "__main__":
    main()
