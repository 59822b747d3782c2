"""What an HTML page states about itself: the dates and authors its markup declares, and its text as a reader sees it.

A page declares when it was published in machine-readable markup: schema.org JSON-LD (`datePublished` of the
article), Open Graph and Dublin Core `<meta>` tags, microdata (`itemprop="datePublished"`) and `<time pubdate>`.
The reader sees a date line near the headline. `clean.clean_html` weighs the two (`clean._html_date`); this module
only finds them. The article's JSON-LD also names its authors. Nothing here knows any site: only the vocabularies
these standards and common publishing tools use.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# <meta> names and properties, and microdata itemprops, that state a page's publication time (Open Graph's article:,
# Dublin Core, schema.org microdata, and the tags publishing tools and analytics scripts read: Parse.ly, Sailthru,
# Google Scholar's citation_*). Compared in lower case.
PUBLISHED_NAMES = frozenset("""
    article:published_time article:published article:published_date og:published_time og:article:published_time
    og:pubdate datepublished pubdate publishdate publish_date publish-date published published_time publication_date
    pub_date dc.date dc.date.issued dc.date.created dcterms.issued dcterms.created dcterms.date date
    parsely-pub-date sailthru.date citation_publication_date citation_date
""".split())
MAX_STAMP = 80  # characters: longer "date" text is prose, not a stamp
_ARTICLE_TYPE = re.compile(r"Article|Posting|Report|Blog|News")
# JSON-LD wrapped for old parsers: "<!--", "<![CDATA[", "//<![CDATA[" ... and their ends.
_LD_WRAP = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
_LD_NESTED_IN = ("@graph", "mainEntity", "mainEntityOfPage")


def parse_page(raw: str):
    """The page as an lxml tree, or None when there is nothing to parse. The text is handed over as UTF-8 bytes
    (lxml refuses a str that still carries an XML encoding declaration); a lone surrogate becomes "?"."""
    import lxml.html  # lazy: only HTML pages need it (trafilatura's own dependency)
    from lxml.etree import ParserError

    try:
        data = raw.encode("utf-8", errors="replace")
        return lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ParserError, ValueError):
        return None


def _ld_objects(data: Any):
    """Every JSON-LD object of a script, with those in @graph and an article's mainEntity."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item)
    elif isinstance(data, dict):
        yield data
        for key in _LD_NESTED_IN:
            if isinstance(data.get(key), (dict, list)):
                yield from _ld_objects(data[key])


def _json_ld(tree):
    """Every JSON-LD object the page holds (its scripts' JSON, with their @graph and mainEntity), in page order."""
    for script in tree.xpath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]"):
        try:
            data = json.loads(_LD_WRAP.sub("", (script.text or "").strip()))
        except ValueError:
            continue
        yield from _ld_objects(data)


def _kind(obj: dict) -> str:
    kind = obj.get("@type")
    return " ".join(map(str, kind)) if isinstance(kind, list) else str(kind or "")


def _person_names(value: Any) -> list[str]:
    """Names in a JSON-LD `author`: a string, a Person ({"name": ...}) or a list of them; not an Organization."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [name for item in value for name in _person_names(item)]
    if isinstance(value, dict) and "Organization" not in _kind(value):
        return _person_names(value.get("name"))
    return []


@dataclass(frozen=True)
class Declared:
    """What a page's markup declares about its article, as written.

    `dates`: the publication stamps, most trusted first: an article's JSON-LD `datePublished`; then <meta> tags,
    microdata and <time pubdate> in page order; then other JSON-LD objects' `datePublished` (a WebPage's); then
    JSON-LD `dateCreated`. The caller reads their calendar day.
    `authors`: the names the JSON-LD gives as its article's `author` (its first object of an article type).
    `site`: the site's name as its first `og:site_name` <meta> gives it.
    `publisher`: the name of its article's JSON-LD `publisher` (an organisation: "Example Media Group, Inc.").
    `url`: the page's own address: its `<link rel="canonical">`, else its `og:url` (both absolute http(s) addresses
    below a site's front page: a canonical that points at the front page is a site's misconfiguration)."""

    dates: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    site: str | None = None
    publisher: str | None = None
    url: str | None = None


def _org_name(value: Any) -> str | None:
    """The name in a JSON-LD `publisher`: a string, an Organization ({"name": ...}) or the first of a list."""
    if isinstance(value, list):
        return next((n for n in map(_org_name, value) if n), None)
    if isinstance(value, dict):
        value = value.get("name")
    return value.strip() if isinstance(value, str) and value.strip() else None


def declared(tree) -> Declared:
    """The page's declared dates, authors, site name and publisher, from one pass over its JSON-LD and one over its
    tags."""
    if tree is None:
        return Declared()
    ranked: list[tuple[int, str]] = []
    article, site = None, None
    for obj in _json_ld(tree):
        is_article = bool(_ARTICLE_TYPE.search(_kind(obj)))
        if is_article and article is None:
            article = obj
        if isinstance(obj.get("datePublished"), str):
            ranked.append((0 if is_article else 2, obj["datePublished"]))
        if isinstance(obj.get("dateCreated"), str):
            ranked.append((3, obj["dateCreated"]))
    for el in tree.xpath("//meta | //*[@itemprop] | //time[@pubdate]"):
        names = {(el.get(a) or "").strip().lower() for a in ("property", "name", "itemprop")}
        if site is None and "og:site_name" in names and (el.get("content") or "").strip():
            site = " ".join(el.get("content").split())
        if names & PUBLISHED_NAMES or (el.tag == "time" and el.get("pubdate") is not None):
            value = el.get("content") or el.get("datetime")
            if value is None and el.tag != "meta":  # microdata on an element that shows the date as its text
                value = el.text_content()
            if value and value.strip() and len(value) <= MAX_STAMP:
                ranked.append((1, value.strip()))
    ranked.sort(key=lambda r: r[0])  # stable: page order within a rank
    authors = [name for name in _person_names(article.get("author")) if name.strip()] if article else []
    publisher = _org_name(article.get("publisher")) if article else None
    return Declared(tuple(stamp for _, stamp in ranked), tuple(authors), site, publisher, _own_url(tree))


_PAGE_URL = re.compile(r"^https?://[^/\s]+/\S*[^/\s]\S*$", re.I)  # an absolute address with a path below "/"


def _own_url(tree) -> str | None:
    """The page's canonical address, else its og:url (Declared.url)."""
    found = [el.get("href") for el in tree.xpath("//link[@href]") if "canonical" in (el.get("rel") or "").lower()]
    found += [el.get("content") for el in tree.xpath("//meta[@content]")
              if "og:url" in {(el.get(a) or "").strip().lower() for a in ("property", "name")}]
    return next((u.strip() for u in found if u and _PAGE_URL.match(u.strip())), None)


def visible_lines(tree) -> list[str]:
    """The page's text as a browser lays it out (html-text: one line per block element; scripts, styles and
    hidden markup dropped), whitespace collapsed, empty lines left out."""
    if tree is None:
        return []
    import html_text  # lazy: only HTML pages need it

    body = tree.find("body")  # not the <head>'s <title>, which a browser shows in its tab, not in the page
    text = html_text.extract_text(body if body is not None else tree, guess_layout=True)
    return [line for line in (" ".join(raw.split()) for raw in text.splitlines()) if line]
