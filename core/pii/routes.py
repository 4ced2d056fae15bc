"""Customer routes: create, look up and list (masked), reveal (with a purpose)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.pii.access import PersonalData, PurposeRequired, UnknownField
from core.pii.models import Customer
from core.pii.schemas import CustomerIn, CustomerOut, CustomerSearch, MergeRequest, RevealRequest
from core.security.guard import LimitExceeded
from core.tenancy.context import TenantContext
from core.web.errors import ApiError
from core.web.state import CoreState

__all__ = ["CustomerController"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _accessor(core: CoreState, session: AsyncSession, ctx: TenantContext) -> PersonalData:
    return PersonalData(core.db, session, core.keyring, ctx)


async def _view(pd: PersonalData, customers: list[Customer]) -> list[CustomerOut]:
    try:
        return [CustomerOut(**row) for row in await pd.view(customers)]
    except LimitExceeded as exc:
        raise ApiError(
            429, "1時間あたりの閲覧上限に達しました。 Hourly read limit reached."
        ) from exc


class CustomerController(Controller):
    path = "/api/v1/t/{tenant:str}/customers"
    tags = ("customers",)

    @post("/", opt={"permission": "customer:create"})
    async def create(
        self,
        data: JSONBody[CustomerIn],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        pd = _accessor(core, session, ctx)
        customer = await pd.create_customer(data.model_dump())
        [shown] = await _view(pd, [customer])
        return Response(shown, status_code=201, headers=NO_STORE)

    @get("/", opt={"permission": "customer:read"})
    async def index(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
        limit: FromQuery[int] = 50,
        offset: FromQuery[int] = 0,
    ) -> Response[list[CustomerOut]]:
        if not 1 <= limit <= 200 or offset < 0:
            raise ApiError(400, "limit must be 1-200 and offset 0 or more", field="limit")
        customers = list(
            (
                await session.exec(
                    select(Customer)
                    .where(col(Customer.merged_into_id).is_(None))
                    .order_by(col(Customer.id))
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
        )
        return Response(await _view(_accessor(core, session, ctx), customers), headers=NO_STORE)

    @post("/search", opt={"permission": "customer:read"}, status_code=200)
    async def search(
        self,
        data: JSONBody[CustomerSearch],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[list[CustomerOut]]:
        if not data.phone and not data.email:
            raise ApiError(400, "Give a phone number or an e-mail address.", field="phone")
        pd = _accessor(core, session, ctx)
        found = await pd.find(phone=data.phone, email=data.email)
        return Response(await _view(pd, found), headers=NO_STORE)

    @get("/duplicates", opt={"permission": "customer:read"})
    async def duplicates(
        self,
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[list[list[CustomerOut]]]:
        """Groups of records sharing a phone number or e-mail address, masked."""
        pd = _accessor(core, session, ctx)
        groups = await pd.duplicates()
        return Response([await _view(pd, group) for group in groups], headers=NO_STORE)

    @post("/{uid:str}/merge", opt={"permission": "customer:merge"}, status_code=200)
    async def merge(
        self,
        uid: FromPath[str],
        data: JSONBody[MergeRequest],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        """Merge this (duplicate) record into ``into``; the answer is the merged record."""
        pd = _accessor(core, session, ctx)
        source = (await session.exec(select(Customer).where(Customer.uid == uid))).first()
        target = await pd.by_uid(data.into)
        if source is None or target is None:
            raise ApiError(404, "No such customer.")
        try:
            await pd.merge(source, target)
        except UnknownField as exc:
            raise ApiError(409, str(exc)) from exc
        [shown] = await _view(pd, [target])
        return Response(shown, headers=NO_STORE)

    @get("/{uid:str}", opt={"permission": "customer:read"})
    async def show(
        self,
        uid: FromPath[str],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[CustomerOut]:
        pd = _accessor(core, session, ctx)
        customer = await pd.by_uid(uid)
        if customer is None:
            raise ApiError(404, "No such customer.")
        [shown] = await _view(pd, [customer])
        return Response(shown, headers=NO_STORE)

    @post("/{uid:str}/reveal", opt={"permission": "pii:reveal"}, status_code=200)
    async def reveal(
        self,
        uid: FromPath[str],
        data: JSONBody[RevealRequest],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
        ctx: NamedDependency[TenantContext],
    ) -> Response[dict[str, Any]]:
        pd = _accessor(core, session, ctx)
        customer = await pd.by_uid(uid)
        if customer is None:
            raise ApiError(404, "No such customer.")
        try:
            values = await pd.reveal(customer, data.fields, data.purpose, data.note)
        except PurposeRequired as exc:
            raise ApiError(
                422, f"閲覧目的を一覧から選んでください。 Choose a purpose: {exc}", field=exc.field
            ) from exc
        except UnknownField as exc:
            raise ApiError(422, f"Not a personal field: {exc}", field="fields") from exc
        except LimitExceeded as exc:
            raise ApiError(
                429, "1時間あたりの開示上限に達しました。 Hourly reveal limit reached."
            ) from exc
        return Response({"uid": uid, "values": values}, headers=NO_STORE)
