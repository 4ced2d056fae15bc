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

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.approvals.service import related
from core.audit.log import current_actor, record
from core.audit.purposes import EXPORT_PURPOSES, PurposeRequired
from core.csv_cells import safe_row
from core.db.base import utcnow
from core.pii.access import PersonalData
from core.pii.models import Customer
from core.security.guard import check_canaries
from core.security.models import ExportRequest
from core.tenancy.models import Tenant

__all__ = ["EXPORT_KINDS", "ExportError", "approve", "render", "request_export"]

EXPORT_KINDS = ("customers",)


class ExportError(Exception):
    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


async def request_export(
    session: AsyncSession, pd: PersonalData, kind: str, purpose: str, note: str | None = None
) -> ExportRequest:
    """A request for a bulk export, for a purpose from :data:`EXPORT_PURPOSES` (an optional
    note is sealed, never stored or audited in plaintext). Raises ExportError 422."""
    if kind not in EXPORT_KINDS:
        raise ExportError(422, f"kind must be one of {', '.join(EXPORT_KINDS)}")
    try:
        stated = await pd.state_purpose(EXPORT_PURPOSES, purpose, note)
    except PurposeRequired as exc:
        raise ExportError(422, str(exc), field=exc.field) from exc
    actor = current_actor()
    assert actor.user_id is not None
    row = ExportRequest(
        tenant_id=pd.tenant.id, kind=kind, reason=stated, requested_by=actor.user_id
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        "export.request",
        object_type="export",
        object_id=row.id or "",
        fields=[kind],
        purpose=stated,
    )
    return row


async def approve(session: AsyncSession, export_id: int, accept: bool) -> ExportRequest:
    """Decide on a pending request as the current actor: a second person, neither of whom
    made the other's account or granted the other's role within the tenant's four-eyes window
    (``sod_window_days``). Deciding is one conditional update: a request is decided once."""
    row = await session.get(ExportRequest, export_id)
    if row is None:
        raise ExportError(404, "No such export request.")
    actor = current_actor()
    assert actor.user_id is not None
    if row.requested_by == actor.user_id:
        raise ExportError(403, "A second person must decide on an export request.")
    if row.status != "pending":
        raise ExportError(409, f"The request is {row.status} already.")
    tenant = await session.get(Tenant, row.tenant_id)
    assert tenant is not None
    now = utcnow()
    if accept and tenant.sod_window_days:
        reason = await related(
            session, row.requested_by, actor.user_id, now - timedelta(days=tenant.sod_window_days)
        )
        if reason:
            raise ExportError(
                403,
                f"Four eyes must be independent: {reason} within the last "
                f"{tenant.sod_window_days} days.",
            )
    decided = await session.exec(
        sa.update(ExportRequest)
        .where(col(ExportRequest.id) == export_id, col(ExportRequest.status) == "pending")
        .values(
            status="approved" if accept else "rejected",
            decided_by=actor.user_id,
            decided_at=now,
            expires_at=now + timedelta(hours=tenant.export_valid_hours) if accept else None,
        )
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:
        raise ExportError(409, "The request was decided already.")
    await session.refresh(row)
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
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        row.status = "expired"
        raise ExportError(410, "The approval has expired.")
    # the one download: taken atomically before the file is made, so parallel downloads of
    # one approval cannot all pass the check above (if making the file fails, the claim rolls
    # back with it)
    claimed = await session.exec(
        sa.update(ExportRequest)
        .where(
            col(ExportRequest.id) == export_id,
            col(ExportRequest.status) == "approved",
            col(ExportRequest.requested_by) == actor.user_id,
        )
        .values(status="downloaded", downloaded_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise ExportError(410, "The export was downloaded already.")
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
    for data in rows:  # a customer's text must never run as a spreadsheet formula
        writer.writerow(
            safe_row(
                [
                    *(data[c] or "" for c in columns),
                    _watermark(watermark_key, export_id, recipient, str(data["uid"])),
                ]
            )
        )
    await record(
        session,
        "export.download",
        object_type="export",
        object_id=export_id,
        fields=[row.kind, f"rows:{len(rows)}"],
    )
    return out.getvalue(), len(rows)
