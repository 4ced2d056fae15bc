"""Inquiry intake: the everyday desk (web form, e-mail, chat, phone into tenant queues)."""

from core import PermissionSpec, PluginManifest, Setting

# the web form's optional fields, in form order; the message itself is always there
CONTACT_FIELDS = ("name", "name_kana", "email", "phone", "postal_code", "address", "subject")
# what the identity-verification form may ask for, compared with the customer record
VERIFY_FIELDS = ("name", "name_kana", "birth_date", "address", "phone")

MANIFEST = PluginManifest(
    id="intake",
    name="問い合わせ受付 / Inquiry intake",
    version="0.1.0",
    requires_core=">=0.1,<1",
    description="Inquiries from every channel land in the tenant's queues.",
    settings={
        "channels": Setting(
            "list[str]",
            default=["web", "email"],
            description="enabled channels: web, email, chat, phone",
        ),
        "inbound_addresses": Setting(
            "list[str]", default=[], description="e-mail addresses accepted for this tenant"
        ),
        "first_response_minutes": Setting("int", default=60, description="SLA: first response"),
        "resolution_hours": Setting("int", default=72, description="SLA: resolution"),
        "reply_from": Setting(
            "str",
            default="noreply@madoguchi.invalid",
            description="sender address of replies and receipts",
        ),
        "identity_verification": Setting(
            "bool", default=False, description="offer the secure personal-data link"
        ),
        "verification_fields": Setting(
            "list[str]",
            default=["name", "birth_date"],
            choices=VERIFY_FIELDS,
            description="what the customer enters on the link; verified only when all match",
        ),
        "contact_fields": Setting(
            "list[str]",
            default=list(CONTACT_FIELDS),
            choices=CONTACT_FIELDS,
            description="fields of the web form besides the message",
        ),
        "contact_required": Setting(
            "list[str]",
            default=["name"],
            choices=CONTACT_FIELDS,
            description="web form fields the customer must fill in",
        ),
        "contact_categories": Setting(
            "list[str]",
            default=[],
            description="kinds of inquiry the web form offers (one must be chosen)",
        ),
    },
    permissions=(
        PermissionSpec("inquiry:read", "read the tenant's inquiries (masked)"),
        PermissionSpec("inquiry:create", "register an inquiry"),
        PermissionSpec("inquiry:reply", "answer an inquiry"),
        PermissionSpec("intake:configure", "see the intake channels and SLA"),
        PermissionSpec("queue:supervise", "see queue depth, SLA risk and operator load"),
        PermissionSpec("queue:configure", "create queues and change their routing"),
        PermissionSpec("vocabulary:configure", "keep the categories and tags of inquiries"),
        PermissionSpec("call:log", "send call records (the contact-centre system's token)"),
    ),
    role_grants={
        "supervisor": (
            "inquiry:read",
            "inquiry:create",
            "inquiry:reply",
            "intake:configure",
            "queue:supervise",
            "queue:configure",
            "vocabulary:configure",
            "call:log",
        ),
        "operator": ("inquiry:read", "inquiry:create", "inquiry:reply", "intake:configure"),
        "client_admin": ("intake:configure",),
    },
)
