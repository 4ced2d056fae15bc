"""Tenant manifests: ``tenants/<slug>.toml``, the reviewable description of one client.

The same validation serves the files, the admin API and the console, so a tenant cannot be
put into a state a manifest could not describe. Errors name the file and the field.

```toml
display_name = "みつばち本舗株式会社"
display_name_en = "Mitsubachi Honpo Co., Ltd."
color = "#d08c00"
retention_days = 1095
working_hours = "09:00-18:00"

[plugins.intake]
enabled = true
settings = { inbound_addresses = ["support@mitsubachi.example.jp"] }

[roles]
operator = ["inquiry:read", "inquiry:reply"]
```
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from core.plugins.api import SettingsError
from core.plugins.host import PluginHost

__all__ = [
    "LIMITS",
    "LIMIT_MAX",
    "SECURITY_KEYS",
    "SECURITY_RANGES",
    "TENANT_ROLES",
    "TENANT_STATUSES",
    "ManifestError",
    "PluginChoice",
    "TenantSpec",
    "TenantStatusName",
    "load_manifests",
    "parse_manifest",
]

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
# ASCII digits only ([0-9], not \d, which takes every script's digits)
HOURS_RE = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]-(?:[01][0-9]|2[0-4]):[0-5][0-9]$")
TENANT_ROLES = ("supervisor", "operator", "client_admin", "client_viewer")
TenantStatusName = Literal["active", "suspended"]
TENANT_STATUSES: tuple[str, ...] = get_args(TenantStatusName)
_KEYS = {
    "slug",
    "display_name",
    "display_name_en",
    "color",
    "retention_days",
    "working_hours",
    "plugins",
    "roles",
    "status",
    "security",
}
LIMIT_MAX = 1_000_000
LIMITS = ("reveal_soft_limit", "reveal_hard_limit", "read_soft_limit", "read_hard_limit")
# ``[security]``: the limits, and the export rules (the four-eyes window, how long an approved
# export can be fetched)
SECURITY_KEYS = (*LIMITS, "sod_window_days", "export_valid_hours")
LIMIT_DEFAULTS = {
    "reveal_soft_limit": 20,
    "reveal_hard_limit": 50,
    "read_soft_limit": 500,
    "read_hard_limit": 2000,
    "sod_window_days": 30,
    "export_valid_hours": 24,
}
SECURITY_RANGES = {"sod_window_days": (0, 365), "export_valid_hours": (1, 168)}


class ManifestError(ValueError):
    """A manifest is invalid. ``source`` is the file (or "request"), ``field`` a dotted path."""

    def __init__(self, source: str, field: str, message: str) -> None:
        super().__init__(f"{source}: {field}: {message}")
        self.source = source
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PluginChoice:
    enabled: bool
    settings: dict[str, Any]


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    display_name: str
    display_name_en: str = ""
    color: str = "#1f6feb"
    retention_days: int = 1095
    working_hours: str = ""
    status: str = "active"
    reveal_soft_limit: int = 20
    reveal_hard_limit: int = 50
    read_soft_limit: int = 500
    read_hard_limit: int = 2000
    sod_window_days: int = 30
    export_valid_hours: int = 24
    plugins: dict[str, PluginChoice] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)
    source: str = "request"


def _expect(source: str, name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and kind is int:
        raise ManifestError(source, name, "expected an integer")
    if not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ManifestError(source, name, f"expected {wanted}, got {type(value).__name__}")
    return value


def parse_manifest(
    data: Mapping[str, Any], host: PluginHost, *, source: str = "request", slug: str | None = None
) -> TenantSpec:
    """Validate one manifest's data against the registered plugins and permissions."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ManifestError(source, unknown[0], "unknown field")
    slug_value = data.get("slug", slug)
    if slug is not None and slug_value != slug:
        raise ManifestError(source, "slug", f"must match the file name ({slug})")
    if slug_value is None:
        raise ManifestError(source, "slug", "required")
    _expect(source, "slug", slug_value, str)
    if not SLUG_RE.fullmatch(slug_value):
        raise ManifestError(source, "slug", "lower-case letters, digits and -, 1-63 characters")
    if "display_name" not in data:
        raise ManifestError(source, "display_name", "required")
    display_name = _expect(source, "display_name", data["display_name"], str).strip()
    if not display_name or len(display_name) > 200:
        raise ManifestError(source, "display_name", "1-200 characters")
    display_name_en = _expect(source, "display_name_en", data.get("display_name_en", ""), str)
    color = _expect(source, "color", data.get("color", "#1f6feb"), str)
    if not COLOR_RE.fullmatch(color):
        raise ManifestError(source, "color", "a colour like #1f6feb")
    retention = _expect(source, "retention_days", data.get("retention_days", 1095), int)
    if not 1 <= retention <= 36500:
        raise ManifestError(source, "retention_days", "between 1 and 36500")
    hours = _expect(source, "working_hours", data.get("working_hours", ""), str)
    if hours and not HOURS_RE.fullmatch(hours):
        raise ManifestError(source, "working_hours", "like 09:00-18:00")
    status = _expect(source, "status", data.get("status", "active"), str)
    if status not in TENANT_STATUSES:
        raise ManifestError(source, "status", "active or suspended")
    plugins = _parse_plugins(source, data.get("plugins", {}), host)
    roles = _parse_roles(source, data.get("roles", {}), host)
    limits = _parse_limits(source, data.get("security", {}))
    return TenantSpec(
        slug=slug_value,
        display_name=display_name,
        display_name_en=display_name_en.strip(),
        color=color.lower(),
        retention_days=retention,
        working_hours=hours,
        status=status,
        plugins=plugins,
        roles=roles,
        source=source,
        **limits,
    )


def _parse_plugins(source: str, raw: Any, host: PluginHost) -> dict[str, PluginChoice]:
    _expect(source, "plugins", raw, dict)
    result: dict[str, PluginChoice] = {}
    for plugin_id, entry in raw.items():
        where = f"plugins.{plugin_id}"
        if plugin_id not in host.manifests:
            raise ManifestError(source, where, "no such plugin is installed")
        _expect(source, where, entry, dict)
        extra = sorted(set(entry) - {"enabled", "settings"})
        if extra:
            raise ManifestError(source, f"{where}.{extra[0]}", "unknown field")
        enabled = _expect(source, f"{where}.enabled", entry.get("enabled", True), bool)
        given = _expect(source, f"{where}.settings", entry.get("settings", {}), dict)
        try:
            settings = host.manifest(plugin_id).validate_settings(given)
        except SettingsError as exc:
            raise ManifestError(source, f"{where}.settings.{exc.field}", exc.message) from None
        result[plugin_id] = PluginChoice(enabled=enabled, settings=settings)
    return result


def _parse_roles(source: str, raw: Any, host: PluginHost) -> dict[str, list[str]]:
    from core.authz.roles import core_permissions

    _expect(source, "roles", raw, dict)
    known = {p.name for p in host.permissions()} | set(core_permissions())
    roles: dict[str, list[str]] = {}
    for role, grants in raw.items():
        if role not in TENANT_ROLES:
            raise ManifestError(source, f"roles.{role}", f"one of {', '.join(TENANT_ROLES)}")
        _expect(source, f"roles.{role}", grants, list)
        for grant in grants:
            if not isinstance(grant, str) or grant not in known:
                raise ManifestError(source, f"roles.{role}", f"unknown permission {grant!r}")
        roles[role] = sorted(set(grants))
    return roles


def _parse_limits(source: str, raw: Any) -> dict[str, int]:
    """``[security]``: hourly limits per user (0 = none; soft must not exceed hard), the
    four-eyes window in days and how long an approved export can be fetched, in hours."""
    _expect(source, "security", raw, dict)
    unknown = sorted(set(raw) - set(SECURITY_KEYS))
    if unknown:
        raise ManifestError(source, f"security.{unknown[0]}", "unknown field")
    limits = dict(LIMIT_DEFAULTS)
    for name in SECURITY_KEYS:
        if name in raw:
            value = _expect(source, f"security.{name}", raw[name], int)
            low, high = SECURITY_RANGES.get(name, (0, LIMIT_MAX))
            if not low <= value <= high:
                raise ManifestError(source, f"security.{name}", f"between {low} and {high}")
            limits[name] = value
    for kind in ("reveal", "read"):
        soft, hard = limits[f"{kind}_soft_limit"], limits[f"{kind}_hard_limit"]
        if soft and hard and soft > hard:
            raise ManifestError(
                source, f"security.{kind}_soft_limit", "must not exceed the hard limit"
            )
    return limits


def load_manifests(path: Path, host: PluginHost) -> list[TenantSpec]:
    """Parse a manifest file or every ``*.toml`` in a folder; all or nothing."""
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    if not files:
        raise ManifestError(str(path), "-", "no *.toml manifests found")
    specs: list[TenantSpec] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(str(file), "-", "file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(str(file), "-", f"not valid TOML: {exc}") from None
        spec = parse_manifest(data, host, source=str(file), slug=file.stem)
        if spec.slug in seen:
            raise ManifestError(str(file), "slug", f"also defined in {seen[spec.slug]}")
        seen[spec.slug] = str(file)
        specs.append(spec)
    return specs
