"""Raw scraped article (text or HTML) -> cleaned Article with metadata."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from . import config
from .clean_lines import CJK, collection_repeats, is_comment_header, is_terminal, line_features, page_lines, stopwords
from .clean_lines import line_key as _key
from .clean_lines import reads_as_trail
from .clean_lines import norm_line as _norm_line
from .clean_lines import words as _words
from .clean_charset import decode
from .clean_headline import TITLE_SEP as _TITLE_SEP
from .clean_headline import choose_headline, headline, reads_as_headline, title_as_shown
from .clean_html_meta import declared, parse_page, visible_lines
from .clean_json import json_records, markup_text, read_json
from .clean_markdown import TITLE_KEYS, URL_KEYS, read_markdown
from .clean_saved import saved_page
from .clean_model import LineModel, load_model, title_candidates
from .clean_site import copyright_holder, site_name
from .types import Article, Skipped, article_from_json, article_to_json

log = logging.getLogger(__name__)


# Month names and common abbreviations in the languages of the pages seen so far (en, fr, es, pt, de, it, nl, ru
# genitive): one table for every date pattern below.
_MONTH_NAMES: dict[str, int] = {}
for _num, _names in enumerate((
    "january jan janvier janv enero ene janeiro januar jänner gennaio gen januari января",
    "february feb février fevrier févr fevr febrero fevereiro fev februar febbraio februari февраля",
    "march mar mars marzo março marco märz maart марта",
    "april apr avril avr abril abr aprile апреля",
    "may mai mayo maio maggio mei мая",
    "june jun juin junio junho juni giugno giu июня",
    "july jul juillet juil julio julho juli luglio lug июля",
    "august aug août aout agosto ago augustus августа",
    "september sep sept septembre septiembre setiembre setembro settembre set сентября",
    "october oct octobre octubre outubro out oktober okt ottobre ott октября",
    "november nov novembre noviembre novembro ноября",
    "december dec décembre decembre déc diciembre dic dezembro dez dezember dicembre декабря",
), start=1):
    for _name in _names.split():
        _MONTH_NAMES[_name] = _num
_MONTH_RE = "(?:" + "|".join(sorted(map(re.escape, _MONTH_NAMES), key=len, reverse=True)) + r")(?!\w)"
# The month starts a word, or is glued to the word before in camel case ("by Jane DoeNovember 20, 2007").
_DATE_MDY = re.compile(
    rf"(?:(?<![^\W\d_])|(?<=(?-i:[a-z]))(?=(?-i:[A-Z])))(?P<m>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    r"(?:at\s+)?(?P<y>(?:19|20)\d\d)(?!\d)",
    re.I,
)
# 13.11.2019 (day first wherever dots are used), and 21/06/2014 or 11/20/2019 only when one side exceeds 12: an
# ambiguous 05/10/2018 is left unset rather than guessed. A scrape glues stamps to the next word ("July 30,
# 2019January 18, 2023", "December 22, 2022Updated: ..."), so a year ends at its last digit, not at a word boundary.
_DATE_DOTS = re.compile(r"\b(?P<d>[0-3]?\d)\.(?P<m>[01]?\d)\.(?P<y>(?:19|20)\d\d)(?!\d)")
_DATE_SLASH = re.compile(r"\b(?P<a>[0-3]?\d)/(?P<b>[0-3]?\d)/(?P<y>(?:19|20)?\d\d)(?!\d)")
# "18 Nov 2019", "30. Juli 2018", "1 de diciembre de 2017", "21.dez.2018".
_DATE_DMY = re.compile(
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|er)?\.?[\s.]*(?:de\s+)?(?P<m>{_MONTH_RE})\.?,?[\s.]*(?:de\s+)?"
    r"(?P<y>(?:19|20)\d\d)(?!\d)",
    re.I,
)
_DATE_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?:[T ][\d:.]+Z?)?")
# Year first, as Chinese, Japanese and Korean pages write it ("2023年4月1日", "2023년 4월 1일", "2023. 4. 1.") and many
# others with slashes or dots ("2023/4/1", "2023.04.01"): always year, month, day.
_DATE_YMD = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d\d)\s*(?:年|년|/|\.)\s*(?P<m>[01]?\d)\s*(?:月|월|/|\.)\s*(?P<d>[0-3]?\d)(?!\d|\.\d)"
)

_BY_WORDS = r"(?:by|written by|posted by)\b:?"
_BY = re.compile(rf"^\s*{_BY_WORDS}\s*", re.I)  # a "By" before an author field's names
# "Analysis by", "Von", "Par", "Por", "Door": a byline's opening word in other places and languages, taken only before
# a capitalised name ("Par ailleurs" is French prose, not a byline).
_BY_OTHER = (r"(?:(?:analysis|story|review|opinion|commentary|text|words|column|interview|reported)\s+by|"
             r"von|par|por|door|reporter|correspondent)\b:?")
_BYLINE = re.compile(rf"^(?:[/|•·–—-]+\s*)?(?:(?P<other>{_BY_OTHER})|{_BY_WORDS})\s+(?P<rest>[^\W\d_].*)$", re.I)
# A date or time stamp, then "by" and names: "Posted on March 3, 2023 by Jane Doe", "Nov 18, 2019 7:45 am by J. Doe".
_DATED_BYLINE = re.compile(r"^(?P<when>.{6,60}?)\s+by:?\s+(?P<rest>[A-Z][^|·]{2,60})$")
# Labels whose value is the author: "Author: Jane Doe", "Text: Jane Doe", "Автор: ...".
_AUTHOR_LABELS = frozenset(
    ("author", "authors", "by", "written by", "reporter", "reported by", "correspondent", "text", "texto", "texte",
     "autor", "auteur", "autore", "автор", "текст")
)
_LABELLED = re.compile(
    r"^(?P<label>" + "|".join(sorted(_AUTHOR_LABELS, key=len, reverse=True))
    + r"|created|published|updated|posted|date|source|credits?)\s*:\s*(?P<value>.*)$",
    re.I,
)
_ORG_WORDS = re.compile(
    r"\s*\b(news ?desk|desk|staff|newsroom|editorial(?: team| board)?|editors|reporters|team|wire)\b\s*$", re.I
)
_CREDIT_LINE = re.compile(r"^(?:©|\(c\)\s|(?:photo|picture|image|video)s?(?:\s+credits?)?\s*:)", re.I)
# A caption's photo credit at the end of a line: "(Jane Doe/Agency)", "(credit: Agency)", "Credit: Agency",
# "... Jane Doe/Agency". A line ending in one is a caption, never the headline.
_CAPTION_TAIL = re.compile(
    r"(?:\((?:(?:photo|image|picture|foto|credit|source)s?\s*:?\s*)?[^()]{2,60}/[^()]{2,60}\)"
    r"|\((?:photo|image|picture|foto|credit|source)s?\s*:\s*[^()]{2,60}\)"
    r"|\bcredit\s*:?\s*[^\s].{1,50}"
    r"|(?-i:\s[A-Z][\w.'’-]+\s[A-Z][\w.'’-]+\s?/\s?(?:[A-Z][\w&.'’-]*\s?){1,5}))$",
    re.I,
)
_DOMAIN = re.compile(r"\b([A-Za-z][\w-]*\.(?:[a-z]{2,6}))\b")


# ---------------------------------------------------------------------------
# Reading files

# Larger files are skipped unread: real articles are a few KB, and a stray dump or video renamed .txt must not
# be loaded into memory whole.
MAX_SEED_BYTES = 10 * 1024 * 1024
# A JSON file may hold a scraper's whole feed export (qa.clean_json.json_records), thousands of articles.
MAX_JSON_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class RawDoc:
    """A seed file read and decoded, before cleaning. `source`: its path in the folder ("a.txt", "2019/a.txt"); the
    article id is that path without its suffix."""

    doc_id: str
    path: Path
    text: str
    is_html: bool
    sha256: str
    source: str
    encoding: str = "UTF-8"  # how the bytes were read (qa.clean_charset.Decoded.describe)
    url: str | None = None  # where a saved page came from, when its file says (.mhtml, .webarchive)
    record: int | None = None  # in a JSON file of several article records, which one (from 1); its id ends "#<n>"

    @property
    def shown(self) -> str:
        """Where the article is: its file's path in the folder, and "#<n>" for one record of several."""
        return self.source if self.record is None else f"{self.source}#{self.record}"

    @property
    def is_markdown(self) -> bool:
        return Path(self.source).suffix.lower() in config.MARKDOWN_SUFFIXES

    @property
    def is_json(self) -> bool:
        return not self.is_html and Path(self.source).suffix.lower() in config.JSON_SUFFIXES


@contextmanager
def _opened(path: Path):
    """The file opened for reading in binary, and its stat. O_NONBLOCK: opening a FIFO named like an article must not
    hang the build waiting for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        yield f, os.fstat(f.fileno())


def _read_capped(path: Path, limit: int = MAX_SEED_BYTES) -> tuple[bytes | None, str | None]:
    """(bytes, None), or (None, reason) for a file that is not regular or is larger than `limit`."""
    with _opened(path) as (f, st):
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file"
        if st.st_size > limit:
            return None, _too_large(st.st_size, limit)
        # Read one byte past the limit: a file that grew since fstat is still caught without reading it all.
        data = f.read(limit + 1)
    if len(data) > limit:
        return None, _too_large(len(data), limit)
    return data, None


def _too_large(size: int, limit: int) -> str:
    return f"file too large ({size / 2**20:.1f} MB; the limit is {limit // 2**20} MB)"


# How a saved web page begins, after a byte-order mark, white space and comments.
_HTML_START = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S)
SNIFF_BYTES = 1024


def starts_as_html(data: bytes) -> bool:
    """Whether a file's first bytes are a web page's (`<!DOCTYPE html>` or `<html>`): wget saves a page under its
    URL's last part, which on most news sites has no .html."""
    return bool(_HTML_START.match(data[:SNIFF_BYTES]))


def _saved_page_without_suffix(path: Path) -> bool:
    """A regular file, not a symlink, whose first bytes are a web page's."""
    if path.is_symlink():
        return False
    try:
        with _opened(path) as (f, st):
            return stat.S_ISREG(st.st_mode) and starts_as_html(f.read(SNIFF_BYTES))
    except OSError:
        return False


def seed_name(path: Path, root: Path | None = None) -> str:
    """A seed file's name in its folder: its path under `root` with "/" between folders ("2019/a.txt"), or the file
    name without a root. The article id is this name without its suffix."""
    return path.relative_to(root).as_posix() if root is not None else path.name


def read_seed(path: Path, name: str | None = None) -> RawDoc | Skipped:
    """Read one seed file; return a Skipped with the reason when it is not usable text (for JSON: not an article).
    `name`: its seed_name (default: the file name). A JSON file of several records is one RawDoc (`read_articles`
    gives one per record)."""
    r = _read_file(path, name)
    if isinstance(r, Skipped) or not r.is_json:
        return r
    docs = _json_articles(r)
    return docs[0] if len(docs) == 1 else r


def _read_file(path: Path, name: str | None) -> RawDoc | Skipped:
    """A seed file's bytes read and decoded (a saved page's HTML taken out of its archive), or why they cannot be."""
    name = path.name if name is None else name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # The id would carry undecodable bytes into the index, citations and the UI; renaming fixes it.
        return Skipped(str(path), "file name is not valid UTF-8; rename the file")
    try:
        limit = MAX_JSON_BYTES if path.suffix.lower() in config.JSON_SUFFIXES else MAX_SEED_BYTES
        data, reason = _read_capped(path, limit)
    except OSError as exc:
        return Skipped(str(path), f"unreadable: {exc.strerror or exc}")
    if data is None:
        return Skipped(str(path), reason)
    if not data.strip():
        return Skipped(str(path), "empty file")
    sha256 = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    # A page saved under its URL's own name ("2019/11/19/story", "article.php?id=12") is HTML by its content, and its
    # whole name is its id (the part after a dot is no file type). So is a page's source saved as .txt or .md
    # (`curl URL > story.txt`): read as a text scrape, its markup would be taken for words.
    looks_html = suffix not in config.SAVED_PAGE_SUFFIXES and starts_as_html(data)
    sniffed = looks_html and suffix not in config.SEED_SUFFIXES
    is_html = looks_html or suffix in (".html", ".htm") + config.SAVED_PAGE_SUFFIXES
    charset = url = None
    if suffix in config.SAVED_PAGE_SUFFIXES:
        page = saved_page(data, suffix)
        if isinstance(page, str):
            return Skipped(str(path), page)
        data, charset, url = page.html, page.charset, page.url
    got = decode(data, html=is_html, declared=charset)
    if isinstance(got, str):
        return Skipped(str(path), got)
    if not got.text.strip():
        return Skipped(str(path), "empty file")
    if got.how:
        log.info("%s read as %s", path, got.describe())
    doc_id = name if sniffed else name[: len(name) - len(path.suffix)]
    return RawDoc(doc_id, path, got.text, is_html, sha256, name, got.describe(), url)


def read_articles(path: Path, name: str | None = None) -> list[RawDoc | Skipped]:
    """Read one seed file as the articles it holds (`read_seed`): one, or for a JSON file of several records (a JSON
    list, JSON Lines: qa.clean_json.json_records) one per record, in the file's order. Record n (from 1) is the
    article "<the file's id>#<n>"; a record that is not an article is skipped with its reason, as "<path>#<n>"."""
    r = _read_file(path, name)
    return [r] if isinstance(r, Skipped) or not r.is_json else _json_articles(r)


def _json_articles(r: RawDoc) -> list[RawDoc | Skipped]:
    """A JSON file's articles (its text parsed once into records): the file's own, or one per record; a Skipped
    with the reason for a file, or a record, that is not an article."""
    records = json_records(r.text)
    if isinstance(records, str):
        return [Skipped(str(r.path), records)]
    if len(records) == 1:  # one object, or the one article of a list: the file's own article
        found = read_json(records[0])
        return [Skipped(str(r.path), found) if isinstance(found, str)
                else r if records[0] is r.text else replace(r, text=records[0])]
    out: list[RawDoc | Skipped] = []
    for n, record in enumerate(records, 1):
        found = read_json(record)
        if isinstance(found, str):
            out.append(Skipped(f"{r.path}#{n}", found))
            continue
        sha256 = hashlib.sha256(record.encode("utf-8")).hexdigest()
        out.append(replace(r, doc_id=f"{r.doc_id}#{n}", text=record, sha256=sha256, record=n))
    return out


def _read_named(job: tuple[Path, str]) -> list[RawDoc | Skipped]:
    return read_articles(*job)


# ---------------------------------------------------------------------------
# Line features


def _parse_date(text: str) -> date | None:
    """The earliest date the text states. Where a stamp shows two ("July 30, 2019January 18, 2023", "May 21, 2025
    April 24, 2025 by ..."), the other is when the page was updated, which is never before it was published."""
    found = []
    for m in _DATE_SLASH.finditer(text):
        a, b, y = int(m.group("a")), int(m.group("b")), int(m.group("y"))
        y = y + 2000 if y < 100 else y
        day_month = (a, b) if a > 12 >= b else (b, a) if b > 12 >= a else None
        if day_month:
            try:
                found.append(date(y, day_month[1], day_month[0]))
            except ValueError:
                pass
    for rx in (_DATE_MDY, _DATE_DMY, _DATE_ISO, _DATE_DOTS, _DATE_YMD):
        for m in rx.finditer(text):
            try:
                month = m.group("m")
                mon = int(month) if month.isdigit() else _MONTH_NAMES[month.lower()]
                found.append(date(int(m.group("y")), mon, int(m.group("d"))))
            except (ValueError, KeyError):
                continue
    return min(found, default=None)


# A line that is only an address with a path (a bare "example.com" is a site name, not the article's URL).
_URL_LINE = re.compile(r"^(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?/\S+$", re.I)


def _stated_url(raw: str, title: str | None = None) -> str | None:
    """The page's own address, when the scrape states it on a line of its own: the first full address ("https://",
    "www.") that is about this page. With the headline known, that is one over it or at most DATE_WINDOW lines
    under it (a "share" line, a short link), or one whose path names a word of the headline (a share line at the
    foot). A link further down that names none (a source the article cites, a related page, a code sample) is not
    the page's address; nor is a shortened "..." one, one ending a citation ("...draft3-1,") or one of a list of
    links. Without a headline, the first such line; with one the scrape does not hold as a line, one whose path
    names a word of it. A line labelled "URL" or "Permalink" comes first; a campaign link ("?utm_source=") never.
    """
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    at = None if title is None else next((i for i, line in enumerate(lines) if title in line), None)
    words = _url_words(title) if title else set()
    is_url = [bool(_URL_LINE.match(line) and _FULL_URL.match(line)) for line in lines]
    labelled = next((line for i, line in enumerate(lines) if is_url[i] and i and _URL_LABEL.match(lines[i - 1])), None)
    if labelled:
        return labelled  # "URL" / "Permalink" over it: the page's share box states its own address
    for i, line in enumerate(lines):
        if not is_url[i] or line.endswith(("...", "…", ",", ";", ".", ")")) or _CAMPAIGN.search(line):
            continue  # a campaign link ("?utm_source=..."): a menu's or an advert's, not the page's own
        if any(is_url[j] for j in (i - 1, i + 1) if 0 <= j < len(lines)):
            continue  # one of a list of links ("Sources & links"), not the page's own
        near = at is not None and i <= at + DATE_WINDOW
        if title is None or near or words & _url_words(urlsplit(line if "://" in line else "//" + line).path):
            return line
    return None


_FULL_URL = re.compile(r"^(?:https?://|www\.)", re.I)
_URL_LABEL = re.compile(r"^(?:(?:page|article|short|copy)\s+)?(?:url|link|permalink|address)\s*:?$", re.I)
_CAMPAIGN = re.compile(r"[?&](?:utm_[a-z]+|fbclid|gclid)=", re.I)


def _url_words(text: str) -> set[str]:
    """The words of four letters or more in a headline or an address's path, lower-cased, stopwords left out."""
    stop = stopwords()
    return {w for w in re.findall(r"[^\W\d_]{4,}", text.lower()) if w not in stop}


# also glued to the dates around it ("December 22, 2022Updated: January 2, 2026", "UpdatedJanuary 25, 2026")
_UPDATED = re.compile(
    r"(?:\b|(?<=\d))(?:updated|modified|edited|mis à jour|actualizado|atualizado|aktualisiert)(?!(?-i:[a-z]))", re.I
)
# A line that only announces the next line's date as an update: "Last update:", "Updated on".
_UPDATED_LABEL = re.compile(r"^\W*(?:last\s+)?(?:updated?|modified|edited)(?:\s+(?:on|at))?\W*$", re.I)
# "Founded February 28, 1998; 18 years ago": a fact about the subject (an infobox), not when the page was written.
_AGE = re.compile(r"\b\d+\s+years?\s+ago\b|\(age\s+\d+\)", re.I)
# When no line the first body model leaves out rates HEADLINE_FALLBACK_BELOW as a headline, a line it keeps that rates
# HEADLINE_FALLBACK_MIN may be the headline (chosen on the dev sites' leave-site-out titles, bench/train_cleaner.py).
HEADLINE_FALLBACK_BELOW = 0.3
HEADLINE_FALLBACK_MIN = 0.3
DATE_WINDOW = 8  # lines from the headline (or the body's first line) within which the article's date is stated
# When no other date is found, a date this close over the headline is the article's (a dateline over the headline)
# even when other pages of the folder share it; the masthead's "today" usually sits higher. Chosen on WCXB's dev pages
# (bench: README, "Cleaning quality").
DATE_OVER_HEADLINE = 3


_DATELINE_CUE = re.compile(r"^(?:by|von|par|por|di|published|posted|publiziert|publié|publicado|date)\b", re.I)


def _line_date(line: str) -> date | None:
    """The date a short line states as its page's own: the part before an "Updated" stamp
    ("Nov 19, 2019 / Updated 14 hours ago" gives Nov 19); never a date inside prose (a caption, a citation), a
    reader comment's header, a photo caption ("... November 19, 2019. © Agency") or an infobox age."""
    n = len(_words(line))
    prose = n > 12 and is_terminal(line) and not _DATELINE_CUE.match(line)
    if n > 25 or prose or "©" in line or _AGE.search(line) or is_comment_header(line):
        return None
    m = _UPDATED.search(line)
    if m and not re.search(r"publish|posted", line[: m.start()], re.I):
        line = line[: m.start()]
    return _parse_date(line)


def _find_date(lines: list[str], anchor: int, repeats: list[int]) -> date | None:
    """The date stated nearest the anchor line (below it preferred, a byline or "Published" line first): the
    article's own, not the masthead's "today" (a line above the headline that other pages of the folder share;
    under it, a shared date is the articles' own, as in a folder of one day's news), an "Updated" stamp or a
    related story's byline further away. Only when that finds nothing, a shared date at most DATE_OVER_HEADLINE
    lines over the headline is taken: a dateline over the headline on a site whose pages share their day."""
    best = None
    for shared_over in (False, True):
        for i in range(max(0, anchor - DATE_WINDOW), min(len(lines), anchor + DATE_WINDOW + 1)):
            if i and _UPDATED_LABEL.match(lines[i - 1]):
                continue
            if repeats[i] and i < anchor and not (shared_over and i >= anchor - DATE_OVER_HEADLINE):
                continue
            d = _line_date(lines[i])
            if d is None:
                continue
            cue = DATE_WINDOW if _DATELINE_CUE.match(lines[i]) else 0.0
            dist = abs(i - anchor) + (0.5 if i < anchor else 0.0) - cue
            if best is None or dist < best[0]:
                best = (dist, d)
        if best:
            break
    return best[1] if best else None


_PUBLISHED_CUE = re.compile(r"^\W*(?:published|posted|publiziert|publié|publicado|pubblicato)\b", re.I)


def _published_line_date(lines: list[str], repeats: list[int]) -> date | None:
    """Anywhere on the page, the date of a line that says the article was published ("Published On: 15 August
    2025", "Posted on March 3, 2023 by ..."), when the page has one such date and no other page of the folder shares
    the line: a fallback for when neither the headline nor the body's first line has a date near it (the headline
    may be a wrong pick). Two such dates (related stories' "Posted on" lines) give none."""
    found = {d for i, line in enumerate(lines) if not repeats[i] and _PUBLISHED_CUE.match(line)
             and (d := _line_date(line)) is not None}
    return found.pop() if len(found) == 1 else None


_HANDLE = re.compile(r"\s*@\w+.*$|\d+$")
# A job title glued to the name by the scrape ("Meg JamesStaff Writer": told by its case, so not "AP Sports Writer")
# or after it ("Jane Doe, Senior Writer").
_JOB_TITLE = re.compile(
    r"(?-i:(?<=[a-z])(?=[A-Z][a-z]+\s+(?:Writer|Reporter|Editor|Correspondent|Columnist|Contributor)))"
    r"|\s*[,|–-]?\s*\b(?:(?:senior|staff|chief|deputy|managing|executive|contributing|associate)\s+(?:[a-z]+\s+)?)?"
    r"(?:writer|reporter|editor|correspondent|columnist|contributor|technologist|analyst|director|officer|manager|"
    r"producer|strategist|consultant)\b.*$",
    re.I,
)
# An update stamp glued to or after the name ("Jane Doe Updated", "Jane Doelast Updated: ...", "Jane DoeUpdated").
_UPDATE_TAIL = re.compile(r"\s*(?:last\s*)?updated\b.*$", re.I)


def _plain_name(part: str) -> str:
    """A name without a trailing handle, digits, update stamp or job title: 'Chris Pokorny@DawgsByNature' -> 'Chris
    Pokorny', 'Jane Doe Last Updated:' -> 'Jane Doe'; '' when nothing but a job title is left ('Senior Analyst')."""
    part = _UPDATE_TAIL.sub("", _HANDLE.sub("", part.strip(" .·|")))
    m = _JOB_TITLE.search(part)
    if m and m.start() == 0 and m.group().strip(" ,|–-"):
        return ""  # only a job title
    if m and m.start() > 0:
        part = part[: m.start()]
    return part.strip(" .,-–|")


# Lower-case particles inside a personal name ("Ludwig van Beethoven", "Ahmed bin Zayed").
_NAME_PARTICLES = ("de", "van", "von", "al", "bin", "da", "di")
# A byline that names no one ("By Staff Reports", "By Wire Services").
_GENERIC_BYLINE = re.compile(r"^(?:(?:staff|wire|news|services?|reports?|desk|editors?|agenc(?:y|ies))\s*)+$", re.I)


def _split_names(names: str) -> tuple[list[str], list[str]]:
    """'A and B, The X news desk' -> (['A', 'B'], ['The X'])."""
    people, orgs = [], []
    stop = stopwords()
    for raw in re.split(r"\s*(?:,|\band\b|&)\s*", names):
        part = _plain_name(raw)
        if not part:
            if _JOB_TITLE.search(raw):
                break  # "Jane Doe, Senior Staff Technologist, Example Project": only a job title; the employer follows
            continue
        acronym = not part.isupper() and re.search(r"\b[A-Z]{2,}\b", part)
        if part != raw.strip(" .,-–|·") and _JOB_TITLE.search(raw):
            # "Jane Doe, Senior Writer, Example Project": what follows a job title is the employer, not more people.
            if len(part.split()) >= 2 and not acronym:  # "AP Sports Writer": an agency's desk
                people.append(part.title() if part.isupper() else part)
            break
        if acronym:
            orgs.append(part)  # "Example NEWS Business": an acronym names an organisation, not a person
            continue
        org = _ORG_WORDS.sub("", part)
        if org != part:
            if org:
                orgs.append(org)
            continue
        if _GENERIC_BYLINE.match(part):
            continue
        tokens = [t for t in part.split() if t.lower() not in _NAME_PARTICLES]
        # Capitalised words, not mostly function words: "About Us" is not a name, but "Dan Evon", "Stella Kim" and
        # "Will Smith" are, though "dan", "kim" and "will" are function words in one of the stopword lists.
        if 2 <= len(part.split()) <= 4 and tokens and all(t[0].isupper() for t in tokens) and (
            2 * sum(t.lower() in stop for t in tokens) <= len(tokens)
        ):
            # "JANE DOE" as the page shouts it is "Jane Doe".
            people.append(part.title() if part.isupper() else part)
    return people, orgs


# Where the names in a byline end: a date, a time, a separator, a "published" word.
_NAMES_END = re.compile(
    rf"(\b{_MONTH_RE}\.?\s+\d|\b\d{{1,2}}\.?\s+{_MONTH_RE}\b|\b(?:19|20)\d\d-\d\d|(?<!\d)\d{{1,2}}[:/.]\d\d|[|·⋅•]|"
    r"\s(?:published|posted|publiziert|veröffentlicht|publié|publicado|pubblicato)\b|"
    # glued to the name by the scrape: "Jane DoeNovember 20, 2007", "BY JANE DOEPUBLISHED: JAN 29, 2025"
    rf"(?-i:(?<=[a-z]))(?=(?-i:[A-Z])){_MONTH_RE}\.?\s+\d|(?-i:(?<=[a-z])(?:Published|Updated|Posted)|"
    r"(?<=[A-Z])(?:PUBLISHED|UPDATED|POSTED))\b)",
    re.I,
)


def _parse_byline(line: str) -> tuple[list[str], list[str], date | None] | None:
    """Names, organisations and date from a byline such as 'by A and B February 5, 2024 3:30 PM'."""
    m = _BYLINE.match(line)
    if m and m.group("other") and not m.group("rest")[0].isupper():
        return None
    if m:
        rest = m.group("rest")
        if rest[0].islower() and len(_words(rest)) > 3:
            return None  # "By entering your email, you agree to our Terms and Privacy Policy.": prose, not a byline
    elif (m := _DATED_BYLINE.match(line)) and (when := _parse_date(m.group("when"))):
        # "Monday November 18, 2019 7:45 am PST by Jane Doe": the date first, the names after "by".
        people, orgs = _split_names(m.group("rest"))
        return (people, orgs, when) if people else None
    else:
        m = _LABELLED.match(line)
        if not m or m.group("label").lower() not in _AUTHOR_LABELS:
            return None
        rest = m.group("value")
    if len(_words(rest)) > 25:
        return None
    when = _parse_date(rest)
    cut = _NAMES_END.search(rest)
    names = rest[: cut.start()] if cut else rest
    names = re.sub(r"\s+(?:on|at|am|le|el|em|il)\s*$", "", names, flags=re.I)  # "Jane Doe on" (a date followed)
    people, orgs = _split_names(names)
    return people, orgs, when


@dataclass
class _Meta:
    title: str | None = None
    people: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    published: date | None = None
    source: str | None = None


# A line that is only a person's name, or a name before a date, handle or separator ("Jane Doe - Nov 19, 2019").
_NAME = r"[^\W\d_][\w.'’-]*(?:\s+[^\W\d_][\w.'’-]*){1,3}"  # two to four words that start with a letter
_NAME_LINE = re.compile(rf"^(?P<name>{_NAME})(?:\s*(?:[-–—|·•/,@(]|\s\d).*)?$")
NAME_BELOW_TITLE = 3  # lines under the headline where a bare author name is looked for
# A byline the scrape split in two: the label on its own line ("Written by", "Author", "By:"), the name on the next.
_AUTHOR_LABEL = re.compile(
    r"^(?:(?:written|posted|words|text)\s+by|by|authors?|author\s+name|von|par|por|door|di)\s*:?$", re.I
)


_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun".split())


_CAMEL = re.compile(r"(?<=[a-z])[A-Z]")


def _bare_name(line: str, page_lower_words: set[str]) -> list[str]:
    """The author on a line that is just a name ("Jane Doe", "Jane Doe @handle / 2 days", "Jane Doe Monday ...");
    [] for anything else: a subtitle (function words), a heading or menu entry (words the page also uses in lower
    case, as names are not)."""
    m = _NAME_LINE.match(line)
    if not m or len(line) > 80:
        return []
    tokens = []
    for w in m.group("name").split():
        if w.lower().strip(".,") in _WEEKDAYS or w.lower().strip(".,") in _MONTH_NAMES:
            break
        tokens.append(w)
    stop = stopwords()
    named = [w.lower() for w in tokens if w.lower() not in _NAME_PARTICLES]
    if any(w in page_lower_words for w in named) or 2 * sum(w in stop for w in named) > len(named):
        return []
    name = " ".join(tokens)
    if _AUTHOR_LABEL.match(name) or any(len(_CAMEL.findall(w)) > 1 for w in tokens):
        # "Written By Feb 11, 2019": the label, its name missing; "OrganizationOfficeOrganizingPapers": menu entries
        # the scrape glued together ("McDonald" has one such join, not two)
        return []
    people, orgs = _split_names(name)
    return people if len(people) == 1 and not orgs else []


def _in_lower_case(name: str, page_lower_words: set[str]) -> bool:
    """Every word of `name` is one the page also writes in lower case: common words ("Use Case"), not a person's."""
    words = [w.lower() for w in _words(name) if w.lower() not in _NAME_PARTICLES]
    return bool(words) and all(w in page_lower_words for w in words)


# "5 min read", "12 minute read", "2–4 minutes": a reading time, which sits by a byline
_READ_TIME = re.compile(r"\b\d+\s*(?:[-–]\s*\d+\s*)?min(?:ute)?s?\b", re.I)
# a stamp _parse_date leaves alone, as its day and month may be either way round ("02-12-2025"), or a time ("1:39 PM")
_STAMP = re.compile(r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)?\d\d\b|\b\d{1,2}:\d\d\b")
BYLINE_COMPANY = 2  # lines after a bare name in which a byline's company is looked for
MENU_ENTRY_WORDS = 5  # a line of at most this many words without a full stop may be a menu entry or a heading


def _accompanied(lines: list[str], i: int, name: str) -> bool:
    """Whether a bare name's line (`lines[i]`) stands where a byline does. Yes with a byline's company: a date, handle
    or job title on the line itself; a date, update stamp, reading time, job title or the name again on one of the
    next BYLINE_COMPANY lines (lines of punctuation alone skipped); a date on the line before. Without it, no when the
    next line is a menu entry or heading too (a few words, no full stop): a title-case menu entry or heading ("Article
    Content" over "Key Takeaways", "Service Menu" over "Bikes") is a run of them."""
    line = lines[i]
    last = name.split()[-1]
    tail = line[line.find(last) + len(last):] if last in line else ""
    if re.search(r"[-–—|·⋅•/,]\s*\S*\d|@\w", tail) or _parse_date(tail) or _JOB_TITLE.search(tail):
        return True  # "Jane Doe - Nov 19, 2019", "Jane Doe @janedoe", "Jane Doe • 8h", "Jane Doe, Staff Writer"
    after = [s for s in lines[i + 1:i + 1 + 2 * BYLINE_COMPANY] if _words(s)][:BYLINE_COMPANY]
    for s in after:
        short = len(_words(s)) <= BYLINE_MAX_WORDS
        if len(_words(s)) <= 2 * BYLINE_MAX_WORDS and (_parse_date(s) or _STAMP.search(s) or _UPDATED.search(s)):
            return True
        if short and (_READ_TIME.search(s) or _JOB_TITLE.search(s)):
            return True
        if _key(s) == _key(name) or s.startswith(name.split()[0] + " ") and not short:  # "Jane Doe is a writer..."
            return True
    before = next((s for s in reversed(lines[max(0, i - 2):i]) if _words(s)), "")
    if len(_words(before)) <= BYLINE_MAX_WORDS and _parse_date(before) is not None:
        return True
    return not after or len(_words(after[0])) > MENU_ENTRY_WORDS or is_terminal(after[0])


_ADDRESS = re.compile(r"(?<!\S)\S*?(?:@|://|www\.)\S*")  # a whole token from its start: one scan per token


def _lower_words(text: str) -> set[str]:
    """The words the page writes in lower case, which are no name's. An address ("jane@example.com", a URL, an
    "@handle") is not the page writing a word."""
    return {w for w in _words(_ADDRESS.sub(" ", text)) if w.islower()}


def _extract_meta(lines: list[str], body: set[int], full_text: str, span: range, title_at: int | None) -> _Meta:
    """Authors and organisations from bylines within `span` (the article's area, not the related stories' bylines
    around it) or a bare name just under the headline, and a "Source:" label, on lines that are not body."""
    meta = _Meta()
    anchor = title_at if title_at is not None else span.start
    lower = _lower_words(full_text)
    bylines = []
    for i, line in enumerate(lines):
        if i in body:
            continue
        if i in span and _AUTHOR_LABEL.match(line):
            j = next((j for j in range(i + 1, min(len(lines), i + 3)) if lines[j].strip()), None)
            if j is not None and j not in body and (people := _bare_name(lines[j], lower)):
                bylines.append((abs(j - anchor), (people, [], None)))
            continue
        by = _parse_byline(line) if i in span else None
        if by and by[0] and all(_in_lower_case(p, lower) for p in by[0]):
            by = None  # "By Use Case", "By Event Type": a menu that sorts the site's pages, not a byline
        if by:
            bylines.append((abs(i - anchor), by))
            continue
        m = _LABELLED.match(line)
        if m and m.group("label").lower() == "source" and m.group("value").strip() and not meta.source:
            meta.source = m.group("value").strip()
    if bylines:
        # The byline nearest the headline is the article's; others are related stories' or comments'.
        named = [b for b in bylines if b[1][0]] or bylines
        people, orgs, _ = min(named, key=lambda b: b[0])[1]
        meta.people, meta.orgs = list(dict.fromkeys(people)), list(dict.fromkeys(orgs))
    if not meta.people and title_at is not None:
        for i in range(title_at + 1, min(len(lines), title_at + 1 + NAME_BELOW_TITLE)):
            if i in body or _key(lines[i]) == _key(lines[title_at]):
                continue
            if people := _bare_name(lines[i], lower):
                # the first line shaped like a name decides: one without a byline's company is a menu entry, and
                # the lines after it are more of the menu
                meta.people = people if _accompanied(lines, i, people[0]) else []
                break
    if meta.source:
        # Sites often name their source by its domain elsewhere on the page ("Source: examplenews" ... "ExampleNews.com").
        for dom in _DOMAIN.findall(full_text):
            if dom.lower().startswith(meta.source.lower() + "."):
                meta.source = dom
                break
    return meta


def _publisher(meta: _Meta) -> str | None:
    if meta.orgs:
        return meta.orgs[0]
    return meta.source


# ---------------------------------------------------------------------------
# Public entry points


@dataclass(frozen=True)
class LineVerdict:
    """Whether one line of a text scrape was kept as body, the model's score, and why."""

    kept: bool
    score: float
    reason: str


@dataclass(frozen=True)
class Cleaned:
    """A cleaned article plus the page chrome it was cut from (used to match publishers across a collection)."""

    article: Article | None  # None only in a rejected page's verdicts
    chrome: str
    lines: tuple[tuple[str, LineVerdict], ...] = ()  # the page's lines and their verdicts, for `qa clean -v`


# A line also found on other pages of the folder is dropped unless the model is this sure it is body (lorem-ipsum
# test pages and wire copy share real paragraphs).
REPEAT_OVERRIDE = 0.97


def cleaner_version() -> str:
    """The cleaner's rules version and its line model's digest: the index manifest records it, so a change to
    either re-cleans every article on the next build."""
    return f"{config.CLEANER_VERSION}+{load_model().digest[:16]}"


BYLINE_MAX_WORDS = 8  # a kept line this short that reads as "By <names>" is the byline, not text
MIN_BODY_WORDS = 15  # less kept text than this is not an article
HEADLINE_MIN_WORDS = 3  # a line at the end of the picked one must be this long to be the headline...
HEADLINE_MIN_CJK = 5  # ...or hold this many CJK characters
# A line the first body model keeps is the headline only when the headline model rates it this high (chosen on the dev
# sites' leave-site-out titles: pages that state no headline start with their text; bench/train_cleaner.py).
EARLY_HEADLINE_MIN = 0.2
RESCUE_SHARE = 0.5


def _size(lines) -> int:
    """Words in the lines, a CJK text counting one word per two characters (it has no spaces between words)."""
    total = 0
    for line in lines:
        cjk = len(CJK.findall(line))
        total += len(_words(CJK.sub(" ", line))) + cjk // 2
    return total


SENTENCE_MIN_WORDS = 8
# Markup or code a scrape kept as text: a line opening with a whole tag ('<script src="...">', "</div>", "<!-- ad -->"),
# or a statement, an assignment or call ending in ";", "{" or "}" ("var x = f(y);").
_MARKUP_LINE = re.compile(r"^\s*<(?:[!/?]|[A-Za-z][\w:.-]*[\s/>])[^<>]*>|^\S.*[=(].*[;{}]\s*$")


def _never_headline(line: str) -> bool:
    """A caption ending in its photo credit, a line of prose, a byline ("By Jane Doe March 3, 2023") or a line of
    markup or code: the headline model's best line is taken only among the others."""
    if _CAPTION_TAIL.search(line) or _reads_as_sentence(line) or _only_a_date(line) or _MARKUP_LINE.match(line):
        return True
    by = _parse_byline(line) if len(_words(line)) <= BYLINE_MAX_WORDS * 2 else None
    return bool(by and by[0])


def _headline_over_byline(lines: list[str], verdicts: list[LineVerdict]) -> int | None:
    """When the headline model found none: the body's first line, if it reads as a heading (3 to 20 words, no full
    stop at the end) and a byline or a date line follows it (within two lines), as under a headline on most news
    sites. Marked as the headline; None otherwise."""
    first = next((i for i, v in enumerate(verdicts) if v.kept), None)
    if first is None or not 3 <= len(_words(lines[first])) <= 20 or is_terminal(lines[first]):
        return None
    after = lines[first + 1 : first + 3]
    if not any(_only_a_date(line) or (by := _parse_byline(line)) and by[0] for line in after):
        return None
    verdicts[first] = LineVerdict(False, verdicts[first].score, "headline")
    return first


def _only_a_date(line: str) -> bool:
    """A line that states a date and little else ("June 30, 2025", "Monday 30 June 2025, 10:42 AM EDT"): at most one
    word besides its date, weekday, time and time zone words."""
    if _parse_date(line) is None:
        return False
    rest = _DATE_PARTS.sub(" ", line)
    for rx in (_DATE_MDY, _DATE_DMY, _DATE_ISO, _DATE_DOTS, _DATE_SLASH, _DATE_YMD):
        rest = rx.sub(" ", rest)
    return len([w for w in _words(rest) if w.lower() not in _WEEKDAYS]) <= 1


_DATE_PARTS = re.compile(r"\b\d{1,2}[:.h]\d\d\b|\b(?:[ap]\.?m\b\.?|(?-i:[A-Z]{1,4}T|UTC|GMT)\b)", re.I)


def _ends_sentence(line: str) -> bool:
    """Whether a line ends with a full stop after a word ("... N.Y.C." or "... U.S." ends with an abbreviation,
    "..." with an ellipsis)."""
    return line.endswith(("。", "．")) or bool(re.search(r"(?:^|\s)[^\s.]*[^\W\d_]{2}[^\s.]*\.$", line))


def _reads_as_sentence(line: str) -> bool:
    """A line of prose, not a headline: it ends with a full stop after a word (not an abbreviation or an ellipsis)
    and is long, in words or, for CJK text, in characters."""
    if not _ends_sentence(line):
        return False
    return len(_words(CJK.sub(" ", line))) + len(CJK.findall(line)) // 2 >= SENTENCE_MIN_WORDS


def _headline_inside(lines: list[str], at: int) -> int:
    """The line that is the headline when the picked line holds it behind a breadcrumb trail or section label
    ("Home News Business <headline>", "World|<headline>"): another line of the page that is the picked line's end,
    long enough not to match by chance, with a trail before it (`reads_as_trail`); the longest such wins. (Never a
    line that is the picked line's start, or its end behind plain words: headlines often start with a tag or product
    name that is a line of its own, "New Phone" above "New Phone review: ...".)"""
    picked = lines[at].casefold()  # page_lines has already collapsed whitespace
    best, best_len = at, 0
    for i, line in enumerate(lines):
        other = line.casefold()
        if i == at or len(other) <= best_len or len(other) >= len(picked) or not picked.endswith(other):
            continue
        long_enough = len(_words(line)) >= HEADLINE_MIN_WORDS or len(CJK.findall(line)) >= HEADLINE_MIN_CJK
        if long_enough and reads_as_trail(picked[: -len(other)]):
            best, best_len = i, len(other)
    return best


# A name followed by a handle or a separator ("Jane Doe @janedoe / 2 days", "Jane Doe | Nov 19"): a byline's shape.
_NAME_TAGGED = re.compile(rf"^{_NAME}\s*(?:@\w|[/|·⋅•]\s)")


def _name_under_headline(lines: list[str], verdicts: list[LineVerdict], title_at: int, raw: str) -> None:
    """A kept line just under the headline that is a person's name with a handle or separator after it is the byline
    however sure the model is that it belongs with the text."""
    lower = None
    for i in range(title_at + 1, min(len(lines), title_at + 1 + NAME_BELOW_TITLE)):
        line, v = lines[i], verdicts[i]
        if not v.kept or len(_words(line)) > BYLINE_MAX_WORDS or not _NAME_TAGGED.match(line):
            continue
        if lower is None:
            lower = _lower_words(raw)
        if _bare_name(line, lower):
            verdicts[i] = LineVerdict(False, v.score, "byline")


def _line_verdicts(
    raw: str, repeats: list[int] | None, model: LineModel | None = None, headlines: tuple[str, ...] = (),
    rejoin: bool = True,
) -> tuple[list[str], list[LineVerdict], int | None]:
    """The scrape's lines (clean_lines.page_lines), for each the body model's decision, and the index of the headline
    (None if none): of the lines that say one of `headlines` (the page marked them), the one the headline model
    rates best; else the headline model's pick."""
    model = model or load_model()
    lines, bullets = page_lines(raw, rejoin)
    if repeats is None or len(repeats) != len(lines):
        repeats = [0] * len(lines)
    x = line_features(lines, repeats, bullets)
    first = model.first_proba(x)
    proba = model.body_proba(x, first)
    # The headline is a line the first model leaves out or one of its first kept lines (`title_candidates`, what the
    # headline model is fitted on); a kept one must be rated EARLY_HEADLINE_MIN, as a page without a headline starts
    # with its text. The headline, once picked, is not body.
    rated = model.title_proba(lines, x, first)
    kept = first >= model.threshold
    title_p = np.where(title_candidates(first, model.threshold) & ~(kept & (rated < EARLY_HEADLINE_MIN)), rated, 0.0)
    if title_p.max(initial=0.0) < HEADLINE_FALLBACK_BELOW:
        # No candidate looks like a headline, while a later line the first model took for body looks like one (on a
        # short page the headline itself can score as body): that line is the headline.
        title_p = np.where((first >= model.threshold) & (rated >= HEADLINE_FALLBACK_MIN), rated, title_p)
    title_at = None
    for i in np.argsort(-title_p, kind="stable").tolist():  # the best line that may be a headline
        if title_p[i] < model.title_threshold:
            break
        if not _never_headline(lines[i]) and not (kept[i] and _ends_sentence(lines[i])):
            title_at = i  # (a kept line that ends a sentence is the text's first line)
            break
    if title_at is not None:
        title_at = _headline_inside(lines, title_at)
    keys = {_key(h) for h in headlines}
    marked = [i for i, line in enumerate(lines) if keys and _key(line) in keys]
    if marked:  # the page marks its headline: wherever the model would look, one of the lines it marks
        title_at = max(marked, key=lambda i: rated[i])
    verdicts = []
    for line, p, rep in zip(lines, proba.tolist(), repeats):
        if _CREDIT_LINE.match(line):
            # "© Name/Agency", "Photo: ...": a credit is never article text, whatever surrounds it.
            verdicts.append(LineVerdict(False, p, "photo credit or copyright line"))
            continue
        if rep and p < REPEAT_OVERRIDE:
            # The same line in other articles of the folder is the site's chrome (near-copies do not count).
            verdicts.append(LineVerdict(False, p, f"on {rep} other page{'s' if rep > 1 else ''} of the folder"))
        elif p >= model.threshold:
            verdicts.append(LineVerdict(True, p, "body"))
        else:
            verdicts.append(LineVerdict(False, p, f"body score {p:.2f} < {model.threshold:.2f}"))
    if title_at is not None:
        verdicts[title_at] = LineVerdict(False, verdicts[title_at].score, "headline")
    for i, (line, v) in enumerate(zip(lines, verdicts)):
        # "By Jane Doe" is the byline however sure the model is that it belongs with the text.
        if v.kept and len(_words(line)) <= BYLINE_MAX_WORDS and (by := _parse_byline(line)) and by[0]:
            verdicts[i] = LineVerdict(False, v.score, "byline")
    if title_at is None:
        title_at = _headline_over_byline(lines, verdicts)
    if title_at is not None:
        _name_under_headline(lines, verdicts, title_at, raw)
    if _size(line for line, v in zip(lines, verdicts) if v.kept) < MIN_BODY_WORDS:
        # Too little text is sure enough to be body (a site unlike any the model saw): keep what is half as sure
        # rather than reject a page that has an article.
        low = model.threshold * RESCUE_SHARE
        rescued = [
            LineVerdict(True, v.score, f"body (score {v.score:.2f} >= {low:.2f}: the page had too little text above "
                        f"{model.threshold:.2f})") if v.reason.startswith("body score") and v.score >= low else v
            for v in verdicts
        ]
        if _size(line for line, v in zip(lines, rescued) if v.kept) >= MIN_BODY_WORDS:
            verdicts = rescued
    return lines, verdicts, title_at


def clean_text(
    raw: str, doc_id: str, *, repeats: list[int] | None = None, source: str = "", model: LineModel | None = None,
    headlines: tuple[str, ...] = (), rejoin: bool = True,
) -> Cleaned | None:
    """Clean one scraped plain-text page. Returns None when no article body is recognisable.

    Args:
        raw: the page text.
        doc_id: the id to give the article.
        repeats: for each line of `clean_lines.page_lines(raw)`, how many other pages of the collection hold it
            (site chrome); `clean_collection` computes these. None treats the page alone.
        source: the file name, kept for reference.
        model: the line models; None uses the shipped ones (a cross-validation passes models fitted without
            this page's site).
        headlines: what the page marks as headlines (a Markdown scrape's level-1 headings): the title is the
            line saying one of them that the headline model rates best, not the model's pick among all lines.
        rejoin: re-join lines that continue a sentence (inline links break a browser's text over lines); False
            for a text whose lines are its blocks (a Markdown scrape's).
    """
    lines, verdicts, title_at = _line_verdicts(raw, repeats, model, headlines, rejoin)
    if repeats is None or len(repeats) != len(lines):
        repeats = [0] * len(lines)
    body = [line for line, v in zip(lines, verdicts) if v.kept]
    if _size(body) < MIN_BODY_WORDS:
        return None
    kept_at = [i for i, v in enumerate(verdicts) if v.kept]
    start = min(kept_at[0], title_at) if title_at is not None else kept_at[0]
    span = range(max(0, start - DATE_WINDOW), kept_at[-1] + DATE_WINDOW + 1)
    meta = _extract_meta(lines, set(kept_at), raw, span, title_at)
    meta.title = lines[title_at] if title_at is not None else None
    # Near the headline; failing that, near the body's first line (the headline may be a wrong pick).
    meta.published = (_find_date(lines, title_at, repeats) if title_at is not None else None) or _find_date(
        lines, kept_at[0], repeats
    ) or _published_line_date(lines, repeats)
    if not meta.orgs and not meta.source:
        meta.source = copyright_holder(lines)
    if meta.title:
        body = [p for p in body if _key(p) != _key(meta.title)] or body
    chrome = "\n".join(line for line, v in zip(lines, verdicts) if not v.kept)
    article = Article(
        doc_id=doc_id,
        title=meta.title,
        publisher=site_name(lines, set(kept_at), _publisher(meta)),
        published=meta.published,
        authors=tuple(meta.people),
        text="\n\n".join(body),
        source=source,
        url=_stated_url(raw, meta.title),
    )
    return Cleaned(article, chrome, tuple(zip(lines, verdicts)))


def _headline_like(heads: tuple[str, ...]) -> tuple[str, ...]:
    """The headings that read as a headline (qa.clean_headline), or all of them when none does ("Mozilla")."""
    return tuple(h for h in heads if reads_as_headline(h)) or heads


def clean_markdown(
    raw: str, doc_id: str, *, repeats: list[int] | None = None, source: str = "", model: LineModel | None = None
) -> Cleaned | None:
    """Clean one Markdown scrape: its text (qa.clean_markdown) as a text scrape whose lines are its blocks. The
    title is the level-1 heading the headline model rates best; with a front matter title, the headline it names
    as an HTML page's <title> names an <h1> (qa.clean_headline). A front matter URL stands where the text states
    none. `repeats` counts the lines of that text."""
    page = read_markdown(raw)
    title = page.front_value(TITLE_KEYS)
    named = choose_headline(title, page.h1) if title else None
    c = clean_text(page.text, doc_id, repeats=repeats, source=source, model=model,
                   headlines=(named,) if named else _headline_like(page.h1), rejoin=False)
    if c is None or c.article is None:
        return c
    a = c.article
    url = a.url or _stated_url(page.front_value(URL_KEYS) or "")
    if title:  # once the site is known, the front matter's title can lose its name
        named = choose_headline(title, page.h1, a.publisher, urlsplit(url).hostname if url else None)
    return replace(c, article=replace(a, title=named or a.title, url=url))


def clean_html(raw: str, doc_id: str, *, source: str = "") -> Cleaned | None:
    """Clean one HTML page with trafilatura (body and metadata)."""
    import trafilatura  # lazy: lxml and friends are only needed for HTML seeds

    # htmldate (trafilatura's date finder) without its "extensive" search of the page's text, which takes any date
    # there (a copyright year as 1 January, an infobox's founding date) for the article's: _html_date checks its pick.
    when = {"original_date": True, "extensive_search": False, "max_date": date.today().isoformat()}
    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False, include_tables=False,
                                      date_extraction_params=when)
    if doc is None:
        return None
    get = (lambda k: getattr(doc, k, None)) if not isinstance(doc, dict) else doc.get
    text = get("text") or ""
    paras = [_norm_line(p) for p in text.splitlines()]
    tree = parse_page(raw)
    marks = declared(tree)
    site = _site_name(get("sitename")) or _site_name(marks.site)  # trafilatura's pick, else the page's og:site_name
    page_title = _page_title(tree)
    title = headline(get("title") or None, raw, site, get("hostname"), page_title)
    paras = [p for p in paras if p and not (title and _key(p) == _key(title))]  # trafilatura keeps the <h1>
    if _size(paras) < MIN_BODY_WORDS:
        return None
    # trafilatura joins the names it finds with "; ".
    people, orgs = _author_names(re.split(r"\s*;\s*", get("author") or ""))
    people = _author_names(list(marks.authors))[0] or people
    url = marks.url or get("url") or None  # the canonical address first: trafilatura may give og:url's or none
    lines = visible_lines(tree)
    published = _html_date(lines, marks.dates, title, paras, get("date"), url)
    article = Article(
        doc_id=doc_id,
        title=title,
        publisher=site or _title_site(page_title, title) or _site_name(marks.publisher)
        or (orgs[0] if orgs else None) or get("hostname") or None,
        published=published,
        authors=tuple(people),
        text="\n\n".join(paras),
        source=source,
        url=url,
    )
    return Cleaned(article, "", _html_verdicts(lines, title, paras))


# A site name with its tagline or byline after a spaced separator: "Name - Breaking news", "NAME.COM | BY: ...".
_NAME_TAIL = re.compile(r"\s+[-|–—·•:]\s+.*$")
_HOST_NAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")  # "en.example.org": an address (a brand: "Example.com")
_COPYRIGHT_MARK = re.compile(r"^(?:©|ⓒ|\(c\)|copyright\b)", re.I)  # a site name given as a copyright notice
MAX_SITE_WORDS, MAX_SITE_CHARS = 5, 40  # the end of a page's <title> longer than this is not the site's name


def _site_name(name: str | None) -> str | None:
    """A site name as the page's markup gives it, without a tagline after it; None for an address ("http://...",
    "en.example.org") or a social handle ("@example")."""
    name = " ".join((name or "").split())
    if not name or "://" in name or name.startswith("@") or _HOST_NAME.fullmatch(name):
        return None
    if _COPYRIGHT_MARK.match(name):  # "© 2014 Example News" is "Example News", "Copyright 2014" is none
        name = copyright_holder([name])
        if name is None:
            return None
    return _NAME_TAIL.sub("", name).rstrip(" -|–—·•:") or None  # "Name -" too


def _page_title(tree) -> str | None:
    """The text of the page's <title>, as a browser's tab shows it (trafilatura's title has the site's name cut)."""
    el = tree.find(".//title") if tree is not None else None
    if el is None:
        return None
    return " ".join(el.text_content().split()) or None


def _title_site(meta_title: str | None, title: str | None) -> str | None:
    """The site's name as the end of the page's <title> gives it ("Headline - Site", "Headline | Section | Site"):
    its last part, when the title begins with the headline and that part is a few words and not a date."""
    if not meta_title or not title:
        return None
    seps = list(_TITLE_SEP.finditer(meta_title))
    end = meta_title[seps[-1].end():].strip() if seps else ""
    if not end or len(end.split()) > MAX_SITE_WORDS or len(end) > MAX_SITE_CHARS or _only_a_date(end):
        return None
    if _key(end) == _key(title):  # "Site - Headline"
        return None
    return end if any(_key(meta_title[: sep.start()]) == _key(title) for sep in seps) else None


def _html_verdicts(lines: list[str], title: str | None, paras: list[str]) -> tuple[tuple[str, LineVerdict], ...]:
    """What became of each line a reader sees on an HTML page, for `qa clean -v`: trafilatura picks the body from
    the markup, so a line is body when it is (part of) one of its paragraphs, and dropped otherwise. Scores are 1
    and 0: trafilatura gives none."""
    kept = {_key(p) for p in paras}
    body = _key(" ".join(paras))
    heading = _key(title) if title else None
    out = []
    for line in lines:
        k = _key(line)
        if k and k == heading:
            out.append((line, LineVerdict(False, 0.0, "headline")))
        elif k and (k in kept or (len(k) >= _LEAD_KEY and k in body)):  # a short line ("Share") as a whole paragraph
            out.append((line, LineVerdict(True, 1.0, "body")))
        else:
            out.append((line, LineVerdict(False, 0.0, "not in the article trafilatura extracted from the markup")))
    return tuple(out)


# A date glued after a name in an author field: "Jeff Foust Monday", "Joshua Sokol May".
_DATE_WORDS_TAIL = re.compile(
    r"(?:\s+(?:%s)\b\.?)+\s*$" % "|".join(sorted(_WEEKDAYS | set(_MONTH_NAMES), key=len, reverse=True)), re.I)


def _author_names(fields: list[str]) -> tuple[list[str], list[str]]:
    """People and organisations in a page's author fields ("By JANE DOE, AP Sports Writer", "Jane Doe Monday"), each
    person once whatever the case it is written in."""
    people: dict[str, str] = {}
    orgs: list[str] = []
    for field in fields:
        found, found_orgs = _split_names(_DATE_WORDS_TAIL.sub("", _BY.sub("", field)))
        orgs += found_orgs
        for name in found:
            people.setdefault(name.casefold(), name)
    return list(people.values()), orgs


SHOWN_SLACK = 1  # days: a date line near the headline within this of the declared stamp is its local calendar day
_LEAD_KEY = 40  # characters of the body's first paragraph that find it among the page's lines


def _html_date(lines: list[str], stamps: tuple[str, ...], title: str | None, paras: list[str], found: str | None,
               url: str | None) -> date | None:
    """An HTML page's published date, only where the page states it.

    - The stamp its markup declares (`stamps`: `clean_html_meta.Declared.dates`, most trusted first), as its own
      calendar day (`_declared_date`: a UTC stamp gives way to a local-time one within a day of it). A stamp in UTC
      may still be a day off the page's own: when a date line near the headline is within SHOWN_SLACK days of it,
      that line is what the reader sees, and wins.
    - Else the date line near the headline, found in the page's visible `lines` as in a text scrape (`_find_date`).
    - Else htmldate's pick (`found`), only when the page's text or its URL also states that date: its other sources
      (a script's data, a D/M versus M/D guess) are not the page saying so.
    """
    declared = _declared_date(list(stamps))
    shown = _shown_date(lines, title, paras)
    if declared and shown:
        return shown if abs((shown - declared).days) <= SHOWN_SLACK else declared
    if declared or shown:
        return declared or shown
    guess = _parse_date(found or "")
    if guess is None:
        return None
    in_url = bool(url) and any(guess.strftime(f) in url for f in ("/%Y/%m/%d/", "%Y-%m-%d", "/%Y%m%d"))
    return guess if in_url or any(_line_date(line) == guess for line in lines) else None


# A stamp in UTC: "...T04:58:46Z", "...+00:00", "+0000".
_UTC_STAMP = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]00:?00|GMT|UTC)\s*$", re.I)


def _declared_date(stamps: list[str]) -> date | None:
    """The calendar day of the most trusted stamp that reads as a date. A UTC stamp may fall on the next day (or the
    day before) of the publisher's own; another stamp within SHOWN_SLACK days that is written in local time (an
    offset or none) says which."""
    dated = [(d, bool(_UTC_STAMP.search(s))) for s, d in ((s, _parse_date(s)) for s in stamps) if d]
    if not dated:
        return None
    first, utc = dated[0]
    if utc:
        local = next((d for d, u in dated if not u and abs((d - first).days) <= SHOWN_SLACK), None)
        return local or first
    return first


def _shown_date(lines: list[str], title: str | None, paras: list[str]) -> date | None:
    """The date stated near the headline among the page's visible lines: the headline's last showing before the
    body's first paragraph (a site's sticky header repeats it higher up, beside the masthead's "today"); without the
    headline, near that paragraph."""
    keys = [_key(line) for line in lines]
    lead = _key(paras[0])[:_LEAD_KEY] if paras else ""
    body_at = next((i for i, k in enumerate(keys) if lead and k.startswith(lead)), None)
    heads = [i for i, k in enumerate(keys) if title and k == _key(title)]
    above = [i for i in heads if body_at is None or i <= body_at]
    anchor = above[-1] if above else heads[0] if heads else body_at
    return _find_date(lines, anchor, [0] * len(lines)) if anchor is not None else None


def clean_json(raw: str, doc_id: str, *, source: str = "") -> Cleaned | None:
    """An article a scraper saved as JSON (qa.clean_json): its text as the scraper gives it, one paragraph a line;
    markup read as HTML (a whole page through clean_html). Its fields name the title, date, authors, publisher and
    URL; what they leave unset comes from the page where there is one. None without text enough for an article."""
    found = read_json(raw)
    if isinstance(found, str):
        return None
    page = clean_html(found.html, doc_id, source=source) if found.page else None
    if found.page and page is None:
        return None
    if page is not None:
        text = ""
    else:
        text = found.text if found.text is not None else markup_text(found.html or "")
    paras = [p for p in map(_norm_line, text.splitlines()) if p]
    people = [n for n in map(_plain_name, found.authors) if n]
    orgs: list[str] = []
    if found.byline and not people:
        people, orgs = _author_names(re.split(r"\s*;\s*", found.byline))  # trafilatura joins names with "; "
    host = found.host or (urlsplit(found.url).hostname if found.url else None)
    site = found.publisher or (orgs[0] if orgs else None)
    # The scraper's title may carry the site's name ("Headline | Site"); its text often starts with the headline.
    # A whole page's headline is checked against its <h1>s (clean_html).
    title = page.article.title if page is not None else None
    if found.title and not title:
        title = title_as_shown(found.title, paras[:1], site, host) or choose_headline(found.title, (), site, host)
    if page is None:
        paras = [p for p in paras if not (title and _key(p) == _key(title))]
        if _size(paras) < MIN_BODY_WORDS:
            return None
    a = page.article if page is not None else Article(doc_id=doc_id, title=None, publisher=None, published=None,
                                                        authors=(), text="\n\n".join(paras), source=source)
    published = _parse_date(found.published or "")  # an ISO stamp's own calendar day, as for HTML
    article = replace(
        a,
        title=title,
        publisher=site or a.publisher or host,
        published=published or a.published,
        authors=tuple(dict.fromkeys(people)) or a.authors,
        url=found.url or a.url,
    )
    return Cleaned(article, page.chrome if page is not None else "")


def markdown_lines(raw: str) -> list[str]:
    """A Markdown scrape's lines as clean_markdown reads them: its blocks (qa.clean_markdown), never re-joined."""
    return page_lines(read_markdown(raw).text, rejoin=False)[0]


def _collection_repeats(docs: list[RawDoc]) -> dict[str, list[int]]:
    """For each text page, how many other pages of the collection hold each of its lines (navigation, appeals)."""
    text_docs = [d for d in docs if not d.is_html and not d.is_json]
    repeats = collection_repeats([markdown_lines(d.text) if d.is_markdown else page_lines(d.text)[0]
                                  for d in text_docs])
    return {d.doc_id: r for d, r in zip(text_docs, repeats)}


_INDEX_MANIFEST_HEAD = re.compile(rb'^\{\s*"format":\s*\d+,\s*"model":')


def _holds_an_index(folder: Path, files: list[str]) -> bool:
    """Whether `folder` holds a qa index (`qa build --index` wrote its manifest.json there)."""
    if "manifest.json" not in files:
        return False
    try:
        with open(folder / "manifest.json", "rb") as f:
            return bool(_INDEX_MANIFEST_HEAD.match(f.read(256)))
    except OSError:
        return False


def list_seed_files(folder: Path, skipped: list[Skipped] | None = None, others: list[Path] | None = None) -> list[Path]:
    """Seed files (config.SEED_SUFFIXES: .txt, .html, .htm, .md, .markdown, .mhtml, .mht, .webarchive, .json), and
    web pages saved under another name (a file that begins as HTML: wget's "2019/11/19/story"), in `folder` and its
    sub-folders, sorted by their path in it. Hidden files and folders (".git") are left out, and a symlinked folder is
    not entered (a symlinked file is listed; the build checks where it points), nor is the "page_files" folder a
    browser saves beside "page.html" (its images, scripts and frames). An unreadable `folder` raises OSError. When
    `skipped` is given, an unreadable or symlinked sub-folder is added to it with the reason, and so are the files
    of other kinds, as one entry for the folder that counts them by suffix; when `others` is given, each file of
    another kind is added to it."""

    def unreadable(exc: OSError) -> None:
        if Path(exc.filename) == folder:
            raise exc
        if skipped is not None:
            skipped.append(Skipped(str(exc.filename), f"unreadable folder: {exc.strerror or exc}"))

    out: list[Path] = []
    other: Counter[str] = Counter()
    for top, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if _holds_an_index(Path(top), files):
            # a qa index kept in (or under) the articles' folder: its own files are never articles
            dirs[:] = [d for d in dirs if not d.startswith("gen-")]
            files = [f for f in files if f not in ("manifest.json", CleanCache.FILE)]
            if skipped is not None:
                skipped.append(Skipped(str(top), "a qa index's files (manifest.json, clean_cache.jsonl, gen-*), "
                                                 "not articles"))
        # A browser's "Web page, complete" saves page.html beside page_files/, the page's images, scripts and frames
        pages = {Path(f).stem: f for f in files if Path(f).suffix.lower() in (".html", ".htm")}
        assets = [d for d in dirs if d.endswith("_files") and d[: -len("_files")] in pages]
        dirs[:] = [d for d in dirs if d not in assets]
        if skipped is not None:
            skipped += [Skipped(str(Path(top) / d), f"the files saved with {pages[d[: -len('_files')]]}, not articles")
                        for d in assets]
            skipped += [Skipped(str(Path(top) / d), "symlinked folder, not followed") for d in dirs
                        if os.path.islink(os.path.join(top, d))]
        for f in files:
            if f.startswith("."):
                continue
            if Path(f).suffix.lower() in config.SEED_SUFFIXES or _saved_page_without_suffix(Path(top) / f):
                out.append(Path(top) / f)
            else:
                other[Path(f).suffix.lower() or "no suffix"] += 1
                if others is not None:
                    others.append(Path(top) / f)
    if skipped is not None and other:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(other.items(), key=lambda kv: (-kv[1], kv[0])))
        n = sum(other.values())
        skipped.append(Skipped(str(folder), f"{n} file{'s' if n > 1 else ''} of other kinds not read ({kinds}); "
                                            f"articles are {', '.join(config.SEED_SUFFIXES)} files, or web pages "
                                            "saved under another name", files=n))
    return sorted(out, key=lambda p: p.relative_to(folder).parts)


@dataclass(frozen=True)
class CleanedLine:
    """One line of a text scrape, whether the cleaner kept it as body, its body score, and why."""

    text: str
    kept: bool
    score: float
    reason: str


@dataclass(frozen=True)
class CleanResult:
    """What the cleaner made of one file (or one record of a JSON file of several): the article, or the reason there
    is none, and (text scrapes) each line's fate."""

    source: str  # the file's path; "<path>#<n>" for record n of a JSON file of several
    article: Article | None
    reason: str | None = None  # why there is no article
    lines: tuple[CleanedLine, ...] = ()
    # How the file's bytes were read: "UTF-8", or e.g. "windows-1251 (declared by the page)", "Shift_JIS
    # (detected)"; None when it could not be read as text.
    encoding: str | None = None
    # The sha256 of what the article was read from: the file's bytes, a JSON record's own text. None without one.
    sha256: str | None = None

    def to_dict(self) -> dict:
        a = self.article
        return {
            "source": self.source,
            "article": None if a is None else {
                "doc_id": a.doc_id, "title": a.title, "publisher": a.publisher,
                "published": a.published.isoformat() if a.published else None, "authors": list(a.authors),
                "url": a.url, "text": a.text,
            },
            "reason": self.reason,
            "encoding": self.encoding,
            "lines": [{"text": x.text, "kept": x.kept, "score": round(x.score, 3), "reason": x.reason} for x in self.lines],
        }


def _clean_page(job: tuple[RawDoc, list[int] | None]) -> Cleaned | None:
    """One page cleaned, given how often each of its lines recurs in the collection. A text page without an
    article still returns its lines' verdicts (article None), so `qa clean -v` can show why."""
    r, repeats = job
    if r.is_html:
        c = clean_html(r.text, r.doc_id, source=r.source)
        if c is not None and c.article.url is None and r.url:
            c = replace(c, article=replace(c.article, url=r.url))
        return c
    if r.is_json:
        return clean_json(r.text, r.doc_id, source=r.shown)
    if r.is_markdown:
        c = clean_markdown(r.text, r.doc_id, repeats=repeats, source=r.source)
        scrape = read_markdown(r.text).text if c is None else ""
    else:
        c = clean_text(r.text, r.doc_id, repeats=repeats, source=r.source)
        scrape = r.text
    if c is None:
        lines, verdicts, _ = _line_verdicts(scrape, repeats, rejoin=not r.is_markdown)
        return Cleaned(None, "", tuple(zip(lines, verdicts)))
    return c


def usable_cores() -> int:
    """Every core this process may use (its CPU affinity on Linux), at most config.CLEAN_MAX_WORKERS: how many
    processes cleaning and encoding fan out to."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, config.CLEAN_MAX_WORKERS))


def fork_context():
    """The multiprocessing context for worker pools: fork. "spawn" and "forkserver" re-import the caller's
    __main__, which breaks a user's script without a `if __name__ == "__main__"` guard."""
    import multiprocessing

    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def _clean_workers(n_docs: int) -> int:
    """Processes to clean with: every core this process may use, once the folder is big enough to pay for them."""
    return 1 if n_docs < config.PARALLEL_CLEAN_MIN_FILES else usable_cores()


def _clean_locally(jobs: list[tuple[RawDoc, Any]], progress: bool) -> list[Cleaned | None]:
    """Clean each page (independent once the collection's repeated lines are known), in order; on several cores
    for a big folder, with a progress bar (ETA) when asked."""
    from .embed import progress_bar

    bar = progress_bar(len(jobs), "cleaning", progress and len(jobs) > config.PROGRESS_MIN_ARTICLES, " pages")
    workers = _clean_workers(len(jobs))
    out: list[Cleaned | None] = []
    try:
        if workers == 1:
            for job in jobs:
                out.append(_clean_page(job))
                if bar is not None:
                    bar.update(1)
            return out
        from concurrent.futures import ProcessPoolExecutor

        # The children run only the pure-Python/numpy cleaner.
        with ProcessPoolExecutor(workers, mp_context=fork_context()) as pool:
            for c in pool.map(_clean_page, jobs, chunksize=config.CLEAN_CHUNK_FILES):
                out.append(c)
                if bar is not None:
                    bar.update(1)
        return out
    finally:
        if bar is not None:
            bar.close()


class CleanCache:
    """Pages cleaned by earlier builds, keyed by everything a page's cleaning depends on: the cleaner's version,
    the file's name and bytes, and how often each of its lines recurs in the folder. A build re-cleans only the
    pages whose key is new (a changed page, and the pages sharing a line whose count changed). Kept as JSON lines
    beside the index; new entries are appended, and the file is re-written once most of it is stale. An unreadable
    cache is only a slower build."""

    FILE = "clean_cache.jsonl"

    def __init__(self, folder: Path, ignore: bool = False):
        """`ignore`: start empty (a forced build re-cleans every page), and replace the file when saved."""
        self.path = folder / self.FILE
        self._entries: dict[str, tuple[dict | None, str]] = {}
        self._new: dict[str, tuple[dict | None, str]] = {}
        self._used: set[str] = set()
        self._lines = 0
        self._rewrite = ignore  # the next save re-writes the file
        if ignore:
            return
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    self._lines += 1
                    try:
                        e = json.loads(line)
                        self._entries[e["key"]] = (e["article"], e["chrome"])
                    except (ValueError, KeyError, TypeError):  # a line cut short by a crash
                        continue
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("ignoring the cleaning cache %s: %s", self.path, exc)

    @staticmethod
    def key(doc: RawDoc, repeats: list[int] | None) -> str:
        h = hashlib.sha256(f"{cleaner_version()}\0{doc.source}\0{doc.doc_id}\0{doc.is_html}\0{doc.sha256}\0".encode())
        h.update(",".join(map(str, repeats or ())).encode())
        return h.hexdigest()

    def get(self, key: str) -> Cleaned | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._used.add(key)
        return Cleaned(article_from_json(hit[0]) if hit[0] is not None else None, hit[1])

    def put(self, key: str, c: Cleaned) -> None:
        entry = (article_to_json(c.article) if c.article is not None else None, c.chrome)
        self._entries[key] = self._new[key] = entry
        self._used.add(key)

    def _rows(self, keys) -> str:
        return "".join(
            json.dumps({"key": k, "article": self._entries[k][0], "chrome": self._entries[k][1]}, ensure_ascii=False) + "\n"
            for k in keys
        )

    def save(self) -> None:
        """Append this build's new entries; re-write the file with only the entries this build used once more
        than half of it is stale."""
        try:
            if self._rewrite or self._lines + len(self._new) > 2 * len(self._used):
                tmp = self.path.with_name(f".tmp-{self.FILE}")
                tmp.write_text(self._rows(sorted(self._used)), encoding="utf-8")
                os.replace(tmp, self.path)
                self._lines, self._rewrite = len(self._used), False
            elif self._new:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(self._rows(self._new))
                self._lines += len(self._new)
            self._new = {}
        except OSError as exc:
            log.warning("could not save the cleaning cache %s: %s", self.path, exc)


def clean_results(paths: list[Path], pmap=None, progress: bool = False, cache: CleanCache | None = None,
                  root: Path | None = None) -> list[CleanResult]:
    """Clean every file, using the collection itself to spot site chrome; one result per article a file holds (one,
    or one per record of a JSON file of several: read_articles), in order. `root`: the folder they were listed from
    (the articles' ids are their paths in it), else each file's name is its id.

    `pmap(fn, items)`, when given, applies fn to each item and returns the results in order: the per-file steps
    (reading, cleaning a page) go through it, so a Ray build runs them across a cluster (qa.cluster_build). Without
    it a big folder is cleaned on this machine's cores. The steps that need the whole collection (repeated lines,
    duplicates, publishers) run here.
    """
    jobs = [(p, seed_name(p, root)) for p in paths]
    per_file = pmap(_read_named, jobs) if pmap is not None else [_read_named(j) for j in jobs]
    units = [(p, r) for p, got in zip(paths, per_file) for r in got]
    read = [r for _, r in units]
    docs = [r for r in read if not isinstance(r, Skipped)]
    repeats = _collection_repeats(docs)
    jobs = [(d, repeats.get(d.doc_id)) for d in docs]
    keys = [CleanCache.key(d, r) for d, r in jobs] if cache is not None else []
    done = [cache.get(k) for k in keys] if cache is not None else [None] * len(jobs)
    todo = [j for j, c in zip(jobs, done) if c is None]
    fresh = iter(pmap(_clean_page, todo) if pmap is not None else _clean_locally(todo, progress))
    pages_in_order = [c if c is not None else next(fresh) for c in done]
    if cache is not None:
        for k, c, was in zip(keys, pages_in_order, done):
            if was is None and c is not None:
                cache.put(k, c)
    pages = iter(pages_in_order)
    cleaned: dict[int, Cleaned] = {}
    reasons: dict[int, str] = {}
    seen: dict[str, str] = {}  # an article's text -> where it was first read, and the same for its id
    ids: dict[str, str] = {}
    for i, r in enumerate(read):
        if isinstance(r, Skipped):
            reasons[i] = r.reason
            continue
        c = next(pages)
        if c is None or c.article is None:
            reasons[i] = f"no recognisable article text (fewer than {MIN_BODY_WORDS} words of it)"
            if c is not None:
                cleaned[i] = c
            continue
        body_key = _key(c.article.text)
        if body_key in seen:
            reasons[i] = f"duplicate of {seen[body_key]}"
        elif c.article.doc_id in ids:
            # "a.txt" and "a.html" would both be article "a": one would silently replace the other's text
            reasons[i] = f"same article id {c.article.doc_id!r} as {ids[c.article.doc_id]}; rename one of them"
        else:
            seen[body_key] = ids[c.article.doc_id] = r.shown
        cleaned[i] = c
    sister_names = _sister_publishers([c for i, c in cleaned.items() if i not in reasons])
    out = []
    for i, (path, r) in enumerate(units):
        c = cleaned.get(i)
        lines = tuple(CleanedLine(t, v.kept, v.score, v.reason) for t, v in c.lines) if c else ()
        encoding, sha = (None, None) if isinstance(r, Skipped) else (r.encoding, r.sha256)
        where = r.path if isinstance(r, Skipped) else str(path) if r.record is None else f"{path}#{r.record}"
        if i in reasons:
            out.append(CleanResult(where, None, reasons[i], lines, encoding, sha))
            continue
        a = c.article
        if a.publisher is None and (name := sister_names(c)):
            a = replace(a, publisher=name)
        out.append(CleanResult(where, a, None, lines, encoding, sha))
    return out


SISTER_LINES = 10  # distinct chrome lines a page must share with pages of a named publisher to be one of its site's


def _chrome_lines(c: Cleaned) -> set[str]:
    """The distinct lines of a page's chrome (what the cleaner did not keep)."""
    return {line.strip() for line in c.chrome.splitlines() if line.strip()}


def _sister_publishers(pages: list[Cleaned]):
    """A function giving a page with no publisher of its own the publisher its sister pages name (a byline's
    organisation, a copyright line), or None. Sister pages are the same site's: they share at least SISTER_LINES of
    their chrome lines (menus, footers) with pages of that publisher, and the name must stand in its own case in the
    page's own chrome ("© 2026 Name", "Millions read the Name"), not only as a common word ("a floor arc lamp")."""
    by_line: dict[str, Counter] = {}
    for c in pages:
        if c.article is not None and c.article.publisher:
            for line in _chrome_lines(c):
                by_line.setdefault(line, Counter())[c.article.publisher] += 1
    if not by_line:
        return lambda c: None

    def name_for(c: Cleaned) -> str | None:
        chrome = _chrome_lines(c)
        shared: Counter = Counter()
        for line in chrome:
            shared.update(by_line.get(line, {}).keys())
        for name in sorted((n for n, k in shared.items() if k >= SISTER_LINES), key=len, reverse=True):
            bare = re.sub(r"^the\s+", "", name, flags=re.I)
            rx = re.compile(rf"(?<!\w){re.escape(bare)}(?!\w)")
            if rx.search(c.chrome):
                return name
        return None

    return name_for


def clean_collection(
    paths: list[Path], progress: bool = False, pmap=None, cache: CleanCache | None = None, root: Path | None = None
) -> tuple[list[Article], list[Skipped]]:
    """Clean every file, using the collection itself to spot site chrome; report what was skipped and why.

    A big folder is cleaned on every core; `progress` shows a bar with an ETA on stderr; `pmap`: see clean_results;
    `cache`: pages cleaned by earlier builds, re-used when nothing their cleaning depends on changed; `root`: the
    folder the paths were listed from (list_seed_files), which names the articles."""
    return articles_and_skipped(clean_results(paths, pmap, progress, cache, root))


def articles_and_skipped(results: list[CleanResult]) -> tuple[list[Article], list[Skipped]]:
    """The articles of `clean_results`, and what was skipped and why (logged)."""
    skipped = [Skipped(r.source, r.reason) for r in results if r.article is None]
    for s in skipped:
        log.info("skipped %s: %s", s.path, s.reason)
    return [r.article for r in results if r.article is not None], skipped


def clean_file(path: str | Path) -> CleanResult:
    """Clean one article file (.txt, .html, .md, .mhtml, .json...) on its own, without embedding anything (a file
    that holds several articles: `clean_records`).

    Args:
        path: the file.

    Returns:
        The article and its metadata, or the reason there is none; for a text scrape, every line with whether it
        was kept and why.

    Raises:
        FileNotFoundError: the path does not exist or is a folder (use `clean_folder`).
        ValueError: the file holds several articles (a JSON list or JSON Lines; use `clean_records`), or is not of
            a kind `qa build` reads.
    """
    results = clean_records(path)
    if len(results) > 1:
        raise ValueError(f"{path} holds {len(results)} records; use clean_records for one result each")
    return results[0]


def clean_records(path: str | Path) -> list[CleanResult]:
    """Clean every article one file holds, without embedding anything: one result for most files, one per record
    for a JSON file of several (a JSON list such as Scrapy's `-o items.json`, JSON Lines, or a response that lists
    its articles), in the file's order, each `source` ending "#<n>". A folder of such files: `clean_folder`.

    Raises:
        FileNotFoundError: the path does not exist or is a folder (use `clean_folder`).
        ValueError: the file is not of a kind `qa build` reads (its suffix, and it is not a saved web page).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{p} is not a file; pass an article file, or use clean_folder for a folder")
    if p.suffix.lower() not in config.SEED_SUFFIXES and not _saved_page_without_suffix(p):
        # what a build would leave out is not cleaned as if it were an article
        raise ValueError(f"{p} is not a kind of file qa build reads: articles are {', '.join(config.SEED_SUFFIXES)} "
                         "files, or web pages saved under another name")
    return clean_results([p])


NOT_READ = "not read, a file of another kind"  # the reason clean_folder gives a file it does not read


def clean_folder(folder: str | Path) -> list[CleanResult]:
    """Clean every .txt/.html/.md/.mhtml/.json/.jsonl file in `folder` and its sub-folders as `qa build` would (lines
    repeated across the folder's pages count as site chrome), without embedding anything.

    Args:
        folder: the folder of articles.

    Returns:
        One result per file, sorted by its path in the folder (one per record for a JSON file of several); then one
        for each file of another kind (a PDF, an image), which is not read (its `article` None, its `reason` why),
        as `qa build` leaves it out.

    Raises:
        FileNotFoundError: the folder does not exist or is not a folder.
    """
    f = Path(folder).expanduser()
    if not f.is_dir():
        raise FileNotFoundError(
            f"{f} is not a folder; pass a folder of .txt/.html/.md/.mhtml/.json/.jsonl articles, or use clean_file")
    others: list[Path] = []
    results = clean_results(list_seed_files(f, others=others), root=f)
    kinds = ", ".join(config.SEED_SUFFIXES)
    return results + [
        CleanResult(str(p), None, f"{NOT_READ} ({p.suffix.lower() or 'no suffix'}); articles are {kinds} files, or "
                                  "web pages saved under another name")
        for p in sorted(others, key=lambda p: p.relative_to(f).parts)
    ]
