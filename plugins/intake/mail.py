"""Parsing inbound customer mail: Japanese charsets, HTML-only mail, attachments, threading.

Python's ``email`` package (policy ``default``) decodes RFC 2047 headers and ISO-2022-JP,
Shift_JIS and UTF-8 bodies; Windows' Shift_JIS variant (cp932) is tried when a sender labels
it plain Shift_JIS. A message that cannot be read is refused whole (:class:`MailError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

__all__ = ["MailError", "ParsedAttachment", "ParsedMail", "parse_mail"]

MAX_ATTACHMENT = 10 * 1024 * 1024


class MailError(ValueError):
    """The message cannot be read (no sender, undecodable, malformed)."""


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    sender_name: str
    sender: str
    subject: str
    body: str
    message_id: str | None
    references: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        raw = part.get_payload(decode=True) or b""
        charset = (part.get_content_charset() or "utf-8").lower()
        fallback = "cp932" if charset in ("shift_jis", "shift-jis", "sjis", "x-sjis") else charset
        try:
            content = raw.decode(fallback)  # type: ignore[union-attr]
        except (LookupError, UnicodeDecodeError) as exc:
            raise MailError(f"undecodable body ({charset})") from exc
    return str(content)


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def parse_mail(raw: bytes) -> ParsedMail:
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises means unreadable
        raise MailError("unreadable message") from exc
    assert isinstance(message, EmailMessage)
    try:
        header = message.get("From")
        addresses = list(getattr(header, "addresses", ()) or ())
        subject = str(message.get("Subject", "") or "")
    except (ValueError, LookupError, IndexError) as exc:
        raise MailError("unreadable headers") from exc
    if not addresses or "@" not in addresses[0].addr_spec:
        raise MailError("no sender address")
    name, sender = addresses[0].display_name, addresses[0].addr_spec
    body_part = message.get_body(preferencelist=("plain", "html"))
    if body_part is None:
        body = ""
    elif body_part.get_content_type() == "text/html":
        body = html_to_text(_text_of(body_part))  # type: ignore[arg-type]
    else:
        body = _text_of(body_part).strip()  # type: ignore[arg-type]
    attachments = []
    for part in message.iter_attachments():
        # decode=True gives the bytes of a non-multipart part; an attachment that is
        # itself multipart has no payload of its own to store
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if len(data) > MAX_ATTACHMENT:
            raise MailError("attachment too large")
        attachments.append(
            ParsedAttachment(part.get_filename() or "attachment", part.get_content_type(), data)
        )
    if not body and not attachments:
        raise MailError("empty message")
    message_ids = _ids(str(message.get("Message-ID", "")))
    references = _ids(str(message.get("In-Reply-To", ""))) + _ids(
        str(message.get("References", ""))
    )
    return ParsedMail(
        # an encoded word may decode to a line break: kept on one line, as every header
        # value intake stores is (a subject comes back in the reply's header)
        sender_name=" ".join(name.split()),
        sender=sender.lower(),
        subject=" ".join(subject.split()),
        body=body,
        message_id=message_ids[0] if message_ids else None,
        references=references,
        attachments=attachments,
    )
