"""An HTML page's headline, from trafilatura's title, the page's own <h1> and the site's name.

trafilatura takes the title from the page's metadata (<title>, og:title). That title usually carries the site's name
or a section beside the headline ("Headline - Site", "Headline | Site", "Opinion | Headline", "Site: Headline"), and
now and then it is a teaser worded apart from the headline the page shows. The page's first <h1> that reads as a
headline (not the site's name, not a template placeholder, a few words long) is what a reader sees above the
article, so it wins; without one, the site's name is cut from the title's ends. Nothing here knows any site: only
the page's own headings, the name trafilatura found for the site and the shapes of title separators.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from .clean_lines import CJK
from .clean_lines import line_key as _key

_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.S | re.I)
_BREAK = re.compile(r"<br\b[^>]*>", re.I)
# An <h1> whose whole content is one link, and the paths of a site's front page.
_ONE_LINK = re.compile(
    r"^\s*<a\b[^>]*?\bhref\s*=\s*[\"']?(?P<href>[^\"'\s>]*)[^>]*>(?:(?!</?a\b).)*</a\s*>\s*$", re.S | re.I
)
_HOME_PATHS = frozenset({"", "/", "./", "/index.html", "/index.htm", "/index.php", "index.html", "index.php"})
_TAG = re.compile(r"<[^>]+>")
# What stands between a title's parts: a spaced dash, bar, bullet, guillemet, slash or "::"; or a bar.
TITLE_SEP = re.compile(r"\s+(?:[-|–—·•»/\\]|::)\s+|\s*\|\s*")
_SEP_CHARS = " -|–—·•»/\\:"
MIN_WORDS = 3  # an <h1> shorter than this (and with fewer CJK characters than MIN_CJK) is a label, not a headline
MIN_CJK = 8
MIN_SITE_KEY = 4  # a title part shorter than this (letters and digits) names a site only if it is the whole name
# Host labels that name no site: "www", top-level and second-level domains.
_HOST_NOISE = frozenset("www m amp mobile com org net edu gov co ac uk de fr jp cz ru it es nl io info news".split())


def _links_home(inner: str) -> bool:
    """Whether an <h1>'s markup is one link to the site's front page (`<a href="/">Site name</a>`): a masthead."""
    m = _ONE_LINK.match(inner)
    if not m:
        return False
    href = html.unescape(m.group("href")).strip()
    if not href or href.startswith("#"):  # a link to a place on the page itself
        return False
    url = urlsplit(href)
    return not url.query and url.path.lower() in _HOME_PATHS


def _h1s(raw: str) -> list[tuple[str, bool]]:
    """Each <h1>'s text (tags dropped, whitespace collapsed; template placeholders such as "{{ post_title }}" left
    out), and whether it is the site's masthead (one link to its front page)."""
    out = []
    for m in _H1.finditer(raw):
        text = " ".join(html.unescape(_TAG.sub("", _BREAK.sub(" ", m.group(1)))).split())
        if text and "{{" not in text and "}}" not in text:  # a template's placeholder is never shown as such
            out.append((text, _links_home(m.group(1))))
    return out


def _site_keys(site: str | None, host: str | None) -> list[str]:
    keys = [_key(site)] if site else []
    if host:
        keys += [_key(label) for label in host.lower().split(".") if label not in _HOST_NOISE]
    return [k for k in keys if k]


def names_site(part: str, site: str | None, host: str | None) -> bool:
    """Whether a title part is the site's name, or part of it ("eHow" for "Ehow", "Aktuálně.cz" for "Aktuálně.cz -
    Víte, co se právě děje"), or a label of its host name ("TechCrunch" for social.techcrunch.com)."""
    k = _key(part)
    return bool(k) and any(k == s or (len(k) >= MIN_SITE_KEY and k in s) for s in _site_keys(site, host))


def reads_as_headline(text: str, site: str | None = None, host: str | None = None) -> bool:
    if names_site(text, site, host):
        return False
    return len(text.split()) >= MIN_WORDS or len(CJK.findall(text)) >= MIN_CJK


def _without_site_name(title: str, site: str | None) -> str | None:
    """The title without the site's whole name at its start or end, when a separator stands between them."""
    if not site or len(title) <= len(site):
        return None
    low, name = title.casefold(), site.casefold()
    if low.startswith(name):
        rest = title[len(site):]
        between = rest[: len(rest) - len(rest.lstrip(_SEP_CHARS))]
        if between.strip() and rest.strip(_SEP_CHARS):  # "Site: Headline", not "Site’s guide" or "Time to act"
            return rest.lstrip(_SEP_CHARS)
    if low.endswith(name):
        rest = title[: len(title) - len(site)]
        between = rest[len(rest.rstrip(_SEP_CHARS)):]
        if between.strip() and rest.strip(_SEP_CHARS):
            return rest.rstrip(_SEP_CHARS)
    return None


def headline(title: str | None, raw: str, site: str | None = None, host: str | None = None,
             page_title: str | None = None) -> str | None:
    """The page's headline, as its <h1> shows it when an <h1> says the same as trafilatura's `title` or as a run
    of the title's parts ("Opinion | Headline" -> "Headline"); else the first <h1> that reads as a headline; else the
    title without the site's name at either end (`site`: trafilatura's sitename, `host`: the page's host name).
    The site's masthead (an <h1> that is one link to its front page) is never the headline: when `title` is one
    (trafilatura takes a page's only <h1> for its title), `page_title`, the page's <title>, stands instead."""
    found = _h1s(raw)
    if title and _key(title) in {_key(text) for text, masthead in found if masthead}:
        title = page_title
    return choose_headline(title, [text for text, masthead in found if not masthead], site, host)


def title_as_shown(title: str | None, heads: list[str] | tuple[str, ...], site: str | None = None,
                   host: str | None = None) -> str | None:
    """The heading of `heads` that says `title`, or a run of its parts that reads as a headline ("Opinion | Headline"
    -> "Headline"), as the heading writes it; None when none does."""
    shown_as: dict[str, str] = {}
    for h in heads:
        shown_as.setdefault(_key(h), h)
    parts, seps = (TITLE_SEP.split(title), TITLE_SEP.findall(title)) if title else ([], [])
    for i in range(len(parts)):  # the whole title first, then its runs of parts, longest first
        for j in range(len(parts), i, -1):
            run = parts[i] + "".join(seps[k - 1] + parts[k] for k in range(i + 1, j))
            if _key(run) in shown_as and (j - i == len(parts) or reads_as_headline(run, site, host)):
                return shown_as[_key(run)]
    return None


def choose_headline(title: str | None, heads: list[str] | tuple[str, ...], site: str | None = None,
                    host: str | None = None) -> str | None:
    """`headline` given the page's level-1 headings' text (`heads`, in page order) instead of its HTML."""
    as_shown = title_as_shown(title, heads, site, host)
    if as_shown:
        return as_shown
    shown = next((h for h in heads if reads_as_headline(h, site, host)), None)
    if shown:
        return shown
    if not title:
        return None
    cut = _without_site_name(title, site)
    if cut:
        return cut
    parts = TITLE_SEP.split(title)
    if len(parts) > 1:
        if names_site(parts[-1], site, host) and _key(" ".join(parts[:-1])):
            return title[: title.rfind(parts[-1])].rstrip(_SEP_CHARS)
        if names_site(parts[0], site, host) and _key(" ".join(parts[1:])):
            return title[len(parts[0]):].lstrip(_SEP_CHARS)
    return title
