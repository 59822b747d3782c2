"""Markdown scrapes (.md, as page-to-Markdown converters and crawlers save pages): the page's text as a browser
shows it, one line a block, for the text cleaner; and what the Markdown marks beyond that, the level-1 headings
and any front matter, which name the headline and the page's address.

markdown-it-py (CommonMark, with tables) parses the Markdown, so links, emphasis, escapes, entities, code and
tables come out as their text, not as markup characters the line features would read as words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_YAML_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
# A header of "Key: value" lines ending at "Markdown Content:" (as r.jina.ai returns pages)
_HEADER_END = re.compile(r"^Markdown Content:[ \t]*$", re.M)
_HEADER_LINES = 12
_KEY_VALUE = re.compile(r"^([A-Za-z][\w .:-]{0,40}?):[ \t]*(.*?)[ \t]*$")
_TAG = re.compile(r"<[^>]+>")
# front matter keys that hold the headline / the page's address, in order of preference
TITLE_KEYS = ("title", "og:title", "headline")
URL_KEYS = ("url source", "url", "canonical", "og:url", "source", "source_url", "link")


@dataclass(frozen=True)
class MarkdownPage:
    """A Markdown scrape read: `text` has one line a paragraph, heading, list item, table row (cells joined by tabs)
    or code line, blocks apart by a blank line, markup dropped; `h1` the level-1 headings' text in page order;
    `front` the front matter's "key: value" pairs (keys lower-cased), or {}."""

    text: str
    h1: tuple[str, ...] = ()
    front: dict[str, str] = field(default_factory=dict)

    def front_value(self, keys: tuple[str, ...]) -> str | None:
        return next((self.front[k] for k in keys if self.front.get(k)), None)


def _front_matter(raw: str) -> tuple[dict[str, str], str]:
    """(front matter pairs, the Markdown after it)."""
    m = _YAML_FRONT.match(raw)
    if m:
        block, rest = m.group(1), raw[m.end():]
    else:
        end = _HEADER_END.search(raw)
        if end is None or raw[: end.start()].count("\n") > _HEADER_LINES:
            return {}, raw
        block, rest = raw[: end.start()], raw[end.end():]
        if not all(_KEY_VALUE.match(line) for line in block.splitlines() if line.strip()):
            return {}, raw
    pairs = {}
    for line in block.splitlines():
        kv = _KEY_VALUE.match(line.strip())
        if kv and kv.group(2):
            pairs.setdefault(kv.group(1).strip().lower(), kv.group(2).strip().strip("\"'"))
    return pairs, rest


def _inline(children) -> str:
    """An inline token's text as shown: links and emphasis as their words, images and HTML tags not at all."""
    out = []
    for c in children or ():
        if c.type in ("text", "code_inline"):
            out.append(c.content)
        elif c.type in ("softbreak", "hardbreak"):  # a line break inside a block: the block stays one line
            out.append(" ")
    return "".join(out)


def read_markdown(raw: str) -> MarkdownPage:
    """The page's text, level-1 headings and front matter (see MarkdownPage)."""
    from markdown_it import MarkdownIt  # lazy: only a folder with Markdown pages needs it

    front, body = _front_matter(raw)
    md = MarkdownIt("commonmark").enable("table")
    # Every link is a link here: none is rendered, so markdown-it's guard against javascript: and data: addresses
    # would only leave their markup in the text ("![logo](data:image/svg+xml;...)").
    md.validateLink = lambda url: True
    tokens = md.parse(body)
    blocks: list[str] = []
    h1: list[str] = []
    heading, row = None, None
    for t in tokens:
        if t.type == "heading_open":
            heading = t.tag
        elif t.type == "heading_close":
            heading = None
        elif t.type == "tr_open":
            row = []
        elif t.type == "tr_close":
            blocks.append("\t".join(row or ()))
            row = None
        elif t.type == "inline":
            text = _inline(t.children)
            if row is not None:
                row.append(" ".join(text.split()))
                continue
            blocks.append(text)
            if heading == "h1" and text.strip():
                h1.append(" ".join(text.split()))
        elif t.type in ("fence", "code_block"):
            blocks.append(t.content.rstrip("\n"))
        elif t.type == "html_block":
            blocks.append(_TAG.sub(" ", t.content).strip())
    text = "\n\n".join(b for b in blocks if b.strip())
    return MarkdownPage(text, tuple(h1), front)
