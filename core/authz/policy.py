"""Permission decisions with Casbin (RBAC with domains; the tenant is the domain).

Policy lines (role, domain, object, action) come from the role defaults, the grants plugins
propose and the tenant's own role templates; one small enforcer per domain is built lazily and
cached by the domain's configuration. Which roles a user holds is read fresh for each request
(see :mod:`core.identity.service`), so a revoked grant takes effect at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import casbin

from core.authz.roles import (
    PLATFORM_DOMAIN,
    PLATFORM_ROLES,
    ROLE_DEFAULTS,
    SECURITY_OFFICER_IN_TENANT,
    TENANT_ROLES,
)

__all__ = ["Authorizer"]

MODEL_TEXT = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""

# pycasbin logs every decision at INFO; our own audit events replace that.
logging.getLogger("casbin").setLevel(logging.WARNING)


class Authorizer:
    def __init__(self, plugin_grants: Mapping[str, Iterable[str]] | None = None) -> None:
        self._plugin_grants = {role: tuple(g) for role, g in (plugin_grants or {}).items()}
        self._enforcers: dict[str, tuple[object, casbin.Enforcer]] = {}
        self._decisions: dict[tuple[str, object, frozenset[str], str], bool] = {}

    def _grants(self, domain: str, templates: Mapping[str, list[str]]) -> dict[str, set[str]]:
        roles = PLATFORM_ROLES if domain == PLATFORM_DOMAIN else TENANT_ROLES
        grants: dict[str, set[str]] = {}
        for role in roles:
            if role in templates:
                grants[role] = set(templates[role])
            else:
                grants[role] = set(ROLE_DEFAULTS.get(role, ())) | set(
                    self._plugin_grants.get(role, ())
                )
        if domain != PLATFORM_DOMAIN:
            grants["security_officer"] = set(SECURITY_OFFICER_IN_TENANT)
        return grants

    def _enforcer(
        self, domain: str, version: object, templates: Mapping[str, list[str]]
    ) -> casbin.Enforcer:
        cached = self._enforcers.get(domain)
        if cached is not None and cached[0] == version:
            return cached[1]
        model = casbin.Model()
        model.load_model_from_text(MODEL_TEXT)
        enforcer = casbin.Enforcer(model, enable_log=False)
        for role, permissions in self._grants(domain, templates).items():
            enforcer.add_grouping_policy(role, role, domain)
            for permission in sorted(permissions):
                obj, _, act = permission.partition(":")
                enforcer.add_policy(role, domain, obj, act)
        self._enforcers[domain] = (version, enforcer)
        return enforcer

    def allows(
        self,
        roles: Iterable[str],
        domain: str,
        permission: str,
        *,
        version: object = 0,
        templates: Mapping[str, list[str]] | None = None,
    ) -> bool:
        """Whether any of ``roles`` grants ``permission`` (``object:action``) in ``domain``."""
        role_set = frozenset(roles)
        key = (domain, version, role_set, permission)
        decision = self._decisions.get(key)
        if decision is None:
            enforcer = self._enforcer(domain, version, templates or {})
            obj, _, act = permission.partition(":")
            decision = any(enforcer.enforce(role, domain, obj, act) for role in role_set)
            if len(self._decisions) > 100_000:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision
