"""Voice of customer: reports of what customers ask, what is rising, and weak signals."""

from core import PermissionSpec, PluginManifest, Setting

MANIFEST = PluginManifest(
    id="voc",
    name="VOC分析 / Voice of customer",
    version="0.1.0",
    requires_core=">=0.1,<1",
    description="Reports for the client: topics, trends, explicit and latent needs, weak signals.",
    settings={
        "report_schedule": Setting(
            "str",
            default="monthly",
            choices=("weekly", "monthly"),
            description="how often the report is sent",
        ),
        "report_recipients": Setting("list[str]", default=[], description="client staff e-mails"),
    },
    permissions=(PermissionSpec("report:read", "read the tenant's reports"),),
    role_grants={
        "supervisor": ("report:read",),
        "client_admin": ("report:read",),
        "client_viewer": ("report:read",),
    },
)
