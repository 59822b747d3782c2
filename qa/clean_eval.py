"""Cleaning quality: the article-extraction-benchmark body score, metadata accuracy, and the vendored corpora."""
from __future__ import annotations

import json
import re
import tarfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import config

CORPORA_DIR = config.REPO_ROOT / "tests" / "corpora"
SPLIT_FILE = CORPORA_DIR / "split.json"
CORPORA = ("aeb-dev", "readability")

_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    """Multiset of n-grams of `\\w+` tokens (case kept); a text shorter than n tokens is one shingle."""
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class PageScore:
    """One page's shingle counts, normalised by their sum (so every page weighs the same)."""

    tp: float
    fp: float
    fn: float


def page_score(predicted: str | None, gold: str) -> PageScore:
    """tp/fp/fn of one page: matched, extra and missing shingles (multiset min/excess), normalised by their sum."""
    pred, ref = shingles(predicted or ""), shingles(gold)
    tp = sum((pred & ref).values())
    fp = sum((pred - ref).values())
    fn = sum((ref - pred).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(0.0, 0.0, 0.0)
    return PageScore(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class BodyScore:
    """Benchmark F1 (harmonic mean of the mean precision and the mean recall) over pages."""

    f1: float
    precision: float
    recall: float
    pages: int


def body_score(scores: list[PageScore]) -> BodyScore:
    """Precision is averaged over pages with output (tp+fp > 0); an empty output counts 0 in recall only."""
    precisions, recalls = [], []
    for s in scores:
        if s.tp + s.fp > 0:
            precisions.append(1.0 if s.fp == 0 and s.fn == 0 else s.tp / (s.tp + s.fp))
        if s.tp + s.fn > 0:
            recalls.append(1.0 if s.fp == 0 and s.fn == 0 else s.tp / (s.tp + s.fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return BodyScore(f1, p, r, len(scores))


_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
                         "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})


def norm_title(title: str | None) -> str:
    """Casefolded, whitespace collapsed, quotes and dashes unified: how titles are compared."""
    t = unicodedata.normalize("NFKC", title or "").translate(_QUOTES).casefold()
    return " ".join(t.split())


# ---------------------------------------------------------------------------
# The vendored corpora


@dataclass(frozen=True)
class Page:
    """One corpus page: its text scrape, its HTML, the gold body and (when labelled) the gold metadata, and its
    Markdown scrape where the corpus has them (bench/markdown_corpus.py; else "")."""

    corpus: str
    id: str
    site: str
    txt: str
    html: str
    body: str
    meta: dict
    md: str = ""


def _members(archive: Path, wanted: set[str]) -> dict[str, str]:
    """The files of a corpus archive (html.tar.xz, md.tar.xz) whose stem is wanted, as text; {} without it."""
    if not archive.exists():
        return {}
    out = {}
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            if m.isfile() and Path(m.name).stem in wanted:
                out[Path(m.name).stem] = tar.extractfile(m).read().decode("utf-8", "replace")
    return out


def load_split() -> dict:
    return json.loads(SPLIT_FILE.read_text(encoding="utf-8"))


def load_corpus(corpus: str, part: str = "dev", *, root: Path = CORPORA_DIR) -> list[Page]:
    """Pages of one corpus: part "dev" (developed on), "test" (the sealed split) or "all".

    Metadata gold comes from `meta.jsonl` (hand labels) when present; readability's gold.jsonl title, byline,
    site name and date stand in otherwise.
    """
    if part not in ("dev", "test", "all"):
        raise ValueError(f"part must be 'dev', 'test' or 'all', not {part!r}")
    folder = root / corpus
    split = load_split()["corpora"][corpus]
    wanted = set(split["dev"] if part == "dev" else split["test"] if part == "test" else split["dev"] + split["test"])
    gold = {}
    for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            gold[row["id"]] = row
    labels = {}
    if (folder / "meta.jsonl").exists():
        for line in (folder / "meta.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    html, md = _members(folder / "html.tar.xz", wanted), _members(folder / "md.tar.xz", wanted)
    pages = []
    for pid in sorted(wanted):
        g = gold[pid]
        meta = labels.get(pid) or _stand_in_meta(g)
        txt = (folder / "txt" / f"{pid}.txt").read_text(encoding="utf-8")
        pages.append(Page(corpus, pid, split["site"][pid], txt, html.get(pid, ""), g["body"], meta, md.get(pid, "")))
    return pages


def load_headlines(part: str = "dev", *, root: Path = CORPORA_DIR) -> list[Page]:
    """Pages of tests/corpora/headlines/ (bench/headline_corpus.py) in `part` ("dev", "test" or "all"): a labelled
    headline (`meta["title_in_text"]`, a line of the scrape) and no labelled body (`body` is "")."""
    if part not in ("dev", "test", "all"):
        raise ValueError(f"part must be 'dev', 'test' or 'all', not {part!r}")
    folder = root / "headlines"
    rows = [json.loads(line) for line in (folder / "meta.jsonl").read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if part == "all" or r["part"] == part]
    wanted = {r["id"] for r in rows}
    html, md = _members(folder / "html.tar.xz", wanted), _members(folder / "md.tar.xz", wanted)
    return [Page("headlines", r["id"], r["site"], (folder / "txt" / f"{r['id']}.txt").read_text(encoding="utf-8"),
                 html.get(r["id"], ""), "", {"title_in_text": r["title_in_text"], "title": r["title"]},
                 md.get(r["id"], "")) for r in rows]


def load_wcxb(part: str = "dev", *, root: Path = CORPORA_DIR) -> list[Page]:
    """Pages of tests/corpora/wcxb/ (bench/wcxb_corpus.py) in `part` ("dev", "test" or "all"): a labelled body and,
    where a scrape line is the gold headline, that line (`meta["title_in_text"]`, else None). The HTML is not
    vendored (`html` is "").

    WCXB also gives the article's publication date and authors (from the page's metadata). They are labels for a
    text scrape where the scrape states them: the date where it appears in a common written form
    (`published_in_text`), the authors where every name appears. A date the scrape does not show in such a form is
    still the article's own (`published_elsewhere`): a cleaned date other than it is wrong, and none is not scored.
    Fields without a label are absent from `meta`, and `meta_checks` gives None for them."""
    import lzma

    if part not in ("dev", "test", "all"):
        raise ValueError(f"part must be 'dev', 'test' or 'all', not {part!r}")
    with lzma.open(root / "wcxb" / "pages.jsonl.xz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    pages = []
    for r in rows:
        if part != "all" and r["part"] != part:
            continue
        meta = {"title_in_text": r["title_in_text"], "title": r["title"], "url": r["url"], "corpus_labels": "partial"}
        published = r.get("source_publish_date") or ""
        if re.fullmatch(r"\d{4}-\d\d-\d\d", published):
            stated = _date_as_written(published, r["txt"])
            meta.update(published=published, published_in_text=stated, published_elsewhere=stated is None)
        names = [n.strip() for n in re.split(r",|&|\band\b", r.get("source_author") or "") if n.strip()]
        flat = re.sub(r"\s+", " ", r["txt"]).lower()
        if names and all(n.lower() in flat for n in names):
            meta["authors_in_text"] = names
        pages.append(Page("wcxb", r["id"], r["site"], r["txt"], "", r["body"], meta))
    return pages


def _date_as_written(iso: str, text: str) -> str | None:
    """The written form in which `text` states the date `iso` ("March 4, 2025", "4 Mar 2025", "03/04/2025"...), or
    None if it shows it in none of them."""
    import datetime

    d = datetime.date.fromisoformat(iso)
    full, short = d.strftime("%B"), d.strftime("%b")
    forms = [f"{full} {d.day}, {d.year}", f"{full} {d.day:02d}, {d.year}", f"{short} {d.day}, {d.year}",
             f"{short}. {d.day}, {d.year}", f"{short} {d.day:02d}, {d.year}", f"{d.day} {full} {d.year}",
             f"{d.day} {full}, {d.year}", f"{d.day} {short} {d.year}", f"{d.day}. {full} {d.year}",
             f"{full} {d.day}th, {d.year}", f"{d.day}th {full} {d.year}", iso, f"{d.month}/{d.day}/{d.year}",
             f"{d.month:02d}/{d.day:02d}/{d.year}", f"{d.day:02d}/{d.month:02d}/{d.year}",
             f"{d.day}.{d.month}.{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}"]
    flat = re.sub(r"\s+", " ", text).lower()
    return next((f for f in forms if f.lower() in flat), None)


def _stand_in_meta(g: dict) -> dict:
    authors = [a.strip() for a in re.split(r",|\band\b", g.get("byline") or "") if a.strip()]
    published = (g.get("published") or "")[:10] or None
    return {
        "id": g["id"], "title": g.get("title"), "title_in_text": None, "published": published,
        "published_in_text": None, "authors": authors, "authors_in_text": None, "publisher": g.get("site_name"),
        "publisher_in_text": None, "url": g.get("url"), "url_in_text": None, "stand_in": True,
    }


# ---------------------------------------------------------------------------
# Metadata against the hand labels


def _norm_url(url: str) -> str:
    """An address without its scheme, "www.", query, fragment and final "/", lower-cased."""
    return re.sub(r"^[a-z]+://|^www\d?\.|[?#].*$|/+$", "", url.strip().lower()).removeprefix("www.")


def _norm_name(name: str) -> str:
    return norm_title(name).replace(".", "")


def meta_checks(article, meta: dict, *, from_text: bool) -> dict[str, bool | None]:
    """Per field, whether the cleaned article's value is right (None where the page has no label).

    For a text scrape the truth is what the scrape itself states (`*_in_text`: a field the scrape does not state must
    come out None); for HTML it is the page's metadata. `date_wrong` is True when a date is given and it is not the
    article's own (giving None where a date is stated is a miss, not a wrong date). `url_wrong` is True when a URL
    is given and it is not the page's own (None where the page's address is not labelled).
    """
    if meta.get("stand_in"):
        return {"title": None, "date": None, "date_wrong": None, "authors": None, "publisher": None, "url_wrong": None}
    title = article.title if article else None
    published = article.published.isoformat() if article and article.published else None
    authors = list(article.authors) if article else []
    publisher = article.publisher if article else None
    url = getattr(article, "url", None)  # an older cleaner's Article has none
    if from_text:
        want_title = meta.get("title_in_text")
        want_date = meta.get("published") if meta.get("published_in_text") else None
        want_authors = meta.get("authors_in_text") or []
        want_publisher = meta.get("publisher_in_text")
    else:
        want_title, want_date = meta.get("title"), meta.get("published")
        want_authors, want_publisher = meta.get("authors") or [], meta.get("publisher")
    want_date = (want_date or "")[:10] or None
    checks = {
        "title": norm_title(title) == norm_title(want_title),
        "date": published == want_date,
        "date_wrong": published is not None and published != want_date,
        "authors": sorted(map(_norm_name, authors)) == sorted(map(_norm_name, want_authors)),
        "publisher": norm_title(publisher) == norm_title(want_publisher),
        # a URL given that is not the page's own (a link it cites, a share button's): a citation would link elsewhere
        "url_wrong": (url is not None and _norm_url(url) != _norm_url(meta["url"])) if meta.get("url") else None,
    }
    if meta.get("corpus_labels") == "partial":  # WCXB (load_wcxb): only some fields are labelled on each page
        if "published" not in meta:
            checks["date"] = checks["date_wrong"] = None
        elif from_text and meta.get("published_elsewhere"):
            checks["date"] = None
            checks["date_wrong"] = published is not None and published != meta["published"]
        if "authors_in_text" not in meta:
            checks["authors"] = None
        checks["publisher"] = None
        if not meta.get("title_in_text"):
            checks["title"] = None
    return checks
