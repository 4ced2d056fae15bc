"""intake data: existing tenants' inbound addresses claimed, vocabularies seeded

Each address goes to the tenant that was created first among those listing it (the others
keep it in their settings, get no mail there any more, and are refused with a clear error at
their next save until they change it). Each tenant with intake gets the default vocabulary,
the kinds of inquiry its web form offers and the categories its queues route by. Labels
already on inquiries are left as they are and not copied (free text may hold personal data).

Revision ID: c0a1e0000021
Revises: c0a1e0000020
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "c0a1e0000021"
down_revision: str | None = "c0a1e0000020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as plugins/intake/vocabulary.py had them when this was written (a migration keeps its own)
CATEGORIES = (
    "商品・サービス",
    "注文・配送",
    "請求・支払い",
    "契約・解約",
    "登録情報の変更",
    "ご意見・ご要望",
    "苦情",
    "その他",
)
TAGS = ("至急", "要折り返し", "再問い合わせ", "クレーム", "高齢のお客様", "要エスカレーション")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _label(text: str, limit: int) -> str | None:
    label = unicodedata.normalize("NFKC", text).strip()
    return label if 1 <= len(label) <= limit and "\n" not in label and "\r" not in label else None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    now = datetime.now(UTC)
    tenants = bind.execute(sa.text("SELECT id FROM tenant ORDER BY id")).scalars().all()
    taken: set[str] = set()
    for tenant_id in tenants:
        if postgres:  # row-level security: this tenant's rows only, as the app would
            bind.execute(
                sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
            )
        row = bind.execute(
            sa.text(
                "SELECT enabled, settings FROM tenant_plugin"
                " WHERE tenant_id = :t AND plugin_id = 'intake'"
            ),
            {"t": tenant_id},
        ).first()
        if row is None:
            continue
        settings = _json(row.settings) or {}
        if row.enabled:
            for address in settings.get("inbound_addresses") or []:
                address = str(address).strip().lower()
                if address and address not in taken and len(address) <= 254:
                    taken.add(address)
                    bind.execute(
                        sa.text(
                            "INSERT INTO intake_inbound_address (tenant_id, address, created_at)"
                            " VALUES (:t, :a, :now)"
                        ),
                        {"t": tenant_id, "a": address, "now": now},
                    )
        routed = [
            c
            for (categories,) in bind.execute(
                sa.text("SELECT categories FROM intake_queue WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
            for c in _json(categories) or []
        ]
        wanted = {
            "category": [*CATEGORIES, *(settings.get("contact_categories") or []), *routed],
            "tag": list(TAGS),
        }
        for kind, labels in wanted.items():
            limit = 64 if kind == "category" else 32
            for label in dict.fromkeys(filter(None, (_label(str(x), limit) for x in labels))):
                bind.execute(
                    sa.text(
                        "INSERT INTO intake_vocabulary (tenant_id, kind, label, created_at)"
                        " VALUES (:t, :k, :l, :now)"
                    ),
                    {"t": tenant_id, "k": kind, "l": label, "now": now},
                )
    if postgres:
        bind.execute(sa.text("SELECT set_config('app.tenant_id', '', true)"))


def downgrade() -> None:
    pass  # the rows go with the tables in c0a1e0000020's downgrade
