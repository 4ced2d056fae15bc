"""Knowledge migration: paper manuals and old documents into a searchable knowledge base."""

from core import PermissionSpec, PluginManifest, Setting

MANIFEST = PluginManifest(
    id="knowledge",
    name="ナレッジ移行 / Knowledge migration",
    version="0.1.0",
    requires_core=">=0.1,<1",
    description="Turns scanned manuals and documents into a knowledge base and public FAQ.",
    settings={
        "public_faq": Setting("bool", default=False, description="publish a public FAQ"),
        "ocr_languages": Setting("list[str]", default=["ja"], description="OCR languages"),
    },
    permissions=(
        PermissionSpec("knowledge:read", "search the knowledge base"),
        PermissionSpec("knowledge:import", "import documents"),
    ),
    role_grants={
        "supervisor": ("knowledge:read", "knowledge:import"),
        "operator": ("knowledge:read",),
        "client_admin": ("knowledge:read",),
    },
)
