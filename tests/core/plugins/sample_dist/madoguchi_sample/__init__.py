"""A third-party plugin: greets in the tenant's name."""

from pathlib import Path

from core import PermissionSpec, PluginManifest, Setting

MANIFEST = PluginManifest(
    id="sample",
    name="Sample greeter",
    version="1.2.0",
    requires_core=">=0.1,<1",
    settings={"greeting": Setting("str", default="いらっしゃいませ")},
    permissions=(
        PermissionSpec("greeting:read", "read the greeting"),
        PermissionSpec("greeting:log", "log a greeting"),
    ),
    role_grants={"operator": ("greeting:read", "greeting:log")},
    migrations=Path(__file__).with_name("migrations"),  # its own table, sample_greeting
)
