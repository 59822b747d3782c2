"""Cleaning quality and speed per corpus: text scrapes (new cleaner, the previous one, the unfiltered scrape) and HTML.

    python bench/cleaning.py [--baseline REV]

Corpora: the five seeds (the cleaner was fitted on them: training figures), and for aeb-dev and readability the
"dev" pages (fitted on; their leave-site-out figures are in qa/clean_model.json) beside the sealed "test" sites
(never fitted on: the held-out figures). The previous cleaner is read from git (`--baseline`, default the commit
before the learned cleaner) and run in the same process, so the two are timed on the same machine state.
Body score: the article-extraction-benchmark's token 4-gram F1 (qa.clean_eval). Metadata: against the hand labels
(tests/corpora/<corpus>/meta.jsonl; for text scrapes what the scrape itself states); "URL wrong": the share of
pages with a labelled address whose URL is given and is not the page's own. A second table: headlines
right on tests/corpora/headlines/ (pages with a labelled headline only), dev part (fitted) beside its sealed test part.
WCXB (tests/corpora/wcxb/, bench/wcxb_corpus.py) labels the body and the headline only: its test part is held out;
its dev part is fitted on only by a model trained with `bench/train_cleaner.py --with-wcxb` (the row says which);
its HTML is not vendored, so it has no trafilatura row. Markdown rows: the same pages saved whole as Markdown
(tests/corpora/<corpus>/md.tar.xz, bench/markdown_corpus.py; pages the converter turned into nothing are left out,
so n may be smaller), cleaned by qa.clean.clean_markdown and scored like text scrapes (what the page states).
JSON rows: what `trafilatura --json` writes for each HTML page (a scraper's output, one article a file), cleaned by
qa.clean.clean_json and scored like HTML (against the page's metadata); nothing was fitted for them.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import clean, clean_html_meta  # noqa: E402
from qa.clean_model import CARD_FILE  # noqa: E402
from qa.clean_eval import (  # noqa: E402
    body_score, load_corpus, load_headlines, load_wcxb, meta_checks, page_score,
)
from qa.clean_lines import collection_repeats, page_lines  # noqa: E402

BASELINE_REV = "0e82361"


def load_baseline(rev: str):
    """qa/clean.py as it was at `rev`, imported as a sibling module of the package."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:qa/clean.py"], check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "clean_baseline.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("qa._clean_baseline", path, submodule_search_locations=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "qa"
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def seed_pages():
    out = []
    for p in sorted((ROOT / "seeds").glob("*.txt")):
        exp = ROOT / "tests" / "data" / "expected"
        m = json.loads((exp / f"{p.stem}.json").read_text(encoding="utf-8"))
        meta = {"title_in_text": m["title"], "published": m["published"], "published_in_text": m["published"],
                "authors_in_text": m["authors"], "publisher_in_text": m["publisher"]}
        out.append(SimpleNamespace(id=p.stem, txt=p.read_text(encoding="utf-8"), html="",
                                   body=(exp / p.name).read_text(encoding="utf-8"), meta=meta))
    return out


def _timed(pages, repeats, clean_one):
    """clean_one(page, its line repeats) on each page: the articles (None: rejected) and milliseconds a page."""
    out, ms = [], []
    for p, rep in zip(pages, repeats):
        t = time.perf_counter()
        c = clean_one(p, rep)
        ms.append((time.perf_counter() - t) * 1000)
        out.append(c.article if c else None)
    return out, ms


def run_new(pages):
    repeats = collection_repeats([page_lines(p.txt)[0] for p in pages])
    return _timed(pages, repeats, lambda p, rep: clean.clean_text(p.txt, p.id, repeats=rep))


def run_md(pages):
    """The cleaner's Markdown path, with the line repeats counted over the pages' Markdown text, as a build does."""
    repeats = collection_repeats([clean.markdown_lines(p.md) for p in pages])
    return _timed(pages, repeats, lambda p, rep: clean.clean_markdown(p.md, p.id, repeats=rep))


def run_json(pages):
    """The cleaner's JSON path on what `trafilatura --json` writes for each page (made outside the timing): a
    scraper's output, one article a file."""
    import trafilatura

    records = [trafilatura.extract(p.html, output_format="json", with_metadata=True) if p.html else None
               for p in pages]
    out, ms = [], []
    for p, record in zip(pages, records):
        t = time.perf_counter()
        c = clean.clean_json(record, p.id) if record else None
        ms.append((time.perf_counter() - t) * 1000)
        out.append(c.article if c else None)
    return out, ms


def run_old(mod, pages):
    docs = [mod.RawDoc(p.id, Path(p.id), p.txt, False, "") for p in pages]
    repeated = mod._collection_repeats(docs)
    out, ms = [], []
    for p in pages:
        t = time.perf_counter()
        c = mod.clean_text(p.txt, p.id, repeated=repeated)
        ms.append((time.perf_counter() - t) * 1000)
        out.append(c.article if c else None)
    return out, ms


def run_html(pages, *, alone: bool = False):
    """The cleaner's HTML path (trafilatura, its headline checked against the page's <h1> and site name:
    qa.clean_headline, its date against what the page declares and shows: clean._html_date, its authors read from
    the article's JSON-LD or trafilatura's field: clean._author_names); with `alone`, trafilatura's own title, date
    and author names, as before those checks (reference)."""
    checked = clean.headline, clean._html_date, clean._author_names, clean.declared
    if alone:
        clean._author_names = lambda fields: ([f for f in fields if f], [])
        clean.declared = lambda tree: clean_html_meta.Declared()  # no JSON-LD authors (its dates: _html_date's)
        from htmldate import find_date
        from trafilatura.settings import set_date_params

        clean.headline = lambda title, *rest, **named: title  # whatever else the check is given
        clean._html_date = lambda lines, stamps, title, paras, found, url: clean._parse_date(
            find_date(page[0], url=url, **set_date_params()) or "")
    out, ms, page = [], [], [""]
    try:
        for p in pages:
            page[0] = p.html  # the page htmldate reads in the reference run
            t = time.perf_counter()
            c = clean.clean_html(p.html, p.id) if p.html else None
            ms.append((time.perf_counter() - t) * 1000)
            out.append(c.article if c else None)
    finally:
        clean.headline, clean._html_date, clean._author_names, clean.declared = checked
    return out, ms


def row(name, pages, arts, ms, *, from_text=True):
    """One table row. Each metadata figure is over the pages that label that field (WCXB labels the headline where
    the scrape holds it, and the date and authors where the page's metadata gives them)."""
    s = body_score([page_score(a.text if a else None, p.body) for p, a in zip(pages, arts)])
    checks = [meta_checks(a, p.meta, from_text=from_text) for p, a in zip(pages, arts)]

    def acc(field):
        vals = [c[field] for c in checks if c[field] is not None]
        return f"{sum(vals) / len(vals):.2f}" if vals else "-"

    rejected = sum(a is None for a in arts)
    speed = f"{statistics.median(ms):.1f}" if ms else "-"
    return (f"| {name} | {s.f1:.3f} | {s.precision:.3f} | {s.recall:.3f} | {rejected} | {acc('title')} | {acc('date')} "
            f"| {acc('date_wrong')} | {acc('authors')} | {acc('publisher')} | {acc('url_wrong')} "
            f"| {speed} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE_REV, help="git revision of the previous cleaner (default %(default)s)")
    args = ap.parse_args()
    old = load_baseline(args.baseline)
    sets = [("seeds (fitted)", seed_pages())]
    for corpus in ("aeb-dev", "readability"):
        sets.append((f"{corpus} dev (fitted)", load_corpus(corpus, "dev")))
        sets.append((f"{corpus} TEST (held out)", load_corpus(corpus, "test")))
    fitted = "wcxb" in json.loads(CARD_FILE.read_text(encoding="utf-8"))["training_pages"]
    sets.append((f"wcxb dev ({'fitted' if fitted else 'held out: not fitted on'})", load_wcxb("dev")))
    sets.append(("wcxb TEST (held out)", load_wcxb("test")))
    print("| pages | F1 | P | R | rejected | title | date right | date wrong | authors | publisher | URL wrong "
          "| ms/page (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, pages in sets:
        n = len(pages)
        new, new_ms = run_new(pages)
        prev, prev_ms = run_old(old, pages)
        raw = [SimpleNamespace(text=p.txt, title=None, published=None, authors=(), publisher=None) for p in pages]
        print(row(f"{name}, {n}: text, new cleaner", pages, new, new_ms))
        print(row(f"{name}, {n}: text, previous cleaner ({args.baseline})", pages, prev, prev_ms))
        print(row(f"{name}, {n}: text, whole scrape (reference)", pages, raw, []))
        if any(p.html for p in pages):
            html, html_ms = run_html(pages)
            print(row(f"{name}, {n}: HTML, trafilatura, metadata checked", pages, html, html_ms, from_text=False))
            html, html_ms = run_html(pages, alone=True)
            print(row(f"{name}, {n}: HTML, trafilatura alone (reference)", pages, html, html_ms, from_text=False))
            js, js_ms = run_json(pages)
            print(row(f"{name}, {n}: JSON, trafilatura --json output", pages, js, js_ms, from_text=False))
        with_md = [p for p in pages if getattr(p, "md", "")]
        if with_md:
            md, md_ms = run_md(with_md)
            print(row(f"{name}, {len(with_md)}: Markdown (whole page)", with_md, md, md_ms))
    print()
    print("| headline-only pages | titles right | rejected | ms/page (median) |")
    print("|---|---|---|---|")
    for name, part in (("dev (fitted)", "dev"), ("TEST (held out)", "test")):
        pages = load_headlines(part)
        runs = (("text, new cleaner", run_new(pages), True), (f"text, previous cleaner ({args.baseline})",
                run_old(old, pages), True), ("HTML, trafilatura, metadata checked", run_html(pages), False),
                ("HTML, trafilatura alone (reference)", run_html(pages, alone=True), False),
                ("JSON, trafilatura --json output", run_json(pages), False),
                ("Markdown (whole page)", run_md(pages), True))
        for label, (arts, ms), from_text in runs:
            right = sum(bool(meta_checks(a, p.meta, from_text=from_text)["title"]) for p, a in zip(pages, arts))
            print(f"| headlines {name}, {len(pages)}: {label} | {right / len(pages):.2f} | "
                  f"{sum(a is None for a in arts)} | {statistics.median(ms):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
