"""`qa clean`, qa.clean_file / qa.clean_folder, and the cleaner's quality floors on the vendored corpora."""
from __future__ import annotations

import functools
import json
import re
from collections import Counter
from pathlib import Path

import pytest

import qa
from qa.clean import clean_collection, cleaner_version, list_seed_files
from qa.clean_eval import (
    body_score, load_corpus, load_headlines, load_split, load_wcxb, meta_checks, page_score,
)
from qa.clean_lines import collection_repeats, page_lines
from qa.clean_model import CARD_FILE, load_model
from qa.cli import main

from .conftest import HARBOUR_ARTICLE, SEEDS, TINY_ARTICLE, bench_module


def test_clean_file_keeps_the_article_and_says_why_each_line_was_dropped(tmp_path):
    f = tmp_path / "lake.txt"
    f.write_text(TINY_ARTICLE, encoding="utf-8")
    r = qa.clean_file(f)
    assert r.article is not None and r.reason is None
    assert r.article.title == "Lake Balkhash water levels fall to a ten-year low"
    kept = [x.text for x in r.lines if x.kept]
    assert kept[0].startswith("Water levels in Lake Balkhash") and len(kept) == 4
    dropped = {x.text: x.reason for x in r.lines if not x.kept}
    assert dropped["Lake Balkhash water levels fall to a ten-year low"] == "headline"
    assert dropped["Leave a comment"].startswith("body score")
    assert "Subscribe to our newsletter" in dropped


def test_clean_folder_is_what_build_indexes():
    results = qa.clean_folder(SEEDS)
    articles, skipped = clean_collection(list_seed_files(SEEDS))
    assert [r.article for r in results] == articles and skipped == []
    assert [Path(r.source).name for r in results] == [p.name for p in list_seed_files(SEEDS)]


def test_clean_file_reports_a_page_without_an_article(tmp_path):
    f = tmp_path / "menu.txt"
    f.write_text("Home\nWorld\nSport\nSubscribe\n", encoding="utf-8")
    r = qa.clean_file(f)
    assert r.article is None and r.reason.startswith("no recognisable article text (fewer than 15 words")
    assert r.lines and not any(x.kept for x in r.lines)


@pytest.mark.parametrize("bad", ["missing.txt", "."])
def test_clean_file_rejects_what_is_not_a_file(tmp_path, bad):
    with pytest.raises(FileNotFoundError, match="clean_folder"):
        qa.clean_file(tmp_path / bad)


@pytest.mark.parametrize("name", ["notes.rtf", "README"])
def test_clean_file_refuses_a_kind_of_file_a_build_would_not_read(tmp_path, name):
    f = tmp_path / name
    f.write_text(TINY_ARTICLE, encoding="utf-8")
    with pytest.raises(ValueError, match="not a kind of file qa build reads"):
        qa.clean_file(f)
    (tmp_path / "page").write_text("<!DOCTYPE html><html><head><title>Lake</title></head><body><p>"
                                   + TINY_ARTICLE.replace("\n", "</p><p>") + "</p></body></html>", encoding="utf-8")
    assert qa.clean_file(tmp_path / "page").article is not None  # a web page saved without a suffix is read


def test_clean_folder_reports_files_a_build_would_give_the_same_id(tmp_path):
    (tmp_path / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    (tmp_path / "lake.md").write_text(HARBOUR_ARTICLE, encoding="utf-8")
    first, second = qa.clean_folder(tmp_path)
    assert first.article is not None and second.article is None
    assert second.reason == "same article id 'lake' as lake.md; rename one of them"


def test_cli_clean_text_json_and_dropped_lines(tmp_path, capsys):
    (tmp_path / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    assert main(["clean", "-v", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "title:     Lake Balkhash water levels fall to a ten-year low" in out
    assert "dropped lines:" in out and "[headline]" in out
    assert main(["clean", "--json", str(tmp_path / "lake.txt")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["article"]["authors"] == ["Jane Example"] and d["article"]["published"] == "2023-03-03"
    assert "lines" not in d
    assert main(["clean", str(tmp_path / "nope.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_clean_shows_an_html_pages_dropped_lines(tmp_path, capsys):
    body = "".join(f"<p>{p}</p>" for p in TINY_ARTICLE.split("\n\n")[2:])
    (tmp_path / "lake.html").write_text(
        "<!DOCTYPE html><html><head><title>Lake Balkhash water levels fall to a ten-year low</title></head><body>"
        "<nav><ul><li>Home</li><li>World</li><li>Sport</li><li>Share this story</li></ul></nav>"
        f"<article><h1>Lake Balkhash water levels fall to a ten-year low</h1>{body}</article>"
        "<footer><p>Sign up for our newsletter to get the morning briefing every day</p></footer></body></html>",
        encoding="utf-8")
    lines = qa.clean_file(tmp_path / "lake.html").lines
    fate = {x.text: (x.kept, x.reason) for x in lines}
    assert fate["Lake Balkhash water levels fall to a ten-year low"] == (False, "headline")
    assert fate["Share this story"][0] is False and "trafilatura" in fate["Share this story"][1]
    assert not fate["Sign up for our newsletter to get the morning briefing every day"][0]
    assert all(x.kept for x in lines if "Lake Balkhash fell" in x.text or "irrigation" in x.text)
    assert main(["clean", "-v", str(tmp_path / "lake.html")]) == 0
    out = capsys.readouterr().out
    assert "dropped lines:" in out and "] Share this story" in out


def test_cleaner_card_records_the_data_it_was_fitted_on():
    """A change to the training pages without a re-fit (python bench/train_cleaner.py) fails here."""
    train = bench_module("train_cleaner")
    card = json.loads(CARD_FILE.read_text(encoding="utf-8"))
    pages = train.training_pages()
    assert card["training_data_sha256"] == train.data_digest(pages)
    assert card["training_pages"] == dict(sorted(Counter(p[0] for p in pages).items()))


def test_wcxb_headline_pages_teach_the_headline_only():
    """The training pages include WCXB's dev pages whose scrape holds the headline, with no body label, and nothing
    else from WCXB (--no-wcxb-headlines leaves them out)."""
    train = bench_module("train_cleaner")
    base, extra = train.training_pages(wcxb_headlines=False), train.training_pages()
    added = [p for p in extra if p[0] == "wcxb"]
    assert extra[: len(base) - len(train.headline_pages())] == base[: len(base) - len(train.headline_pages())]
    assert len(extra) - len(base) == len(added) > 500
    assert all(p[4] is None and p[5] for p in added)


def test_cleaner_version_names_the_model():
    assert cleaner_version().endswith(load_model().digest[:16])


# Floors just under the figures bench/cleaning.py measured on the sealed test sites (never fitted on) and on the
# seeds (fitted on): a change that loses quality fails here.
# wcxb: its sealed test part (240 pages of sites in no other corpus; the shipped models never saw any WCXB page).
FLOORS = {"aeb-dev": (0.87, 0.88), "readability": (0.88, 0.90), "wcxb": (0.90, 0.91)}  # (F1, precision)


@functools.lru_cache(maxsize=None)
def _held_out(corpus: str) -> list[tuple]:
    """(page, cleaned article or None) for each page of the corpus's sealed test sites, cleaned as one folder."""
    loaders = {"headlines": load_headlines, "wcxb": load_wcxb}
    pages = loaders[corpus]("test") if corpus in loaders else load_corpus(corpus, "test")
    repeats = collection_repeats([page_lines(p.txt)[0] for p in pages])
    out = []
    for p, rep in zip(pages, repeats):
        c = qa.clean.clean_text(p.txt, p.id, repeats=rep)
        out.append((p, c.article if c else None))
    return out


@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_held_out_body_score_floor(corpus):
    s = body_score([page_score(a.text if a else None, p.body) for p, a in _held_out(corpus)])
    f1, precision = FLOORS[corpus]
    assert s.f1 >= f1 and s.precision >= precision, s


# (titles right, authors right, dates wrong at most, publisher right) on the sealed test sites, just under/over
# bench/cleaning.py's.
# Titles rose with cleaner 5.26's headline model (aeb-dev 18 -> 21 of 26, readability 15 -> 19).
META_FLOORS = {"aeb-dev": (0.79, 0.70, 0.16, 0.46), "readability": (0.71, 0.64, 0.05, 0.31)}


@pytest.mark.parametrize("corpus", sorted(META_FLOORS))
def test_held_out_metadata_floor(corpus):
    checks = [meta_checks(a, p.meta, from_text=True) for p, a in _held_out(corpus)]
    checks = [c for c in checks if c["title"] is not None]

    def share(field):
        return sum(c[field] for c in checks) / len(checks)

    titles, authors, wrong_dates, publisher = META_FLOORS[corpus]
    got = {f: round(share(f), 3) for f in ("title", "authors", "date_wrong", "publisher")}
    assert (got["title"] >= titles and got["authors"] >= authors and got["date_wrong"] <= wrong_dates
            and got["publisher"] >= publisher), got


# Headlines right on the sealed test part of tests/corpora/headlines/ (sites in no other corpus), just under
# bench/cleaning.py's figure: 25 of 36 (29 before cleaner 5.7 ruled out captions, prose and bylines as headlines; 28
# before cleaner 5.26's headline model, which lost three here and gained 3 + 4 + 21 on the other test sites above and
# below: the floor was lowered for that trade, on purpose).
HEADLINE_FLOOR = 0.69


def test_held_out_headline_floor():
    checks = [meta_checks(a, p.meta, from_text=True)["title"] for p, a in _held_out("headlines")]
    assert sum(checks) / len(checks) >= HEADLINE_FLOOR, round(sum(checks) / len(checks), 3)


# HTML pages' headlines right on the sealed test sites, just under bench/cleaning.py's figures (trafilatura's own
# title, before qa.clean_headline checked it against the page's <h1> and site name: 16 / 13 / 33).
HTML_HEADLINE_FLOORS = {"aeb-dev": (0.92, 26), "readability": (0.73, 26), "headlines": (0.94, 36)}


@functools.lru_cache(maxsize=None)
def _held_out_html(corpus: str) -> list[dict]:
    """meta_checks of each HTML page of the corpus's sealed test sites, cleaned by qa.clean.clean_html."""
    pages = load_headlines("test") if corpus == "headlines" else load_corpus(corpus, "test")
    out = []
    for p in pages:
        c = qa.clean.clean_html(p.html, p.id)
        out.append(meta_checks(c.article if c else None, p.meta, from_text=False))
    return out


@pytest.mark.parametrize("corpus", sorted(HTML_HEADLINE_FLOORS))
def test_held_out_html_headline_floor(corpus):
    scored = [c["title"] for c in _held_out_html(corpus) if c["title"] is not None]
    floor, n = HTML_HEADLINE_FLOORS[corpus]
    assert len(scored) == n and sum(scored) / n >= floor, round(sum(scored) / n, 3)


# HTML pages' published dates (right at least, wrong at most) and authors (right at least) on the sealed test sites,
# at bench/cleaning.py's figures. Dates: 26 and 22 of 26 right, none wrong (trafilatura's own date, before cleaner
# 5.11 checked it: 24 and 19 right, 2 and 7 wrong). Authors: 21 and 19 of 26 (13 and 15 before cleaner 5.12).
HTML_DATE_AUTHOR_FLOORS = {"aeb-dev": (0.96, 0.0, 0.80), "readability": (0.84, 0.0, 0.73)}


@pytest.mark.parametrize("corpus", sorted(HTML_DATE_AUTHOR_FLOORS))
def test_held_out_html_date_and_author_floor(corpus):
    scored = [c for c in _held_out_html(corpus) if c["date_wrong"] is not None]
    right, wrong, authors = (sum(c[f] for c in scored) / len(scored) for f in ("date", "date_wrong", "authors"))
    floor, ceiling, author_floor = HTML_DATE_AUTHOR_FLOORS[corpus]
    assert len(scored) == 26 and right >= floor and wrong <= ceiling, (right, wrong)
    assert authors >= author_floor, authors


def test_held_out_html_publisher_floor():
    """Readability's sealed test sites label the site's name on 25 of their 26 pages: 10 right since cleaner 5.17
    (the page's og:site_name when trafilatura misses it, the end of its <title>; 8 before)."""
    pages = load_corpus("readability", "test")
    checks = [c["publisher"] for p, c in zip(pages, _held_out_html("readability")) if p.meta.get("publisher")]
    assert len(checks) == 25 and sum(checks) >= 10, sum(checks)


@pytest.mark.parametrize("head, site, publisher", [
    ("<title>Pond reopens after winter repairs – Town Weekly</title>", "", "Town Weekly"),
    ("<title>Pond reopens after winter repairs | Local | Town Weekly</title>", "", "Town Weekly"),
    ("<title>Pond reopens after winter repairs</title>", "Town Weekly - All the news, all week", "Town Weekly"),
    ("<title>Pond reopens after winter repairs - Town Weekly</title>", "http://www.townweekly.example", "Town Weekly"),
    ("<title>Pond reopens after winter repairs - May 5, 2023</title>", "", None),  # a date is no publisher
    ("<title>Town Weekly - Pond reopens after winter repairs</title>", "", None),  # the headline is no publisher
    # a copyright notice as the site's name: its holder, or nothing when it names none
    ("<title>Pond reopens after winter repairs</title>", "© 2014 Town Weekly", "Town Weekly"),
    ("<title>Pond reopens after winter repairs</title>", "Copyrighted Tales", "Copyrighted Tales"),  # no notice
    ('<title>Pond reopens after winter repairs – Town Weekly</title><meta name="copyright" content="Copyright 2014">',
     "", "Town Weekly"),
])
def test_html_publisher_from_the_site_name_or_the_end_of_the_title(head, site, publisher):
    meta = f'<meta property="og:site_name" content="{site}">' if site else ""
    body = "".join(f"<p>{p}</p>" for p in TINY_ARTICLE.split("\n\n")[3:])
    page = (f"<!DOCTYPE html><html><head>{head}{meta}</head><body><article><h1>Pond reopens after winter repairs</h1>"
            f"{body}</article></body></html>")
    a = qa.clean.clean_html(page, "pond").article
    assert a.title == "Pond reopens after winter repairs" and a.publisher == publisher


def test_headline_corpus_is_labelled_from_its_scrapes_and_shares_no_site_with_the_other_corpora():
    pages = load_headlines("all")
    assert {p.id for p in load_headlines("dev")}.isdisjoint(p.id for p in load_headlines("test"))
    for p in pages:
        assert p.meta["title_in_text"] in page_lines(p.txt)[0], p.id  # the label is a line of the scrape
        assert p.html  # the page it was scraped from is there too
    other = {s.removeprefix("www.") for c in load_split()["corpora"].values() for s in c["site"].values()}
    assert not other & {p.site.removeprefix("www.") for p in pages}


# Of the wcxb test pages whose scrape holds the headline: 168 of 201 (147 before 5.26, 145 before 5.18).
WCXB_HEADLINE_FLOOR = 0.83


def test_held_out_wcxb_headline_floor():
    checks = [meta_checks(a, p.meta, from_text=True)["title"] for p, a in _held_out("wcxb")]
    scored = [c for c in checks if c is not None]  # the pages whose scrape holds the headline
    assert len(scored) > 150 and sum(scored) / len(scored) >= WCXB_HEADLINE_FLOOR, round(sum(scored) / len(scored), 3)


# WCXB's dates and authors (from each page's metadata) on its test part, just under/over bench/cleaning.py's: date
# right 0.73 of the 141 pages whose scrape shows it, a date other than the article's on 0.059 of the 204 dated
# pages (12; 10 before cleaner 5.7 moved the headline, the dates' anchor, on two pages; on WCXB's 567 dated dev pages
# the same change went 29 -> 27), authors right 0.615 of the 161 pages whose scrape names them (0.59 before cleaner
# 5.13 read more byline shapes).
WCXB_META_FLOORS = {"date": 0.71, "authors": 0.60}
WCXB_WRONG_DATE_CEILING = 0.045  # 8 of 204 since cleaner 5.26 (its headlines anchor the dates better)


def test_held_out_wcxb_date_and_author_floors():
    checks = [meta_checks(a, p.meta, from_text=True) for p, a in _held_out("wcxb")]

    def share(field):
        vals = [c[field] for c in checks if c[field] is not None]
        return sum(vals) / len(vals)

    got = {f: round(share(f), 3) for f in ("date", "authors", "date_wrong")}
    assert all(got[f] >= floor for f, floor in WCXB_META_FLOORS.items()), got
    assert got["date_wrong"] <= WCXB_WRONG_DATE_CEILING, got


# A URL that is not the page's own, on the held-out test parts (bench/cleaning.py "URL wrong"): WCXB 1 of 239 pages
# (9 before cleaner 5.14 took only the page's own address: a link it cites, a list of sources, a profile page),
# aeb-dev 0 of 25 (1 before), readability 0 of 13.
URL_WRONG_CEILING = 0.01


@pytest.mark.parametrize("corpus", ["aeb-dev", "readability", "wcxb"])
def test_held_out_urls_are_the_pages_own(corpus):
    checks = [c for c in (meta_checks(a, p.meta, from_text=True)["url_wrong"] for p, a in _held_out(corpus))
              if c is not None]
    assert len(checks) >= 10 and sum(checks) / len(checks) <= URL_WRONG_CEILING, (sum(checks), len(checks))


def test_wcxb_metadata_labels():
    """A WCXB date is a label for the scrape where the scrape shows it, and stays the article's own elsewhere; a
    page without a label is not scored."""
    pages = load_wcxb("all")
    dated = [p for p in pages if "published" in p.meta]
    assert len(dated) > 700 and sum(bool(p.meta["published_in_text"]) for p in dated) > 500
    for p in dated:
        stated = p.meta["published_in_text"]
        assert (stated is None) == p.meta["published_elsewhere"]
        if stated:
            assert stated.lower() in " ".join(p.txt.split()).lower()
    undated = next(p for p in pages if "published" not in p.meta and "authors_in_text" not in p.meta)
    checks = meta_checks(None, undated.meta, from_text=True)
    assert checks["date"] is None and checks["date_wrong"] is None and checks["authors"] is None


def test_wcxb_corpus_is_sealed_by_site_and_shares_no_site_with_the_other_corpora():
    dev, test = load_wcxb("dev"), load_wcxb("test")
    assert len(dev) > 600 and len(test) > 200
    assert {p.site for p in dev}.isdisjoint(p.site for p in test)
    for p in dev + test:
        assert p.body and p.txt
        assert p.meta["title_in_text"] is None or p.meta["title_in_text"] in page_lines(p.txt)[0], p.id
    other = {s.removeprefix("www.") for c in load_split()["corpora"].values() for s in c["site"].values()}
    other |= {p.site.removeprefix("www.") for p in load_headlines("all")}
    assert not other & {p.site for p in dev + test}


def _one_day_folder(tmp_path, date_under_byline: bool) -> list[str]:
    """Three stories scraped on one day: the masthead's today over each headline, and (or not) the story's own
    date under its byline. Returns each cleaned article's date."""
    stories = [("Lake Balkhash water levels fall to a ten-year low", "Water levels in the lake fell to their lowest"),
               ("Harbour dredging to start in spring", "The port authority will begin dredging the old harbour"),
               ("City council approves a new tram line", "The council voted to build a tram line to the airport")]
    own = "\n\nMarch 3, 2023" if date_under_byline else ""
    for n, (headline, lead) in enumerate(stories):
        body = "\n\n".join(f"{lead} point in years, officials said on Friday in statement number {k}." for k in range(4))
        page = f"Home | World | Sport\nMarch 20, 2023\n\n{headline}\n\nBy Jane Example{own}\n\n{body}\n"
        (tmp_path / f"story{n}.txt").write_text(page, encoding="utf-8")
    return [r.article.published.isoformat() for r in qa.clean_folder(tmp_path)]


def test_articles_of_one_day_keep_their_shared_date_but_not_the_mastheads(tmp_path):
    """Lines repeated across a folder's pages are site chrome, but a folder of one day's news repeats the articles'
    own date under each headline too: a repeated date over the headline (the masthead's today) is not taken when
    the page states another."""
    assert _one_day_folder(tmp_path, date_under_byline=True) == ["2023-03-03"] * 3


def test_a_shared_date_just_over_the_headline_is_the_articles_when_the_page_states_no_other(tmp_path):
    """A blog whose pages share their day (a folder scraped on the day they were posted): the dateline just over
    each headline is the article's when the page states no other date near the headline."""
    assert _one_day_folder(tmp_path, date_under_byline=False) == ["2023-03-20"] * 3


def test_metadata_the_page_states(tmp_path):
    page = TINY_ARTICLE.replace("By Jane Example March 3, 2023", "By Jane Example@jexample\n\nMarch 3, 2023\n\nUpdated March 9, 2023")
    page = "Home | World | Sport\nMarch 20, 2023\n" + page.split("\n", 1)[1]
    page += "https://example.org/news/lake-balkhash-low\n\n© 2023 Example Gazette. All rights reserved.\n"
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    a = qa.clean_file(f).article
    assert a.authors == ("Jane Example",)  # no handle
    assert a.published.isoformat() == "2023-03-03"  # not the masthead's today, not the update
    assert a.publisher == "Example Gazette"
    assert a.url == "https://example.org/news/lake-balkhash-low"


@pytest.mark.parametrize("tail, expected", [
    # the page's own address: at the foot, its path naming words of the headline
    ("Share: https://example.org/news/x\n\nhttps://example.org/2023/03/balkhash-water-levels-fall", "balkhash"),
    # a link the article cites, far under the headline, naming none of its words
    ("Source:\n\nhttps://www.hydro.example.net/reports/annual-2022.pdf", None),
    # one of a list of links
    ("Sources\nhttps://example.org/news/lake-balkhash\nhttps://other.example.com/lake-levels", None),
    # ending a citation, or without "https://" / "www." (a code sample, a link's text)
    ("https://example.org/lake-balkhash-report,", None),
    ("example.org/lake/balkhash", None),
])
def test_the_url_is_the_pages_own_not_a_link_it_cites(tmp_path, tail, expected):
    page = TINY_ARTICLE.replace("Leave a comment", "More reading follows.\n\n" + "Filler line of text.\n\n" * 12 + tail)
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    url = qa.clean_file(f).article.url
    assert url == (None if expected is None else tail.splitlines()[-1]), url


def test_a_labelled_url_beats_a_campaign_link_over_the_headline(tmp_path):
    login = "https://premium.example.org/membership/?utm_source=nav&utm_medium=login-box"
    page = TINY_ARTICLE.replace("Subscribe to our newsletter", f"Login\n{login}")
    page = page.replace("Leave a comment", "Share\n\nURL\n\nhttps://example.org/topic/water-levels\n\nLeave a comment")
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    assert qa.clean_file(f).article.url == "https://example.org/topic/water-levels"
    f.write_text(page.replace("URL\n\nhttps://example.org/topic/water-levels\n\n", ""), encoding="utf-8")
    assert qa.clean_file(f).article.url is None  # the campaign link alone is no page's address


@pytest.mark.parametrize("links, want", [
    # the canonical address, not og:url's other host (trafilatura gave og:url's)
    ('<link rel="canonical" href="https://example.org/news/pond"><meta property="og:url" '
     'content="http://social.example.org/news/pond">', "https://example.org/news/pond"),
    ('<meta property="og:url" content="https://example.org/news/pond">', "https://example.org/news/pond"),
    # a canonical at the site's front page is a misconfiguration: og:url's address stands
    ('<link rel="canonical" href="https://example.org/"><meta property="og:url" content="https://example.org/n/pond">',
     "https://example.org/n/pond"),
])
def test_html_url_is_the_canonical_address(links, want):
    body = "".join(f"<p>{p}</p>" for p in TINY_ARTICLE.split("\n\n")[3:])
    page = (f"<!DOCTYPE html><html><head><title>Pond reopens</title>{links}</head><body><article>"
            f"<h1>Pond reopens after winter repairs</h1>{body}</article></body></html>")
    assert qa.clean.clean_html(page, "pond").article.url == want


def test_a_published_line_far_from_the_headline_gives_the_date_when_it_is_the_only_one(tmp_path):
    far = "\n\n".join(["Filler line of the page's chrome"] * 12)
    page = TINY_ARTICLE.replace("By Jane Example March 3, 2023", "By Jane Example")
    f = tmp_path / "lake.txt"
    f.write_text(page.replace("Leave a comment", f"{far}\n\nPublished On: 15 March 2023\n\nLeave a comment"), "utf-8")
    assert qa.clean_file(f).article.published.isoformat() == "2023-03-15"
    two = f"{far}\n\nPosted on 15 March 2023\n\nOther story\n\nPosted on 2 April 2023\n\nLeave a comment"
    f.write_text(page.replace("Leave a comment", two), "utf-8")  # related stories' dates: which is the article's?
    assert qa.clean_file(f).article.published is None
    f.write_text(page.replace("Leave a comment", f"{far}\n\nMarch 15, 2023\n\nLeave a comment"), "utf-8")
    assert qa.clean_file(f).article.published is None  # a date that does not say it is the article's


def test_an_ambiguous_numeric_date_is_left_unset(tmp_path):
    page = TINY_ARTICLE.replace("By Jane Example March 3, 2023", "By Jane Example\n\n05/03/2023")
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    assert qa.clean_file(f).article.published is None


def test_a_big_folder_is_cleaned_on_several_processes_with_the_same_result(monkeypatch, capfd):
    """Past config.PARALLEL_CLEAN_MIN_FILES the pages are cleaned in a process pool: same articles, same skips, in
    the same order as one process; with progress on, a bar with an ETA goes to stderr."""
    from qa import clean, config

    root = Path(__file__).resolve().parent / "corpora"
    paths = sorted((root / "aeb-dev" / "txt").glob("*.txt"))[:12] + sorted((root / "readability" / "txt").glob("*.txt"))[:12]
    monkeypatch.setattr(config, "PARALLEL_CLEAN_MIN_FILES", 10**9)
    serial = clean_collection(paths)
    monkeypatch.setattr(config, "PARALLEL_CLEAN_MIN_FILES", 0)
    used = []
    real = clean._clean_workers
    monkeypatch.setattr(clean, "_clean_workers", lambda n: used.append(max(2, real(n))) or used[-1])
    parallel = clean_collection(paths, progress=True)
    assert used == [2] or used[0] > 2  # really went through the pool
    assert parallel == serial
    assert len(serial[0]) > 15
    err = capfd.readouterr().err
    assert "cleaning" in err and "/24 [" in err and "pages/s" in err


def test_captions_prose_and_bylines_are_never_the_headline(tmp_path):
    """Without a headline line, the headline model's best guess was the caption (a photo credit at its end), then
    the byline, or the article's first sentence; none of them is a headline (qa.clean._never_headline)."""
    caption = "Fishing boats lie stranded on the dry shore of the lake near Balkhash town Sam Lens/Coastal Agency"
    lede = "Water levels in Lake Balkhash fell to their lowest point in ten years this spring, officials said."
    for first in (caption, lede):
        f = tmp_path / "lake.txt"
        f.write_text(TINY_ARTICLE.replace("Lake Balkhash water levels fall to a ten-year low\n", first + "\n"), "utf-8")
        title = qa.clean_file(f).article.title
        assert title not in (first, "By Jane Example March 3, 2023"), title
    f.write_text(TINY_ARTICLE, encoding="utf-8")
    assert qa.clean_file(f).article.title == "Lake Balkhash water levels fall to a ten-year low"


def test_markup_and_code_are_never_the_headline(tmp_path):
    """A scrape that kept a page's markup or script as text: with no headline line, the headline model's best guess
    was the <script> line; markup and code are never a headline (qa.clean._MARKUP_LINE)."""
    f = tmp_path / "lake.txt"
    for line in ('<script async src="https://cdn.example.net/widgets/share.js" charset="utf-8"></script>',
                 '<div class="ad-slot" data-size="300x250"></div>'):
        f.write_text(TINY_ARTICLE.replace("Lake Balkhash water levels fall to a ten-year low", line), "utf-8")
        assert qa.clean_file(f).article.title != line


@pytest.mark.parametrize("line, markup", [
    ('<script src="vendor/app.js"></script>', True),
    ("</div>", True),
    ("<!-- ad slot -->", True),
    ('<img src="a.png" alt="x"/> Harbour opens', True),
    ("var total = price * count;", True),
    ("function track(event) {", True),
    ("}", False),  # a lone brace: no assignment or call
    ("Is 1 < 2 in the harbour's new toll scheme?", False),
    ("Harbour tolls (and fees) rise in spring", False),
    ("Tolls = fees? The port's new pricing, explained", False),
    ("<3 the new ferry: readers' photos", False),
])
def test_a_line_of_markup_or_code_is_known(line, markup):
    from qa.clean import _MARKUP_LINE

    assert bool(_MARKUP_LINE.match(line)) is markup


@pytest.mark.parametrize("line, caption", [
    ("The old harbour at dawn Sam Lens/Coastal Agency", True),
    ("Dredgers at work in the port (Sam Lens/AFP/Getty Images)", True),
    ("The core stage in the assembly hall (credit: Agency/Sam Lens)", True),
    ("Ferries wait in the outer basin Credit: COASTAL HERALD", True),
    ("AC/DC announce a harbour concert", False),
    ("Port traffic: Ford/GM shipments up", False),
])
def test_a_caption_is_known_by_its_credit(line, caption):
    from qa.clean import _CAPTION_TAIL

    assert bool(_CAPTION_TAIL.search(line)) is caption


def test_prose_is_a_long_line_ending_with_a_full_stop_after_a_word():
    from qa.clean import _reads_as_sentence

    assert _reads_as_sentence("Water levels in the lake fell to their lowest point in ten years.")
    assert _reads_as_sentence("湖の水位は今年の春、過去十年で最も低い水準まで下がったと当局が金曜日に発表した。")
    assert not _reads_as_sentence("Harbour dredging to start in spring, says the port of N.Y.C.")
    assert not _reads_as_sentence("Dredging starts.")
    assert not _reads_as_sentence("Harbour dredging to start in spring after a long wait...")


@pytest.mark.parametrize("raw, name", [
    ("Jane Doe Last Updated:", "Jane Doe"),
    ("Jane Doelast Updated", "Jane Doe"),
    ("Jane DoeUpdated", "Jane Doe"),
    ("Jane Doe@jdoe", "Jane Doe"),
    ("Jane Doe, Chief Marketing Officer", "Jane Doe"),
    ("Senior Analyst", ""),
    ("Executive Editor", ""),
    ("Last Updated", ""),
])
def test_an_author_is_a_plain_name(raw, name):
    from qa.clean import _plain_name

    assert _plain_name(raw) == name


def test_a_job_title_ends_the_byline_and_its_employer_is_no_author(tmp_path):
    page = TINY_ARTICLE.replace(
        "By Jane Example March 3, 2023", "By Jane Example, Senior Staff Technologist, Lake Speech and Water Project"
    )
    f = tmp_path / "lake.txt"
    f.write_text(page, encoding="utf-8")
    assert qa.clean_file(f).article.authors == ("Jane Example",)


# Words no author name holds: job titles, update stamps, handles and digits (issue #10's "plain names").
_NOT_IN_A_NAME = re.compile(r"@|\d|\bupdated?\b|\b(?:writer|editor|reporter|correspondent|columnist|contributor|"
                            r"analyst|director|officer|manager|producer)\b", re.I)


@pytest.mark.parametrize("corpus", ["aeb-dev", "readability", "wcxb"])
def test_held_out_authors_are_plain_names(corpus):
    names = [n for _, a in _held_out(corpus) if a for n in a.authors]
    assert len(names) > 10 and not [n for n in names if _NOT_IN_A_NAME.search(n)]
