"""An HTML page's published date (what its markup declares, what it shows near the headline, never a guess) and
its authors (the article's JSON-LD, else trafilatura's author field)."""
from __future__ import annotations

from datetime import date

import pytest

from qa.clean import clean_html
from qa.clean_html_meta import declared, parse_page, visible_lines

BODY = """<p>The city council voted on Tuesday to extend the tram line by four stops to the northern suburbs,
after two years of consultation with residents and businesses along the route.</p>
<p>Construction is expected to start next spring and to take about eighteen months, the transport office said in a
statement, and the new stops will be served every six minutes at peak times.</p>"""


def page(head: str = "", above: str = "", below: str = "", foot: str = "", url: str = "") -> str:
    canonical = f'<link rel="canonical" href="{url}">' if url else ""
    return f"""<html><head><title>Tram line to be extended north | Example Gazette</title>{canonical}{head}</head>
    <body><header><a href="/">Example Gazette</a> <span>Home</span> <span>Local</span></header>
    <main><article>{above}<h1>Tram line to be extended north</h1>{below}{BODY}</article></main>
    <footer>{foot}</footer></body></html>"""


def test_declared_stamps_article_json_ld_first_then_tags_in_page_order():
    raw = page(head="""
        <meta property="article:published_time" content="2023-05-03T09:00:00+00:00">
        <script type="application/ld+json">//<![CDATA[
        {"@context": "https://schema.org", "@graph": [
          {"@type": "WebPage", "datePublished": "2023-05-01"},
          {"@type": "NewsArticle", "datePublished": "2023-05-02T21:15:00-07:00", "dateCreated": "2023-04-30"}]}
        //]]></script>""", below='<time itemprop="datePublished" datetime="2023-05-04">4 May</time>')
    assert list(declared(parse_page(raw)).dates) == [
        "2023-05-02T21:15:00-07:00", "2023-05-03T09:00:00+00:00", "2023-05-04", "2023-05-01", "2023-04-30"]


def test_a_declared_stamp_is_its_own_calendar_day_not_utcs():
    raw = page(head='<script type="application/ld+json">{"@type": "NewsArticle", '
                    '"datePublished": "2023-05-02T21:15:00-07:00"}</script>')
    assert clean_html(raw, "tram").article.published == date(2023, 5, 2)


def test_a_utc_stamp_gives_way_to_a_stamp_in_local_time_a_day_before():
    raw = page(head="""<meta name="sailthru.date" content="2019-11-18 20:58:46">
        <script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2019-11-19T04:58:46Z"}
        </script>""")
    assert clean_html(raw, "tram").article.published == date(2019, 11, 18)
    only_utc = page(head='<meta property="article:published_time" content="2019-11-19T02:34:30Z">')
    assert clean_html(only_utc, "tram").article.published == date(2019, 11, 19)


def test_the_date_line_a_reader_sees_wins_over_a_utc_stamp_a_day_later():
    raw = page(head='<meta property="article:published_time" content="2023-05-03T02:15:00+00:00">',
               below="<p class='byline'>By Ann Writer</p><p>May 2, 2023, 8:15 pm CST</p>")
    assert clean_html(raw, "tram").article.published == date(2023, 5, 2)


def test_a_declared_stamp_wins_over_a_date_line_days_away():
    raw = page(head='<meta property="article:published_time" content="2023-05-02T10:00:00+00:00">',
               below="<p>March 9, 2023</p>")
    assert clean_html(raw, "tram").article.published == date(2023, 5, 2)


def test_without_markup_the_date_line_near_the_headline_is_taken_not_the_mastheads_today():
    # A sticky header repeats the headline beside the masthead's "today", above the article's own.
    raw = page(below="<p>By Ann Writer | November 18, 2019</p>").replace(
        "<span>Local</span>", "<span>Local</span><div>November 20, 2019</div><div>Tram line to be extended north</div>"
        "<div>Subscribe</div><div>Search</div>")
    assert "November 20, 2019" in visible_lines(parse_page(raw))
    assert clean_html(raw, "tram").article.published == date(2019, 11, 18)


@pytest.mark.parametrize("foot", [
    "© 1998 Example Gazette. All rights reserved.",  # a copyright year is not 1 January of it
    "<script>var meta = {dt: '2016-11-09T14:47:17Z', build: '20161115'};</script>",  # a script's data
])
def test_no_date_is_guessed_where_the_page_states_none(foot):
    assert clean_html(page(foot=foot), "tram").article.published is None


def test_an_ambiguous_declared_stamp_is_not_read_either_way():
    raw = page(head='<meta name="publish_date" content="05/08/2014 07:01:00">')
    assert clean_html(raw, "tram").article.published is None


def test_a_date_the_url_states_is_the_articles():
    raw = page(url="https://gazette.example/2015/03/18/tram-line-to-be-extended-north/")
    assert clean_html(raw, "tram").article.published == date(2015, 3, 18)


def test_a_lone_surrogate_in_the_text_does_not_hide_the_markup():
    raw = page(head='<meta property="article:published_time" content="2023-05-02">', below="<p>Caf\udce9</p>")
    assert list(declared(parse_page(raw)).dates) == ["2023-05-02"]


def test_a_page_lxml_cannot_parse_has_no_declared_date_or_lines():
    assert declared(parse_page("")).dates == () and visible_lines(parse_page("")) == []


@pytest.mark.parametrize("meta_author, want", [
    ("Jane Example; John Roe", ("Jane Example", "John Roe")),  # trafilatura joins the names it finds with "; "
    ("Jeff Example Monday; November", ("Jeff Example",)),  # the date line glued after the name
    ("Jane Example; JANE EXAMPLE", ("Jane Example",)),  # one person, whatever the case
    ("Username", ()),  # a form's label, not a name
])
def test_authors_from_the_author_field(meta_author, want):
    raw = page(head=f'<meta name="author" content="{meta_author}">')
    assert clean_html(raw, "tram").article.authors == want


def test_the_articles_json_ld_names_its_authors_first():
    ld = """<script type="application/ld+json">[{"@type": "WebPage", "author": "Site Team"},
        {"@type": "NewsArticle", "author": [{"@type": "Person", "name": "By GREG EXAMPLE, AP Sports Writer"},
         {"@type": "Organization", "name": "Example Gazette"}, "Dan Roe"]}]</script>"""
    tree = parse_page(page(head=ld))
    assert list(declared(tree).authors) == ["By GREG EXAMPLE, AP Sports Writer", "Dan Roe"]
    raw = page(head=ld + '<meta name="author" content="Someone Else">')
    assert clean_html(raw, "tram").article.authors == ("Greg Example", "Dan Roe")
