"""Offboarding a client: an encrypted archive of its data, then crypto-shredding.

The archive (JSON, AES-256-GCM under a fresh key shown once) is written first; only then is
the tenant's data key destroyed, so nothing is lost by accident. The deletion certificate is
an audit event in the tenant's chain and in the platform chain, naming the archive's SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import select

from core.audit.log import record
from core.db.base import utcnow
from core.db.engine import Database
from core.pii.access import PersonalData
from core.pii.keyring import KeyRing
from core.pii.models import Customer
from core.settings import Settings
from core.tenancy.models import Tenant, TenantStatus
from core.tenancy.service import context_of

__all__ = ["offboard", "open_archive"]

MAGIC = b"MDGARCH1"


def open_archive(path: Path, key_text: str) -> dict[str, object]:
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        raise ValueError("not a Madoguchi archive")
    nonce, body = raw[len(MAGIC) : len(MAGIC) + 12], raw[len(MAGIC) + 12 :]
    key = base64.urlsafe_b64decode(key_text)
    data: dict[str, object] = json.loads(AESGCM(key).decrypt(nonce, body, MAGIC))
    return data


async def offboard(
    db: Database, settings: Settings, tenant_id: int, archive: Path | None = None
) -> tuple[Path, str, str]:
    """Returns (archive path, archive key, certificate hash)."""
    keyring = KeyRing(settings)
    async with db.session() as platform:
        tenant = await platform.get(Tenant, tenant_id)
    assert tenant is not None
    if tenant.status == TenantStatus.OFFBOARDED:
        raise ValueError(f"tenant {tenant.slug} was offboarded already")
    ctx = context_of(tenant)
    async with db.session(ctx) as session:
        pd = PersonalData(db, session, keyring, ctx)
        customers = list((await session.exec(select(Customer))).all())
        rows = await pd.plaintext_rows(customers)
    payload = json.dumps(
        {
            "tenant": tenant.slug,
            "display_name": tenant.display_name,
            "exported_at": utcnow().isoformat(),
            "customers": rows,
        },
        ensure_ascii=False,
    ).encode()
    key, nonce = secrets.token_bytes(32), os.urandom(12)
    blob = MAGIC + nonce + AESGCM(key).encrypt(nonce, payload, MAGIC)
    path = (
        archive
        or settings.var_dir / "archives" / f"{tenant.slug}-{utcnow():%Y%m%dT%H%M%S}.mdgarchive"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    digest = hashlib.sha256(blob).hexdigest()

    async with db.session(ctx) as session:
        destroyed = await keyring.destroy(session, tenant_id)
        certificate = await record(
            session,
            "tenant.offboard",
            object_type="tenant",
            object_id=tenant_id,
            fields=[
                f"archive_sha256:{digest[:32]}",
                f"records:{len(rows)}",
                f"keys_destroyed:{destroyed}",
            ],
            purpose="crypto-shredding after export",
        )
    async with db.session() as platform:
        row = await platform.get(Tenant, tenant_id)
        assert row is not None
        row.status, row.updated_at = TenantStatus.OFFBOARDED, utcnow()
        row.config_version += 1
        await record(
            platform,
            "tenant.offboard",
            object_type="tenant",
            object_id=tenant_id,
            fields=[f"certificate:{certificate[:32]}"],
        )
    return path, base64.urlsafe_b64encode(key).decode(), certificate
