"""Pages a browser saved as one file (qa/clean_saved.py). MHTML: real pages saved by Chromium clean as their HTML does;
the page part, its charset and its address are read from the MIME message; such files are built and cited. Safari's
Web Archive: Safari does not run here, so archives are written with plistlib in the layout Safari writes
(WebMainResource with the page's bytes, MIME type, text encoding name and URL, beside WebSubresources)."""
from __future__ import annotations

import os
import plistlib
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

import qa
from qa.clean import read_seed
from qa.clean_eval import load_corpus
from qa.clean_saved import mhtml_page
from qa.types import Skipped

from .conftest import TINY_ARTICLE, bench_module

CHROMIUM = "/usr/bin/chromium"
# Pages of the vendored corpus: two English articles, one Russian, one with frames (a snapshot must not wait on them).
PAGES = ["1ace8c85aaee21b9", "c4a3637c6696f238", "30b771a40a4e9615", "57b4dafd18cfd053"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The pages saved by Chromium as Chrome's "Webpage, Single File" saves them (bench/mhtml.py), beside their HTML."""
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test"
        if os.environ.get("QA_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (QA_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("mhtml")
    pages = [p for p in load_corpus("aeb-dev", "dev") if p.id in PAGES]
    took = bench_module("mhtml").save_mhtml(pages, folder)
    assert sorted(took) == sorted(PAGES)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("page_id", PAGES)
def test_a_page_saved_by_chromium_cleans_as_its_html(saved, page_id):
    from_html = qa.clean_file(saved / f"{page_id}.html").article
    from_mhtml = qa.clean_file(saved / f"{page_id}.mhtml").article
    assert from_mhtml is not None and from_html is not None
    assert (from_mhtml.title, from_mhtml.published, from_mhtml.authors) == (
        from_html.title, from_html.published, from_html.authors)
    # Chromium writes the page as it parsed it; the words kept are the same.
    assert from_mhtml.text.split() == from_html.text.split()


@pytest.mark.slow
def test_saved_pages_are_built_and_cited(saved, tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "wework.mhtml").write_bytes((saved / "1ace8c85aaee21b9.mhtml").read_bytes())
    (seeds / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    report = qa.build(seeds, tmp_path / "index")
    assert report.skipped == ()
    hit = qa.retrieve("Which state attorney general is investigating WeWork?", k=1, index_dir=tmp_path / "index")[0]
    assert hit.doc_id == "wework" and "WeWork" in hit.citation
    assert qa.get_article("wework", index_dir=tmp_path / "index").source == "wework.mhtml"


def _mhtml(parts, *, start: str | None = None, location: str | None = None) -> bytes:
    """An MHTML message as Chromium writes one: multipart/related, the page's address in Snapshot-Content-Location."""
    msg = MIMEMultipart("related", type="text/html", **({"start": f"<{start}>"} if start else {}))
    msg["From"] = "<Saved by Blink>"
    if location:
        msg["Snapshot-Content-Location"] = location
    for html, charset, cid in parts:
        part = MIMEText(html, "html", charset)
        if cid:
            part["Content-ID"] = f"<{cid}>"
        msg.attach(part)
    return msg.as_bytes()


ARTICLE_HTML = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "".join(f"<p>{para}</p>" for para in TINY_ARTICLE.split("\n\n")[2:])
    + "</article></body></html>"
)


def test_the_address_it_was_saved_from_is_the_url_when_the_page_states_none(tmp_path):
    page = ARTICLE_HTML.format(title="Lake Balkhash water levels fall to a ten-year low")
    p = tmp_path / "lake.mhtml"
    p.write_bytes(_mhtml([(page, "utf-8", None)], location="https://news.example.org/2023/03/lake-balkhash"))
    a = qa.clean_file(p).article
    assert a.url == "https://news.example.org/2023/03/lake-balkhash"
    assert a.title == "Lake Balkhash water levels fall to a ten-year low" and "Ili River" in a.text
    # Saved from a file on disk: no web address.
    p.write_bytes(_mhtml([(page, "utf-8", None)], location="file:///home/me/lake.html"))
    assert qa.clean_file(p).article.url is None


def test_the_page_part_is_the_start_part_and_its_charset_is_honoured(tmp_path):
    frame = "<html><body><p>An advertisement frame that comes first in the file.</p></body></html>"
    page = ARTICLE_HTML.format(title="Озеро Балхаш мелеет")
    data = _mhtml([(frame, "utf-8", "frame-1@mhtml.blink"), (page, "windows-1251", "page-1@mhtml.blink")],
                  start="page-1@mhtml.blink")
    got = mhtml_page(data)
    assert got.charset == "windows-1251" and got.html == page.encode("cp1251")
    p = tmp_path / "lake.mht"
    p.write_bytes(data)
    r = read_seed(p)
    assert r.is_html and r.text == page and r.encoding == "windows-1251 (declared by the page)"


def test_a_file_that_is_not_a_saved_page_is_reported(tmp_path):
    p = tmp_path / "notes.mhtml"
    p.write_text("Just some notes, not a saved web page.\n", encoding="utf-8")
    r = read_seed(p)
    assert isinstance(r, Skipped) and "not a saved web page" in r.reason


def _webarchive(html: bytes, *, encoding: str | None = "UTF-8", url: str = "https://news.example.org/a",
                mime: str = "text/html") -> bytes:
    main = {"WebResourceData": html, "WebResourceMIMEType": mime, "WebResourceURL": url, "WebResourceFrameName": ""}
    if encoding:
        main["WebResourceTextEncodingName"] = encoding
    sub = {"WebResourceData": b"\x89PNG", "WebResourceMIMEType": "image/png", "WebResourceURL": url + "/logo.png"}
    return plistlib.dumps({"WebMainResource": main, "WebSubresources": [sub]}, fmt=plistlib.FMT_BINARY)


def test_a_safari_web_archive_cleans_as_its_html(tmp_path):
    page = load_corpus("aeb-dev", "dev")
    page = next(p for p in page if p.id == "1ace8c85aaee21b9")
    (tmp_path / "page.html").write_text(page.html, encoding="utf-8")
    (tmp_path / "page.webarchive").write_bytes(_webarchive(page.html.encode("utf-8")))
    from_html = qa.clean_file(tmp_path / "page.html").article
    from_archive = qa.clean_file(tmp_path / "page.webarchive").article
    assert from_archive.title == from_html.title and from_archive.text == from_html.text
    assert from_archive.url == from_html.url  # the page states its own URL: that one is kept


def test_a_web_archive_gives_its_charset_and_address(tmp_path):
    html = ARTICLE_HTML.format(title="Озеро Балхаш мелеет").encode("cp1251")
    p = tmp_path / "lake.webarchive"
    p.write_bytes(_webarchive(html, encoding="windows-1251", url="https://news.example.org/2023/03/balkhash"))
    r = read_seed(p)
    assert r.is_html and r.encoding == "windows-1251 (declared by the page)" and "Озеро Балхаш" in r.text
    a = qa.clean_file(p).article
    assert a.url == "https://news.example.org/2023/03/balkhash" and a.title == "Озеро Балхаш мелеет"


@pytest.mark.parametrize("data", [b"not a property list", plistlib.dumps({"WebMainResource": {}}),
                                  _webarchive(b"\x89PNG", mime="image/png")])
def test_a_file_that_is_not_a_web_archive_is_reported(tmp_path, data):
    p = tmp_path / "notes.webarchive"
    p.write_bytes(data)
    r = read_seed(p)
    assert isinstance(r, Skipped) and "not a saved web page" in r.reason
