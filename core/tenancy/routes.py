"""Platform routes for tenants: the same operations as ``madoguchi tenant apply``."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from core.tenancy.manifest import parse_manifest
from core.tenancy.schemas import (
    PluginState,
    TenantChanges,
    TenantIn,
    TenantRead,
    TenantWriteResult,
)
from core.tenancy.service import (
    apply_specs,
    as_manifest,
    get_tenant,
    list_tenants,
    read_tenant,
    tenant_plugins,
)
from core.web.errors import ApiError
from core.web.openapi import refusals
from core.web.state import CoreState

__all__ = ["TenantAdminController", "TenantPluginsController"]


class TenantAdminController(Controller):
    path = "/api/v1/admin/tenants"
    tags = ("admin",)

    @get("/", opt={"permission": "tenant:list"})
    async def index(self, session: NamedDependency[AsyncSession]) -> list[TenantRead]:
        return [await read_tenant(session, t) for t in await list_tenants(session)]

    @post(
        "/",
        opt={"permission": "tenant:create"},
        responses=refusals(409, s409="A tenant with this slug exists already."),
    )
    async def create(
        self,
        data: JSONBody[TenantIn],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
    ) -> Response[TenantWriteResult]:
        """A tenant from its manifest; 422 names a field the manifest refuses (a plugin's
        setting, a permission no plugin adds, a soft limit above the hard one...)."""
        spec = parse_manifest(data.model_dump(exclude_unset=True), core.host)
        if await get_tenant(session, spec.slug) is not None:
            raise ApiError(409, f"Tenant {spec.slug} exists already; use PATCH.", field="slug")
        await session.close()
        changes = await apply_specs(core.db, core.host, [spec], services=core.services)
        return Response(await self._result(core, spec.slug, changes[0].changes), status_code=201)

    @get("/{slug:str}", opt={"permission": "tenant:read"}, responses=refusals(404))
    async def show(self, slug: FromPath[str], session: NamedDependency[AsyncSession]) -> TenantRead:
        tenant = await get_tenant(session, slug)
        if tenant is None:
            raise ApiError(404, "No such tenant.")
        return await read_tenant(session, tenant)

    @patch("/{slug:str}", opt={"permission": "tenant:update"}, responses=refusals(404))
    async def update(
        self,
        slug: FromPath[str],
        data: JSONBody[TenantChanges],
        core: NamedDependency[CoreState],
        session: NamedDependency[AsyncSession],
    ) -> TenantWriteResult:
        """Change the fields given; a change of the security settings waits for a second
        person's approval (``changes`` says so)."""
        patch_data = data.model_dump(exclude_unset=True)
        tenant = await get_tenant(session, slug)
        if tenant is None:
            raise ApiError(404, "No such tenant.")
        if patch_data.get("slug", slug) != slug:
            raise ApiError(422, "The slug of a tenant cannot be changed.", field="slug")
        merged = as_manifest(await read_tenant(session, tenant))
        for key, value in patch_data.items():
            if key == "plugins" and isinstance(value, dict):
                for plugin_id, entry in value.items():
                    current = merged["plugins"].get(plugin_id, {})
                    if isinstance(entry, dict):
                        settings = {**current.get("settings", {}), **entry.get("settings", {})}
                        merged["plugins"][plugin_id] = {**current, **entry, "settings": settings}
                    else:
                        merged["plugins"][plugin_id] = entry
            elif key in ("roles", "security") and isinstance(value, dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        spec = parse_manifest(merged, core.host)
        await session.close()
        changes = await apply_specs(core.db, core.host, [spec], services=core.services)
        return await self._result(core, slug, changes[0].changes)

    @staticmethod
    async def _result(core: CoreState, slug: str, changes: list[str]) -> TenantWriteResult:
        async with core.db.session() as session:
            tenant = await get_tenant(session, slug)
            assert tenant is not None
            return TenantWriteResult(tenant=await read_tenant(session, tenant), changes=changes)


class TenantPluginsController(Controller):
    path = "/api/v1/t/{tenant:str}/plugins"
    tags = ("tenant",)

    @get("/", opt={"permission": "plugin:list"})
    async def list_plugins(
        self, core: NamedDependency[CoreState], session: NamedDependency[AsyncSession]
    ) -> list[PluginState]:
        return [
            PluginState(id=p.plugin_id, enabled=p.enabled, settings=p.settings)
            for p in await tenant_plugins(session)
            if p.plugin_id in core.host.manifests
        ]
