"""Pages saved in a legacy encoding (qa/clean_charset.py): real pages of the vendored corpora, re-encoded as sites in
their script would have sent them, read back exactly; an HTML page's declaration honoured; damaged UTF-8 kept; and
such files built, cited and shown by `qa clean` like any other."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import qa
from qa.clean import read_seed
from qa.clean_charset import Decoded, decode, declared_charset
from qa.clean_eval import load_corpus, load_headlines
from qa.cli import main
from qa.types import Skipped

from .conftest import TINY_ARTICLE, UNREADABLE


def _page(corpus: str, page_id: str):
    pages = load_headlines("dev") if corpus == "headlines" else load_corpus(corpus, "dev")
    return next(p for p in pages if p.id == page_id)


# (corpus, page, encoding a site in its script would send it in, the name qa reports)
NATURAL = [
    ("aeb-dev", "0ec95c7261d122f3", "cp949", "EUC-KR"),  # Korean
    ("aeb-dev", "c4a3637c6696f238", "cp1251", "windows-1251"),  # Russian
    ("aeb-dev", "c4a3637c6696f238", "koi8_r", "KOI8-U"),  # WHATWG's KOI8-U table reads KOI8-R text the same
    ("readability", "aktualne", "cp1250", "windows-1250"),  # Czech
    ("readability", "lemonde-1", "cp1252", "windows-1252"),  # French
    ("readability", "gmw", "gb18030", "GB18030"),  # Chinese
    ("headlines", "www.asahi.com", "cp932", "Shift_JIS"),  # Japanese, three ways
    ("headlines", "www.asahi.com", "euc_jp", "EUC-JP"),
    ("headlines", "www.asahi.com", "iso2022_jp", "ISO-2022-JP"),
]


@pytest.mark.parametrize("corpus, page_id, encoding, name", NATURAL)
def test_real_page_in_a_legacy_encoding_reads_back_exactly(corpus, page_id, encoding, name):
    # What the encoding cannot hold (a no-break space in EUC-KR) would not have been on a page sent in it.
    text = _page(corpus, page_id).txt.encode(encoding, errors="ignore").decode(encoding)
    assert len(text) > 1000
    got = decode(text.encode(encoding), html=False)
    assert isinstance(got, Decoded) and got.text == text
    assert (got.encoding, got.how) == (name, "detected")


def test_html_declaration_is_honoured_with_labels_read_as_browsers_read_them():
    html = _page("headlines", "sect.iij.ad.jp").html
    page = re.sub(r"charset=([\"']?)utf-8", r"charset=\1EUC-JP", html, count=1, flags=re.I)
    page = page.encode("euc_jp", errors="ignore").decode("euc_jp")
    assert declared_charset(page.encode()).lower() == "euc-jp" and sum("\u3040" <= c <= "\u30ff" for c in page) > 500
    got = decode(page.encode("euc_jp"), html=True)
    assert isinstance(got, Decoded) and got.text == page and got.how == "declared by the page"
    # "iso-8859-1" is read as Windows-1252, as browsers do: 0x93/0x94 are curly quotes, not control characters.
    latin = b'<html><head><meta charset="iso-8859-1"></head><body><p>\x93Caf\xe9\x94 owners</p></body></html>'
    got = decode(latin, html=True)
    assert got.text.endswith("<p>\u201cCaf\u00e9\u201d owners</p></body></html>") and got.encoding == "windows-1252"


# Labels of the Encoding Standard that Python's codec registry lacks, in pages as sites send them.
UNKNOWN_TO_PYTHON = [
    ("windows-874", "cp874", "กรุงเทพมหานครประกาศเมื่อวันจันทร์ว่าจะปิดถนนสามสายในช่วงสุดสัปดาห์นี้"),  # Thai
    ("x-sjis", "cp932", "東京都は月曜日に、週末に三本の道路を閉鎖すると発表した。"),
    ("x-cp1251", "cp1251", "Мэрия объявила в понедельник, что закроет три улицы на выходных."),
    ("windows-949", "cp949", "서울시는 월요일 주말 동안 세 개의 도로를 폐쇄한다고 발표했다."),
]


@pytest.mark.parametrize("label, codec, sentence", UNKNOWN_TO_PYTHON, ids=[u[0] for u in UNKNOWN_TO_PYTHON])
def test_labels_python_lacks_are_read_by_the_declaration(label, codec, sentence):
    page = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={label}"></head>' \
           f'<body>{"<p>" + sentence + "</p>" * 3}</body></html>'
    got = decode(page.encode(codec), html=True)
    assert isinstance(got, Decoded) and got.text == page and got.how == "declared by the page"


def test_valid_utf8_wins_over_a_stale_declaration():
    # Pages re-saved as UTF-8 often keep the <meta charset> of the bytes they came as.
    page = '<html><head><meta charset="shift_jis"></head><body><p>東京都は月曜日に発表した。</p></body></html>'
    got = decode(page.encode("utf-8"), html=True)
    assert got.text == page and (got.encoding, got.how) == ("UTF-8", "")


def test_damaged_utf8_keeps_its_text_with_the_bad_byte_replaced():
    text = "Café owners in central Almaty closed their doors — for an hour — on Monday. " * 10
    data = text.encode("utf-8")
    data = data[:100] + b"\xff" + data[100:]
    got = decode(data, html=False)
    assert got.encoding == "UTF-8" and got.how == "1 undecodable byte replaced"
    assert got.text.replace("\ufffd", "", 1) == text


def test_what_no_encoding_reads_is_refused_with_the_fix():
    got = decode(UNREADABLE, html=False)
    assert isinstance(got, str) and "not readable text" in got and "save it as UTF-8" in got


def test_legacy_files_are_built_cited_and_shown(tmp_path, capsys):
    seeds = tmp_path / "seeds"
    (seeds / "ru").mkdir(parents=True)
    ru = _page("aeb-dev", "c4a3637c6696f238")
    (seeds / "ru" / "story.html").write_bytes(
        ru.html.replace("<head>", '<head><meta charset="windows-1251">', 1).encode("cp1251", errors="ignore")
    )
    lake = TINY_ARTICLE.replace("Lake", "Lac").replace("the regional water authority", "the \u201cr\u00e9gion\u201d")
    (seeds / "lac.txt").write_bytes(lake.encode("cp1252"))
    utf8 = tmp_path / "utf8"
    utf8.mkdir()
    (utf8 / "story.html").write_text(ru.html, encoding="utf-8")

    results = {r.source: r for r in qa.clean_folder(seeds)}
    story = results[str(seeds / "ru" / "story.html")]
    assert story.encoding == "windows-1251 (declared by the page)"
    assert story.article.text == qa.clean_file(utf8 / "story.html").article.text
    assert results[str(seeds / "lac.txt")].encoding == "windows-1252 (detected)"

    report = qa.build(seeds, tmp_path / "index")
    assert report.skipped == ()
    assert qa.get_article("ru/story", index_dir=tmp_path / "index").text == story.article.text
    assert "\u201cr\u00e9gion\u201d said" in qa.get_article("lac", index_dir=tmp_path / "index").text

    assert main(["clean", str(seeds / "lac.txt")]) == 0
    assert "read as:   windows-1252 (detected)" in capsys.readouterr().out
    assert main(["clean", "--json", str(seeds / "ru" / "story.html")]) == 0
    assert json.loads(capsys.readouterr().out)["encoding"] == "windows-1251 (declared by the page)"


def test_read_seed_reports_the_encoding(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(TINY_ARTICLE.encode("utf-16"))
    assert read_seed(p).encoding == "UTF-16"
    p.write_bytes(UNREADABLE)
    assert isinstance(read_seed(p), Skipped)


def test_utf8_folders_never_load_the_detector(tmp_path):
    (tmp_path / "a.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    code = (
        "import sys, qa; r = qa.clean_folder(sys.argv[1]); "
        "assert r[0].article is not None; print('chardetng_py' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
