"""A page a browser saved as one file -> the page's HTML, its charset and its address: MHTML (.mhtml, .mht: Chrome,
Edge, Opera's "Webpage, Single File") and Safari's Web Archive (.webarchive, Safari's default "Save As" format).

Both hold the page as the browser received it beside its images, style sheets and frames. The page is read like
any saved HTML page; the address it was saved from is the article's URL when the page states none.
"""
from __future__ import annotations

import email
import email.policy
import plistlib
from dataclasses import dataclass

MHTML_SUFFIXES = (".mhtml", ".mht")
WEBARCHIVE_SUFFIXES = (".webarchive",)
SUFFIXES = MHTML_SUFFIXES + WEBARCHIVE_SUFFIXES
_WEB = ("http://", "https://")
_NO_PAGE = "not a saved web page (a {kind} file holds the page as an HTML part; this one has none)"


@dataclass(frozen=True)
class SavedPage:
    """The page inside a saved file: its bytes (transfer encoding undone, charset not yet), the charset the container
    names (None if it names none), and the web address the page was saved from (None for a local file)."""

    html: bytes
    charset: str | None
    url: str | None


def _web(*urls) -> str | None:
    return next((u.strip() for u in urls if isinstance(u, str) and u.strip().lower().startswith(_WEB)), None)


def mhtml_page(data: bytes) -> SavedPage | str:
    """The page inside an MHTML file (its multipart/related "start" part, else its first text/html part), or the
    reason there is none (a str)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)  # compat32: lenient with real files
    start = (msg.get_param("start") or "").strip("<>")
    parts = [p for p in msg.walk() if p.get_content_type() == "text/html"]
    if not parts:
        return _NO_PAGE.format(kind=".mhtml")
    page = next((p for p in parts if start and (p.get("Content-ID") or "").strip("<>") == start), parts[0])
    body = page.get_payload(decode=True)
    if not body:
        return "empty file (the saved page part is empty)"
    url = _web(msg.get("Snapshot-Content-Location"), page.get("Content-Location"), msg.get("Content-Location"))
    return SavedPage(body, page.get_content_charset(), url)


def webarchive_page(data: bytes) -> SavedPage | str:
    """The page inside a Safari Web Archive (a property list whose WebMainResource is the page), or the reason there
    is none (a str)."""
    try:
        archive = plistlib.loads(data)
    except Exception:  # noqa: BLE001 - plistlib raises several kinds for a file that is no property list
        return _NO_PAGE.format(kind=".webarchive")
    main = archive.get("WebMainResource") if isinstance(archive, dict) else None
    if not isinstance(main, dict) or not str(main.get("WebResourceMIMEType", "")).lower().endswith("html"):
        return _NO_PAGE.format(kind=".webarchive")
    body = main.get("WebResourceData")
    if not isinstance(body, bytes) or not body.strip():
        return "empty file (the saved page part is empty)"
    charset = main.get("WebResourceTextEncodingName")
    return SavedPage(body, charset if isinstance(charset, str) else None, _web(main.get("WebResourceURL")))


def saved_page(data: bytes, suffix: str) -> SavedPage | str:
    """The page inside a file a browser saved as one file, by its suffix (SUFFIXES)."""
    return webarchive_page(data) if suffix.lower() in WEBARCHIVE_SUFFIXES else mhtml_page(data)
