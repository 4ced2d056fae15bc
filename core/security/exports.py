"""Four-eyes bulk export: request, approval by a second person, one watermarked download.

The file is made at download time for the person who asked, marked with who it is for: a
header line and, per row, a keyed watermark (HMAC of export, recipient and row) that traces a
leaked copy back to its recipient without revealing anything itself.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import current_actor, record
from core.db.base import utcnow
from core.pii.access import PersonalData
from core.pii.models import Customer
from core.security.guard import check_canaries
from core.security.models import ExportRequest

__all__ = ["EXPORT_KINDS", "ExportError", "approve", "render", "request_export"]

EXPORT_KINDS = ("customers",)
VALID_FOR = timedelta(hours=24)


class ExportError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def request_export(
    session: AsyncSession, tenant_id: int, kind: str, reason: str
) -> ExportRequest:
    if kind not in EXPORT_KINDS:
        raise ExportError(422, f"kind must be one of {', '.join(EXPORT_KINDS)}")
    if len(reason.strip()) < 4:
        raise ExportError(422, "state why the export is needed")
    actor = current_actor()
    assert actor.user_id is not None
    row = ExportRequest(
        tenant_id=tenant_id, kind=kind, reason=reason.strip()[:500], requested_by=actor.user_id
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        "export.request",
        object_type="export",
        object_id=row.id or "",
        fields=[kind],
        purpose=row.reason,
    )
    return row


async def approve(session: AsyncSession, export_id: int, accept: bool) -> ExportRequest:
    row = await session.get(ExportRequest, export_id)
    if row is None:
        raise ExportError(404, "No such export request.")
    actor = current_actor()
    if row.requested_by == actor.user_id:
        raise ExportError(403, "A second person must decide on an export request.")
    if row.status != "pending":
        raise ExportError(409, f"The request is {row.status} already.")
    now = utcnow()
    row.status = "approved" if accept else "rejected"
    row.decided_by, row.decided_at = actor.user_id, now
    if accept:
        row.expires_at = now + VALID_FOR
    await record(
        session,
        f"export.{'approve' if accept else 'reject'}",
        object_type="export",
        object_id=export_id,
    )
    return row


def _watermark(secret: bytes, export_id: int, recipient: str, uid: str) -> str:
    return hmac.new(secret, f"{export_id}|{recipient}|{uid}".encode(), hashlib.sha256).hexdigest()[
        :16
    ]


async def render(
    session: AsyncSession, pd: PersonalData, export_id: int, recipient: str, watermark_key: bytes
) -> tuple[str, int]:
    """The CSV for the requester of an approved, unexpired, not yet downloaded export."""
    row = await session.get(ExportRequest, export_id)
    if row is None:
        raise ExportError(404, "No such export request.")
    actor = current_actor()
    if row.requested_by != actor.user_id:
        raise ExportError(403, "Only the person who requested the export may download it.")
    if row.status == "downloaded":
        raise ExportError(410, "The export was downloaded already.")
    if row.status != "approved":
        raise ExportError(409, f"The request is {row.status}, not approved.")
    if row.expires_at is not None and row.expires_at <= utcnow():
        row.status = "expired"
        raise ExportError(410, "The approval has expired.")
    customers = list((await session.exec(select(Customer).order_by(col(Customer.id)))).all())
    await check_canaries(session, pd.tenant, [c.id for c in customers if c.id], "export.download")
    rows = await pd.plaintext_rows(customers)
    out = io.StringIO()
    out.write(
        f"# Madoguchi export {export_id} for {recipient} at {utcnow().isoformat()}: "
        "confidential, do not forward\n"
    )
    writer = csv.writer(out)
    columns = ["uid", "name", "name_kana", "phone", "email", "address", "birth_date", "note"]
    writer.writerow([*columns, "watermark"])
    for data in rows:
        writer.writerow(
            [
                *(data[c] or "" for c in columns),
                _watermark(watermark_key, export_id, recipient, str(data["uid"])),
            ]
        )
    row.status, row.downloaded_at = "downloaded", utcnow()
    await record(
        session,
        "export.download",
        object_type="export",
        object_id=export_id,
        fields=[row.kind, f"rows:{len(rows)}"],
    )
    return out.getvalue(), len(rows)
