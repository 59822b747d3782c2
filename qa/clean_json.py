"""Articles a scraper saved as JSON (.json, .jsonl) -> their text and metadata fields.

News scrapers write each article as a JSON record, one to a file or many to one (a JSON list, JSON Lines, a
response that lists them): news-please (`maintext`, `date_publish`, `authors`), trafilatura's
`--json` output (`text`, `date`, `author`, `source`), newspaper (`text`, `publish_date`), Zyte's article extraction
and schema.org's NewsArticle (`articleBody`, `headline`, `datePublished`), Readability.js and Mercury/Postlight
(`textContent` or `content` as HTML, `byline`, `siteName`), NewsAPI (`content`, `publishedAt`, `source.name`),
WordPress's REST API (`title.rendered`, `content.rendered`, `date`, `link`).
Their field names differ; what they hold is the same. A field is found by its name with case, "_", "-" and spaces
ignored (`date_publish`, `datePublish`). The text is taken as the scraper gives it; HTML (a whole page, or the
article's markup) is read as HTML.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

# Fields in the order they are tried; a text field whose value is markup counts as HTML.
TEXT_KEYS = ("articlebody", "maintext", "text", "textcontent", "contenttext", "articletext", "bodytext", "fulltext",
             "content", "body", "rawtext", "plaintext")
HTML_KEYS = ("html", "rawhtml", "contenthtml", "bodyhtml", "articlebodyhtml", "articlehtml", "pagehtml")
TITLE_KEYS = ("headline", "title")
DATE_KEYS = ("datepublished", "datepublish", "publishdate", "publisheddate", "published", "publishedat",
             "publishedtime", "pubdate", "date")
AUTHOR_KEYS = ("authors", "author", "byline", "creator")
PUBLISHER_KEYS = ("publisher", "sitename", "sourcehostname", "metasitename", "publication", "source")
HOST_KEYS = ("sourcedomain", "hostname", "domain")
URL_KEYS = ("url", "canonicalurl", "canonical", "canonicallink", "sourceurl", "link", "mainentityofpage", "source")
# Where an API or a feed exporter nests the article inside its own record (Zyte API: {"url": ..., "article": {...}}).
WRAPPER_KEYS = ("article", "data", "item", "result")
_WEB = ("http://", "https://")
_MARKUP = re.compile(r"</?(?:p|div|br|h[1-6]|article|section|li|ul|ol|blockquote|figure|span|a|em|strong)\b[^>]*>",
                     re.I)
_BLOCK_END = re.compile(r"<\s*(?:br|hr)\b[^>]*>|</\s*(?:p|div|h[1-6]|li|blockquote|figcaption|tr|section|article|"
                        r"header|pre|dd|dt)\s*>", re.I)
_DROPPED = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class JsonArticle:
    """What a scraper's JSON says about its article, as written. `text` is plain text (paragraphs on their own
    lines), else `html` is markup: a whole page (`page` True) or the article's own. `authors` are names from a list
    field; `byline` is an author field written as one string ("Jane Doe and John Roe"). `host` is a domain name
    (news-please's `source_domain`), `publisher` a name."""

    text: str | None
    html: str | None
    page: bool
    title: str | None
    published: str | None
    authors: tuple[str, ...]
    byline: str | None
    publisher: str | None
    host: str | None
    url: str | None


def _norm(key: str) -> str:
    return re.sub(r"[\s_-]", "", key).lower()


def _name(value) -> str | None:
    """A field's value as one string: a string, an object's name ({"@type": "Person", "name": ...}), or what
    WordPress's REST API renders ({"rendered": ...}). A number (WordPress's author id) is no name."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@id") or value.get("rendered")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _first(fields: dict, keys: tuple[str, ...], accept=lambda v: True) -> str | None:
    for k in keys:
        v = _name(fields.get(k))
        if v is not None and accept(v):
            return v
    return None


def is_markup(value: str) -> bool:
    """Whether a text field holds HTML (two or more tags) rather than text."""
    return len(_MARKUP.findall(value[:20000])) >= 2


def markup_text(fragment: str) -> str:
    """An article's markup as text: one line per paragraph, heading, list item or line break, tags dropped."""
    text = _BLOCK_END.sub("\n", _DROPPED.sub("", fragment))
    return html.unescape(_TAG.sub("", text))


def _article_record(data) -> dict | None:
    """The object in the JSON that describes the article: the top-level object, an object it nests under
    "article" (or "data", "item", "result"), or a schema.org "@graph" member that has the article's text."""
    if not isinstance(data, dict):
        return None
    fields = {_norm(k): v for k, v in data.items()}
    if any(_text_value(fields.get(k)) for k in TEXT_KEYS + HTML_KEYS):
        return data
    for k in WRAPPER_KEYS:
        inner = fields.get(k)
        if isinstance(inner, dict) and (found := _article_record(inner)) is not None:
            return {**{kk: vv for kk, vv in data.items() if _norm(kk) not in WRAPPER_KEYS}, **found}
    graph = fields.get("@graph")
    if isinstance(graph, list):
        return next((found for g in graph if (found := _article_record(g)) is not None), None)
    return None


def _text_value(value) -> str | None:
    """A text field as one string: a string, a list of paragraphs, or what WordPress's REST API renders."""
    if isinstance(value, dict):
        value = value.get("rendered")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = "\n".join(value)
    return value if isinstance(value, str) and value.strip() else None


def _plain(value: str | None) -> str | None:
    """A title as text: WordPress renders it as HTML ("Don&#8217;t <em>panic</em>")."""
    return " ".join(html.unescape(_TAG.sub("", value)).split()) or None if value else None


def _author_names(value) -> tuple[tuple[str, ...], str | None]:
    """(names from a list field, a one-string author field)."""
    if isinstance(value, list):
        return tuple(n for n in map(_name, value) if n), None
    return (), _name(value)


def _listed_records(data: dict) -> list | None:
    """The records of a response that lists articles under one key (NewsAPI's {"status": ..., "articles": [...]},
    a feed's {"items": [...]}): the first list whose objects hold article text. None if there is none."""
    for value in data.values():
        if isinstance(value, list) and any(_article_record(v) is not None for v in value):
            return value
    return None


def _values(raw: str) -> list[str]:
    """The JSON texts of a run of JSON values (JSON Lines, or objects written one after another over several lines
    each); raises json.JSONDecodeError where one is not valid."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while (at := _SPACE.match(raw, at).end()) < len(raw):
        _, end = decoder.raw_decode(raw, at)
        out.append(raw[at:end])
        at = end
    return out


def json_records(raw: str) -> list[str] | str:
    """The records a scraper's JSON file holds, each as its JSON text: the file itself when it is one object; each
    member of a JSON list (Scrapy's `-o items.json`), each line of JSON Lines (`.jsonl`) or each of several objects
    written one after another, or each article of a response that lists them (NewsAPI's "articles"). A line of JSON
    Lines that is not valid JSON stays a record of its own, which `read_json` then reports. A str is the reason the
    file holds no record."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            return f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        try:
            return _values(raw)
        except json.JSONDecodeError:  # JSON Lines with a bad line: every other line is still an article
            return [line.strip() for line in raw.splitlines() if line.strip()]
    if isinstance(data, dict):
        listed = _listed_records(data) if _article_record(data) is None else None
        if listed is None:
            return [raw]
        data = listed
    if isinstance(data, list):
        if not data:
            return "an empty JSON list: no article records"
        return [json.dumps(r, ensure_ascii=False) for r in data]
    return [raw]


def read_json(raw: str) -> JsonArticle | str:
    """The article one JSON record describes, or the reason it describes none (a str). A file of several records
    (`json_records`) is read one record at a time."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    if isinstance(data, list) and not any(isinstance(r, dict) for r in data):
        return "a JSON list of values, not an article record"
    if isinstance(data, list) or (isinstance(data, dict) and _article_record(data) is None
                                  and _listed_records(data) is not None):
        # a file of several is split into its records (json_records) before this; here, a record that nests them
        return "several article records inside one record, not one article"
    record = _article_record(data)
    if record is None:
        return ("JSON without an article text (no field such as articleBody, maintext, text, textContent, content "
                "or html holds text)")
    fields = {_norm(k): v for k, v in record.items()}
    values = [v for k in TEXT_KEYS if (v := _text_value(fields.get(k))) is not None]
    text = next((v for v in values if not is_markup(v)), None)
    markup = next((v for v in values if is_markup(v)), None)
    markup = markup or next((v for k in HTML_KEYS if (v := _text_value(fields.get(k))) is not None), None)
    if text is not None and markup is not None and "\n" not in text.strip():
        # Readability.js's textContent runs the paragraphs together; its markup (`content`) keeps them apart.
        text = None
    page = markup is not None and bool(re.match(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype|html)\b", markup, re.I | re.S))
    authors, byline = (), None
    for k in AUTHOR_KEYS:
        authors, byline = _author_names(fields.get(k))
        if authors or byline:
            break
    is_web = lambda v: v.lower().startswith(_WEB)  # noqa: E731
    return JsonArticle(
        text=text,
        html=markup if text is None else None,
        page=page and text is None,
        title=_plain(_first(fields, TITLE_KEYS)),
        published=_first(fields, DATE_KEYS),
        authors=authors,
        byline=byline,
        publisher=_first(fields, PUBLISHER_KEYS, lambda v: not is_web(v)),
        host=_first(fields, HOST_KEYS),
        url=_first(fields, URL_KEYS, is_web),
    )
