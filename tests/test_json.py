"""Articles a scraper saved as JSON (qa/clean_json.py). trafilatura runs here, so its `--json` output of real corpus
pages is made in the test; the other scrapers' records are written in the layouts their documentation gives
(news-please, Zyte's article extraction, schema.org NewsArticle, Readability.js, a crawler's page record)."""
from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest

import qa
from qa.clean import clean_html, clean_json, read_articles, read_seed
from qa.clean_eval import body_score, load_corpus, page_score
from qa.clean_json import json_records, read_json
from qa.types import Skipped

PARAS = [
    "The city will close three streets in the old town this weekend for the autumn festival, officials said.",
    "Traffic will be sent along the river road from Friday evening until Monday morning, the transport office said.",
    "The festival drew about 40,000 visitors last year, and organisers expect more this time.",
]


def _write(tmp_path, name: str, record) -> qa.CleanResult:
    p = tmp_path / name
    p.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return qa.clean_file(p)


@pytest.fixture(scope="module")
def real_pages():
    return [p for p in load_corpus("aeb-dev", "dev")][:6]


def test_trafilatura_json_output_of_real_pages_keeps_the_article_and_its_metadata(real_pages):
    import trafilatura

    scores = []
    for p in real_pages:
        record = trafilatura.extract(p.html, output_format="json", with_metadata=True)
        got = clean_json(record, p.id)
        from_html = clean_html(p.html, p.id)
        assert got is not None, p.id
        a, h = got.article, from_html.article
        scores.append(page_score(a.text, p.body))
        assert body_score(scores[-1:]).recall >= 0.8, p.id  # taken as trafilatura gives it, with what it kept
        # the date the page states (its hand label), and the address the record gives (trafilatura's pick, which the
        # HTML cleaner also takes when the page declares no canonical or og:url address)
        assert str(a.published) == p.meta["published"] and a.url == json.loads(record)["source"], p.id
        assert a.title and a.publisher == h.publisher and "\n\n" in a.text
    assert body_score(scores).f1 >= 0.85


def test_a_news_please_record(tmp_path):
    r = _write(tmp_path, "story.json", {
        "authors": ["Jane Doe", "John Roe Staff Writer"], "date_download": "2019-11-20 08:00:00",
        "date_modify": None, "date_publish": "2019-11-19 10:31:00", "description": "Three streets close.",
        "filename": "story.json", "image_url": None, "language": "en", "localpath": None,
        "source_domain": "www.example-news.org", "maintext": "\n".join(PARAS),
        "title": "City closes three streets for the festival", "title_page": None, "title_rss": None,
        "url": "https://www.example-news.org/2019/11/19/streets"})
    a = r.article
    assert a.title == "City closes three streets for the festival"
    assert a.published == date(2019, 11, 19) and a.authors == ("Jane Doe", "John Roe")
    assert a.publisher == "www.example-news.org" and a.url == "https://www.example-news.org/2019/11/19/streets"
    assert a.text == "\n\n".join(PARAS) and a.doc_id == "story" and r.encoding == "UTF-8"


def test_a_zyte_api_article_nested_in_its_response(tmp_path):
    a = _write(tmp_path, "zyte.json", {"url": "https://example-news.org/a", "statusCode": 200, "article": {
        "headline": "City closes three streets", "datePublished": "2019-11-19T22:31:00-08:00",
        "datePublishedRaw": "Nov 19, 2019", "authors": [{"name": "Jane Doe", "nameRaw": "By Jane Doe"}],
        "articleBody": "\n\n".join(PARAS), "inLanguage": "en", "canonicalUrl": "https://example-news.org/streets",
    }}).article
    # The stamp's own calendar day, not converted to another time zone.
    assert (a.title, a.published, a.authors) == ("City closes three streets", date(2019, 11, 19), ("Jane Doe",))
    assert a.url == "https://example-news.org/a" and a.text == "\n\n".join(PARAS)


def test_schema_org_news_article_in_a_graph(tmp_path):
    a = _write(tmp_path, "ld.json", {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Example News", "url": "https://example-news.org/"},
        {"@type": "NewsArticle", "headline": "Город закрывает три улицы", "articleBody": PARAS,
         "datePublished": "2019-11-19", "author": {"@type": "Person", "name": "Jane Doe"},
         "publisher": {"@type": "Organization", "name": "Example News"},
         "mainEntityOfPage": "https://example-news.org/streets"}]}).article
    assert (a.title, a.publisher, a.authors, a.url) == (
        "Город закрывает три улицы", "Example News", ("Jane Doe",), "https://example-news.org/streets")
    assert a.text.split("\n\n") == PARAS


def test_readability_output_keeps_its_paragraphs_from_the_markup(tmp_path):
    # Readability.js's textContent runs the paragraphs together; its content (HTML) keeps them apart.
    content = "<div id='readability-page-1'><div><h2>The plan</h2>" + "".join(f"<p>{p}</p>" for p in PARAS) + \
        "<script>track()</script><p>Fish &amp; chips stalls stay open.<br>Parking is free.</p></div></div>"
    a = _write(tmp_path, "readability.json", {
        "title": "City closes three streets - Example News", "byline": "By Jane Doe and John Roe",
        "dir": None, "lang": "en", "content": content, "textContent": " ".join(PARAS), "length": 300,
        "excerpt": PARAS[0], "siteName": "Example News", "publishedTime": "2019-11-19T10:31:00+00:00"}).article
    assert a.text.split("\n\n") == ["The plan", *PARAS, "Fish & chips stalls stay open.", "Parking is free."]
    assert (a.title, a.publisher, a.authors) == ("City closes three streets", "Example News", ("Jane Doe", "John Roe"))
    assert a.published == date(2019, 11, 19)


def test_a_wordpress_rest_api_post(tmp_path):
    # GET /wp-json/wp/v2/posts/<id>: rendered HTML for the title and content; the author is a numeric id.
    a = _write(tmp_path, "post.json", {
        "id": 4812, "date": "2019-11-19T10:31:00", "date_gmt": "2019-11-19T18:31:00", "modified": "2019-11-21T09:00:00",
        "slug": "streets", "status": "publish", "type": "post", "link": "https://example-news.org/2019/11/streets/",
        "title": {"rendered": "City closes three streets &#8211; for the festival"},
        "content": {"rendered": "".join(f"<p>{p}</p>\n" for p in PARAS), "protected": False},
        "excerpt": {"rendered": "<p>Three streets close.</p>"}, "author": 7, "featured_media": 0}).article
    assert a.title == "City closes three streets \u2013 for the festival"
    assert (a.published, a.authors) == (date(2019, 11, 19), ())
    assert a.url == "https://example-news.org/2019/11/streets/" and a.text.split("\n\n") == PARAS


def test_a_crawled_page_record_is_cleaned_as_its_html(tmp_path):
    page = load_corpus("aeb-dev", "dev")[0]
    r = _write(tmp_path, "crawl.json", {"url": "https://example.org/x", "status": 200, "html": page.html})
    h = clean_html(page.html, "crawl").article
    assert r.article.text == h.text and r.article.title == h.title and r.article.published == h.published


@pytest.mark.parametrize("content, reason", [
    ("[]", "an empty JSON list"),
    ('{"title": "a", ', "not valid JSON"),
    ('{"name": "my-package", "version": "1.0.0", "dependencies": {}}', "JSON without an article text"),
])
def test_what_is_not_one_article_is_reported_with_its_reason(tmp_path, content, reason):
    p = tmp_path / "x.json"
    p.write_text(content, encoding="utf-8")
    r = read_seed(p)
    assert isinstance(r, Skipped) and reason in r.reason
    assert isinstance(read_json(content), str)


def test_json_articles_are_built_and_cited_beside_other_files(tmp_path):
    import trafilatura

    seeds = tmp_path / "seeds"
    (seeds / "scraped").mkdir(parents=True)
    page = next(p for p in load_corpus("aeb-dev", "dev") if p.id == "1ace8c85aaee21b9")
    (seeds / "scraped" / "wework.json").write_text(
        trafilatura.extract(page.html, output_format="json", with_metadata=True), encoding="utf-8")
    (seeds / "streets.json").write_text(json.dumps({
        "title": "City closes three streets for the festival", "maintext": "\n".join(PARAS),
        "date_publish": "2019-11-19 10:31:00", "authors": ["Jane Doe"], "url": "https://example-news.org/s"}))
    (seeds / "package.json").write_text('{"name": "scraper", "version": "1.0.0"}')
    report = qa.build(seeds, tmp_path / "index")
    assert [(s.path.endswith("package.json"), "JSON without an article text" in s.reason) for s in report.skipped] \
        == [(True, True)]
    hit = qa.retrieve("Which state attorney general is investigating WeWork?", k=1, index_dir=tmp_path / "index")[0]
    assert hit.doc_id == "scraped/wework" and "WeWork" in hit.citation
    hit = qa.retrieve("How long will the river road take the traffic?", k=1, index_dir=tmp_path / "index")[0]
    assert hit.doc_id == "streets" and hit.published == date(2019, 11, 19) and hit.authors == ("Jane Doe",)
    assert qa.get_article("streets", index_dir=tmp_path / "index").url == "https://example-news.org/s"
    # the manifest's digest of each article is that of the bytes it was read from
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["articles"]["streets"]["content_sha256"] == hashlib.sha256(
        (seeds / "streets.json").read_bytes()).hexdigest()


def _story(i: int) -> dict:
    """A scraper's record of one of three different stories."""
    town = ("Aral", "Balkash", "Caspian")[i]
    paras = [p.replace("The city", f"The city of {town}").replace("40,000", f"{40 + i},000") for p in PARAS]
    return {"url": f"https://example-news.org/2019/11/{town.lower()}-festival",
            "title": f"{town} closes streets for its festival", "text": "\n".join(paras), "date": f"2019-11-1{i}",
            "author": ("Anna Berg", "Omar Haddad", "Lena Park")[i]}


def test_a_feed_export_is_one_article_per_record_and_a_bad_record_is_reported(tmp_path):
    # Scrapy's `-o items.jsonl`: JSON Lines; one line is cut short.
    p = tmp_path / "items.jsonl"
    p.write_text("\n".join(json.dumps(_story(i)) for i in range(3)) + '\n{"title": "cut\n', encoding="utf-8")
    results = qa.clean_records(p)
    assert [r.source for r in results] == [f"{p}#{n}" for n in (1, 2, 3, 4)]
    assert [r.article.doc_id for r in results[:3]] == ["items#1", "items#2", "items#3"]
    assert [r.article.title for r in results[:3]] == [_story(i)["title"] for i in range(3)]
    assert [r.article.published for r in results[:3]] == [date(2019, 11, 10 + i) for i in range(3)]
    assert results[1].article.authors == ("Omar Haddad",) and "41,000" in results[1].article.text
    assert results[1].article.source == "items.jsonl#2"
    assert results[3].article is None and "not valid JSON" in results[3].reason
    with pytest.raises(ValueError, match="clean_records"):
        qa.clean_file(p)
    got = read_articles(p)
    assert isinstance(got[3], Skipped) and got[3].path == f"{p}#4"
    # each record's digest is its own text's, as read (a build's manifest and update compare these)
    assert [r.sha256 for r in results[:3]] == [g.sha256 for g in got[:3]] and len({g.sha256 for g in got[:3]}) == 3
    assert results[3].sha256 is None


@pytest.mark.parametrize("layout", ["list", "listed"])
def test_a_json_list_and_a_response_that_lists_articles_are_read_record_by_record(tmp_path, layout):
    stories = [_story(i) for i in range(3)]
    data = stories if layout == "list" else {"status": "ok", "totalResults": 3, "articles": stories}
    (tmp_path / "feed.json").write_text(json.dumps(data), encoding="utf-8")
    results = qa.clean_folder(tmp_path)
    assert [r.article.title for r in results] == [s["title"] for s in stories]
    assert len(json_records(json.dumps(data))) == 3 and isinstance(read_json(json.dumps(data)), str)


def test_a_list_of_one_record_is_the_files_own_article(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps([_story(0)]), encoding="utf-8")
    r = qa.clean_file(tmp_path / "one.json")
    assert r.source == str(tmp_path / "one.json") and r.article.doc_id == "one"
    assert r.article.title == _story(0)["title"]


def test_cli_clean_prints_every_record(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "items.jsonl"
    p.write_text("\n".join(json.dumps(_story(i)) for i in range(2)), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "qa", "clean", str(p), "--json"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert [json.loads(line)["article"]["doc_id"] for line in out] == ["items#1", "items#2"]


def test_a_feed_export_past_the_text_file_limit_is_read_whole(tmp_path):
    from qa.clean import MAX_JSON_BYTES, MAX_SEED_BYTES

    line = json.dumps(_story(0))
    n = MAX_SEED_BYTES // len(line) + 50  # past the 10 MB a text file may have, within the JSON limit
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join(line.replace("2019-11-10", f"2019-11-10T{k % 24:02d}:00:00") for k in range(n)),
                 encoding="utf-8")
    assert MAX_SEED_BYTES < p.stat().st_size < MAX_JSON_BYTES
    got = read_articles(p)
    assert len(got) == n and not any(isinstance(r, Skipped) for r in got) and got[-1].doc_id == f"big#{n}"


def test_objects_written_one_after_another_are_records_too(tmp_path):
    # `jq . items.jsonl > items.json` writes each record over several lines, one after another.
    p = tmp_path / "items.json"
    p.write_text("\n".join(json.dumps(_story(i), indent=2) for i in range(3)), encoding="utf-8")
    assert [r.article.title for r in qa.clean_records(p)] == [_story(i)["title"] for i in range(3)]


def test_a_record_that_is_no_article_says_what_it_is(tmp_path):
    p = tmp_path / "feed.jsonl"
    p.write_text(json.dumps(_story(0)) + "\n[1, 2, 3]\n" + json.dumps({"title": "Short", "text": "Too short."}) + "\n",
                 encoding="utf-8")
    results = qa.clean_records(p)
    assert results[0].article is not None
    assert results[1].reason == "a JSON list of values, not an article record"
    assert results[2].reason.startswith("no recognisable article text (fewer than 15 words")
