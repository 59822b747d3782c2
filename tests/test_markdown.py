"""Markdown scrapes (.md): read as the page's text, headline from its headings, built and cited like any article,
and the cleaner's floors on the vendored corpora's Markdown (bench/markdown_corpus.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.clean import clean_markdown, markdown_lines
from qa.clean_eval import body_score, load_corpus, load_headlines, meta_checks, page_score
from qa.clean_lines import collection_repeats
from qa.clean_markdown import read_markdown
from qa.index import load_index

from .conftest import TINY_ARTICLE

NAV = "- [Home](/)\n- [World](/world)\n- [Sport](/sport)\n- [Subscribe](javascript:void(0);)\n\n"
BODY = (
    "The lake's level fell to a record low this spring, officials said on Tuesday, after the driest winter in the "
    "region for forty years.\n\n"
    "Farmers along the northern shore said their irrigation pumps could no longer reach the water, and several "
    "fishing cooperatives have paused work until the autumn rains.\n\n"
    "The regional water authority plans to release water from two upstream reservoirs in April, a spokeswoman said, "
    "which should raise the level by about a metre.\n\n"
)
PAGE = (
    NAV + "# Example Daily News\n\n![logo](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)\n\n"
    "# Lake level falls to a record low after a dry winter\n\n*By Jane Doe* | March 3, 2023\n\n" + BODY
    + "## Related\n\n- [Other story about something else](/other)\n\n# Footer\n\n© 2023 Example Daily News\n"
)


def test_markdown_reads_as_the_text_a_browser_shows():
    page = read_markdown(
        "# Head *with* [a link](https://example.org/x) and `code`\n\nOne line\nand its continuation  \nafter a break\n\n"
        "- item one\n- [item two](/two)\n\n| name | value |\n|---|---|\n| a | 1 |\n\n> quoted words\n\n"
        "```\nline one\nline two\n```\n\n![alt text](pic.png) caption &amp; more\n\n<div>raw <b>html</b></div>\n"
    )
    assert page.text.split("\n\n") == [
        "Head with a link and code", "One line and its continuation after a break", "item one", "item two",
        "name\tvalue", "a\t1", "quoted words", "line one\nline two", " caption & more", "raw  html",
    ]
    assert page.h1 == ("Head with a link and code",) and page.front == {}


def test_links_and_images_markdown_it_would_not_render_leave_no_markup():
    text = read_markdown("[Calendar](javascript:void(0);) and ![logo](data:image/svg+xml;base64,PHN2Zz4=) end\n").text
    assert text == "Calendar and  end"


@pytest.mark.parametrize("raw", [
    '---\ntitle: "Lake level falls | Example"\nurl: https://example.org/lake\n---\n# Lake level falls\n\nText.\n',
    "Title: Lake level falls | Example\nURL Source: https://example.org/lake\nPublished Time: 2023-03-03\n\n"
    "Markdown Content:\n# Lake level falls\n\nText.\n",
])
def test_front_matter_is_metadata_not_text(raw):
    page = read_markdown(raw)
    assert page.text == "Lake level falls\n\nText."
    assert page.front["title"] == "Lake level falls | Example"
    assert page.front.get("url", page.front.get("url source")) == "https://example.org/lake"


def test_a_key_value_header_without_the_content_marker_is_text():
    assert read_markdown("Note: this is prose.\n\nMore text.\n").text == "Note: this is prose.\n\nMore text."


def test_the_headline_is_the_heading_that_reads_as_one_not_the_site_or_a_section():
    c = clean_markdown(PAGE, "lake")
    a = c.article
    assert a.title == "Lake level falls to a record low after a dry winter"
    assert a.published is not None and a.published.isoformat() == "2023-03-03"
    assert "record low this spring" in a.text and "upstream reservoirs" in a.text
    for chrome in ("Home", "Subscribe", "Example Daily News", "Other story", "data:image", "Footer", "**", "]("):
        assert chrome not in a.text, chrome
    assert a.title not in a.text  # the headline is not the body's first line too


def test_a_front_matter_title_names_the_headline_and_its_url_is_the_articles():
    front = '---\ntitle: "Lake level falls to a record low after a dry winter - Example Daily News"\n' \
            "url: https://example.org/2023/lake-level\n---\n"
    a = clean_markdown(front + PAGE, "lake").article
    assert a.title == "Lake level falls to a record low after a dry winter"
    assert a.url == "https://example.org/2023/lake-level"
    # without headings the front matter's title stands, less the site's name (which the page's footer gives)
    a = clean_markdown(front + NAV + BODY + "© 2023 Example Daily News\n", "lake").article
    assert a.title == "Lake level falls to a record low after a dry winter"


def test_a_folder_of_markdown_builds_and_cites_like_text(tmp_path):
    seeds = tmp_path / "seeds"
    (seeds / "2023").mkdir(parents=True)
    (seeds / "2023" / "lake.md").write_text(PAGE, encoding="utf-8")
    (seeds / "tiny.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    report = qa.build(seeds, tmp_path / "index")
    assert sorted(load_index(tmp_path / "index").articles) == ["2023/lake", "tiny"] and not report.skipped
    hit = qa.retrieve("Why can farmers no longer reach the lake water?", k=1, index_dir=tmp_path / "index")[0]
    assert hit.doc_id == "2023/lake" and hit.title == "Lake level falls to a record low after a dry winter"
    a = qa.get_article(hit.doc_id, index_dir=tmp_path / "index")
    assert a.source == "2023/lake.md" and a.text[hit.start : hit.end] == hit.text
    # qa clean shows the same article, and each line's fate
    [r] = qa.clean_folder(seeds / "2023")
    assert r.article.text == a.text and any(x.reason == "headline" for x in r.lines)


# Markdown scrapes of the sealed test sites (bench/markdown_corpus.py), just under bench/cleaning.py's figures
# (body F1 aeb-dev 0.877, readability 0.893; titles right 0.84 / 0.69 / 0.86 on the pages that label one).
MD_BODY_FLOORS = {"aeb-dev": (0.86, 25), "readability": (0.88, 26)}
MD_TITLE_FLOORS = {"aeb-dev": 0.80, "readability": 0.65, "headlines": 0.83}


def _cleaned(pages):
    pages = [p for p in pages if p.md]  # the converter made nothing of one aeb-dev page
    repeats = collection_repeats([markdown_lines(p.md) for p in pages])
    return [(p, clean_markdown(p.md, p.id, repeats=r)) for p, r in zip(pages, repeats)]


@pytest.mark.parametrize("corpus", sorted(MD_BODY_FLOORS))
def test_held_out_markdown_body_floor(corpus):
    done = _cleaned(load_corpus(corpus, "test"))
    s = body_score([page_score(c.article.text if c and c.article else None, p.body) for p, c in done])
    floor, n = MD_BODY_FLOORS[corpus]
    assert len(done) == n and s.f1 >= floor, round(s.f1, 3)


@pytest.mark.parametrize("corpus", sorted(MD_TITLE_FLOORS))
def test_held_out_markdown_title_floor(corpus):
    pages = load_headlines("test") if corpus == "headlines" else load_corpus(corpus, "test")
    checks = [meta_checks(c.article if c else None, p.meta, from_text=True)["title"] for p, c in _cleaned(pages)]
    scored = [ok for ok in checks if ok is not None]
    assert len(scored) >= 20 and sum(scored) / len(scored) >= MD_TITLE_FLOORS[corpus], sum(scored) / len(scored)


def test_markdown_corpora_are_vendored_for_every_page_with_html():
    for pages in (load_corpus("aeb-dev", "all"), load_corpus("readability", "all"), load_headlines("all")):
        assert all(p.md or not p.html or p.id == "7916ecca969ffdd8" for p in pages)
    assert Path(__file__).parent.joinpath("corpora", "aeb-dev", "md.tar.xz").exists()
