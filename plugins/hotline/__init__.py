"""Incident hotline: a dedicated number and queue opened for a client in a crisis."""

from core import PermissionSpec, PluginManifest, Setting

MANIFEST = PluginManifest(
    id="hotline",
    name="専用窓口 / Incident hotline",
    version="0.1.0",
    requires_core=">=0.1,<1",
    description="A dedicated hotline with its own numbers, script and FAQ during an incident.",
    settings={
        "numbers": Setting("list[str]", default=[], description="dedicated phone numbers"),
        "incident_name": Setting("str", default="", description="what the hotline is for"),
        "script": Setting(
            "list[str]",
            default=["傾聴", "お詫び", "注意喚起"],
            description="the call script's steps",
        ),
        "abandon_target_percent": Setting(
            "float", default=0.0, description="abandoned-call target (放棄呼)"
        ),
    },
    permissions=(
        PermissionSpec("hotline:read", "see the hotline's status and script"),
        PermissionSpec("hotline:manage", "open, close and edit the hotline"),
    ),
    role_grants={
        "supervisor": ("hotline:read", "hotline:manage"),
        "operator": ("hotline:read",),
        "client_admin": ("hotline:read",),
        "client_viewer": ("hotline:read",),
    },
)
