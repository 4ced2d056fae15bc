"""The audited accessor: the only way code reads or writes a customer's personal fields.

* Writes seal each field under the tenant's data key, bound to (tenant, table, column, uid).
* Reads return masked values and leave one ``pii.read`` audit event per record shown.
* Reveals need a purpose from :data:`core.audit.purposes.REVEAL_PURPOSES` (and may carry a
  note, sealed), leave a ``pii.reveal`` event naming the fields and the purpose, are held to the
  tenant's hourly limits, and raise an alert when they touch a canary customer.

The route decides who may call which method (``customer:read``, ``pii:reveal``); the accessor
decides how, and records it in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.audit.log import Actor, AuditEntry, record, record_many
from core.audit.purposes import REVEAL_PURPOSES, PurposeRequired, StatedPurpose, Vocabulary
from core.crypto.sealing import blind_index, open_field, seal_field, sealed_version
from core.db.base import new_uid, tenant_scoped_models, utcnow
from core.db.engine import Database
from core.db.statements import TENANT, TenantStatement
from core.db.statements import run as run_statement
from core.pii.fields import mask, normalise
from core.pii.keyring import KeyRing
from core.pii.models import Customer, PurposeNote
from core.security.guard import check_canaries, check_limits
from core.tenancy.context import TenantContext
from core.tenancy.models import Tenant

__all__ = ["CustomerRef", "PersonalData", "PurposeRequired", "UnknownField"]

FIELDS: Mapping[str, str] = Customer.__pii__
INDEXED = {"phone": "phone_index", "email": "email_index"}


class CustomerRef(NamedTuple):
    id: int
    uid: str


class UnknownField(ValueError):
    """A field that is not a personal field of the record."""


def _known_fields(values: Mapping[str, str | None]) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise UnknownField(unknown[0])


def _lookup_index(key: bytes, kind: str, value: str) -> str:
    """The blind index a lookup by phone or e-mail compares with (the value normalised)."""
    return blind_index(key, kind, normalise(kind, value))


# built once, run with each group's indexes: the lookups of create_customers (no ORDER BY:
# SQLite would then scan the tenant)
_BY_INDEX = {
    column: TenantStatement(
        sa.select(col(Customer.id), col(Customer.uid), col(column)).where(
            col(Customer.tenant_id) == TENANT,
            col(column).in_(sa.bindparam("indexes", expanding=True)),
            col(Customer.merged_into_id).is_(None),
        )
    )
    for column in (Customer.phone_index, Customer.email_index)
}
_NEW_CUSTOMERS = TenantStatement.insert(Customer, col(Customer.uid), col(Customer.id))


def sealed_text_models() -> list[Any]:
    """Tenant-scoped models with free text sealed by ``PersonalData.seal_text``: they name
    those columns in ``__sealed_text__`` (and have a ``uid``, which the seal is bound to)."""
    return [m for m in tenant_scoped_models() if getattr(m, "__sealed_text__", ())]


_SEALED_TEXT: set[tuple[str, str]] = set()  # (table, column) declared, filled on first use


def _declared_text(table: str, column: str) -> bool:
    if (table, column) not in _SEALED_TEXT:  # models imported since: look again
        _SEALED_TEXT.update(
            (m.__tablename__, c) for m in sealed_text_models() for c in m.__sealed_text__
        )
    return (table, column) in _SEALED_TEXT


@dataclass
class PersonalData:
    db: Database
    session: AsyncSession
    keyring: KeyRing
    tenant: TenantContext
    # the tenant's config_version as this transaction read it, if it did (the key ring then
    # need not read the active key again while it is unchanged)
    config_version: int | None = None
    # the active data key, read once per accessor (an accessor lives for one transaction)
    _active: tuple[int, bytes] | None = field(default=None, init=False, repr=False)

    async def _active_key(self) -> tuple[int, bytes]:
        if self._active is None:
            self._active = await self.keyring.active_key(
                self.session, self.tenant.id, self.config_version
            )
        return self._active

    async def _tenant_row(self) -> Tenant:
        async with self.db.session() as platform:
            row = await platform.get(Tenant, self.tenant.id)
        assert row is not None
        return row

    # -- writing ---------------------------------------------------------------------------

    async def create_customer(self, values: Mapping[str, str | None]) -> Customer:
        customer = Customer(tenant_id=self.tenant.id, uid=new_uid())
        await self._seal(customer, values)
        self.session.add(customer)
        await self.session.flush()
        await record(
            self.session,
            "customer.create",
            object_type="customer",
            object_id=customer.uid,
            fields=[k for k, v in values.items() if v],
        )
        return customer

    async def update_customer(self, customer: Customer, values: Mapping[str, str | None]) -> None:
        await self._seal(customer, values)
        customer.updated_at = utcnow()
        await record(
            self.session,
            "customer.update",
            object_type="customer",
            object_id=customer.uid,
            fields=list(values),
        )

    async def create_customers(
        self,
        people: Sequence[Mapping[str, str | None]],
        actors: Sequence[Actor | None] | None = None,
        audit_into: list[AuditEntry] | None = None,
    ) -> list[CustomerRef | None]:
        """The customer of each entry of a group: found by phone, then by e-mail (blind
        indexes), or else created, once per phone number or address within the group.
        An entry with no phone, e-mail or name gets None. One lookup and one insert for the
        whole group; each new record is audited as ``customer.create`` by its entry's actor
        (appended to ``audit_into`` when given, for the caller to record in this transaction
        with its own events under one chain update)."""
        for values in people:
            _known_fields(values)
        version, key = await self._active_key()

        def index(kind: str, value: str | None) -> str | None:
            return _lookup_index(key, kind, value) if value else None

        wanted = [(index("phone", v.get("phone")), index("email", v.get("email"))) for v in people]
        phones = {phone for phone, _ in wanted if phone}
        emails = {email for _, email in wanted if email}
        by_phone: dict[str, CustomerRef] = {}
        by_email: dict[str, CustomerRef] = {}
        lookups: list[tuple[Any, set[str], dict[str, CustomerRef]]] = [
            (Customer.phone_index, phones, by_phone),
            (Customer.email_index, emails, by_email),
        ]
        for column, indexes, known in lookups:
            if not indexes:
                continue
            rows = await run_statement(self.session, _BY_INDEX[column], {"indexes": list(indexes)})
            for ident, uid, value in sorted(rows.all(), key=lambda row: row[0] or 0):
                if value:  # always (it matched one of the indexes)
                    known.setdefault(value, CustomerRef(ident or 0, uid))  # the oldest record
        answers: list[CustomerRef | None] = []
        new_rows: list[dict[str, Any]] = []
        events: list[AuditEntry] = []
        now = utcnow()
        for n, (values, (phone, email)) in enumerate(zip(people, wanted, strict=True)):
            found = (by_phone.get(phone) if phone else None) or (
                by_email.get(email) if email else None
            )
            if found is None and (phone or email or values.get("name")):
                found = CustomerRef(0, new_uid())  # the id is known after the insert
                new_rows.append(
                    {
                        "tenant_id": self.tenant.id,
                        "uid": found.uid,
                        "created_at": now,
                        "updated_at": now,
                        **self._sealed(key, version, found.uid, values),
                    }
                )
                events.append(
                    AuditEntry(
                        "customer.create",
                        object_type="customer",
                        object_id=found.uid,
                        fields=[k for k, v in values.items() if v],
                        actor=actors[n] if actors else None,
                    )
                )
                if phone:
                    by_phone[phone] = found
                if email:
                    by_email.setdefault(email, found)
            answers.append(found)
        if new_rows:
            ids = dict((await run_statement(self.session, _NEW_CUSTOMERS, new_rows)).all())
            answers = [CustomerRef(ids[a.uid], a.uid) if a and not a.id else a for a in answers]
            if audit_into is not None:
                audit_into.extend(events)
            else:
                await record_many(self.session, events)
        return answers

    def _sealed(
        self, key: bytes, version: int, uid: str, values: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Column values for a customer's fields: sealed, with the blind indexes."""
        columns: dict[str, str | None] = {}
        for name, value in values.items():
            if value is None or not str(value).strip():
                columns[name] = None
                if name in INDEXED:
                    columns[INDEXED[name]] = None
                continue
            text = normalise(FIELDS[name], str(value)) if name in INDEXED else str(value).strip()
            columns[name] = seal_field(key, version, self.tenant.id, "customer", name, uid, text)
            if name in INDEXED:
                columns[INDEXED[name]] = blind_index(key, name, text)
        return columns

    async def _seal(self, customer: Customer, values: Mapping[str, str | None]) -> None:
        _known_fields(values)
        version, key = await self._active_key()
        for name, value in self._sealed(key, version, customer.uid, values).items():
            setattr(customer, name, value)

    async def seal_text(self, table: str, column: str, uid: str, text: str | None) -> str | None:
        """Seal free text of another table (an inquiry's subject, a message body) the same way
        as a customer's fields: bound to (tenant, table, column, uid). The model must name the
        column in ``__sealed_text__``, or key rotation cannot re-seal it (and destroys the key
        it needs)."""
        if not _declared_text(table, column):
            raise ValueError(f"{table}.{column} is not declared in its model's __sealed_text__")
        if text is None or not text.strip():
            return None
        version, key = await self._active_key()
        return seal_field(key, version, self.tenant.id, table, column, uid, text)

    async def open_text(self, table: str, column: str, uid: str, sealed: str | None) -> str | None:
        """Open sealed free text. Callers show it masked or audit the read (``read_text``)."""
        if sealed is None:
            return None
        key = await self.keyring.key_version(self.session, self.tenant.id, sealed_version(sealed))
        return open_field(key, self.tenant.id, table, column, uid, sealed)

    async def state_purpose(
        self, vocabulary: Vocabulary, code: str, note: str | None = None
    ) -> str:
        """The ``purpose`` to record for an access done for ``code`` of ``vocabulary``, with
        ``note`` (free text, optional unless the purpose needs one) sealed in a row of its own
        in this transaction. Raises :class:`PurposeRequired` before writing anything."""
        text = note.strip() if note else None
        vocabulary.choose(code, text or None)
        if not text:
            return StatedPurpose(code).stored()
        uid = new_uid()
        sealed = await self.seal_text(PurposeNote.__tablename__, "note", uid, text)
        assert sealed is not None
        self.session.add(PurposeNote(tenant_id=self.tenant.id, uid=uid, note=sealed))
        return StatedPurpose(code, uid).stored()

    # -- finding ---------------------------------------------------------------------------

    async def find(self, *, phone: str | None = None, email: str | None = None) -> list[Customer]:
        """Exact lookups through the blind indexes (every live key version is tried)."""
        if not phone and not email:
            return []
        _, key = await self._active_key()
        statement = select(Customer)
        if phone:
            statement = statement.where(Customer.phone_index == _lookup_index(key, "phone", phone))
        if email:
            statement = statement.where(Customer.email_index == _lookup_index(key, "email", email))
        statement = statement.where(col(Customer.merged_into_id).is_(None))
        return list((await self.session.exec(statement.order_by(col(Customer.id)))).all())

    async def by_uid(self, uid: str) -> Customer | None:
        """The customer, or the record it was merged into."""
        customer = (await self.session.exec(select(Customer).where(Customer.uid == uid))).first()
        while customer is not None and customer.merged_into_id is not None:
            customer = await self.session.get(Customer, customer.merged_into_id)
        return customer

    async def duplicates(self) -> list[list[Customer]]:
        """Groups of live records that share a phone number or an e-mail address (compared
        through the blind indexes, never in plaintext)."""
        rows = list(
            (
                await self.session.exec(
                    select(Customer)
                    .where(col(Customer.merged_into_id).is_(None))
                    .order_by(col(Customer.id))
                )
            ).all()
        )
        groups: dict[tuple[str, str], list[Customer]] = {}
        for customer in rows:
            for kind, value in (("phone", customer.phone_index), ("email", customer.email_index)):
                if value:
                    groups.setdefault((kind, value), []).append(customer)
        seen: set[tuple[int, ...]] = set()
        result = []
        for members in groups.values():
            ids = tuple(sorted(c.id for c in members if c.id is not None))
            if len(ids) > 1 and ids not in seen:
                seen.add(ids)
                result.append(members)
        return result

    async def merge(self, source: Customer, target: Customer) -> None:
        """Merge a duplicate into another record: fields the target lacks are taken over,
        the duplicate is kept but hidden and points at the target; audited."""
        if source.id == target.id or source.merged_into_id is not None:
            raise UnknownField("the record is merged already or is the same")
        taken = {}
        for name in FIELDS:
            if getattr(target, name) is None and getattr(source, name) is not None:
                taken[name] = await self._open(source, name)
        if taken:
            await self._seal(target, taken)
            target.updated_at = utcnow()
        source.merged_into_id = target.id
        source.phone_index = source.email_index = None
        await record(
            self.session,
            "customer.merge",
            object_type="customer",
            object_id=source.uid,
            fields=sorted(taken),
            purpose=f"into {target.uid}",
        )

    # -- reading ---------------------------------------------------------------------------

    async def field(self, customer: Customer, name: str) -> str | None:
        """One field in plaintext, for a caller that audits its own use of it (sending a
        reply by e-mail, checking an identity). Prefer :meth:`view` and :meth:`reveal`."""
        if name not in FIELDS:
            raise UnknownField(name)
        return await self._open(customer, name)

    async def _open(self, customer: Customer, name: str) -> str | None:
        sealed = getattr(customer, name)
        if sealed is None:
            return None
        key = await self.keyring.key_version(self.session, self.tenant.id, sealed_version(sealed))
        return open_field(key, self.tenant.id, "customer", name, customer.uid, sealed)

    async def count_read(self, records: int) -> None:
        """Hold a read of other personal text (an inquiry's conversation) to the tenant's
        hourly limits; raises :class:`LimitExceeded` (a PermissionError) past the hard one."""
        await check_limits(self.session, await self._tenant_row(), self.tenant, "pii.read", records)

    async def view(self, customers: Iterable[Customer]) -> list[dict[str, Any]]:
        """Masked records, one ``pii.read`` audit event each."""
        rows = list(customers)
        await check_limits(
            self.session, await self._tenant_row(), self.tenant, "pii.read", len(rows)
        )
        result = []
        for customer in rows:
            shown: dict[str, Any] = {"uid": customer.uid}
            for name, kind in FIELDS.items():
                shown[name] = mask(kind, await self._open(customer, name))
            await record(
                self.session,
                "pii.read",
                object_type="customer",
                object_id=customer.uid,
                fields=[n for n in FIELDS if shown[n]],
            )
            result.append(shown)
        return result

    async def reveal(
        self,
        customer: Customer,
        fields: Iterable[str],
        purpose: str,
        note: str | None = None,
    ) -> dict[str, str | None]:
        """Plaintext of the named fields, for a purpose of :data:`REVEAL_PURPOSES` (its code)
        with an optional note (sealed); audited and limited."""
        wanted = sorted(set(fields))
        unknown = [f for f in wanted if f not in FIELDS]
        if unknown or not wanted:
            raise UnknownField(unknown[0] if unknown else "fields")
        REVEAL_PURPOSES.choose(purpose, note.strip() if note else None)  # refused before counting
        await check_limits(self.session, await self._tenant_row(), self.tenant, "pii.reveal", 1)
        assert customer.id is not None
        await check_canaries(self.session, self.tenant, [customer.id], "pii.reveal")
        values = {name: await self._open(customer, name) for name in wanted}
        await record(
            self.session,
            "pii.reveal",
            object_type="customer",
            object_id=customer.uid,
            fields=wanted,
            purpose=await self.state_purpose(REVEAL_PURPOSES, purpose, note),
        )
        return values

    async def plaintext_rows(self, customers: Iterable[Customer]) -> list[dict[str, str | None]]:
        """Every field in plaintext, for an approved export (the caller audits the export)."""
        rows = []
        for customer in customers:
            row: dict[str, str | None] = {"uid": customer.uid}
            for name in FIELDS:
                row[name] = await self._open(customer, name)
            rows.append(row)
        return rows
