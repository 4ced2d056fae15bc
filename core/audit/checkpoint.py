"""Signed checkpoints of the chain heads: ``madoguchi audit checkpoint``.

The heads of every chain are signed with an Ed25519 key kept outside the database
(``var/keys/audit-signing.key`` or ``MADOGUCHI_AUDIT_SIGNING_KEY``) and written to
``var/audit/checkpoints/``. Someone who rewrites a whole chain, recomputing every hash, still
cannot make the event at a checkpointed sequence number match the signed hash.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from core.audit.chain import ChainReport
from core.audit.log import tenant_chain
from core.audit.models import AuditHead, PlatformAuditHead
from core.audit.verify import verify_platform, verify_tenant
from core.crypto.keyfiles import load_or_create_key
from core.db.base import utcnow
from core.db.engine import Database
from core.settings import Settings
from core.tenancy.models import Tenant

__all__ = ["CheckpointError", "verify_all", "write_checkpoint"]

REVIEW = "audit-review"


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable or its signature does not verify."""


def _signing_key(settings: Settings) -> Ed25519PrivateKey:
    raw = load_or_create_key(
        settings.var_dir / "keys" / "audit-signing.key", env="MADOGUCHI_AUDIT_SIGNING_KEY"
    )
    return Ed25519PrivateKey.from_private_bytes(raw)


def _checkpoint_dir(settings: Settings) -> Path:
    return settings.var_dir / "audit" / "checkpoints"


def _canonical(heads: dict[str, dict[str, Any]], created_at: str) -> bytes:
    return json.dumps(
        {"created_at": created_at, "heads": heads}, sort_keys=True, separators=(",", ":")
    ).encode()


async def current_heads(db: Database) -> dict[str, dict[str, Any]]:
    heads: dict[str, dict[str, Any]] = {}
    async with db.session(cross_tenant=REVIEW) as session:
        for head in (await session.exec(select(AuditHead))).all():
            heads[tenant_chain(head.tenant_id)] = {"seq": head.seq, "hash": head.hash}
        platform = await session.get(PlatformAuditHead, 1)
        if platform is not None:
            heads["platform"] = {"seq": platform.seq, "hash": platform.hash}
    return heads


async def write_checkpoint(db: Database, settings: Settings) -> Path:
    heads = await current_heads(db)
    created_at = utcnow().isoformat()
    key = _signing_key(settings)
    signature = key.sign(_canonical(heads, created_at))
    folder = _checkpoint_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{created_at.replace(':', '').replace('+0000', 'Z')}.json"
    path.write_text(
        json.dumps(
            {
                "created_at": created_at,
                "heads": heads,
                "signature": base64.b64encode(signature).decode(),
            },
            indent=2,
            sort_keys=True,
        ),
        encoding="utf-8",
    )
    return path


def latest_checkpoint(settings: Settings) -> dict[str, Any] | None:
    """The newest checkpoint, its signature verified; None if there is none yet."""
    files = (
        sorted(_checkpoint_dir(settings).glob("*.json"))
        if _checkpoint_dir(settings).exists()
        else []
    )
    if not files:
        return None
    try:
        data = json.loads(files[-1].read_text(encoding="utf-8"))
        signature = base64.b64decode(data["signature"])
        _signing_key(settings).public_key().verify(
            signature, _canonical(data["heads"], data["created_at"])
        )
    except (ValueError, KeyError, InvalidSignature) as exc:
        raise CheckpointError(f"checkpoint {files[-1].name} does not verify") from exc
    checkpoint: dict[str, Any] = data
    return checkpoint


@dataclass
class VerifyResult:
    reports: list[ChainReport]
    checkpoint: str | None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)


async def verify_all(
    db: Database, settings: Settings, tenant_id: int | None = None, *, include_platform: bool = True
) -> VerifyResult:
    """Verify the chains (one tenant's, or all) and compare them with the latest checkpoint."""
    checkpoint = latest_checkpoint(settings)
    signed: dict[str, dict[str, Any]] = checkpoint["heads"] if checkpoint else {}
    reports: list[ChainReport] = []
    if tenant_id is None:
        async with db.session() as session:
            tenant_ids = [
                t.id for t in (await session.exec(select(Tenant).order_by(col(Tenant.id)))).all()
            ]
    else:
        tenant_ids = [tenant_id]
    for tid in tenant_ids:
        assert tid is not None
        chain = tenant_chain(tid)
        wanted = {signed[chain]["seq"]} if chain in signed else set()
        verifier = await verify_tenant(db, tid, keep_hashes_at=wanted)
        reports.append(_against(verifier.report, verifier.hashes_at, signed.get(chain)))
    if include_platform and tenant_id is None:
        wanted = {signed["platform"]["seq"]} if "platform" in signed else set()
        verifier = await verify_platform(db, keep_hashes_at=wanted)
        reports.append(_against(verifier.report, verifier.hashes_at, signed.get("platform")))
    return VerifyResult(reports, checkpoint["created_at"] if checkpoint else None)


def _against(
    report: ChainReport,
    hashes_at: dict[int, str],
    signed: dict[str, Any] | None,
) -> ChainReport:
    if not report.ok or signed is None or signed["seq"] == 0:
        return report
    seq = signed["seq"]
    if report.events < seq:
        return report.fail(report.events + 1, f"chain ends before the checkpoint's event {seq}")
    if hashes_at.get(seq) != signed["hash"]:
        return report.fail(seq, "chain was rewritten since the checkpoint")
    return report
