"""A page a browser saved as one file ("Webpage, Single File": .mhtml, .mht) -> the page's HTML and its address.

Chrome, Edge and Opera save a page as MHTML: a MIME message whose first text/html part is the page as shown (the
rest are its images, style sheets and frames). That part is read like any saved HTML page; the address it was saved
from (Snapshot-Content-Location, or the part's Content-Location) is the article's URL when the page states none.
"""
from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

_WEB = ("http://", "https://")


@dataclass(frozen=True)
class SavedPage:
    """The page part of an MHTML file: its bytes (transfer encoding undone, charset not yet), the charset its MIME
    header names (None if it names none), and the web address the page was saved from (None for a local file)."""

    html: bytes
    charset: str | None
    url: str | None


def saved_page(data: bytes) -> SavedPage | str:
    """The page inside an MHTML file, or the reason there is none (a str)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)  # compat32: lenient with real files
    if not msg.is_multipart() and msg.get_content_type() != "text/html":
        return "not a saved web page (an .mhtml file holds the page as a text/html part; this one has none)"
    start = (msg.get_param("start") or "").strip("<>")
    parts = [p for p in msg.walk() if p.get_content_type() == "text/html"]
    if not parts:
        return "not a saved web page (an .mhtml file holds the page as a text/html part; this one has none)"
    # The multipart/related "start" parameter names the page part; without one, the first HTML part is the page.
    page = next((p for p in parts if start and (p.get("Content-ID") or "").strip("<>") == start), parts[0])
    body = page.get_payload(decode=True)
    if not body:
        return "empty file (the saved page part is empty)"
    url = next((u.strip() for u in (msg.get("Snapshot-Content-Location"), page.get("Content-Location"), msg.get(
        "Content-Location")) if u and u.strip().lower().startswith(_WEB)), None)
    return SavedPage(body, page.get_content_charset(), url)
