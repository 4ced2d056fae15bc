"""What a plugin declares about itself: its manifest, settings, permissions and pages.

Modelled on netbox's ``PluginConfig``: a declarative manifest with version bounds, settings
with defaults, and a validation step run whenever a tenant enables the plugin or changes its
settings, so a bad value is refused before it is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from core.version import __version__

__all__ = [
    "MenuItem",
    "PermissionSpec",
    "PluginManifest",
    "PortalSection",
    "Setting",
    "SettingsError",
]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list[str]": (list,),
    "dict": (dict,),
}


class SettingsError(ValueError):
    """A setting is unknown, missing or of the wrong type. ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Setting:
    """One setting a tenant can give the plugin. ``type`` is one of the keys of ``_TYPES``;
    ``choices`` limit the value, or each element of a list."""

    type: str
    default: Any = None
    required: bool = False
    description: str = ""
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"unknown setting type {self.type!r}")

    def check(self, name: str, value: Any) -> Any:
        allowed = _TYPES[self.type]
        if isinstance(value, bool) and self.type in {"int", "float"}:
            raise SettingsError(name, f"expected {self.type}, got bool")
        if not isinstance(value, allowed):
            raise SettingsError(name, f"expected {self.type}, got {type(value).__name__}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise SettingsError(name, "expected a list of strings")
        if self.choices is not None:
            allowed_values = ", ".join(map(str, self.choices))
            if isinstance(value, list):  # a list setting with choices: each element is one
                wrong = [v for v in value if v not in self.choices]
                if wrong:
                    raise SettingsError(name, f"{wrong[0]} is not one of {allowed_values}")
            elif value not in self.choices:
                raise SettingsError(name, f"must be one of {allowed_values}")
        return value


@dataclass(frozen=True)
class PermissionSpec:
    """A permission ``object:action`` and what it allows, for the role editor."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        obj, sep, action = self.name.partition(":")
        if not (obj and sep and action) or ":" in action:
            raise ValueError(f"permission {self.name!r} is not of the form object:action")


@dataclass(frozen=True)
class MenuItem:
    """An entry in a tenant's menu, pointing at ``/t/{tenant}{path}``. Shown only to tenants
    that enabled the plugin and users holding ``permission``."""

    path: str
    label: str
    label_en: str
    permission: str
    plugin_id: str = ""


@dataclass(frozen=True)
class PortalSection:
    """A section of the client portal's home page.

    ``template`` is rendered with what ``load(ctx, session, settings)`` returns (plus the
    page's usual context); ``settings`` are the plugin's settings for the tenant.
    """

    key: str
    title: str
    title_en: str
    permission: str
    template: str
    load: Callable[[Any, Any, dict[str, Any]], Awaitable[dict[str, Any]]]
    plugin_id: str = ""


@dataclass(frozen=True)
class PluginManifest:
    """Who a plugin is and what it needs. Lives in the plugin package's ``__init__``."""

    id: str
    name: str
    version: str
    requires_core: str = ">=0.1"
    description: str = ""
    settings: Mapping[str, Setting] = field(default_factory=dict)
    permissions: tuple[PermissionSpec, ...] = ()
    role_grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the folder of the plugin's own Alembic revisions (``Path(__file__).with_name(
    # "migrations")``), for a plugin that owns tables; ``madoguchi db upgrade`` runs them
    migrations: Path | None = None

    def __post_init__(self) -> None:
        if not self.id.replace("_", "").replace("-", "").isalnum() or not self.id.islower():
            raise ValueError(f"plugin id {self.id!r} must be lower-case letters, digits, - or _")
        Version(self.version)
        try:
            SpecifierSet(self.requires_core)
        except InvalidSpecifier as exc:
            raise ValueError(f"plugin {self.id}: bad requires_core {self.requires_core!r}") from exc

    def supports_core(self, core_version: str = __version__) -> bool:
        return Version(core_version) in SpecifierSet(self.requires_core)

    def default_settings(self) -> dict[str, Any]:
        return {name: s.default for name, s in self.settings.items() if not s.required}

    def validate_settings(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults filled in, every value checked; raises :class:`SettingsError`."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.settings))
        if unknown:
            raise SettingsError(unknown[0], f"unknown setting of plugin {self.id}")
        result: dict[str, Any] = {}
        for name, spec in self.settings.items():
            if name in given:
                result[name] = spec.check(name, given[name])
            elif spec.required:
                raise SettingsError(name, f"required by plugin {self.id}")
            else:
                result[name] = spec.default
        return result
